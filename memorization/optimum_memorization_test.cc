// The paper's theoretical result, checked end to end on real data: sampling
// the empirical optimal denoiser with the EDM Heun sampler (18 steps, 35 NFE)
// reproduces training images, so the memorization ratio is ≈ 1; random noise
// images are never memorized.

#include <torch/types.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <numeric>
#include <vector>

#include "data/idx.h"
#include "data/pixels.h"
#include "data/subsets.h"
#include "diffusion/edm_sampler.h"
#include "gtest/gtest.h"
#include "memorization/memorization_ratio.h"
#include "memorization/optimal_denoiser.h"

namespace diffmem {
namespace memorization {
namespace {

constexpr int64_t kSamples = 100;

// The class-balanced first n (n a multiple of 10), or simply the first n.
data::Dataset FashionMnistSubset(int64_t n, bool balanced = true) {
  static const absl::StatusOr<data::Dataset>* full = new absl::StatusOr<data::Dataset>(data::ReadFashionMnist());
  EXPECT_TRUE(full->ok()) << full->status();
  absl::StatusOr<data::Dataset> subset = balanced ? data::ClassBalancedFirstN(**full, n) : data::FirstN(**full, n);
  EXPECT_TRUE(subset.ok()) << subset.status();
  return *subset;
}

std::vector<uint64_t> Seeds(int64_t n) {
  std::vector<uint64_t> seeds(n);
  std::iota(seeds.begin(), seeds.end(), 0);
  return seeds;
}

// Samples the (unconditional, or per-label) optimum of `train` with the EDM
// Heun sampler from seeds 0..kSamples−1.
torch::Tensor SampleOptimum(const data::Dataset& train, bool conditional, const torch::Tensor& labels) {
  torch::Tensor y = data::PixelsToFloat(train.images);
  EmpiricalOptimalDenoiser optimum(y, conditional ? train.labels : torch::Tensor());
  diffusion::EdmSampler<diffusion::HeunSolver, diffusion::EdmRhoSteps> sampler;  // 18 steps, σ ∈ [0.002, 80]
  return sampler.SampleFromSeeds(optimum, Seeds(kSamples), {train.channels(), train.height(), train.width()},
                                 labels);
}

void ExpectMemorized(const data::Dataset& train, const torch::Tensor& samples) {
  ASSERT_EQ(samples.size(0), kSamples);
  // In model space, as sampled.
  MemorizationReport r = MemorizationRatio(samples, data::PixelsToFloat(train.images));
  EXPECT_GE(r.ratio, 0.95) << "N = " << train.size();
  std::printf("N = %lld: memorization ratio %.3f [%.3f, %.3f], first sample d1 = %.2e d2 = %.2e\n",
              static_cast<long long>(train.size()), r.ratio, r.ci_low, r.ci_high, r.samples[0].d1, r.samples[0].d2);
  // In pixel space, as written to PNGs.
  MemorizationReport p = MemorizationRatio(data::FloatToPixels(samples), train.images);
  EXPECT_GE(p.ratio, 0.95) << "N = " << train.size();
  // Different seeds land on different training images (not one collapsed mode).
  std::vector<int64_t> nearest;
  for (const SampleMemorization& s : r.samples) nearest.push_back(s.nearest);
  std::sort(nearest.begin(), nearest.end());
  const int64_t distinct = std::unique(nearest.begin(), nearest.end()) - nearest.begin();
  EXPECT_GE(distinct, std::min<int64_t>(train.size(), kSamples) / 4) << "N = " << train.size();
}

TEST(OptimumMemorizationTest, SixtyFourFashionMnistImages) {
  data::Dataset train = FashionMnistSubset(64, /*balanced=*/false);
  ExpectMemorized(train, SampleOptimum(train, false, torch::Tensor()));
}

TEST(OptimumMemorizationTest, ThousandFashionMnistImages) {
  data::Dataset train = FashionMnistSubset(1000);
  ExpectMemorized(train, SampleOptimum(train, false, torch::Tensor()));
}

TEST(OptimumMemorizationTest, ClassConditionalOptimumCopiesImagesOfTheRequestedClass) {
  data::Dataset train = FashionMnistSubset(1000);
  torch::Tensor labels = torch::arange(kSamples, torch::kInt64) % 10;
  torch::Tensor samples = SampleOptimum(train, true, labels);
  ExpectMemorized(train, samples);
  MemorizationReport r = MemorizationRatio(samples, data::PixelsToFloat(train.images));
  for (int64_t i = 0; i < kSamples; ++i) {
    EXPECT_EQ(train.labels[r.samples[i].nearest].item<int64_t>(), labels[i].item<int64_t>()) << "sample " << i;
  }
}

TEST(OptimumMemorizationTest, RandomNoiseImagesAreNotMemorized) {
  data::Dataset train = FashionMnistSubset(1000);
  torch::manual_seed(40);
  torch::Tensor noise = torch::randint(0, 256, {kSamples, 1, 28, 28}).to(torch::kUInt8);
  MemorizationReport r = MemorizationRatio(noise, train.images);
  EXPECT_LE(r.ratio, 0.01);
}

}  // namespace
}  // namespace memorization
}  // namespace diffmem
