#include "memorization/top_memorized.h"

#include "data/png.h"
#include "gtest/gtest.h"

namespace diffmem::memorization {
namespace {

TEST(TopMemorizedTest, PairsMostMemorizedSamplesWithTheirNearestImage) {
  // Three 1×2×2 training images with constant values 0, 100, 200.
  torch::Tensor train = torch::stack({torch::full({1, 2, 2}, 0, torch::kUInt8), torch::full({1, 2, 2}, 100, torch::kUInt8),
                                      torch::full({1, 2, 2}, 200, torch::kUInt8)});
  torch::Tensor samples = torch::stack({torch::full({1, 2, 2}, 7, torch::kUInt8), torch::full({1, 2, 2}, 9, torch::kUInt8),
                                        torch::full({1, 2, 2}, 11, torch::kUInt8)});
  MemorizationReport r;
  r.samples.resize(3);
  r.samples[0].ratio = 0.5, r.samples[0].nearest = 1;
  r.samples[1].ratio = 0.1, r.samples[1].nearest = 2;  // most memorized
  r.samples[2].ratio = 0.3, r.samples[2].nearest = 0;
  torch::Tensor pairs = TopMemorizedPairs(r, samples, train, 2);
  ASSERT_EQ(pairs.sizes(), (std::vector<int64_t>{2, 1, 2, 5}));
  EXPECT_EQ(pairs[0][0][0][0].item<uint8_t>(), 9);    // sample 1 first
  EXPECT_EQ(pairs[0][0][0][2].item<uint8_t>(), 128);  // separator
  EXPECT_EQ(pairs[0][0][0][4].item<uint8_t>(), 200);  // its nearest training image
  EXPECT_EQ(pairs[1][0][1][0].item<uint8_t>(), 11);   // then sample 2, beside image 0
  EXPECT_EQ(pairs[1][0][1][3].item<uint8_t>(), 0);
  EXPECT_FALSE(WriteTopMemorized(::testing::TempDir() + "/none.png", MemorizationReport{}, samples, train, 4).ok());
  // The picture: 2×5 pairs upscaled ×32 (to 64 px high), two columns, captioned.
  const std::string path = ::testing::TempDir() + "/top.png";
  ASSERT_TRUE(WriteTopMemorized(path, r, samples, train, 2).ok());
  absl::StatusOr<torch::Tensor> png = data::ReadPng(path);
  ASSERT_TRUE(png.ok()) << png.status();
  EXPECT_EQ(png->size(1), 8 + 64 + 21 + 8);
  EXPECT_EQ(png->size(2), 8 + 2 * (5 * 32 + 8));
}

}  // namespace
}  // namespace diffmem::memorization
