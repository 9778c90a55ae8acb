// The device a benchmark binary measures on, chosen once per run by the
// environment variable DIFFMEM_BENCHMARK_DEVICE (`cpu`, the default, or
// `cuda`), and the barrier that makes asynchronous GPU work count inside the
// timed loop.
//
//   BenchmarkDevice(state, &device)  — false (and the benchmark skipped with
//                                      the reason) when the device is unusable
//   Synchronize(device)              — waits for the device's queued work
//
// Example:
//   torch::Device device = torch::kCPU;
//   if (!BenchmarkDevice(state, &device)) return;
//   for (auto _ : state) { Work(device); Synchronize(device); }

#ifndef DIFFMEM_BENCHMARKS_BENCHMARK_DEVICE_H_
#define DIFFMEM_BENCHMARKS_BENCHMARK_DEVICE_H_

#include <benchmark/benchmark.h>
#include <torch/cuda.h>
#include <torch/types.h>

#include <cstdlib>
#include <string>

namespace diffmem {
namespace benchmarks {

// The name DIFFMEM_BENCHMARK_DEVICE asks for ("cpu" when unset).
inline std::string BenchmarkDeviceName() {
  const char* env = std::getenv("DIFFMEM_BENCHMARK_DEVICE");
  return env && *env ? env : "cpu";
}

inline bool BenchmarkDevice(benchmark::State& state, torch::Device* device) {
  const std::string name = BenchmarkDeviceName();
  if (name == "cpu") {
    *device = torch::Device(torch::kCPU);
  } else if (name == "cuda") {
    if (!torch::cuda::is_available()) {
      state.SkipWithError("DIFFMEM_BENCHMARK_DEVICE=cuda: no CUDA device visible to this LibTorch");
      return false;
    }
    *device = torch::Device(torch::kCUDA, 0);
  } else {
    state.SkipWithError(("DIFFMEM_BENCHMARK_DEVICE='" + name + "': expected cpu or cuda").c_str());
    return false;
  }
  return true;
}

inline void Synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

}  // namespace benchmarks
}  // namespace diffmem

#endif  // DIFFMEM_BENCHMARKS_BENCHMARK_DEVICE_H_
