#!/bin/bash
set -u
cd "$(dirname "$0")"
export PATH=/usr/local/cuda/bin:$PATH
mkdir -p build
declare -A SIG=( [precise]='1.f / (1.f + expf(-x))' [fdiv]='__fdividef(1.f, 1.f + expf(-x))' [fastdiv]='__fdividef(1.f, 1.f + __expf(-x))' )
for v in precise fdiv fastdiv; do
  src=build/S2_$v.cu
  sed "s|1.f / (1.f + expf(-x))|${SIG[$v]}|" ../../../tests/MoeOpGen.Generator.Tests/Snapshots/SwiGlu.verified.cu > $src
  nvcc -O3 -std=c++17 -arch=sm_90 -DMOG_SOURCE="\"$src\"" -DOPFWD=swiglu_fwd_bf16_w -DOPBWD=swiglu_bwd_bf16_w -DVARIANT="\"$v\"" -DMOG_KERNEL_swiglu_fwd_bf16_w -DMOG_KERNEL_swiglu_bwd_bf16_w -o build/h2_$v forward-structure.cu &
done
wait
for v in precise fdiv fastdiv; do
  build/h2_$v 32768 2880 gpt-oss; build/h2_$v 16384 14336 mixtral; build/h2_$v 65536 2048 deepseek
done | tee ${OUT:-results}/forward-structure.jsonl
