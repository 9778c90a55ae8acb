#!/usr/bin/env bash
# Packs diffmem's tools (and the train-step and memorization benchmarks) into
# one relocatable folder for machines without Bazel — e.g. a GPU machine that
# has a LibTorch of the same version (a `torch` wheel's site-packages/torch).
#
#   tools/bundle/make_bundle.sh OUT_DIR
#   DIFFMEM_LIBTORCH=$(./setup.sh --libtorch=pypi --print-root) tools/bundle/make_bundle.sh /tmp/diffmem-bundle
#
# It builds the targets with `bazel build` in this workspace ($BAZEL, default
# `bazel`, e.g. BAZEL="bazel --output_base=DIR"), honouring DIFFMEM_LIBTORCH,
# and writes OUT_DIR (replaced if it exists):
#   OUT_DIR/train, sample, …       one wrapper script per binary (run these)
#   OUT_DIR/bin/                   the binaries, stripped, RUNPATH $ORIGIN/../lib
#   OUT_DIR/lib/                   every shared library they need that is not
#                                  LibTorch's (abseil, libpng, libzip, cairo
#                                  and their dependencies), RUNPATH $ORIGIN;
#                                  lib/fallback/ holds libstdc++/libgcc_s, used
#                                  only where the host's libstdc++ is too old
#   OUT_DIR/lib/bundle.env         what the wrappers check: the LibTorch
#                                  version, glibc and GLIBCXX the bundle needs
#   OUT_DIR/gpu_smoke.sh           the GPU smoke and benchmark script
#   OUT_DIR/data/fashion1k_8x8.zip its training data (1000 Fashion-MNIST images, 8×8, labelled)
# Not included: LibTorch (libtorch*, libc10*, and through them CUDA, cuDNN,
# NCCL, …) and glibc. The wrappers find LibTorch through DIFFMEM_LIBTORCH (its
# root, with lib/ and include/) or else the `torch` package of python3, and
# refuse to run on a different LibTorch version. Fails if the folder exceeds
# DIFFMEM_BUNDLE_MAX_MB (default 60).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [[ $# -ne 1 ]]; then
  echo "usage: $0 OUT_DIR" >&2
  exit 2
fi
out=$1
bazel_cmd=(${BAZEL:-bazel})
max_mb=${DIFFMEM_BUNDLE_MAX_MB:-60}
targets=(
  //tools:train //tools:sample //tools:optimum //tools:mem_ratio //tools:estimate_emm
  //tools:make_dataset //tools:png_grid
  //benchmarks:train_step_benchmark //benchmarks:memorization_benchmark
)

root=${DIFFMEM_LIBTORCH:-/usr}
root=${root%/}
[[ -n "$root" ]] || root=/usr
version_h() {  # the header that defines TORCH_VERSION_{MAJOR,MINOR,PATCH} under a LibTorch root
  local r=$1
  for f in "$r/include/torch/headeronly/version.h" "$r/include/torch/csrc/api/include/torch/version.h"; do
    if grep -q 'define TORCH_VERSION_MAJOR' "$f" 2>/dev/null; then echo "$f"; return 0; fi
  done
  return 1
}
torch_version() {
  local f
  f=$(version_h "$1") || return 1
  awk '/define TORCH_VERSION_(MAJOR|MINOR|PATCH)/ {v[$2] = $3} END {print v["TORCH_VERSION_MAJOR"] "." v["TORCH_VERSION_MINOR"] "." v["TORCH_VERSION_PATCH"]}' "$f"
}
version=$(torch_version "$root") || { echo "make_bundle: no LibTorch version header under $root/include" >&2; exit 1; }

echo "make_bundle: building ${targets[*]} against LibTorch $version ($root)" >&2
# --symlink_prefix=/: the workspace's bazel-* links stay with the default build
# (links into another output base would make `bazel test //...` wander into them).
"${bazel_cmd[@]}" build --symlink_prefix=/ "${targets[@]}" >&2
bin_dir=$("${bazel_cmd[@]}" info bazel-bin 2>/dev/null)

stage=$(mktemp -d "${out%/}.tmp.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib/fallback"

# Sonames never bundled: LibTorch and what it brings, and glibc itself.
is_libtorch() { [[ "$1" =~ ^lib(torch|c10|caffe2|shm)[._] ]]; }
is_glibc() { [[ "$1" =~ ^(libc|libm|libpthread|libdl|librt|libresolv|libutil|ld-linux-x86-64)\.so ]]; }
is_fallback() { [[ "$1" =~ ^(libstdc\+\+|libgcc_s)\.so ]]; }
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }

declare -A where done_lib
queue=()
for t in "${targets[@]}"; do
  name=${t##*:}
  pkg=${t#//}
  pkg=${pkg%%:*}
  src="$bin_dir/$pkg/$name"
  cp "$src" "$stage/bin/$name"
  chmod u+w "$stage/bin/$name"
  # Where the loader finds each library today (the build's RUNPATH and the system's).
  while read -r soname _ path _; do
    [[ "$path" == /* ]] && where[$soname]=$path
  done < <(ldd "$src" | grep '=>')
  if ldd "$src" | grep -q 'not found'; then
    echo "make_bundle: $src has unresolved libraries:" >&2
    ldd "$src" | grep 'not found' >&2
    exit 1
  fi
  mapfile -t -O "${#queue[@]}" queue < <(needed "$src")
done
# The libraries' closure, not descending into LibTorch or glibc.
while ((${#queue[@]})); do
  soname=${queue[0]}
  queue=("${queue[@]:1}")
  [[ -n "${done_lib[$soname]:-}" ]] && continue
  done_lib[$soname]=1
  if is_libtorch "$soname" || is_glibc "$soname"; then continue; fi
  path=${where[$soname]:-}
  [[ -n "$path" ]] || { echo "make_bundle: cannot locate $soname" >&2; exit 1; }
  dest="$stage/lib"
  is_fallback "$soname" && dest="$stage/lib/fallback"
  cp -L "$path" "$dest/$soname"
  chmod u+w "$dest/$soname"
  mapfile -t -O "${#queue[@]}" queue < <(needed "$path")
done

strip --strip-unneeded "$stage"/bin/* "$stage"/lib/*.so* "$stage"/lib/fallback/*.so* 2>/dev/null || true
for f in "$stage"/bin/*; do patchelf --set-rpath '$ORIGIN/../lib' "$f"; done
for f in "$stage"/lib/*.so* "$stage"/lib/fallback/*.so*; do patchelf --set-rpath '$ORIGIN' "$f"; done

# What the wrappers check on the target machine: the highest glibc and
# libstdc++ symbol versions anything in the bundle needs.
max_version() { sed -n "s/.*($1_\([0-9.]*\)).*/\1/p" | sort -t. -k1,1n -k2,2n -k3,3n -u | tail -1; }
glibc_need=$(for f in "$stage"/bin/* "$stage"/lib/*.so*; do objdump -T "$f"; done | max_version GLIBC)
glibc_fallback=$(for f in "$stage"/lib/fallback/*.so*; do objdump -T "$f"; done | max_version GLIBC)
glibcxx_need=$(for f in "$stage"/bin/* "$stage"/lib/*.so*; do objdump -T "$f"; done | max_version GLIBCXX)
cat > "$stage/lib/bundle.env" <<ENV
DIFFMEM_BUNDLE_TORCH_VERSION=$version
DIFFMEM_BUNDLE_GLIBC=$glibc_need
DIFFMEM_BUNDLE_GLIBC_FALLBACK=$glibc_fallback
DIFFMEM_BUNDLE_GLIBCXX=$glibcxx_need
ENV
cp tools/bundle/env.sh "$stage/lib/env.sh"
for f in "$stage"/bin/*; do
  name=$(basename "$f")
  printf '#!/bin/sh\n# diffmem bundle: bin/%s with this bundle'"'"'s libraries and a LibTorch (see lib/env.sh).\nhere=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)\n. "$here/lib/env.sh"\nexec "$here/bin/%s" "$@"\n' \
    "$name" "$name" > "$stage/$name"
  chmod +x "$stage/$name"
done
cp tools/bundle/gpu_smoke.sh "$stage/gpu_smoke.sh"
# Real training data for gpu_smoke.sh (machines without Debian's data set):
# 1000 class-balanced Fashion-MNIST images, padded to 32×32 and averaged to 8×8.
mkdir -p "$stage/data"
"$bin_dir/tools/make_dataset" --data=fashion-mnist --n=1000 --subset=balanced --pad=2 --resolution=8 \
  --labels=true --out="$stage/data/fashion1k_8x8.zip" >&2

size_kb=$(du -sk "$stage" | cut -f1)
if ((size_kb > max_mb * 1024)); then
  echo "make_bundle: the bundle is $((size_kb / 1024)) MB, over the limit of $max_mb MB" >&2
  exit 1
fi
rm -rf "$out"
mv "$stage" "$out"
trap - EXIT
echo "make_bundle: $out: $(ls "$out/bin" | wc -l) binaries, $(ls "$out/lib" | grep -c '\.so') libraries (+ $(ls "$out/lib/fallback" | wc -l) fallback), $((size_kb / 1024)) MB; LibTorch $version, glibc >= $glibc_need" >&2
