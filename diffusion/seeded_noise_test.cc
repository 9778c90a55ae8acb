#include "diffusion/seeded_noise.h"

#include <ATen/CPUGeneratorImpl.h>

#include <vector>

#include "gtest/gtest.h"

namespace diffmem {
namespace diffusion {
namespace {

TEST(PerSeedNoiseTest, RowIsItsSeedsStream) {
  PerSeedNoise noise({3, 1, 4});
  torch::Tensor first = noise.Randn({2, 5});
  torch::Tensor second = noise.Randn({7}, torch::kFloat64);
  ASSERT_EQ(first.sizes(), torch::IntArrayRef({3, 2, 5}));
  ASSERT_EQ(second.sizes(), torch::IntArrayRef({3, 7}));
  EXPECT_EQ(second.scalar_type(), torch::kFloat64);
  const uint64_t seeds[] = {3, 1, 4};
  for (int i = 0; i < 3; ++i) {
    // The same draws from a lone torch generator with that seed.
    at::Generator g = at::detail::createCPUGenerator(seeds[i]);
    EXPECT_TRUE(torch::equal(first[i], torch::randn({2, 5}, g)));
    EXPECT_TRUE(torch::equal(second[i], torch::randn({7}, g, torch::kFloat64)));
  }
}

TEST(PerSeedNoiseTest, IndependentOfBatchComposition) {
  PerSeedNoise a({10, 11, 12}), b({11});
  EXPECT_TRUE(torch::equal(a.Randn({4})[1], b.Randn({4})[0]));
  EXPECT_FALSE(torch::equal(a.Randn({4})[0], a.Randn({4})[0]));  // streams advance
  EXPECT_EQ(a.size(), 3);
}

TEST(PerSeedNoiseTest, StandardNormal) {
  PerSeedNoise noise({0, 1, 2, 3});
  torch::Tensor z = noise.Randn({20000}, torch::kFloat64);
  EXPECT_NEAR(z.mean().item<double>(), 0, 4.5 / std::sqrt(80000.0));
  EXPECT_NEAR(z.var().item<double>(), 1, 4.5 * std::sqrt(2 / 80000.0));
}

TEST(PerSeedNoiseTest, RandIntIsUniformPerSeed) {
  // Each seed's stream alone decides its value (a lone generator agrees)...
  PerSeedNoise noise({7, 8});
  torch::Tensor c = noise.RandInt(5);
  ASSERT_EQ(c.sizes(), torch::IntArrayRef({2}));
  EXPECT_EQ(c.scalar_type(), torch::kInt64);
  at::Generator g = at::detail::createCPUGenerator(8);
  EXPECT_EQ(c[1].item<int64_t>(), torch::randint(5, {}, g, torch::kInt64).item<int64_t>());
  // ...and values cover [0, high) evenly: 4000 seeds, chi-square with 9 dof below its 0.999 quantile (27.9).
  std::vector<uint64_t> seeds(4000);
  for (size_t i = 0; i < seeds.size(); ++i) seeds[i] = i;
  torch::Tensor counts = torch::bincount(PerSeedNoise(seeds).RandInt(10), {}, 10).to(torch::kFloat64);
  EXPECT_EQ(counts.sum().item<double>(), 4000);
  EXPECT_LT(((counts - 400).square() / 400).sum().item<double>(), 27.9);
  EXPECT_ANY_THROW(noise.RandInt(0));
}

}  // namespace
}  // namespace diffusion
}  // namespace diffmem
