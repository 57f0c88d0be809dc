#!/usr/bin/env bash
# run.sh of the GPU bundle (copied there by scripts/build-gpu-bundle.sh): runs MoeOpGen's tests and benchmarks on a
# CUDA machine that has a driver and a libtorch (such as PyTorch's) but no .NET SDK.
#
#   run.sh test [xunit.v3 options]        the self-executing xunit.v3 test program; options pass through, e.g.
#                                         run.sh test -trait Category=Gpu -reporter verbose -xml "$OUT/tests.xml"
#                                         (run.sh test -? lists them: -class, -method, -ctrf FILE, -parallel none ...)
#   run.sh bench [--out DIR] [--quick] [--shapes gpt-oss,mixtral,deepseek] [-- options of the .NET bench]
#                                         the .NET bench (compile, ops, routing: DIR/{compile,ops,routing}.{json,md}),
#                                         the PyTorch peers (DIR/moe_utils_peers.json) and their comparison
#                                         (DIR/compare.md). --quick: gpt-oss-20b, bf16, fewer repeats (< 4 min on an
#                                         H100). Without --quick all shapes and bf16+fp32; to stay inside a 10-minute
#                                         cap run one shape per call (--shapes gpt-oss, then mixtral, then deepseek)
#                                         into different DIRs. Options after -- go to `bench ops` and `bench routing`.
#   run.sh peers [--out DIR] [--quick] [--shapes LIST]   the PyTorch peers script alone
#   run.sh demo [options of MoeDemo]      the MoE training demo (samples/MoeDemo), e.g. run.sh demo --device cuda;
#                                         run.sh demo --help lists its options
#   run.sh dotnet ARGS...                 the bundled dotnet with this environment, e.g. under a profiler:
#                                         ncu --kernel-name regex:swiglu_fwd run.sh dotnet bench/MoeOpGen.Bench.dll ops ...
#   run.sh env                            what would be used (runtime, libtorch, cache), then exit
#
# Environment (all optional):
#   LIBTORCH_DIR         libtorch's lib folder; default: python's torch/lib, else /opt/torch/.venv/.../torch/lib
#   MOEOPGEN_WORK_DIR    default <bundle>/work: kernel cache and default bench output live here
#   MOEOPGEN_CACHE_DIR   the runtime's disk cache of compiled kernels; default $MOEOPGEN_WORK_DIR/kernel-cache
#   MOEOPGEN_DOTNET_DIR  where the bundled .NET runtime is unpacked; default ${TMPDIR:-/tmp}/moeopgen-dotnet-<version>
#   PYTHON               the Python that has PyTorch; default python3
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "run.sh: $*" >&2; exit 2; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

cmd=${1:-}; [[ $# -gt 0 ]] && shift
case $cmd in test|bench|peers|demo|dotnet|env) ;; -h|--help|help) usage; exit 0 ;; *) usage >&2; exit 2 ;; esac

python=${PYTHON:-python3}
work=${MOEOPGEN_WORK_DIR:-$here/work}
mkdir -p "$work"

# The .NET runtime travels as a tar.xz (about a third of its unpacked size); unpack it once per machine.
runtime_tar=$(compgen -G "$here/dotnet-runtime-*.tar.xz" | head -n1) || die "no dotnet-runtime-*.tar.xz in $here"
version=$(basename "$runtime_tar" | sed -E 's/^dotnet-runtime-(.*)-linux-x64\.tar\.xz$/\1/')
export DOTNET_ROOT=${MOEOPGEN_DOTNET_DIR:-${TMPDIR:-/tmp}/moeopgen-dotnet-$version}
if [[ ! -x $DOTNET_ROOT/dotnet || ! -d $DOTNET_ROOT/shared/Microsoft.NETCore.App/$version ]]; then
  mkdir -p "$(dirname "$DOTNET_ROOT")"
  partial=$(mktemp -d "$DOTNET_ROOT.partial.XXXXXX")   # unpack beside, then rename: no half runtime is ever used
  if command -v xz >/dev/null; then
    tar -xJf "$runtime_tar" -C "$partial"
  else   # tar needs the xz program for -J; Python's tarfile reads xz by itself
    "$python" -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$runtime_tar" "$partial"
  fi
  rm -rf "$DOTNET_ROOT" && mv "$partial" "$DOTNET_ROOT"
fi
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

# libtorch: the bundle carries only TorchSharp's shim (libLibTorchSharp.so); the dynamic linker finds libtorch,
# libtorch_cpu, libc10 (and TorchSharp finds libtorch_cuda) through LD_LIBRARY_PATH.
if [[ -z ${LIBTORCH_DIR:-} ]]; then
  LIBTORCH_DIR=$("$python" -c 'import torch, os; print(os.path.dirname(torch.__file__) + "/lib")' 2>/dev/null) ||
    LIBTORCH_DIR=/opt/torch/.venv/lib/python3.12/site-packages/torch/lib
fi
[[ -e $LIBTORCH_DIR/libtorch_cpu.so ]] || die "no libtorch_cpu.so in LIBTORCH_DIR=$LIBTORCH_DIR"
export LIBTORCH_DIR LD_LIBRARY_PATH=$LIBTORCH_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export MOEOPGEN_CACHE_DIR=${MOEOPGEN_CACHE_DIR:-$work/kernel-cache}
# Golden tensors of the reference module, when the bundle has them (a copy of ../shared/golden at build time).
[[ -d $here/golden ]] && export MOEOPGEN_GOLDEN_DIR=${MOEOPGEN_GOLDEN_DIR:-$here/golden}

dotnet=$DOTNET_ROOT/dotnet
run_peers() {   # $1 = output dir, $2 = --quick or empty, $3 = --max-seconds of the peers (start no block after it)
  local models=() m
  if [[ -n $shapes ]]; then   # the .NET bench's short names -> the peers' model keys
    local list=
    for m in ${shapes//,/ }; do
      case $m in gpt-oss*) m=gpt-oss-20b ;; mixtral*) m=mixtral-8x7b ;; deepseek*) m=deepseek-v3 ;; esac
      list+=${list:+,}$m
    done
    models=(--models "$list")
  elif [[ -n $2 ]]; then
    models=(--models gpt-oss-20b)   # --quick: one shape, as the .NET bench
  fi
  echo "== PyTorch peers -> $1/moe_utils_peers.json"
  "$python" "$here/peers/moe_utils_peers.py" "$1/moe_utils_peers.json" ${2:+"$2"} ${models[@]+"${models[@]}"} \
    ${3:+--max-seconds "$3"}
}
parse_out_quick() {   # sets out, quick, shapes and rest from: [--out DIR] [--quick] [--shapes LIST] [-- ARGS...]
  out=$work; quick=; shapes=; rest=()
  while [[ $# -gt 0 ]]; do
    case $1 in
      --out) [[ $# -ge 2 ]] || die "--out needs a folder"; out=$2; shift 2 ;;
      --quick) quick=--quick; shift ;;
      --shapes) [[ $# -ge 2 ]] || die "--shapes needs a list"; shapes=$2; shift 2 ;;
      --) shift; rest=("$@"); break ;;
      *) die "unknown option '$1' (see run.sh --help)" ;;
    esac
  done
  mkdir -p "$out"; out=$(cd "$out" && pwd)
}

case $cmd in
  env)
    echo "bundle:             $here"
    echo "DOTNET_ROOT:        $DOTNET_ROOT ($("$dotnet" --list-runtimes | tr '\n' ' '))"
    echo "LIBTORCH_DIR:       $LIBTORCH_DIR"
    echo "MOEOPGEN_CACHE_DIR: $MOEOPGEN_CACHE_DIR"
    echo "MOEOPGEN_GOLDEN_DIR: ${MOEOPGEN_GOLDEN_DIR:-(none)}"
    command -v nvidia-smi >/dev/null && nvidia-smi -L || echo "nvidia-smi: not found"
    ;;
  test)
    exec "$dotnet" "$here/tests/MoeOpGen.Tests.dll" "$@"
    ;;
  dotnet)
    cd "$here" && exec "$dotnet" "$@"
    ;;
  demo)
    [[ -f $here/demo/MoeDemo.dll ]] || die "this bundle has no demo (built before samples/MoeDemo existed)"
    exec "$dotnet" "$here/demo/MoeDemo.dll" "$@"
    ;;
  peers)
    parse_out_quick "$@"
    run_peers "$out" "$quick" ""
    ;;
  bench)
    parse_out_quick "$@"
    status=0 started=$SECONDS
    if [[ -f $here/bench/MoeOpGen.Bench.dll ]]; then
      net_bench() { echo "== .NET bench $1 -> $out/$1.json"; "$dotnet" "$here/bench/MoeOpGen.Bench.dll" "$@" --out "$out"; }
      sel=(${quick:+"$quick"} ${shapes:+--shapes "$shapes"} ${rest[@]+"${rest[@]}"})
      device=()   # `-- --device cpu` (a dry run) applies to the compile measurement too
      for ((i = 0; i + 1 < ${#rest[@]}; i++)); do [[ ${rest[i]} == --device ]] && device=(--device "${rest[i+1]}"); done
      net_bench compile ${device[@]+"${device[@]}"} || status=$?
      net_bench ops "${sel[@]}" || status=$?
      net_bench routing "${sel[@]}" || status=$?
    else
      echo "== no .NET bench in this bundle (bench/MoeOpGen.Bench did not exist when it was built)"
    fi
    # The peers check their clock between blocks (model x dtype): leave a minute for the last block and the table,
    # so the whole call stays inside the device tool's 10-minute cap.
    budget=$(( 480 - (SECONDS - started) )); (( budget < 60 )) && budget=60
    run_peers "$out" "$quick" "$budget" || status=$?
    echo "== comparison -> $out/compare.md"
    "$python" "$here/compare.py" --ours "$out/ops.json" "$out/routing.json" --peers "$out/moe_utils_peers.json" \
      --out "$out/compare.md" > /dev/null || status=$?
    echo "== bench done in $(( SECONDS - started )) s, status $status; files in $out:"; ls "$out"
    exit "$status"
    ;;
esac
