# LibTorch from PyPI's `torch` wheel, for setup.sh --libtorch=pypi[=VERSION].
# Sourced by setup.sh; defines install_pypi_libtorch.
#
# The wheel (torch 2.11.0: 531 MB download, 1.1 GB unpacked, built for CUDA
# 13.0 with the C++11 ABI) holds a complete LibTorch in site-packages/torch
# (include/, lib/ with libtorch_cpu, libc10, libtorch_cuda, libc10_cuda, ...).
# Its pip dependencies are ~3 GB of NVIDIA libraries; on a machine with the
# CUDA 13 toolkit installed (ldconfig finds cudart, cuBLAS, cuDNN, NCCL, ...)
# almost all of them are already there. So the wheel is installed without its
# dependencies, and only the shared libraries that its libraries still cannot
# find (ldd: "not found") are added from their NVIDIA wheels: on the project's
# machines libnvshmem_host, libcusparseLt and libcufile (232 MB download).
# The wheel's libraries find them through their own RUNPATH
# ($ORIGIN/../../nvidia/*/lib), so the build needs nothing but -L/-rpath to
# torch/lib.
#
# Example:
#   source third_party/libtorch/pypi.sh
#   root=$(install_pypi_libtorch 2.11.0 ~/.cache/diffmem)   # …/site-packages/torch

# The NVIDIA wheel holding each shared library the torch 2.11.0 wheel's
# libraries need (pins from the wheel's metadata: cuda-toolkit 13.0.2 extras,
# nvidia-*-cu13).
_diffmem_nvidia_wheel_2_11_0() {
  case "$1" in
    libcudart.so.13) echo "nvidia-cuda-runtime==13.0.96.*" ;;
    libcupti.so.13) echo "nvidia-cuda-cupti==13.0.85.*" ;;
    libcublas.so.13 | libcublasLt.so.13) echo "nvidia-cublas==13.1.0.3.*" ;;
    libcufft.so.12) echo "nvidia-cufft==12.0.0.61.*" ;;
    libcufile.so.0) echo "nvidia-cufile==1.15.1.6.*" ;;
    libcurand.so.10) echo "nvidia-curand==10.4.0.35.*" ;;
    libcusparse.so.12) echo "nvidia-cusparse==12.6.3.3.*" ;;
    libcusolver.so.12) echo "nvidia-cusolver==12.0.4.66.*" ;;
    libnvJitLink.so.13) echo "nvidia-nvjitlink==13.0.88.*" ;;
    libnvrtc.so.13) echo "nvidia-cuda-nvrtc==13.0.88.*" ;;
    libcudnn.so.9) echo "nvidia-cudnn-cu13==9.19.0.56" ;;
    libnccl.so.2) echo "nvidia-nccl-cu13==2.28.9" ;;
    libnvshmem_host.so.3) echo "nvidia-nvshmem-cu13==3.4.5" ;;
    libcusparseLt.so.0) echo "nvidia-cusparselt-cu13==0.8.0" ;;
    *) return 1 ;;
  esac
}

# Shared libraries that the libraries diffmem links (and their dependencies)
# cannot find, one soname per line.
_diffmem_missing_sonames() {
  local lib_dir=$1
  ldd "$lib_dir/libtorch_cpu.so" "$lib_dir/libc10_cuda.so" "$lib_dir/libtorch_cuda.so" |
    awk '/=> not found/ {print $1}' | sort -u
}

# install_pypi_libtorch VERSION CACHE_DIR: installs (once) torch==VERSION into
# the venv CACHE_DIR/torch-VERSION and prints its LibTorch root. A venv is
# reused only when complete (the stamp file is written last), so an
# interrupted install is redone, and a second run downloads nothing.
install_pypi_libtorch() {
  local version=$1 cache=$2
  local venv="$cache/torch-$version"
  local stamp="$venv/.diffmem-complete"
  if [[ ! -f "$stamp" ]]; then
    echo "setup.sh: installing torch==$version from PyPI into $venv" >&2
    rm -rf "$venv"
    mkdir -p "$cache"
    /usr/bin/python3 -m venv "$venv" >&2
    local pip=("$venv/bin/pip" install --no-input --disable-pip-version-check --no-cache-dir)
    if [[ "$version" == 2.11.0 ]]; then
      # typing_extensions: the one module `import torch` needs (for the ABI check below).
      "${pip[@]}" --no-deps "torch==$version" "typing_extensions==4.16.0" >&2
    else
      # No table of NVIDIA pins for this version: take all of torch's dependencies (~3 GB).
      echo "setup.sh: torch $version: installing its full dependency set (only 2.11.0 is pinned lean)" >&2
      "${pip[@]}" "torch==$version" >&2
    fi
    local lib_dir
    lib_dir=$(_diffmem_site_torch "$venv")/lib
    local round wheels soname wheel
    for round in 1 2 3; do  # a library added may itself need another
      wheels=()
      for soname in $(_diffmem_missing_sonames "$lib_dir"); do
        if ! wheel=$(_diffmem_nvidia_wheel_2_11_0 "$soname") || [[ "$version" != 2.11.0 ]]; then
          echo "setup.sh: torch $version needs $soname, which neither the system nor a known NVIDIA wheel provides" >&2
          return 1
        fi
        wheels+=("$wheel")
      done
      ((${#wheels[@]})) || break
      echo "setup.sh: adding NVIDIA libraries the system lacks: ${wheels[*]}" >&2
      "${pip[@]}" --no-deps "${wheels[@]}" >&2
    done
    if [[ -n "$(_diffmem_missing_sonames "$lib_dir")" ]]; then
      echo "setup.sh: torch $version still misses: $(_diffmem_missing_sonames "$lib_dir" | tr '\n' ' ')" >&2
      return 1
    fi
    # Debian's abseil and GoogleTest use the C++11 string ABI; a LibTorch with
    # the old ABI could not be linked with them.
    local abi
    abi=$("$venv/bin/python" -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))' 2>/dev/null) || abi="?"
    if [[ "$abi" != 1 ]]; then
      echo "setup.sh: torch $version has _GLIBCXX_USE_CXX11_ABI=$abi; diffmem needs the C++11 ABI (=1)" \
           "to link with Debian's abseil and GoogleTest" >&2
      return 1
    fi
    touch "$stamp"
  fi
  _diffmem_site_torch "$venv"
}

# The torch package directory of a venv (site-packages/torch).
_diffmem_site_torch() {
  local dirs=("$1"/lib/python3*/site-packages/torch)
  if [[ ! -f "${dirs[0]}/include/torch/csrc/api/include/torch/version.h" ]]; then
    echo "setup.sh: no LibTorch in $1 (expected lib/python3*/site-packages/torch/include)" >&2
    return 1
  fi
  echo "${dirs[0]}"
}
