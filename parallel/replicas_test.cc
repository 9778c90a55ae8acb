#include "parallel/replicas.h"

#include "gtest/gtest.h"

namespace diffmem {
namespace parallel {
namespace {

absl::Status Sum(std::vector<torch::Tensor>&) { return absl::OkStatus(); }

TEST(ReplicasTest, OneProcessTakesTheWholeBatch) {
  Replicas r;
  EXPECT_TRUE(CheckGlobalBatch(r, 7).ok());
  EXPECT_EQ(GlobalBatchSlice(r, 7).first, 0);
  EXPECT_EQ(GlobalBatchSlice(r, 7).second, 7);
  EXPECT_TRUE(r.writes());
  EXPECT_FALSE(r.distributed());
}

TEST(ReplicasTest, RanksPartitionTheGlobalBatchInOrder) {
  const int64_t batch = 24;
  int64_t next = 0;
  for (int rank = 0; rank < 3; ++rank) {
    Replicas r{rank, 3, Sum};
    ASSERT_TRUE(CheckGlobalBatch(r, batch).ok());
    auto [begin, end] = GlobalBatchSlice(r, batch);
    EXPECT_EQ(begin, next);
    EXPECT_EQ(end - begin, 8);
    next = end;
    EXPECT_EQ(r.writes(), rank == 0);
  }
  EXPECT_EQ(next, batch);
}

TEST(ReplicasTest, AnIndivisibleBatchIsAnErrorNamingBoth) {
  absl::Status s = CheckGlobalBatch(Replicas{1, 3, Sum}, 32);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("--batch=32"), std::string::npos) << s;
  EXPECT_NE(s.message().find("3 data-parallel ranks"), std::string::npos) << s;
}

TEST(ReplicasTest, InvalidRanksAndAMissingAllReduceAreErrors) {
  EXPECT_FALSE(CheckGlobalBatch(Replicas{2, 2, Sum}, 4).ok());
  EXPECT_FALSE(CheckGlobalBatch(Replicas{0, 0, Sum}, 4).ok());
  EXPECT_FALSE(CheckGlobalBatch(Replicas{0, 2, nullptr}, 4).ok());
}

}  // namespace
}  // namespace parallel
}  // namespace diffmem
