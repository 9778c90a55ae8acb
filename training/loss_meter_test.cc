#include "training/loss_meter.h"

#include "gtest/gtest.h"

namespace diffmem::training {
namespace {

TEST(LossMeterTest, RowsAverageTheIntervalAndKeepAPartialOnesSum) {
  LossMeter m;
  m.StartSession();
  m.Add(1);
  m.Add(3);
  TrainProgress p = m.Row(/*step=*/2, /*total_steps=*/10, /*nimg=*/128, /*lr=*/0.5, /*ema_beta=*/0.9, /*batch=*/64);
  EXPECT_EQ(p.loss, 2);
  EXPECT_EQ(p.step, 2);
  EXPECT_EQ(p.total_steps, 10);
  EXPECT_EQ(p.nimg, 128);
  EXPECT_EQ(p.lr, 0.5);
  EXPECT_EQ(p.ema_beta, 0.9);
  EXPECT_GE(p.images_per_s, 0);
  m.NextInterval(/*reset_loss=*/false);  // a partial row: its steps stay in the sum
  m.Add(5);
  EXPECT_EQ(m.loss_sum(), 9);
  EXPECT_EQ(m.loss_steps(), 3);
  EXPECT_EQ(m.Row(3, 10, 192, 0.5, 0.9, 64).loss, 3);
  m.NextInterval(/*reset_loss=*/true);
  EXPECT_EQ(m.loss_sum(), 0);
  EXPECT_EQ(m.loss_steps(), 0);
}

TEST(LossMeterTest, AResumedRunContinuesItsInterval) {
  LossMeter m(/*loss_sum=*/6, /*loss_steps=*/2);  // from a checkpoint
  m.StartSession();
  m.Add(6);
  EXPECT_EQ(m.Row(3, 4, 3, 0, 0, 1).loss, 4);
}

}  // namespace
}  // namespace diffmem::training
