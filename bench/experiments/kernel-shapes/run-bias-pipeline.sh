#!/bin/bash
# Harness 9: the backward with bias, generated against strided row groups, a register prefetch and cp.async pipelines of 2-6 rows
# (bias-pipeline.cu), bf16 SwiGLU with weights, without and with the clamp, at GPT-OSS, Mixtral and DeepSeek-V3 widths;
# JSON lines to ${OUT:-results}/bias-pipeline.jsonl.
set -u
cd "$(dirname "$0")"
export PATH=/usr/local/cuda/bin:$PATH
mkdir -p build
nvcc -O3 -std=c++17 -arch=sm_90 -DMOG_SOURCE="\"../../../tests/MoeOpGen.Generator.Tests/Snapshots/SwiGlu.verified.cu\"" \
  -DMOG_KERNEL_swiglu_bwd_bf16_wb_v16 -DMOG_KERNEL_swiglu_bwd_bf16_wbc_v16 -DMOG_KERNEL_swiglu_reduce_weights \
  -DMOG_KERNEL_swiglu_reduce_bias_bf16 -o build/h9 bias-pipeline.cu || exit 1
for shape in "32768 2880" "16384 14336" "65536 2048"; do build/h9 $shape; done | tee ${OUT:-results}/bias-pipeline.jsonl
