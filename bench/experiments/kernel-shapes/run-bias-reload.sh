#!/bin/bash
# Measurement harness 7 (not product code): the generated backward with bias (harness 6's program, bias-groups.cu)
# with the bias pack read again for every row instead of being held in registers across the group's rows — 16 fewer
# live floats a thread, so more resident blocks for the latency-bound kernel (ncu: 72-80 registers, 37.5-43.75 %
# occupancy) at the price of one L1-resident load pair a row — and that edit under __launch_bounds__(128, 8).
# Edits of the generated source by sed; GPT-OSS, Mixtral and DeepSeek-V3 widths, bf16 SwiGLU; JSON lines to
# ${OUT:-results}/bias-reload.jsonl (field "bounds" = the variant).
set -u
cd "$(dirname "$0")"
export PATH=/usr/local/cuda/bin:$PATH
mkdir -p build
snapshot=../../../tests/MoeOpGen.Generator.Tests/Snapshots/SwiGlu.verified.cu
kernels="-DMOG_KERNEL_swiglu_bwd_bf16_b_v16 -DMOG_KERNEL_swiglu_bwd_bf16_wb_v16 -DMOG_KERNEL_swiglu_bwd_bf16_wbc_v16 -DMOG_KERNEL_swiglu_bwd_bf16_wbcf_v16 -DMOG_KERNEL_swiglu_bwd_bf16_wb -DMOG_KERNEL_swiglu_reduce_bias_bf16 -DMOG_KERNEL_swiglu_reduce_weights"
reload=(-e '/^    if (active) mog_load_pair(bias, col, n, h, interleaved, vec, ba, bb);/d'
        -e '/^    for (long long r = first; r < last; r++) {/,/mog_load_pack(g + r/ s/^\(            mog_load_pack(g + r \* h + col, n, vec, gg);\)$/\1\n            mog_load_pair(bias, col, n, h, interleaved, vec, ba, bb);/')
bounds8=(-e 's/^extern "C" __global__ void \(swiglu_bwd_bf16_[a-z0-9_]*\)(/extern "C" __global__ void __launch_bounds__(128, 8) \1(/')
for label in generated reload reload_bounds8; do
  case $label in
    generated) cp $snapshot build/swiglu-$label.cu ;;
    reload) sed "${reload[@]}" $snapshot > build/swiglu-$label.cu ;;
    reload_bounds8) sed "${reload[@]}" "${bounds8[@]}" $snapshot > build/swiglu-$label.cu ;;
  esac
  nvcc -O3 -std=c++17 -arch=sm_90 -DMOG_SOURCE="\"build/swiglu-$label.cu\"" $kernels -o build/h7-$label bias-groups.cu || { echo "build $label failed" >&2; continue; }
  for shape in "32768 2880" "16384 14336" "65536 2048"; do build/h7-$label $shape $label; done
done | tee ${OUT:-results}/bias-reload.jsonl
