#!/bin/bash
# Builds one harness per (op, sigmoid variant) and runs them; JSON lines to ${OUT:-results}/maths-and-grid.jsonl
set -u
cd "$(dirname "$0")"
export PATH=/usr/local/cuda/bin:$PATH
which nvcc nsys ncu; nvcc --version | tail -2
mkdir -p build
declare -A SIG=( [precise]='1.f / (1.f + expf(-x))' [fastdiv]='__fdividef(1.f, 1.f + __expf(-x))' [fastexp]='1.f / (1.f + __expf(-x))' [rcp]='__frcp_rn(1.f + __expf(-x))' [none]='1.f' )
for op in SwiGlu QuickGeGlu; do
  lower=$(echo $op | tr A-Z a-z)
  for v in precise fastdiv fastexp rcp none; do
    src=build/${op}_$v.cu
    sed "s|1.f / (1.f + expf(-x))|${SIG[$v]}|" ../../../tests/MoeOpGen.Generator.Tests/Snapshots/$op.verified.cu > $src
    q=""; [ $op = QuickGeGlu ] && q="-DQUICK"
    ks=""; for k in fwd_bf16 fwd_bf16_w fwd_bf16_wbc bwd_bf16 bwd_bf16_w; do ks="$ks -DMOG_KERNEL_${lower}_$k"; done
    nvcc -O3 -std=c++17 -arch=sm_90 -DMOG_SOURCE="\"$src\"" -DOP=$lower -DVARIANT="\"${op}_$v\"" $q $ks -o build/h_${op}_$v maths-and-grid.cu 2>&1 | grep -v Warn | head -5 &
  done
done
wait
for f in build/h_*; do $f; done | tee ${OUT:-results}/maths-and-grid.jsonl
