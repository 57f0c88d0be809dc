#!/bin/bash
# Harness 13: the backward with bias and clamp per operator (bias-clamp.cu), bf16 at GPT-OSS width, on the generated
# module and on edited copies: "reload" (the bias pack read again each row instead of held in 16 registers across
# the group, harness 7's edit) and "cap6" / "cap5" (__launch_bounds__(128, 6 or 5) on the backward entry points:
# at most 80 or 102 registers). JSON lines to ${OUT:-results}/bias-clamp.jsonl; then ncu (occupancy, warp states,
# scheduler, instructions) of one launch of each clamped kernel as generated: ${OUT:-results}/ncu/ncu-bias-clamp-<op>.txt.
set -u
cd "$(dirname "$0")"
export PATH=/usr/local/cuda/bin:$PATH
out=${OUT:-results}
mkdir -p build $out/ncu
snapshots=../../../tests/MoeOpGen.Generator.Tests/Snapshots
reload=(-e '/^    if (active) mog_load_pair(bias, col, n, h, interleaved, vec, ba, bb);/d'
        -e '/^    for (long long r = first; r < last; r++) {/,/mog_load_pack(g + r/ s/^\(            mog_load_pack(g + r \* h + col, n, vec, gg);\)$/\1\n            mog_load_pair(bias, col, n, h, interleaved, vec, ba, bb);/')
ops="swiglu:SwiGlu quickgeglu:QuickGeGlu geglu:GeGlu gegluerf:GeGluErf situglu:SiTuGlu"
for spec in $ops; do                                  # the 20 builds in parallel, then the runs one at a time
  op=${spec%%:*}; module=${spec#*:}
  kernels="-DMOG_KERNEL_${op}_bwd_bf16_wb_v16 -DMOG_KERNEL_${op}_bwd_bf16_wbc_v16 -DMOG_KERNEL_${op}_bwd_bf16_wbcf_v16"
  for label in generated reload cap6 cap5; do
    cap=(-e "s/^extern \"C\" __global__ void \(${op}_bwd_bf16_[a-z0-9_]*\)(/extern \"C\" __global__ void __launch_bounds__(128, ${label#cap}) \1(/")
    case $label in
      generated) cp $snapshots/$module.verified.cu build/h13-$op-$label.cu ;;
      reload) sed "${reload[@]}" $snapshots/$module.verified.cu > build/h13-$op-$label.cu ;;
      cap*) sed "${cap[@]}" $snapshots/$module.verified.cu > build/h13-$op-$label.cu ;;
    esac
    if [ $label != generated ] && cmp -s $snapshots/$module.verified.cu build/h13-$op-$label.cu; then echo "edit $label of $op matched nothing" >&2; continue; fi
    nvcc -O3 -std=c++17 -arch=sm_90 -lineinfo -DOP=$op -DMOG_SOURCE="\"build/h13-$op-$label.cu\"" $kernels -o build/h13-$op-$label bias-clamp.cu \
      || echo "build $op $label failed" >&2 &
  done
done
wait
for spec in $ops; do
  for label in generated reload cap6 cap5; do [ -x build/h13-${spec%%:*}-$label ] && build/h13-${spec%%:*}-$label 32768 2880 $label; done
done | tee $out/bias-clamp.jsonl
for op in geglu situglu swiglu; do
  ncu --section SpeedOfLight --section Occupancy --section LaunchStats --section SchedulerStats --section WarpStateStats \
      --section InstructionStats --section MemoryWorkloadAnalysis -k regex:"${op}_bwd_bf16_wbc_v16" \
      build/h13-$op-generated 32768 2880 generated profile > $out/ncu/ncu-bias-clamp-$op.txt 2>&1
done
