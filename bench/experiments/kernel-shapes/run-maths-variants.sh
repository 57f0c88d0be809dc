#!/bin/bash
# Harness 11: the forward-maths.cu program (harness 10) on edited copies of the generated modules
# (make-maths-variants.py: cvt = bf16 stores by cvt.rn.bf16.f32, ftz = Sigmoid and Tanh without denormal fix-ups,
# fdiv = SiTuGLU's divisions as __fdividef), bf16 at GPT-OSS width, with the unedited module of each operator
# beside them; JSON lines to ${OUT:-results}/maths-variants.jsonl, ncu reports (instruction counts) to
# ${OUT:-results}/ncu/ncu-variants-<label>.txt (results/maths-instructions.jsonl has their instruction counts).
set -u
cd "$(dirname "$0")"
export PATH=/usr/local/cuda/bin:$PATH
out=${OUT:-results}
py=$(command -v python3 || echo /opt/torch/.venv/bin/python)
mkdir -p build $out/ncu
snapshots=../../../tests/MoeOpGen.Generator.Tests/Snapshots
for spec in "swiglu SwiGlu none 1" "swiglu SwiGlu cvt 1" "swiglu SwiGlu ftz 1" "swiglu SwiGlu cvt+ftz 1" \
            "quickgeglu QuickGeGlu none 1.702" "quickgeglu QuickGeGlu cvt+ftz 1.702" \
            "geglu GeGlu none 1" "geglu GeGlu cvt 1" "geglu GeGlu ftz 1" "geglu GeGlu cvt+ftz 1" \
            "gegluerf GeGluErf none 1" "gegluerf GeGluErf cvt 1" \
            "situglu SiTuGlu none 8" "situglu SiTuGlu fdiv 8" "situglu SiTuGlu fdiv+cvt+ftz 8"; do
  set -- $spec; op=$1; module=$2; edit=$3; scalar=$4; label=$module-$edit
  if [ $edit = none ]; then cp $snapshots/$module.verified.cu build/$label.cu
  else $py make-maths-variants.py $snapshots/$module.verified.cu build/$label.cu $edit || continue; fi
  kernels=""; for k in fwd_bf16 fwd_bf16_w fwd_bf16_wb_v16 fwd_bf16_wbc_v16 bwd_bf16_w; do kernels="$kernels -DMOG_KERNEL_${op}_$k"; done
  nvcc -O3 -std=c++17 -arch=sm_90 -DOP=$op -DMOG_SOURCE="\"build/$label.cu\"" $kernels -o build/h11-$label forward-maths.cu || { echo "build $label failed" >&2; continue; }
  build/h11-$label 32768 2880 $label $scalar | tee -a $out/maths-variants.jsonl
  ncu --section SpeedOfLight --section InstructionStats --section Occupancy build/h11-$label 32768 2880 $label $scalar once > $out/ncu/ncu-variants-$label.txt 2>&1
done
