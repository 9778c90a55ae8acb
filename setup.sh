#!/usr/bin/env bash
# One-step, idempotent setup of everything diffmem's build, tests, tools and
# default data need on Debian 12. Safe to run again: apt-get skips what is
# already installed.
#
#   ./setup.sh                               Debian's packages (LibTorch 1.13, CPU)
#   ./setup.sh --libtorch=pypi[=VERSION]     also PyPI's torch wheel (default 2.11.0, the
#                                            GPU machines' version) in a venv under
#                                            ~/.cache/diffmem/torch-VERSION, reused when present
#   ./setup.sh --libtorch=pypi --print-root  the same, then prints that LibTorch's root
#                                            (for DIFFMEM_LIBTORCH) as the only line on stdout
#
#   DIFFMEM_LIBTORCH=$(./setup.sh --libtorch=pypi --print-root) bazel test //diffusion/...
set -euo pipefail

libtorch=debian
torch_version=2.11.0
print_root=0
for arg in "$@"; do
  case "$arg" in
    --libtorch=debian) libtorch=debian ;;
    --libtorch=pypi) libtorch=pypi ;;
    --libtorch=pypi=*) libtorch=pypi; torch_version=${arg#--libtorch=pypi=} ;;
    --print-root) print_root=1 ;;
    *) echo "setup.sh: unknown argument '$arg' (expected --libtorch=debian|pypi[=VERSION], --print-root)" >&2
       exit 2 ;;
  esac
done
if [[ ! "$torch_version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  echo "setup.sh: --libtorch=pypi=$torch_version: expected a version like 2.11.0" >&2
  exit 2
fi
# With --print-root, stdout carries only the root: everything else goes to stderr.
exec 3>&1
if ((print_root)); then exec 1>&2; fi

if [[ "$(id -u)" -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    exec sudo -E "$0" "$@"
  fi
  echo "setup.sh: must run as root (apt-get install); re-run with sudo." >&2
  exit 1
fi

PACKAGES=(
  bazel-bootstrap          # Bazel 4.2.3 (works offline with the stand-ins in third_party/)
  g++ clang                # compiler; clang for libFuzzer targets
  libclang-rt-14-dev       # sanitizer and libFuzzer runtimes for clang
  libtorch-dev             # LibTorch 1.13 (CPU)
  libgloo-dev              # Gloo's headers, which c10d's ProcessGroupGloo.hpp includes (parallel/; PyPI's wheel lacks them)
  libopenblas0-openmp      # fast BLAS under LibTorch (reference BLAS is ~25x slower)
  libabsl-dev              # abseil: flags, status, strings, time
  libgtest-dev libgmock-dev
  libbenchmark-dev
  libpng-dev zlib1g-dev
  libzip-dev nlohmann-json3-dev
  libcairo2-dev            # plots
  dataset-fashion-mnist    # default data: /usr/share/datasets/fashion-mnist
  patchelf                 # tools/bundle/make_bundle.sh (relocatable tool bundles)
  slurmctld slurmd slurm-client munge   # testing/slurm_test: a one-node Slurm (testing/slurm/local_slurm.sh)
)
if [[ "$libtorch" == pypi ]]; then
  PACKAGES+=(python3-venv)  # the venv that holds PyPI's torch wheel
fi

export DEBIAN_FRONTEND=noninteractive
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup.sh: installing ${missing[*]}" >&2
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup.sh: all packages present" >&2
fi

# LibTorch loads libblas.so.3 through Debian's alternatives: make sure it is
# OpenBLAS, not the reference BLAS.
blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 || true)
case "$blas" in
  *openblas*) ;;
  *) echo "setup.sh: warning: libblas.so.3 -> $blas is not OpenBLAS; matmuls will be slow" >&2 ;;
esac

if [[ "$libtorch" == pypi ]]; then
  source "$(dirname "$0")/third_party/libtorch/pypi.sh"
  root=$(install_pypi_libtorch "$torch_version" "${DIFFMEM_CACHE:-$HOME/.cache/diffmem}")
  echo "setup.sh: LibTorch $torch_version (PyPI) at $root; build with DIFFMEM_LIBTORCH=$root" >&2
  if ((print_root)); then echo "$root" >&3; fi
elif ((print_root)); then
  echo /usr >&3
fi
