#!/bin/bash
# The generated backward with bias (row groups × column slices) for several numbers of row groups, built as
# generated (register cap MOG_BIAS_BACKWARD_BOUNDS = __launch_bounds__(128, 6)) and with edits of the generated
# source: no cap, a tighter cap, the row loop unrolled twice (with and without the cap). GPT-OSS, Mixtral and
# DeepSeek-V3 widths, bf16 SwiGLU; JSON lines to ${OUT:-results}/bias-groups.jsonl.
set -u
cd "$(dirname "$0")"
export PATH=/usr/local/cuda/bin:$PATH
mkdir -p build
snapshot=../../../tests/MoeOpGen.Generator.Tests/Snapshots/SwiGlu.verified.cu
kernels="-DMOG_KERNEL_swiglu_bwd_bf16_b_v16 -DMOG_KERNEL_swiglu_bwd_bf16_wb_v16 -DMOG_KERNEL_swiglu_bwd_bf16_wbc_v16 -DMOG_KERNEL_swiglu_bwd_bf16_wbcf_v16 -DMOG_KERNEL_swiglu_bwd_bf16_wb -DMOG_KERNEL_swiglu_reduce_bias_bf16 -DMOG_KERNEL_swiglu_reduce_weights"
cap='s/^#define MOG_BIAS_BACKWARD_BOUNDS .*/#define MOG_BIAS_BACKWARD_BOUNDS __launch_bounds__(128, CAP)/'
unroll='s/^    for (long long r = first; r < last; r++) {/#pragma unroll 2\n    for (long long r = first; r < last; r++) {/'
declare -A edits=([generated]="" [nocap]="s/^#define MOG_BIAS_BACKWARD_BOUNDS .*/#define MOG_BIAS_BACKWARD_BOUNDS/" [cap7]="${cap/CAP/7}" [cap8]="${cap/CAP/8}"
                  [unroll2]="$unroll" [unroll2_nocap]="$unroll; s/^#define MOG_BIAS_BACKWARD_BOUNDS .*/#define MOG_BIAS_BACKWARD_BOUNDS/")
for label in generated nocap cap7 cap8 unroll2 unroll2_nocap; do
  sed "${edits[$label]}" $snapshot > build/swiglu-$label.cu
  nvcc -O3 -std=c++17 -arch=sm_90 -DMOG_SOURCE="\"build/swiglu-$label.cu\"" $kernels -o build/h6-$label bias-groups.cu || { echo "build $label failed" >&2; continue; }
  for shape in "32768 2880" "16384 14336" "65536 2048"; do build/h6-$label $shape $label; done
done | tee ${OUT:-results}/bias-groups.jsonl
