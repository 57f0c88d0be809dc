#!/bin/bash
# The generated backward with bias (row groups × column slices) for several numbers of row groups; GPT-OSS, Mixtral
# and DeepSeek-V3 widths, bf16 SwiGLU; JSON lines to ${OUT:-results}/bias-groups.jsonl.
set -u
cd "$(dirname "$0")"
export PATH=/usr/local/cuda/bin:$PATH
mkdir -p build
nvcc -O3 -std=c++17 -arch=sm_90 -DMOG_SOURCE="\"../../../tests/MoeOpGen.Generator.Tests/Snapshots/SwiGlu.verified.cu\"" \
  -DMOG_KERNEL_swiglu_bwd_bf16_b -DMOG_KERNEL_swiglu_bwd_bf16_wb -DMOG_KERNEL_swiglu_bwd_bf16_wbc \
  -DMOG_KERNEL_swiglu_reduce_bias_bf16 -DMOG_KERNEL_swiglu_reduce_weights -o build/h6 bias-groups.cu || exit 1
{ build/h6 32768 2880; build/h6 16384 14336; build/h6 65536 2048; } | tee ${OUT:-results}/bias-groups.jsonl
