#!/bin/bash
# Harness 8: forward with a bias, generated against R rows per thread (forward-bias-rows.cu), bf16 QuickGeGLU at
# GPT-OSS, Mixtral and DeepSeek-V3 widths; JSON lines to ${OUT:-results}/forward-bias-rows.jsonl.
set -u
cd "$(dirname "$0")"
export PATH=/usr/local/cuda/bin:$PATH
mkdir -p build
nvcc -O3 -std=c++17 -arch=sm_90 -DMOG_SOURCE="\"../../../tests/MoeOpGen.Generator.Tests/Snapshots/QuickGeGlu.verified.cu\"" \
  -DMOG_KERNEL_quickgeglu_fwd_bf16_wb -DMOG_KERNEL_quickgeglu_fwd_bf16_wbc -o build/h8 forward-bias-rows.cu || exit 1
for shape in "32768 2880 gpt-oss" "16384 14336 mixtral" "65536 2048 deepseek"; do build/h8 $shape; done | tee ${OUT:-results}/forward-bias-rows.jsonl
