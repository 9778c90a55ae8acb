// The two hot paths of memorization/, each beside the naive formulation a
// user would write with LibTorch and the machine's GEMM rate, in one run:
//   (a) the empirical optimal denoiser D*(x;σ) for B samples over N training
//       points of dimension D: ours (EmpiricalOptimalDenoiser, streaming
//       log-sum-exp over blocks) vs naive torch::cdist → softmax(−d²/2σ²) → mm.
//       FLOPS counts 4·B·N·D (the two GEMMs' worth).
//   (b) exact top-2 search of Q queries among N references: ours
//       (NearestNeighbors<L2Distance>::Search, blocked, exact re-ranking) vs
//       naive torch::cdist → topk(2). FLOPS counts 2·Q·N·D.
//   (c) sampling the optimum: the EDM Heun sampler (18 steps, 35 denoiser
//       evaluations) on EmpiricalOptimalDenoiser from B seeds; FLOPS counts
//       35·4·B·N·D, counter images/s.
//   GEMM: torch::mm of a square 2048³ product and of the shape of our inner
//   block products; FLOPS counts 2·M·N·K.
// All FLOPS counters are rates (flop/s, real time). Our index/denoiser is
// built once outside the timed loop (as in use: one build per sampling run
// or study); the naive form recomputes its norms inside cdist on each call.
//
// Sizes: "Small" ones for quick runs; the paper-scale ones are registered as
// "Big" (denoiser and sampling B=256, N=50000, D=3072; search Q=10000,
// N=50000, D=3072 — the latter needs ≈ 4 GB for the naive 10000×50000
// distance matrix).
//   OMP_NUM_THREADS=2 bazel run //benchmarks:memorization_benchmark -- --benchmark_filter=Small
//   OMP_NUM_THREADS=2 bazel run //benchmarks:memorization_benchmark -- --benchmark_filter='Gemm|Big_Denoiser'
// Threads: LibTorch's intra-op count, from OMP_NUM_THREADS (counter `threads`).
// Device: DIFFMEM_BENCHMARK_DEVICE=cuda runs everything on the GPU (each
// iteration waits for the GPU; the GEMM rate is then the GPU's, in strict
// float32, and an 8192³ GEMM is added for its peak):
//   DIFFMEM_BENCHMARK_DEVICE=cuda bazel-bin/benchmarks/memorization_benchmark --benchmark_filter=Big

#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "benchmarks/benchmark_device.h"
#include "diffusion/edm_sampler.h"
#include "diffusion/step_schedules.h"
#include "memorization/distance.h"
#include "memorization/nearest_neighbors.h"
#include "memorization/optimal_denoiser.h"

namespace {

using diffmem::memorization::EmpiricalOptimalDenoiser;
using diffmem::memorization::L2Distance;
using diffmem::memorization::NearestNeighbors;
using diffmem::benchmarks::BenchmarkDevice;
using diffmem::benchmarks::Synchronize;

constexpr double kSigma = 1.0;

// Drawn on the CPU (the same numbers on every device), then moved.
torch::Tensor Uniform(int64_t rows, int64_t dim, uint64_t seed, const torch::Device& device) {
  torch::manual_seed(seed);
  return (torch::rand({rows, dim}) * 2 - 1).to(device);  // like images in [−1, 1]
}

void SetFlops(benchmark::State& state, double flops_per_iteration) {
  state.counters["FLOPS"] = benchmark::Counter(flops_per_iteration, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["threads"] = at::get_num_threads();
}

void Gemm(benchmark::State& state, int64_t m, int64_t n, int64_t k) {
  torch::Device device = torch::kCPU;
  if (!BenchmarkDevice(state, &device)) return;
  torch::Tensor a = Uniform(m, k, 1, device), b = Uniform(n, k, 2, device);
  for (auto _ : state) {
    torch::Tensor c = torch::mm(a, b.t());
    benchmark::DoNotOptimize(c.data_ptr());
    Synchronize(device);
  }
  SetFlops(state, 2.0 * m * n * k);
}

torch::Tensor NaiveDenoiser(const torch::Tensor& x, const torch::Tensor& y, double sigma) {
  torch::Tensor d = torch::cdist(x, y);
  torch::Tensor w = torch::softmax(-d.square() / (2 * sigma * sigma), 1);
  return torch::mm(w, y);
}

void DenoiserNaive(benchmark::State& state, int64_t b, int64_t n, int64_t dim) {
  torch::Device device = torch::kCPU;
  if (!BenchmarkDevice(state, &device)) return;
  torch::Tensor y = Uniform(n, dim, 3, device), x = Uniform(b, dim, 4, device) * 1.5;
  for (auto _ : state) {
    torch::Tensor out = NaiveDenoiser(x, y, kSigma);
    benchmark::DoNotOptimize(out.data_ptr());
    Synchronize(device);
  }
  SetFlops(state, 4.0 * b * n * dim);
}

void DenoiserOurs(benchmark::State& state, int64_t b, int64_t n, int64_t dim, bool check) {
  torch::Device device = torch::kCPU;
  if (!BenchmarkDevice(state, &device)) return;
  torch::Tensor y = Uniform(n, dim, 3, device), x = Uniform(b, dim, 4, device) * 1.5;
  EmpiricalOptimalDenoiser optimum(y);
  torch::Tensor sigma = torch::full({b}, kSigma, y.options());
  torch::Tensor out;
  for (auto _ : state) {
    out = optimum(x, sigma, torch::Tensor());
    benchmark::DoNotOptimize(out.data_ptr());
    Synchronize(device);
  }
  SetFlops(state, 4.0 * b * n * dim);
  if (check) state.counters["max_diff_vs_naive"] = (out - NaiveDenoiser(x, y, kSigma)).abs().max().item<double>();
}

void SearchNaive(benchmark::State& state, int64_t q, int64_t n, int64_t dim) {
  torch::Device device = torch::kCPU;
  if (!BenchmarkDevice(state, &device)) return;
  torch::Tensor y = Uniform(n, dim, 5, device), x = Uniform(q, dim, 6, device);
  for (auto _ : state) {
    auto top = torch::cdist(x, y).topk(2, /*dim=*/1, /*largest=*/false);
    benchmark::DoNotOptimize(std::get<1>(top).data_ptr());
    Synchronize(device);
  }
  SetFlops(state, 2.0 * q * n * dim);
}

void SearchOurs(benchmark::State& state, int64_t q, int64_t n, int64_t dim, bool check) {
  torch::Device device = torch::kCPU;
  if (!BenchmarkDevice(state, &device)) return;
  torch::Tensor y = Uniform(n, dim, 5, device), x = Uniform(q, dim, 6, device);
  NearestNeighbors<L2Distance> index(y);
  diffmem::memorization::Neighbors nn;
  for (auto _ : state) {
    nn = index.Search(x);
    benchmark::DoNotOptimize(nn.indices.data_ptr());
    Synchronize(device);
  }
  SetFlops(state, 2.0 * q * n * dim);
  if (check) {
    torch::Tensor naive = std::get<1>(torch::cdist(x, y).topk(2, 1, false));
    state.counters["index_mismatch_vs_naive"] = (naive != nn.indices).sum().item<double>();
  }
}

// Images of D = 784 (1×28×28) or 3072 (3×32×32) values.
void OptimumSample(benchmark::State& state, int64_t b, int64_t n, int64_t dim) {
  torch::Device device = torch::kCPU;
  if (!BenchmarkDevice(state, &device)) return;
  const std::vector<int64_t> image = dim == 3072 ? std::vector<int64_t>{3, 32, 32} : std::vector<int64_t>{1, 28, 28};
  std::vector<int64_t> train_shape = {n};
  train_shape.insert(train_shape.end(), image.begin(), image.end());
  EmpiricalOptimalDenoiser optimum(Uniform(n, dim, 7, device).view(train_shape));
  std::vector<uint64_t> seeds;
  for (int64_t i = 0; i < b; ++i) seeds.push_back(static_cast<uint64_t>(i));
  diffmem::diffusion::EdmSampler<diffmem::diffusion::HeunSolver, diffmem::diffusion::EdmRhoSteps> sampler;
  for (auto _ : state) {
    torch::Tensor x = sampler.SampleFromSeeds(optimum, seeds, image, torch::Tensor(), device);
    benchmark::DoNotOptimize(x.data_ptr());
    Synchronize(device);
  }
  const int64_t evaluations = 2 * sampler.num_steps() - 1;  // Heun: 35 for 18 steps
  SetFlops(state, 4.0 * b * n * dim * evaluations);
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(b), benchmark::Counter::kIsIterationInvariantRate);
}

std::string Shape(const char* a, int64_t x, const char* b, int64_t y, const char* c, int64_t z) {
  return std::string("/") + a + ":" + std::to_string(x) + "/" + b + ":" + std::to_string(y) + "/" + c + ":" +
         std::to_string(z);
}

int Register() {
  auto reg = [](const std::string& name, auto fn) {
    return benchmark::RegisterBenchmark(name.c_str(), fn)->UseRealTime()->Unit(benchmark::kMillisecond);
  };
  reg("BM_Gemm" + Shape("M", 2048, "N", 2048, "K", 2048), [](benchmark::State& s) { Gemm(s, 2048, 2048, 2048); });
  // Our inner products: (B or query block) × (reference block) × D.
  reg("BM_Gemm" + Shape("M", 256, "N", 4096, "K", 3072), [](benchmark::State& s) { Gemm(s, 256, 4096, 3072); });
  reg("BM_Gemm" + Shape("M", 1024, "N", 8192, "K", 3072), [](benchmark::State& s) { Gemm(s, 1024, 8192, 3072); });
  if (diffmem::benchmarks::BenchmarkDeviceName() == "cuda") {  // ~1 TFLOP: seconds on a CPU
    reg("BM_Gemm" + Shape("M", 8192, "N", 8192, "K", 8192), [](benchmark::State& s) { Gemm(s, 8192, 8192, 8192); });
  }

  struct Size {
    const char* tag;
    int64_t b, n, dim;
  };
  for (Size z : {Size{"Small", 64, 5000, 784}, Size{"Small", 256, 10000, 3072}, Size{"Big", 256, 50000, 3072}}) {
    const std::string shape = Shape("B", z.b, "N", z.n, "D", z.dim);
    const bool check = std::string(z.tag) == "Small";
    reg(std::string("BM_") + z.tag + "_Denoiser/naive" + shape,
        [z](benchmark::State& s) { DenoiserNaive(s, z.b, z.n, z.dim); });
    reg(std::string("BM_") + z.tag + "_Denoiser/ours" + shape,
        [z, check](benchmark::State& s) { DenoiserOurs(s, z.b, z.n, z.dim, check); });
  }
  for (Size z : {Size{"Small", 1000, 5000, 784}, Size{"Small", 2000, 10000, 3072}, Size{"Big", 10000, 50000, 3072}}) {
    const std::string shape = Shape("Q", z.b, "N", z.n, "D", z.dim);
    const bool check = std::string(z.tag) == "Small";
    reg(std::string("BM_") + z.tag + "_Search/naive" + shape,
        [z](benchmark::State& s) { SearchNaive(s, z.b, z.n, z.dim); });
    reg(std::string("BM_") + z.tag + "_Search/ours" + shape,
        [z, check](benchmark::State& s) { SearchOurs(s, z.b, z.n, z.dim, check); });
  }
  for (Size z : {Size{"Small", 16, 5000, 784}, Size{"Big", 256, 50000, 3072}}) {
    reg(std::string("BM_") + z.tag + "_OptimumSample" + Shape("B", z.b, "N", z.n, "D", z.dim),
        [z](benchmark::State& s) { OptimumSample(s, z.b, z.n, z.dim); });
  }
  return 0;
}

const int registered = Register();

}  // namespace
