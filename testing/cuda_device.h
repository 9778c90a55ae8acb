// Whether tests can use a CUDA device, and if not, why not — for tests that
// compare CUDA results with the CPU's and must skip (not pass silently) on
// machines without a GPU.
//
//   test_cuda::UnavailableReason()  — "" when torch::cuda::is_available(), else the reason
//
// Example:
//   TEST(UNetCuda, ForwardMatchesCpu) {
//     if (std::string why = diffmem::test_cuda::UnavailableReason(); !why.empty()) GTEST_SKIP() << why;
//     ...
//   }

#ifndef DIFFMEM_TESTING_CUDA_DEVICE_H_
#define DIFFMEM_TESTING_CUDA_DEVICE_H_

#include <c10/core/DeviceType.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <torch/cuda.h>

#include <string>

namespace diffmem {
namespace test_cuda {

inline std::string UnavailableReason() {
  // libc10_cuda registers the CUDA device guard when it is loaded: without it
  // this binary was linked against a CPU-only LibTorch.
  if (!c10::impl::hasDeviceGuardImpl(c10::DeviceType::CUDA)) {
    return "no CUDA: this test binary is linked against a CPU-only LibTorch (e.g. Debian's 1.13); build with "
           "DIFFMEM_LIBTORCH pointing at a CUDA LibTorch and run it on a machine with a GPU";
  }
  if (!torch::cuda::is_available()) {
    return "no CUDA device: LibTorch has CUDA, but no GPU is visible (no device or no NVIDIA driver)";
  }
  return "";
}

}  // namespace test_cuda
}  // namespace diffmem

#endif  // DIFFMEM_TESTING_CUDA_DEVICE_H_
