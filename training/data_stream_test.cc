#include "training/data_stream.h"

#include <algorithm>
#include <set>
#include <vector>

#include "gtest/gtest.h"

namespace diffmem::training {
namespace {

TEST(DataStreamTest, DataOrderIsASeededPermutationPerEpoch) {
  const std::vector<int64_t> p0 = EpochPermutation(5, 0, 50), p1 = EpochPermutation(5, 1, 50);
  EXPECT_EQ(std::set<int64_t>(p0.begin(), p0.end()).size(), 50u);
  EXPECT_EQ(*std::max_element(p0.begin(), p0.end()), 49);
  EXPECT_NE(p0, p1);
  EXPECT_EQ(p0, EpochPermutation(5, 0, 50));
  EXPECT_NE(p0, EpochPermutation(6, 0, 50));
  // Batches that straddle epochs: each epoch still visits every image once.
  DataStream order(5, 50);
  std::vector<int64_t> stream;
  for (int64_t nimg = 0; nimg < 150; nimg += 30) {
    torch::Tensor b = order.Batch(nimg, 30);
    stream.insert(stream.end(), b.data_ptr<int64_t>(), b.data_ptr<int64_t>() + 30);
  }
  for (int e = 0; e < 3; ++e) {
    EXPECT_EQ(std::vector<int64_t>(stream.begin() + 50 * e, stream.begin() + 50 * (e + 1)),
              EpochPermutation(5, e, 50));
  }
  // A fresh DataStream (as after a resume) continues mid-epoch identically.
  DataStream resumed(5, 50);
  torch::Tensor b = resumed.Batch(60, 30);
  EXPECT_TRUE(std::equal(stream.begin() + 60, stream.begin() + 90, b.data_ptr<int64_t>()));
}

// The authors' sampler with window size 0: one permutation, every epoch.
TEST(DataStreamTest, FixedDataOrderRepeatsOnePermutation) {
  DataStream fixed(5, 50, /*fixed=*/true);
  torch::Tensor b = fixed.Batch(0, 150);
  const std::vector<int64_t> p0 = EpochPermutation(5, 0, 50);
  for (int e = 0; e < 3; ++e) {
    EXPECT_TRUE(std::equal(p0.begin(), p0.end(), b.data_ptr<int64_t>() + 50 * e)) << "epoch " << e;
  }
}

// EDM's linear warm-up: lr · min(images seen before the step / warm-up images, 1).

}  // namespace
}  // namespace diffmem::training
