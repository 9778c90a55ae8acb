# Sourced (POSIX sh) by the wrapper scripts of a diffmem bundle
# (tools/bundle/make_bundle.sh) with $here set to the bundle's folder: finds
# LibTorch, checks it and the host against what the bundle was built for, and
# sets LD_LIBRARY_PATH. Every failure is one line on stderr and exit status 2.
#
# LibTorch: $DIFFMEM_LIBTORCH (a root with lib/ and include/, e.g.
# …/site-packages/torch, or /usr for Debian's), else the `torch` package that
# $DIFFMEM_PYTHON (default python3; e.g. /opt/torch/.venv/bin/python3) would
# import, found without importing it.

diffmem_bundle_fail() {
  echo "diffmem bundle: $*" >&2
  exit 2
}

. "$here/lib/bundle.env"

diffmem_root=${DIFFMEM_LIBTORCH:-}
diffmem_python=${DIFFMEM_PYTHON:-python3}
if [ -z "$diffmem_root" ] && command -v "$diffmem_python" >/dev/null 2>&1; then
  diffmem_root=$("$diffmem_python" -c 'import importlib.util as u; s = u.find_spec("torch"); print(s.submodule_search_locations[0] if s else "")' 2>/dev/null || true)
fi
[ -n "$diffmem_root" ] || diffmem_bundle_fail "no LibTorch: set DIFFMEM_LIBTORCH to a LibTorch $DIFFMEM_BUNDLE_TORCH_VERSION root" \
  "(the folder with lib/ and include/, e.g. .../site-packages/torch of torch==$DIFFMEM_BUNDLE_TORCH_VERSION)," \
  "or DIFFMEM_PYTHON to a python3 that has that torch ($diffmem_python has none)"
diffmem_root=${diffmem_root%/}
if [ "$diffmem_root" = /usr ] || [ -z "$diffmem_root" ]; then
  diffmem_root=/usr
  diffmem_libdir=/usr/lib/x86_64-linux-gnu
else
  diffmem_libdir=$diffmem_root/lib
fi
ls "$diffmem_libdir"/libtorch_cpu.so* >/dev/null 2>&1 ||
  diffmem_bundle_fail "DIFFMEM_LIBTORCH=$diffmem_root: no libtorch_cpu.so in $diffmem_libdir"

# The version must match the one the bundle was built against (C++ ABI).
diffmem_version=
for diffmem_h in "$diffmem_root/include/torch/headeronly/version.h" "$diffmem_root/include/torch/csrc/api/include/torch/version.h"; do
  if grep -q 'define TORCH_VERSION_MAJOR' "$diffmem_h" 2>/dev/null; then
    diffmem_version=$(awk '/define TORCH_VERSION_(MAJOR|MINOR|PATCH)/ {v[$2] = $3} END {print v["TORCH_VERSION_MAJOR"] "." v["TORCH_VERSION_MINOR"] "." v["TORCH_VERSION_PATCH"]}' "$diffmem_h")
    break
  fi
done
[ -n "$diffmem_version" ] || diffmem_bundle_fail "DIFFMEM_LIBTORCH=$diffmem_root: no include/torch version header, cannot check" \
  "that it is LibTorch $DIFFMEM_BUNDLE_TORCH_VERSION"
[ "$diffmem_version" = "$DIFFMEM_BUNDLE_TORCH_VERSION" ] ||
  diffmem_bundle_fail "DIFFMEM_LIBTORCH=$diffmem_root is LibTorch $diffmem_version; this bundle was built for $DIFFMEM_BUNDLE_TORCH_VERSION"

# The bundled libstdc++ only where the host's lacks a symbol version we need.
diffmem_path=$diffmem_libdir
if [ "$diffmem_libdir" = /usr/lib/x86_64-linux-gnu ]; then diffmem_path=; fi
diffmem_need_glibc=$DIFFMEM_BUNDLE_GLIBC
diffmem_stdcxx=$(/sbin/ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 .*x86-64/ {print $NF; exit}')
if [ -n "$DIFFMEM_BUNDLE_GLIBCXX" ] && ! grep -q -a "GLIBCXX_$DIFFMEM_BUNDLE_GLIBCXX" "${diffmem_stdcxx:-/nonexistent}" 2>/dev/null; then
  diffmem_path=${diffmem_path:+$diffmem_path:}$here/lib/fallback
  diffmem_need_glibc=$(printf '%s\n%s\n' "$DIFFMEM_BUNDLE_GLIBC" "$DIFFMEM_BUNDLE_GLIBC_FALLBACK" | sort -t. -k1,1n -k2,2n | tail -1)
fi

# glibc cannot be bundled: the host's must be new enough.
diffmem_glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')
if [ -n "$diffmem_glibc" ] && [ -n "$diffmem_need_glibc" ]; then
  diffmem_lowest=$(printf '%s\n%s\n' "$diffmem_glibc" "$diffmem_need_glibc" | sort -t. -k1,1n -k2,2n | head -1)
  [ "$diffmem_lowest" = "$diffmem_need_glibc" ] ||
    diffmem_bundle_fail "this machine has glibc $diffmem_glibc; the bundle needs $diffmem_need_glibc or newer"
fi

if [ -n "$diffmem_path" ]; then
  LD_LIBRARY_PATH=$diffmem_path${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export LD_LIBRARY_PATH
fi
