#!/bin/bash
set -u
cd "$(dirname "$0")"
export PATH=/usr/local/cuda/bin:$PATH
mkdir -p build
ks=""; for k in fwd_bf16_w fwd_bf16_wb fwd_bf16_wbc fwd_bf16_wc bwd_bf16_wb reduce_bias_bf16; do ks="$ks -DMOG_KERNEL_swiglu_$k"; done
cp ../../../tests/MoeOpGen.Generator.Tests/Snapshots/SwiGlu.verified.cu build/S3_plain.cu
sed 's/extern "C" __global__ void swiglu_fwd/extern "C" __global__ void __launch_bounds__(256, 8) swiglu_fwd/' build/S3_plain.cu > build/S3_lb8.cu
sed 's/extern "C" __global__ void swiglu_fwd/extern "C" __global__ void __launch_bounds__(256, 6) swiglu_fwd/' build/S3_plain.cu > build/S3_lb6.cu
for v in plain lb8 lb6; do nvcc -O3 -std=c++17 -arch=sm_90 -DMOG_SOURCE="\"build/S3_$v.cu\"" -DVARIANT="\"$v\"" $ks -o build/h3_$v bias.cu & done
wait
for v in plain lb8 lb6; do build/h3_$v 32768 2880; done | tee ${OUT:-results}/bias.jsonl
build/h3_plain 16384 14336 | sed 's/"plain"/"plain-mixtral"/' | tee -a ${OUT:-results}/bias.jsonl
