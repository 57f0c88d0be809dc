#!/bin/bash
# Harness 12: where the backward with bias's last points go (bias-ablation.cu): the generated kernel, the backward
# without bias, and one restating template with one thing taken away or changed at a time (packs per thread, how the
# row's weights-gradient partial is reduced, bias sums, bias add, bias reloaded, even column slices), bf16 SwiGLU with
# weights, without and with the clamp, at GPT-OSS, Mixtral and DeepSeek-V3 widths; then the bias reduction variants.
# JSON lines to ${OUT:-results}/bias-ablation.jsonl. Then ncu with source-level warp-stall sampling (SASS, with line
# info) of one launch each of the generated kernels with and without bias at GPT-OSS width:
# ${OUT:-results}/ncu/ncu-bias-source-<kernel>.csv (per instruction) and ncu-bias-details.txt.
set -u
cd "$(dirname "$0")"
export PATH=/usr/local/cuda/bin:$PATH
out=${OUT:-results}
mkdir -p build $out/ncu
nvcc -O3 -std=c++17 -arch=sm_90 -lineinfo -DMOG_SOURCE="\"../../../tests/MoeOpGen.Generator.Tests/Snapshots/SwiGlu.verified.cu\"" \
  -DMOG_KERNEL_swiglu_bwd_bf16_wb_v16 -DMOG_KERNEL_swiglu_bwd_bf16_wbc_v16 -DMOG_KERNEL_swiglu_bwd_bf16_w \
  -DMOG_KERNEL_swiglu_reduce_weights -DMOG_KERNEL_swiglu_reduce_bias_bf16 -o build/h12 bias-ablation.cu || exit 1
if [ "${SKIP_TIMES:-0}" != 1 ]; then
  for shape in "32768 2880" "16384 14336" "65536 2048"; do build/h12 $shape; done | tee $out/bias-ablation.jsonl
fi
ncu --import-source yes --section SpeedOfLight --section MemoryWorkloadAnalysis --section Occupancy --section SchedulerStats \
    --section WarpStateStats --section SourceCounters --section InstructionStats \
    -k regex:'swiglu_bwd_bf16_(w|wb_v16)$' -o $out/ncu/bias-source -f build/h12 32768 2880 profile > $out/ncu/ncu-bias-profile.log 2>&1
ncu -i $out/ncu/bias-source.ncu-rep --page details > $out/ncu/ncu-bias-details.txt 2>&1
for k in swiglu_bwd_bf16_wb_v16 swiglu_bwd_bf16_w; do
  ncu -i $out/ncu/bias-source.ncu-rep -k $k --page source --csv --print-source sass > $out/ncu/ncu-bias-source-$k.csv 2>&1
done
