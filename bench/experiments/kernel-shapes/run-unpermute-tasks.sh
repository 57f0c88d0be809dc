#!/bin/bash
# Harness 14: the fused unpermute with probs (unpermute-tasks.cu) against one-task-per-warp grids and tasks of 2-4
# segments with 1-8 copies' loads in flight, bf16, at GPT-OSS (2880, E 32, top-4), Mixtral (14336, E 8, top-2) and
# DeepSeek-V3 (7168, E 256, top-8) widths; the routing module's source is extracted from
# runtime/Moe/FusedRoutingCudaSource.cs (or ROUTING_SOURCE, e.g. an earlier commit's copy of that file: its kernel is
# then the "generated" row). JSON lines to ${OUT:-results}/unpermute-tasks.jsonl.
set -u
cd "$(dirname "$0")"
export PATH=/usr/local/cuda/bin:$PATH
mkdir -p build ${OUT:-results}
python3 extract-routing-source.py ${ROUTING_SOURCE:-../../../runtime/Moe/FusedRoutingCudaSource.cs} build/moe_routing.cu || exit 1
nvcc -O3 -std=c++17 -arch=sm_90 -DMOG_ROUTING_SOURCE="\"build/moe_routing.cu\"" -o build/h14 unpermute-tasks.cu || exit 1
for shape in "2880 32 4" "14336 8 2" "7168 256 8"; do build/h14 $shape; done | tee ${OUT:-results}/unpermute-tasks.jsonl
