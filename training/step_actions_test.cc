#include "training/step_actions.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"
#include "training/train_options.h"

namespace diffmem::training {
namespace {

// The steps at which `pick` is true, over a run of `total` steps of `batch` images.
template <class Pick>
std::vector<int64_t> StepsWhere(const TrainOptions& o, int64_t total, Pick pick, int64_t stop_at = -1) {
  std::vector<int64_t> out;
  for (int64_t step = 1; step <= total; ++step) {
    if (pick(ActionsAfterStep(o, step, total, step * o.batch_size, step == stop_at))) out.push_back(step);
    if (step == stop_at) break;
  }
  return out;
}

TEST(StepActionsTest, LogRowsEveryIntervalAndAPartialOneAtTheEnd) {
  TrainOptions o;
  o.log_every = 3;
  EXPECT_EQ(StepsWhere(o, 10, [](StepActions a) { return a.log; }), (std::vector<int64_t>{3, 6, 9, 10}));
  // Only the regular rows start the running loss over: the last partial row's steps stay in the sum.
  EXPECT_EQ(StepsWhere(o, 10, [](StepActions a) { return a.log_interval_ends; }), (std::vector<int64_t>{3, 6, 9}));
  EXPECT_EQ(StepsWhere(o, 10, [](StepActions a) { return a.log; }, /*stop_at=*/5), (std::vector<int64_t>{3, 5}));
}

TEST(StepActionsTest, CheckpointsEveryIntervalAtTheEndAndOnAStop) {
  TrainOptions o;
  o.checkpoint_every = 4;
  EXPECT_EQ(StepsWhere(o, 10, [](StepActions a) { return a.checkpoint; }), (std::vector<int64_t>{4, 8, 10}));
  EXPECT_EQ(StepsWhere(o, 10, [](StepActions a) { return a.checkpoint; }, 6), (std::vector<int64_t>{4, 6}));
  o.checkpoint_every = 0;  // only at the end
  EXPECT_EQ(StepsWhere(o, 10, [](StepActions a) { return a.checkpoint; }), (std::vector<int64_t>{10}));
}

TEST(StepActionsTest, SnapshotsWhereTheImagesSeenCrossAMultipleOfSnapshotKimg) {
  TrainOptions o;
  o.batch_size = 300;
  o.snapshot_kimg = 1;  // 1000 images: crossed after steps 4 (1200), 7 (2100), 10 (3000)
  EXPECT_EQ(StepsWhere(o, 11, [](StepActions a) { return a.snapshot; }), (std::vector<int64_t>{4, 7, 10, 11}));
  o.snapshot_kimg = 0;
  EXPECT_TRUE(StepsWhere(o, 11, [](StepActions a) { return a.snapshot; }).empty());
}

}  // namespace
}  // namespace diffmem::training
