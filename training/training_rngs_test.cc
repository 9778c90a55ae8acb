#include "training/training_rngs.h"

#include <torch/types.h>

#include "gtest/gtest.h"

namespace diffmem::training {
namespace {

TEST(TrainingRngsTest, RestoredStreamsContinueWhereTheSavedOnesWere) {
  TrainingRngs a = TrainingRngs::Seeded(1024);
  torch::randn({4}, a.loss);
  torch::randn({4});  // the default stream (dropout)
  const auto saved = a.States(torch::kCPU);
  ASSERT_EQ(saved.size(), 2u);  // "loss" and "default" on the CPU
  const torch::Tensor loss_next = torch::randn({8}, a.loss);
  const torch::Tensor default_next = torch::randn({8});

  TrainingRngs b = TrainingRngs::Seeded(7);  // any other state
  b.Restore(saved, torch::kCPU);
  EXPECT_TRUE(torch::equal(torch::randn({8}, b.loss), loss_next));
  EXPECT_TRUE(torch::equal(torch::randn({8}), default_next));
}

TEST(TrainingRngsTest, TheLossAndDefaultStreamsDifferAndFollowTheSeed) {
  TrainingRngs a = TrainingRngs::Seeded(1);
  const torch::Tensor loss1 = torch::randn({8}, a.loss), default1 = torch::randn({8});
  EXPECT_FALSE(torch::equal(loss1, default1));
  TrainingRngs b = TrainingRngs::Seeded(1);
  EXPECT_TRUE(torch::equal(torch::randn({8}, b.loss), loss1));
  EXPECT_TRUE(torch::equal(torch::randn({8}), default1));
}

}  // namespace
}  // namespace diffmem::training
