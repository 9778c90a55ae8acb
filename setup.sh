#!/usr/bin/env bash
# One-step, idempotent setup of everything diffmem's build, tests, tools and
# default data need on Debian 12. Safe to run again: apt-get skips what is
# already installed.
set -euo pipefail

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
  libopenblas0-openmp      # fast BLAS under LibTorch (reference BLAS is ~25x slower)
  libabsl-dev              # abseil: flags, status, strings, time
  libgtest-dev libgmock-dev
  libbenchmark-dev
  libpng-dev zlib1g-dev
  libzip-dev nlohmann-json3-dev
  libcairo2-dev            # plots
  dataset-fashion-mnist    # default data: /usr/share/datasets/fashion-mnist
)

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
