#!/bin/bash
# The generated backward with bias (row groups × column slices) for several numbers of row groups, built with the
# product's register cap (MOG_BIAS_BACKWARD_BOUNDS), without it and with a tighter one; GPT-OSS, Mixtral and
# DeepSeek-V3 widths, bf16 SwiGLU; JSON lines to ${OUT:-results}/bias-groups.jsonl.
set -u
cd "$(dirname "$0")"
export PATH=/usr/local/cuda/bin:$PATH
mkdir -p build
snapshot=../../../tests/MoeOpGen.Generator.Tests/Snapshots/SwiGlu.verified.cu
kernels="-DMOG_KERNEL_swiglu_bwd_bf16_b_v16 -DMOG_KERNEL_swiglu_bwd_bf16_wb_v16 -DMOG_KERNEL_swiglu_bwd_bf16_wbc_v16 -DMOG_KERNEL_swiglu_bwd_bf16_wb -DMOG_KERNEL_swiglu_reduce_bias_bf16 -DMOG_KERNEL_swiglu_reduce_weights"
for bounds in "__launch_bounds__(128, 6)" "" "__launch_bounds__(128, 7)"; do
  label=${bounds:-none}; label=${label//[^0-9a-z,]/}
  sed "s/^#define MOG_BIAS_BACKWARD_BOUNDS .*/#define MOG_BIAS_BACKWARD_BOUNDS $bounds/" $snapshot > build/swiglu-$label.cu
  nvcc -O3 -std=c++17 -arch=sm_90 -DMOG_SOURCE="\"build/swiglu-$label.cu\"" $kernels -o build/h6-$label bias-groups.cu || exit 1
  for shape in "32768 2880" "16384 14336" "65536 2048"; do build/h6-$label $shape "$label"; done
done | tee ${OUT:-results}/bias-groups.jsonl
