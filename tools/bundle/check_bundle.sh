#!/usr/bin/env bash
# Checks a diffmem bundle (tools/bundle/make_bundle.sh) the way a machine
# without Bazel uses it: copies it into a fresh directory, runs its wrappers
# with a clean environment, and checks
#   - without a usable LibTorch (variable unset, wrong path, another version)
#     every wrapper refuses with one clear line and exit status 2;
#   - with DIFFMEM_LIBTORCH=ROOT the tools start, every non-LibTorch library
#     they load comes from the bundle, `--device=cuda` says clearly when no
#     GPU is there, and on real data (the bundle's Fashion-MNIST zip) the
#     optimum's samples are memorized (ratio ≥ 0.9: the paper's ceiling),
#     training and sampling write their outputs;
#   - gpu_smoke.sh's plumbing runs at tiny sizes on the CPU.
#
#   tools/bundle/check_bundle.sh BUNDLE_DIR LIBTORCH_ROOT [OTHER_LIBTORCH_ROOT]
# OTHER_LIBTORCH_ROOT: a LibTorch of another version (e.g. /usr), which the
# bundle must refuse.
set -uo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: $0 BUNDLE_DIR LIBTORCH_ROOT [OTHER_LIBTORCH_ROOT]" >&2
  exit 2
fi
bundle=$1
root=$2
other=${3:-}
work=$(mktemp -d /tmp/diffmem-bundle-check.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -r "$bundle" "$work/b"
cd "$work"
failures=0
check() {  # check DESCRIPTION COMMAND...: the command must succeed
  local what=$1; shift
  if "$@" >"$work/out.txt" 2>&1; then
    echo "ok: $what"
  else
    echo "FAILED: $what"; sed 's/^/  | /' "$work/out.txt" | tail -15
    failures=$((failures + 1))
  fi
}
refuses() {  # refuses DESCRIPTION PATTERN COMMAND...: exit status 2 and PATTERN in stderr
  local what=$1 pattern=$2; shift 2
  "$@" >"$work/out.txt" 2>&1
  local rc=$?
  if [[ $rc -eq 2 ]] && grep -q -- "$pattern" "$work/out.txt"; then
    echo "ok: $what: $(head -1 "$work/out.txt")"
  else
    echo "FAILED: $what (exit $rc, expected 2 and '$pattern')"; sed 's/^/  | /' "$work/out.txt" | tail -15
    failures=$((failures + 1))
  fi
}
# A clean environment: no LD_LIBRARY_PATH, a PATH without the build's tools.
clean=(env -i PATH=/usr/bin:/bin HOME="$work" OMP_WAIT_POLICY=passive OMP_NUM_THREADS=2)
with=("${clean[@]}" DIFFMEM_LIBTORCH="$root")
data=b/data/fashion1k_8x8.zip

refuses "no LibTorch named" "set DIFFMEM_LIBTORCH" "${clean[@]}" DIFFMEM_PYTHON=/nonexistent b/train --help
refuses "a path without LibTorch" "no libtorch_cpu.so" "${clean[@]}" DIFFMEM_LIBTORCH="$work/nowhere" b/train --help
if [[ -n "$other" ]]; then
  refuses "another LibTorch version ($other)" "this bundle was built for" "${clean[@]}" DIFFMEM_LIBTORCH="$other" \
    b/mem_ratio --help
fi
for tool in b/train b/sample b/optimum b/mem_ratio b/estimate_emm b/make_dataset b/png_grid; do
  # --help prints the usage text and exits 0.
  check "$tool starts (--help lists its flags, exit 0)" \
    bash -c '"$@" --help > "$0" && grep -q "Flags from tools/" "$0"' "$work/help.txt" "${with[@]}" "$tool"
done
# Every library a binary loads is the bundle's, LibTorch's (and what it
# brings: CUDA, libgomp) or glibc's/libstdc++'s.
libraries_from_bundle() {
  local f soname path ok=0
  for f in b/bin/*; do
    while read -r soname _ path _; do
      [[ "$path" == /* ]] || { echo "$f: $soname not found"; ok=1; continue; }
      path=$(readlink -f "$path")
      case "$path" in
        "$work"/b/lib/*) ;;
        "$(readlink -f "$root")"/*) ;;
        *) [[ "$soname" =~ ^(libc|libm|libpthread|libdl|librt|libutil|libresolv|libstdc\+\+|libgcc_s|ld-linux-x86-64)\.so ]] ||
             [[ "$soname" =~ ^lib(cu|nv|nccl|cudnn|gomp) ]] || { echo "$f: $soname => $path"; ok=1; } ;;
      esac
    done < <(LD_LIBRARY_PATH="$root/lib" ldd "$f" | grep '=>')
  done
  return $ok
}
check "every non-LibTorch library loads from the bundle" libraries_from_bundle
if [[ "$(readlink -f "$root")" != /usr ]] && ! "${with[@]}" b/train --device=cuda --out="$work/cuda_run" \
    --data="$data" --steps=1 >"$work/out.txt" 2>&1; then
  if grep -q "no GPU available" "$work/out.txt"; then
    echo "ok: --device=cuda without a GPU: $(grep -m1 'CUDA' "$work/out.txt")"
  else
    echo "FAILED: --device=cuda without a GPU gave no clear message"; sed 's/^/  | /' "$work/out.txt" | tail -5
    failures=$((failures + 1))
  fi
fi
check "optimum samples 16 images of 100 real training images" \
  "${with[@]}" b/optimum --data="$data" --n=100 --seeds=0-15 --out="$work/optimum"
check "mem_ratio of the optimum's samples" \
  "${with[@]}" b/mem_ratio --samples="$work/optimum" --data="$data" --n=100 --out="$work/ratio"
check "the optimum memorizes (ratio >= 0.9)" python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
ratio = r.get("ratio", r.get("memorization", {}).get("ratio"))
print("ratio", ratio)
sys.exit(0 if ratio is not None and ratio >= 0.9 else 1)' "$work/ratio/report.json"
check "train 20 steps on the CPU" "${with[@]}" b/train --data="$data" --n=100 --channels=16 --channel_mult=1,2 \
  --blocks=1 --attn= --dropout=0 --steps=20 --device=cpu --out="$work/run"
check "sample 4 images from it" "${with[@]}" b/sample --checkpoint="$work/run" --seeds=0-3 --device=cpu \
  --out="$work/samples"
check "the samples are there" test -s "$work/samples/000003.png" -a -s "$work/samples_grid.png"
check "gpu_smoke.sh --device=cpu --tiny" "${with[@]}" b/gpu_smoke.sh --device=cpu --tiny --out="$work/smoke"
grep -E "memorization ratio|GEMM rate|BM_" "$work/out.txt" | head -12 | sed 's/^/  | /'
if ((failures)); then
  echo "check_bundle: $failures check(s) FAILED"
  exit 1
fi
echo "check_bundle: all checks passed ($(du -sh "$bundle" | cut -f1) bundle, LibTorch at $root)"
