#!/bin/bash
# The generated backward with bias (row groups × column slices) for several numbers of row groups, built as
# generated and with its row loop unrolled twice (an edit of the generated source); GPT-OSS, Mixtral and
# DeepSeek-V3 widths, bf16 SwiGLU; JSON lines to ${OUT:-results}/bias-groups.jsonl.
# The quoted results (results/bias-groups.jsonl, H200) also swept register caps through a MOG_BIAS_BACKWARD_BOUNDS
# macro of commit e426d2f's source (__launch_bounds__(128, 6|7|8) or none); the generated source has no cap since.
set -u
cd "$(dirname "$0")"
export PATH=/usr/local/cuda/bin:$PATH
mkdir -p build
snapshot=../../../tests/MoeOpGen.Generator.Tests/Snapshots/SwiGlu.verified.cu
kernels="-DMOG_KERNEL_swiglu_bwd_bf16_b_v16 -DMOG_KERNEL_swiglu_bwd_bf16_wb_v16 -DMOG_KERNEL_swiglu_bwd_bf16_wbc_v16 -DMOG_KERNEL_swiglu_bwd_bf16_wbcf_v16 -DMOG_KERNEL_swiglu_bwd_bf16_wb -DMOG_KERNEL_swiglu_reduce_bias_bf16 -DMOG_KERNEL_swiglu_reduce_weights"
declare -A edits=([generated]="" [unroll2]='s/^    for (long long r = first; r < last; r++) {/#pragma unroll 2\n    for (long long r = first; r < last; r++) {/')
for label in generated unroll2; do
  sed "${edits[$label]}" $snapshot > build/swiglu-$label.cu
  nvcc -O3 -std=c++17 -arch=sm_90 -DMOG_SOURCE="\"build/swiglu-$label.cu\"" $kernels -o build/h6-$label bias-groups.cu || { echo "build $label failed" >&2; continue; }
  for shape in "32768 2880" "16384 14336" "65536 2048"; do build/h6-$label $shape $label; done
done | tee ${OUT:-results}/bias-groups.jsonl
