#!/bin/bash
# Harness 10: the heavy-maths operators (GeGLU, GeGLU-erf, SiTuGLU; SwiGLU as the light-maths reference), bf16 at
# GPT-OSS width: times of forward-maths.cu, then ncu on one launch of each kernel. Edited copies of the generated
# modules apportion the time: SiTuGLU with its two divisions by the caps as __fdividef ("fdiv"), GeGLU-erf with erff
# removed ("noerf", erf(z) replaced by z: the maths without erf, not a correct operator). JSON lines to
# ${OUT:-results}/forward-maths.jsonl, ncu reports to ${OUT:-results}/ncu/ncu-maths-<label>.txt.
set -u
cd "$(dirname "$0")"
export PATH=/usr/local/cuda/bin:$PATH
out=${OUT:-results}
mkdir -p build $out/ncu
snapshots=../../../tests/MoeOpGen.Generator.Tests/Snapshots
sed -e 's|gate / gateCap|__fdividef(gate, gateCap)|g' -e 's|linear / linearCap|__fdividef(linear, linearCap)|g' $snapshots/SiTuGlu.verified.cu > build/situglu-fdiv.cu
sed -e 's|erff(\([^()]*\))|(\1)|g' $snapshots/GeGluErf.verified.cu > build/gegluerf-noerf.cu
grep -c "__fdividef(gate, gateCap)" build/situglu-fdiv.cu; grep -c "erff" build/gegluerf-noerf.cu
for spec in "swiglu SwiGlu ../../../tests/MoeOpGen.Generator.Tests/Snapshots/SwiGlu.verified.cu 1" \
            "geglu GeGlu ../../../tests/MoeOpGen.Generator.Tests/Snapshots/GeGlu.verified.cu 1" \
            "gegluerf GeGluErf ../../../tests/MoeOpGen.Generator.Tests/Snapshots/GeGluErf.verified.cu 1" \
            "gegluerf GeGluErf-noerf build/gegluerf-noerf.cu 1" \
            "situglu SiTuGlu ../../../tests/MoeOpGen.Generator.Tests/Snapshots/SiTuGlu.verified.cu 8" \
            "situglu SiTuGlu-fdiv build/situglu-fdiv.cu 8"; do
  set -- $spec; op=$1; label=$2; src=$3; scalar=$4
  kernels=""; for k in fwd_bf16 fwd_bf16_w fwd_bf16_wb_v16 fwd_bf16_wbc_v16 bwd_bf16_w; do kernels="$kernels -DMOG_KERNEL_${op}_$k"; done
  nvcc -O3 -std=c++17 -arch=sm_90 -DOP=$op -DMOG_SOURCE="\"$src\"" $kernels -o build/h10-$label forward-maths.cu || { echo "build $label failed" >&2; continue; }
  build/h10-$label 32768 2880 $label $scalar | tee -a $out/forward-maths.jsonl
  ncu --section SpeedOfLight --section ComputeWorkloadAnalysis --section Occupancy --section SchedulerStats \
      --section WarpStateStats --section InstructionStats --section LaunchStats \
      build/h10-$label 32768 2880 $label $scalar once > $out/ncu/ncu-maths-$label.txt 2>&1
done
