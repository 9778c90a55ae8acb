// CUDA against the CPU for the memorization package: the exact top-k search
// (every metric, ties included), the memorization ratio, and the empirical
// optimum (denoiser values and sampling) must agree with the CPU's results.
// Skipped, with the reason, where no GPU is visible to LibTorch.

#include <ATen/Context.h>
#include <gtest/gtest.h>
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "diffusion/edm_sampler.h"
#include "diffusion/step_schedules.h"
#include "memorization/distance.h"
#include "memorization/memorization_ratio.h"
#include "memorization/nearest_neighbors.h"
#include "memorization/optimal_denoiser.h"
#include "testing/cuda_device.h"

namespace diffmem {
namespace memorization {
namespace {

#define DIFFMEM_SKIP_WITHOUT_CUDA()                                                          \
  if (std::string why = diffmem::test_cuda::UnavailableReason(); !why.empty()) GTEST_SKIP() << why

const torch::Device kCuda(torch::kCUDA, 0);

template <class M>
class CudaSearchMatchesCpu : public ::testing::Test {};
using Metrics = ::testing::Types<L2Distance, SquaredL2Distance, L1Distance, CosineDistance, LInfDistance>;
TYPED_TEST_SUITE(CudaSearchMatchesCpu, Metrics);

TYPED_TEST(CudaSearchMatchesCpu, SameNeighboursSameDistances) {
  DIFFMEM_SKIP_WITHOUT_CUDA();
  using M = TypeParam;
  torch::manual_seed(30);
  // Continuous data with near-copies, plus small-integer rows with exact ties
  // and duplicated references (the lower index must win on both devices).
  torch::Tensor refs = torch::cat({torch::randn({400, 3, 8, 8}),
                                   torch::randint(-1, 2, {200, 3, 8, 8}).to(torch::kFloat32)});
  refs.narrow(0, 500, 20).copy_(refs.narrow(0, 410, 20));
  torch::Tensor queries = torch::cat({refs.narrow(0, 20, 30) + 0.01 * torch::randn({30, 3, 8, 8}),
                                      torch::randn({30, 3, 8, 8}), refs.narrow(0, 410, 10),
                                      torch::randint(-1, 2, {20, 3, 8, 8}).to(torch::kFloat32)});
  NearestNeighborsOptions small;
  small.k = 3;
  small.query_block = 17;
  small.reference_block = 70;
  small.candidates = 3;  // forces the widening pass on ties
  for (const NearestNeighborsOptions& o : {NearestNeighborsOptions{}, small}) {
    Neighbors cpu = NearestNeighbors<M>(refs).Search(queries, o);
    Neighbors gpu = NearestNeighbors<M>(refs.to(kCuda)).Search(queries, o);  // queries moved to the index
    ASSERT_TRUE(gpu.distances.is_cuda() && gpu.indices.is_cuda());
    EXPECT_TRUE(torch::equal(gpu.indices.cpu(), cpu.indices)) << M::kName << ", k = " << o.k;
    const double err = (gpu.distances.cpu() - cpu.distances).abs().max().item<double>();
    EXPECT_LE(err, 1e-12 * std::max(1.0, cpu.distances.abs().max().item<double>())) << M::kName;
  }
}

TEST(CudaMatchesCpu, MemorizationRatio) {
  DIFFMEM_SKIP_WITHOUT_CUDA();
  torch::manual_seed(31);
  torch::Tensor train = torch::randint(0, 256, {1000, 3, 8, 8}).to(torch::kUInt8);
  torch::Tensor samples = torch::cat({train.narrow(0, 100, 40).to(torch::kFloat32) + torch::randn({40, 3, 8, 8}),
                                      torch::rand({40, 3, 8, 8}) * 255});
  MemorizationReport cpu = MemorizationRatio(samples, train);
  MemorizationReport gpu = MemorizationRatio(samples.to(kCuda), train.to(kCuda));
  EXPECT_EQ(gpu.memorized, cpu.memorized);
  EXPECT_EQ(cpu.memorized, 40);  // the near-copies, not the noise
  ASSERT_EQ(gpu.samples.size(), cpu.samples.size());
  for (size_t i = 0; i < cpu.samples.size(); ++i) {
    EXPECT_EQ(gpu.samples[i].nearest, cpu.samples[i].nearest) << "sample " << i;
    EXPECT_EQ(gpu.samples[i].second, cpu.samples[i].second) << "sample " << i;
    EXPECT_NEAR(gpu.samples[i].d1, cpu.samples[i].d1, 1e-9) << "sample " << i;
    EXPECT_NEAR(gpu.samples[i].d2, cpu.samples[i].d2, 1e-9) << "sample " << i;
  }
}

TEST(CudaMatchesCpu, OptimalDenoiser) {
  DIFFMEM_SKIP_WITHOUT_CUDA();
  at::globalContext().setAllowTF32CuBLAS(false);  // strict float32 GEMMs
  torch::manual_seed(32);
  torch::Tensor train = torch::rand({500, 3, 8, 8}) * 2 - 1;
  torch::Tensor labels = torch::randint(0, 4, {500}, torch::kInt64);
  const std::vector<double> sigmas = {0.002, 0.3, 1, 5, 80};
  const int64_t b = 2 * static_cast<int64_t>(sigmas.size());
  torch::Tensor x = torch::empty({b, 3, 8, 8}), sigma = torch::empty({b});
  for (int64_t i = 0; i < b; ++i) {
    const double s = sigmas[i % sigmas.size()];
    sigma[i] = s;
    x[i] = train[(13 * i) % 500] + s * torch::randn({3, 8, 8});
  }
  torch::Tensor x_labels = torch::randint(0, 4, {b}, torch::kInt64);
  EmpiricalOptimalDenoiserOptions blocks;
  blocks.reference_block = 128;  // several streamed blocks
  EmpiricalOptimalDenoiser cpu(train, labels, blocks), gpu(train.to(kCuda), labels.to(kCuda), blocks);
  for (const torch::Tensor& l : {torch::Tensor(), x_labels}) {
    torch::Tensor want = cpu(x, sigma, l);
    torch::Tensor got = gpu(x.to(kCuda), sigma.to(kCuda), l.defined() ? l.to(kCuda) : l);
    ASSERT_TRUE(got.is_cuda());
    EXPECT_LE((got.cpu() - want).abs().max().item<double>(), 1e-4) << (l.defined() ? "conditional" : "unconditional");
  }
}

// 18-step Heun on the optimum from the same seeds: both devices end on the
// same training images.
TEST(CudaMatchesCpu, OptimumSamples) {
  DIFFMEM_SKIP_WITHOUT_CUDA();
  at::globalContext().setAllowTF32CuBLAS(false);
  torch::manual_seed(33);
  torch::Tensor train = torch::rand({64, 1, 8, 8}) * 2 - 1;
  std::vector<uint64_t> seeds;
  for (uint64_t s = 0; s < 16; ++s) seeds.push_back(s);
  diffusion::EdmSampler<diffusion::HeunSolver, diffusion::EdmRhoSteps> sampler;
  EmpiricalOptimalDenoiser cpu(train), gpu(train.to(kCuda));
  torch::Tensor a = sampler.SampleFromSeeds(cpu, seeds, {1, 8, 8}, torch::Tensor(), torch::kCPU);
  torch::Tensor b = sampler.SampleFromSeeds(gpu, seeds, {1, 8, 8}, torch::Tensor(), kCuda);
  ASSERT_TRUE(b.is_cuda());
  Neighbors nn_a = FindNearestNeighbors<L2Distance>(a, train), nn_b = FindNearestNeighbors<L2Distance>(b.cpu(), train);
  EXPECT_TRUE(torch::equal(nn_a.indices.select(1, 0), nn_b.indices.select(1, 0)));
  EXPECT_LE((b.cpu() - a).abs().max().item<double>(), 1e-3);
}

}  // namespace
}  // namespace memorization
}  // namespace diffmem
