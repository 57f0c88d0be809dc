#!/bin/bash
# Variants of the generated SwiGLU source (this commit's): base; atomics = the bias accumulators updated with shared-
# memory atomicAdd (one owner per address, so still one fixed order) instead of load-add-store; noencode = the FP8
# encode replaced by a constant; nostore8 = the FP8 copy not written. JSON lines to ${OUT:-results}.
set -u
cd "$(dirname "$0")"
export PATH=/usr/local/cuda/bin:$PATH
mkdir -p build
src=../../../tests/MoeOpGen.Generator.Tests/Snapshots/SwiGlu.verified.cu
cp $src build/S4_base.cu
sed 's|mog_dbias\[k \* packs + p\] += d_gate; mog_dbias\[(V + k) \* packs + p\] += d_linear;|atomicAdd(\&mog_dbias[k * packs + p], d_gate); atomicAdd(\&mog_dbias[(V + k) * packs + p], d_linear);|' $src > build/S4_atomics.cu
sed 's|mog_fp8_encode(a\[k\])|(unsigned char)0x38|; s|mog_fp8_encode(b\[k\])|(unsigned char)0x38|' $src > build/S4_noencode.cu
sed 's|if (F8) mog_store_fp8_pair<V>(|if (false) mog_store_fp8_pair<V>(|' $src > build/S4_nostore8.cu
for v in base atomics noencode nostore8; do
  grep -c "atomicAdd(&mog_dbias\|0x38|\|if (false) mog_store_fp8" build/S4_$v.cu | sed "s/^/$v edits: /"
  nvcc -O3 -std=c++17 -arch=sm_90 -DMOG_SOURCE="\"build/S4_$v.cu\"" -DVARIANT="\"$v\"" -DMOG_KERNEL_swiglu_fwd_bf16_wf -DMOG_KERNEL_swiglu_bwd_bf16_wf -DMOG_KERNEL_swiglu_bwd_bf16_wb -DMOG_KERNEL_swiglu_bwd_bf16_wbc -o build/h4_$v fp8-and-bias-accumulation.cu &
done
wait
for v in base atomics noencode nostore8; do build/h4_$v 32768 2880; done | tee ${OUT:-results}/fp8-and-bias-accumulation.jsonl
