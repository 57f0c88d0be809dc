#!/bin/bash
# Harness 15: does the backward with bias lose its points to blocks finishing unevenly on its one-wave grid
# (bias-tail.cu)? The generated kernel's per-block timeline (SM, start, end) at the runtime's grid, and the same
# kernel with a share of the rows moved into small tail groups launched after the one-wave groups; bf16 SwiGLU with
# weights, without and with the clamp, at GPT-OSS, Mixtral and DeepSeek-V3 widths. JSON lines to
# ${OUT:-results}/bias-tail.jsonl.
set -u
cd "$(dirname "$0")"
export PATH=/usr/local/cuda/bin:$PATH
out=${OUT:-results}
mkdir -p build $out
nvcc -O3 -std=c++17 -arch=sm_90 -lineinfo -DMOG_SOURCE="\"../../../tests/MoeOpGen.Generator.Tests/Snapshots/SwiGlu.verified.cu\"" \
  -DMOG_KERNEL_swiglu_bwd_bf16_wb_v16 -DMOG_KERNEL_swiglu_bwd_bf16_wbc_v16 \
  -DMOG_KERNEL_swiglu_reduce_weights -DMOG_KERNEL_swiglu_reduce_bias_bf16 -o build/h15 bias-tail.cu || exit 1
for shape in "32768 2880" "16384 14336" "65536 2048"; do build/h15 $shape; done | tee $out/bias-tail.jsonl
