// One step of diffmem's EDM sampler (EdmSampler::Step) with the network taken
// out: the denoiser is a trivial closed form, D(x;σ) = x/(1 + σ²), one
// elementwise op. Beside it, in the same run and the same loop, the
// baseline: one elementwise pass (y = 2·x, out of place) over the same
// float64 N×C×H×W state. The counter `x_pass` is the step time in units of
// that pass (sum over iterations of step time / sum of pass time), i.e. how
// many memory passes the sampler spends per step outside the network;
// `pass_ms` is the baseline's own time. `x_inplace` divides by an in-place
// pass instead (x *= 1, no allocation): the two differ by what a fresh
// state-sized allocation costs (page faults), which on a loaded 2-core
// sandbox can exceed the arithmetic by 10–100× and dominates a step.
//
// Lower bound for reference: an Euler step reads/writes the state about 5
// times (cast to float32, the denoiser's pass, cast back, slope, update);
// a Heun step about twice that; churn adds per-sample noise generation.
//
//   bazel run //benchmarks:sampler_benchmark
//   bazel run //benchmarks:sampler_benchmark -- --benchmark_filter=Heun
//
// Shape: 256×3×32×32 (CIFAR-10 batch). Threads: LibTorch's intra-op count,
// set from OMP_NUM_THREADS (default 1 here; reported as counter `threads`).

#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>
#include <torch/types.h>

#include <chrono>
#include <cstdint>
#include <vector>

#include "diffusion/edm_sampler.h"
#include "diffusion/seeded_noise.h"
#include "diffusion/step_schedules.h"

namespace {

using diffmem::diffusion::EdmRhoSteps;
using diffmem::diffusion::EdmSampler;
using diffmem::diffusion::EulerSolver;
using diffmem::diffusion::HeunSolver;
using diffmem::diffusion::PerSeedNoise;
using diffmem::diffusion::SamplerOptions;

constexpr int64_t kN = 256, kC = 3, kH = 32, kW = 32;

struct TrivialDenoiser {
  torch::Tensor operator()(const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor&) const {
    return x / (1 + sigma.square()).reshape({-1, 1, 1, 1});
  }
};

torch::Tensor State() {
  torch::manual_seed(0);
  return torch::randn({kN, kC, kH, kW}, torch::kFloat64) * 10;
}

// The same pass in place: no allocation, so no page faults.
void BM_Baseline_InPlacePass(benchmark::State& state) {
  torch::Tensor x = State();
  for (auto _ : state) x.mul_(1.0);
  state.SetBytesProcessed(state.iterations() * x.numel() * 8 * 2);
}
BENCHMARK(BM_Baseline_InPlacePass)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Baseline_ElementwisePass(benchmark::State& state) {
  torch::Tensor x = State();
  for (auto _ : state) {
    torch::Tensor y = x * 2;
    benchmark::DoNotOptimize(y.data_ptr());
  }
  state.counters["threads"] = at::get_num_threads();
  state.SetBytesProcessed(state.iterations() * x.numel() * 8 * 2);
}
BENCHMARK(BM_Baseline_ElementwisePass)->Unit(benchmark::kMillisecond)->UseRealTime();

// Step 5 of 18 (σ ≈ 14): a full step; churn on when state.range(0) = 1.
template <class Solver>
void BM_Step(benchmark::State& state) {
  SamplerOptions o;
  if (state.range(0) == 1) o.s_churn = 40;  // γ = min(40/18, √2 − 1) on every step
  EdmSampler<Solver, EdmRhoSteps> sampler(o);
  TrivialDenoiser d;
  std::vector<uint64_t> seeds(kN);
  for (int64_t i = 0; i < kN; ++i) seeds[i] = i;
  PerSeedNoise noise(seeds);
  torch::Tensor x = State();
  // The baseline pass is timed inside the same loop, right after each step,
  // so both see the same machine load; only the step counts as the time.
  double step_total = 0, pass_total = 0, inplace_total = 0;
  torch::Tensor buffer = x.clone();
  // Steady state of Sample(): buffers reused from step to step.
  typename EdmSampler<Solver, EdmRhoSteps>::Workspace workspace;
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    torch::Tensor y = sampler.Step(d, x, 5, torch::Tensor(), &noise, &workspace);
    benchmark::DoNotOptimize(y.data_ptr());
    const double step = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    y = torch::Tensor();
    start = std::chrono::steady_clock::now();
    torch::Tensor z = x * 2;
    benchmark::DoNotOptimize(z.data_ptr());
    pass_total += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    start = std::chrono::steady_clock::now();
    buffer.mul_(1.0);
    inplace_total += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    step_total += step;
    state.SetIterationTime(step);
  }
  state.counters["x_pass"] = step_total / pass_total;
  state.counters["x_inplace"] = step_total / inplace_total;
  state.counters["pass_ms"] = pass_total / state.iterations() * 1e3;
  state.counters["threads"] = at::get_num_threads();
}
BENCHMARK_TEMPLATE(BM_Step, EulerSolver)->Arg(0)->Arg(1)->ArgName("churn")->Unit(benchmark::kMillisecond)->UseManualTime();
BENCHMARK_TEMPLATE(BM_Step, HeunSolver)->Arg(0)->Arg(1)->ArgName("churn")->Unit(benchmark::kMillisecond)->UseManualTime();

}  // namespace
