#!/usr/bin/env bash
# Builds artifacts/gpu-bundle/moeopgen-gpu/ (and the same as moeopgen-gpu.tar.gz beside it): everything needed to run
# MoeOpGen's tests and benchmarks on a CUDA machine that has a driver and a libtorch (such as PyTorch's) but no .NET
# SDK. Contents: the published test program (and .NET bench, if the project exists), the .NET runtime as a tar.xz,
# the PyTorch peers script, the golden tensors and run.sh (scripts/gpu-bundle-run.sh). TorchSharp-cpu's libtorch is
# left out: it is large and CPU-only; run.sh points the dynamic linker at the machine's libtorch instead.
# Usage: scripts/build-gpu-bundle.sh        (then see the command it prints)
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
out=artifacts/gpu-bundle
bundle=$out/moeopgen-gpu
limit_mib=58   # the device tool carries at most 64 MiB of working tree: the tar.gz travels, with the sources beside it
rm -rf "$bundle" "$out/moeopgen-gpu.tar.gz"
mkdir -p "$bundle" "$out/cache"

nuget=$(dotnet nuget locals global-packages --list | sed 's/^global-packages: *//; s:/*$::')

# Removes from a publish folder what the GPU machine must not or need not get.
prune() {
  local dir=$1 f
  # TorchSharp-cpu's libtorch (libtorch_cpu.so alone is 440 MiB): the names its package ships.
  for f in "$nuget"/libtorch-cpu-linux-x64/*/runtimes/linux-x64/native/*; do rm -f "$dir/$(basename "$f")"; done
  [[ ! -e $dir/libtorch_cpu.so ]] || { echo "prune failed: $dir still has libtorch_cpu.so" >&2; exit 1; }
  [[ -e $dir/libLibTorchSharp.so ]] || echo "note: $dir has no libLibTorchSharp.so (the project uses no TorchSharp?)"
  # Microsoft.CodeCoverage copies its data collectors (for `dotnet test --collect`) into every publish folder.
  rm -rf "$dir"/{CodeCoverage,alpine,ubuntu,macos,x64,x86,arm64}
  # Satellite resource folders (cs, de, pt-BR, zh-Hans ...): messages fall back to English.
  find "$dir" -mindepth 1 -maxdepth 1 -type d -regextype posix-extended -regex '.*/[a-z]{2}(-[A-Za-z]{2,4})?' \
    -exec rm -rf {} +
}

publish() {   # project folder, destination folder, extra msbuild arguments...
  echo "== dotnet publish $1"
  # Framework-dependent: the runtime travels once, as a tar.xz. The trailing slash on -o matters: the native-fix
  # target in build/ globs "$(PublishDir)**/libLibTorchSharp.so" and needs PublishDir to end in a slash.
  # ReadyToRun for MoeOpGen.Runtime and MoeOpGen.Ops only (build/MoeOpGen.ReadyToRun.targets): a new process's
  # first kernel load is otherwise mostly JIT (issue 3); the other assemblies stay IL to keep the bundle small.
  dotnet publish "$1" -c Release -r linux-x64 --self-contained false -p:SatelliteResourceLanguages=en \
    -p:PublishReadyToRun=true -p:MoeOpGenReadyToRunOwnAssembliesOnly=true \
    -o "$2/" -v quiet -nologo "${@:3}"
  prune "$2"
}

publish tests/MoeOpGen.Tests "$bundle/tests"
# The MoE demo with TorchSharp alone (TorchBackend=system): it uses the machine's libtorch, like the tests.
publish samples/MoeDemo "$bundle/demo" -p:TorchBackend=system
if [[ -d bench/MoeOpGen.Bench ]]; then
  # The bench's own code precompiled too, as an application published ReadyToRun would be: `bench compile` times
  # a new process's first kernel load, which should not include JIT-compiling the harness that asks for it.
  publish bench/MoeOpGen.Bench "$bundle/bench" "-p:MoeOpGenReadyToRunAssemblies=MoeOpGen.Runtime%3BMoeOpGen.Ops%3BMoeOpGen.Bench"
else
  echo "== bench/MoeOpGen.Bench does not exist yet: the bundle has no .NET bench (run.sh bench runs the peers alone)"
fi

# The .NET runtime the test program runs on: the newest installed Microsoft.NETCore.App of its major version.
major=$(sed -nE 's/.*"version": *"([0-9]+)\..*/\1/p' "$bundle/tests/MoeOpGen.Tests.runtimeconfig.json" | head -n1)
dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
version=$(dotnet --list-runtimes | awk -v m="$major." '$1 == "Microsoft.NETCore.App" && index($2, m) == 1 { v = $2 } END { print v }')
[[ -n $version ]] || { echo "no Microsoft.NETCore.App $major.x installed under $dotnet_root" >&2; exit 1; }
runtime_tar=dotnet-runtime-$version-linux-x64.tar.xz
if [[ ! -f $out/cache/$runtime_tar ]]; then   # xz -9 takes a minute on two cores: keep it between builds
  echo "== packing .NET runtime $version from $dotnet_root"
  notices=()
  for f in LICENSE.txt ThirdPartyNotices.txt; do [[ -f $dotnet_root/$f ]] && notices+=("$f"); done
  tar -C "$dotnet_root" -cf - dotnet host "shared/Microsoft.NETCore.App/$version" "${notices[@]}" |
    xz -9 -T0 > "$out/cache/$runtime_tar.tmp"
  mv "$out/cache/$runtime_tar.tmp" "$out/cache/$runtime_tar"
fi
cp "$out/cache/$runtime_tar" "$bundle/"

mkdir -p "$bundle/peers"
cp bench/peers/*.py "$bundle/peers/"
cp bench/compare.py "$bundle/compare.py"
if [[ -d ../shared/golden ]]; then cp -r ../shared/golden "$bundle/golden" && chmod -R u+w "$bundle/golden"; else echo "== ../shared/golden not found: no golden files in the bundle"; fi
install -m 755 scripts/gpu-bundle-run.sh "$bundle/run.sh"
git log -1 --format='commit %H%ndate %cI' > "$bundle/BUILD-INFO" 2>/dev/null || true
git status --porcelain --untracked-files=no | grep -q . && echo "working tree had local changes" >> "$bundle/BUILD-INFO"

tar -C "$out" -czf "$out/moeopgen-gpu.tar.gz" moeopgen-gpu

size_mib=$(( $(du -sk "$bundle" | cut -f1) / 1024 ))
tar_mib=$(( $(stat -c %s "$out/moeopgen-gpu.tar.gz") / 1048576 ))
echo
echo "Bundle: $bundle ($size_mib MiB; tar: $out/moeopgen-gpu.tar.gz, $tar_mib MiB)"
# The folder itself outgrew the device tool's 64 MiB (tests, bench and demo each carry TorchSharp and their own
# dependencies); the tar.gz is about 60 % of it, so that is what travels.
if (( tar_mib > limit_mib )); then echo "ERROR: the tar.gz is over $limit_mib MiB, the device tool cannot carry it with the sources" >&2; exit 1; fi
cat <<EOF
Run it on the GPU machine from the repository root (device tool: carry ["$out/moeopgen-gpu.tar.gz"], unpacked there
first with: tar -xzf $out/moeopgen-gpu.tar.gz -C $out):
  $bundle/run.sh test -reporter verbose -xml "\$OUT/tests.xml"          # all tests
  $bundle/run.sh test -trait Category=Gpu -reporter verbose            # GPU tests only
  $bundle/run.sh bench --out "\$OUT" --quick                            # .NET bench, PyTorch peers, comparison (< 4 min)
  $bundle/run.sh bench --out "\$OUT" --shapes gpt-oss                   # full run, one shape per call (also mixtral, deepseek)
  $bundle/run.sh demo --device cuda                                     # the MoE training demo on the GPU
Elsewhere: tar -xzf moeopgen-gpu.tar.gz && moeopgen-gpu/run.sh test ...   (moeopgen-gpu/run.sh --help for options)
EOF
