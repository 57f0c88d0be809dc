#!/usr/bin/env bash
# What .NET JIT-compiles while a new process loads its first kernel from a warm disk cache (issue 3: that load's
# "unattributed" time in `bench compile`). Runs `bench compile`'s own child process (compile-child, the same command
# line CompileBench.RunChild uses) from a GPU bundle: one cold child fills a fresh cache, then one warm child runs
# with DOTNET_JitDisasmSummary=1 and DOTNET_JitStdOutFile, and the methods compiled during the first kernel load are
# printed: from the bench's LoadKernel (JIT-compiled just before its first call) to the next LoadTiming method
# (compiled just after the first load returns); all methods when those markers are not found.
#
#   bench/diagnostics/first-kernel-jit.sh [--bundle DIR] [--device cuda|cpu]
#
# --bundle: the unpacked GPU bundle (default artifacts/gpu-bundle/moeopgen-gpu); its run.sh supplies the .NET
# runtime and libtorch. --device cpu runs the host part of the path only (no GPU needed).
# Writes to $OUT (default ./first-kernel-jit): jit.txt (every method the warm child JIT-compiled, in order),
# cold-child.json and warm-child.json (the children's timings), kernel-cache/ (the cache they used).
set -euo pipefail
bundle=artifacts/gpu-bundle/moeopgen-gpu device=cuda
while [[ $# -gt 0 ]]; do
  case $1 in
    --bundle) bundle=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "first-kernel-jit.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
[[ -x $bundle/run.sh && -f $bundle/bench/MoeOpGen.Bench.dll ]] || { echo "first-kernel-jit.sh: no run.sh and bench/ in $bundle" >&2; exit 2; }
out=${OUT:-first-kernel-jit}
mkdir -p "$out" && out=$(cd "$out" && pwd)
rm -rf "$out/kernel-cache" "$out/jit.txt"

child() {   # one compile-child; --spawned-at is .NET UTC ticks (100 ns since 0001-01-01), as the parent passes it
  local ticks=$(( $(date +%s%N) / 100 + 621355968000000000 ))
  MOEOPGEN_CACHE_DIR=$out/kernel-cache "$bundle/run.sh" dotnet bench/MoeOpGen.Bench.dll compile-child \
    --device "$device" --spawned-at "$ticks" | sed -n 's/^COMPILE-CHILD //p'
}

echo "== cold child (fills $out/kernel-cache)"
child > "$out/cold-child.json"
echo "== warm child with JIT summary -> $out/jit.txt"
DOTNET_JitDisasmSummary=1 DOTNET_JitStdOutFile=$out/jit.txt child > "$out/warm-child.json"
cat "$out/warm-child.json"; echo
[[ -s $out/jit.txt ]] || { echo "first-kernel-jit.sh: the runtime wrote no $out/jit.txt" >&2; exit 1; }

echo "== methods JIT-compiled in the warm child: $(grep -c 'JIT comp' "$out/jit.txt") in all"
window=$(awk '/CompileBench:LoadKernel/ && !start { start = 1 } start { print } start && /LoadTiming/ && !/CompileBench:LoadKernel/ { exit }' "$out/jit.txt")
if [[ -n $window ]] && grep -q LoadTiming <<< "$window"; then
  echo "== during the first kernel load (between the bench's LoadKernel and the next LoadTiming method): $(( $(wc -l <<< "$window") - 2 )) methods"
  echo "$window"
else
  echo "== markers not found; all of them:"
  cat "$out/jit.txt"
fi
