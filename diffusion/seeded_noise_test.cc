#include "diffusion/seeded_noise.h"

#include <ATen/CPUGeneratorImpl.h>

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

}  // namespace
}  // namespace diffusion
}  // namespace diffmem
