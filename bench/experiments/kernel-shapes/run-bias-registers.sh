#!/bin/bash
# The generated backward with bias against the register-accumulator candidate (bias-registers.cuh), GPT-OSS and
# Mixtral widths, bf16 SwiGLU; JSON lines to ${OUT:-results}/bias-registers.jsonl.
set -u
cd "$(dirname "$0")"
export PATH=/usr/local/cuda/bin:$PATH
mkdir -p build
nvcc -O3 -std=c++17 -arch=sm_90 -DMOG_SOURCE="\"../../../tests/MoeOpGen.Generator.Tests/Snapshots/SwiGlu.verified.cu\"" \
  -DMOG_KERNEL_swiglu_bwd_bf16_wb -DMOG_KERNEL_swiglu_bwd_bf16_wbc -DMOG_KERNEL_swiglu_reduce_bias_bf16 \
  -o build/h5 bias-registers.cu || exit 1
{ build/h5 32768 2880 | sed 's/^{/{"shape":"gpt-oss",/'; build/h5 16384 14336 | sed 's/^{/{"shape":"mixtral",/'; } | tee ${OUT:-results}/bias-registers.jsonl
