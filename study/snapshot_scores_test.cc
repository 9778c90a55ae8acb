// A tiny run (4×4 Fashion-MNIST, an 8-channel UNet, 100 steps of 32 images)
// writes EMA snapshots at 1, 2 and 3 kimg; the series is listed in kimg order,
// scored after the first, and its best is the highest ratio. The training set
// comes back from the run's config.json exactly as data::LoadDataset builds it.

#include "study/snapshot_scores.h"

#include <ATen/Parallel.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "data/data_factors.h"
#include "gtest/gtest.h"
#include "training/train_network.h"
#include "util/atomic_file.h"

namespace diffmem {
namespace study {
namespace {

data::DataFactors TinyData() {
  data::DataFactors f;
  f.n = 8;
  f.resolution = 4;
  return f;
}

networks::NetworkConfig TinyNet() {
  networks::NetworkConfig c;
  c.unet = networks::UNetOptions(4, 1, 1).model_channels(8).channel_mult({1, 1}).num_blocks(1).attn_resolutions({});
  return c;
}

// Trains the run once per test binary.
const std::string& TrainedRun() {
  static const std::string* dir = [] {
    at::set_num_threads(1);
    auto* d = new std::string(::testing::TempDir() + "/snapshot_run");
    std::filesystem::remove_all(*d);
    absl::StatusOr<data::Dataset> ds = data::LoadDataset("fashion-mnist:t10k", TinyData());
    EXPECT_TRUE(ds.ok()) << ds.status();
    training::TrainOptions t;
    t.batch_size = 32;
    t.steps = 100;  // 3.2 kimg
    t.lr = 1e-3;
    t.snapshot_kimg = 1;
    t.log_every = 100;
    t.device = "cpu";
    absl::StatusOr<training::TrainResult> r = training::TrainNetwork(
        TinyNet(), *ds, t, *d, /*resume=*/false, training::TrainCallbacks(),
        data::DataSourceToJson("fashion-mnist:t10k", TinyData()));
    EXPECT_TRUE(r.ok()) << r.status();
    return d;
  }();
  return *dir;
}

TEST(SnapshotScoresTest, ListsTheSeriesInKimgOrder) {
  absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> list = ListSnapshots(TrainedRun());
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 3u);  // crossings of 1000, 2000, 3000 images; the end (3200) is kimg 3 again
  for (int64_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*list)[i].first, i + 1);
    EXPECT_EQ((*list)[i].second, training::RunSnapshotPath(TrainedRun(), i + 1));
  }
}

TEST(SnapshotScoresTest, TrainingSetComesBackFromTheRunConfig) {
  absl::StatusOr<data::Dataset> train = LoadRunTrainingSet(TrainedRun());
  ASSERT_TRUE(train.ok()) << train.status();
  absl::StatusOr<data::Dataset> direct = data::LoadDataset("fashion-mnist:t10k", TinyData());
  ASSERT_TRUE(direct.ok()) << direct.status();
  EXPECT_TRUE(torch::equal(train->images, direct->images));
  EXPECT_FALSE(train->has_labels());  // an unconditional network saw none
}

TEST(SnapshotScoresTest, ScoresEveryLaterSnapshotAndKeepsTheHighest) {
  absl::StatusOr<data::Dataset> train = LoadRunTrainingSet(TrainedRun());
  ASSERT_TRUE(train.ok()) << train.status();
  ScoreSettings settings;
  settings.sampler.num_steps = 4;
  std::vector<std::string> lines;
  absl::StatusOr<SnapshotSeries> series = ScoreSnapshots(settings, TrainedRun(), *train, SeedRange(0, 16), torch::kCPU,
                                                         FirstSnapshot::kSkip,
                                                         [&](const std::string& l) { lines.push_back(l); });
  ASSERT_TRUE(series.ok()) << series.status();
  ASSERT_EQ(series->scores.size(), 2u);
  EXPECT_EQ(series->scores[0].kimg, 2);
  EXPECT_EQ(series->scores[1].kimg, 3);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[1].find(absl::StrCat("(", series->scores[1].memorized, "/16 memorized)")), std::string::npos)
      << lines[1];
  double best = -1;
  for (const SnapshotScore& s : series->scores) {
    EXPECT_EQ(s.samples, 16);
    EXPECT_DOUBLE_EQ(s.ratio, static_cast<double>(s.memorized) / 16);
    EXPECT_LE(s.ci_low, s.ratio);
    EXPECT_GE(s.ci_high, s.ratio);
    best = std::max(best, s.ratio);
  }
  EXPECT_EQ(series->scores[series->best].ratio, best);
  EXPECT_EQ(series->best_scored.report.ratio, best);
  EXPECT_EQ(series->best_scored.pixels.size(0), 16);

  // Scoring the first snapshot too lists it, with the later scores unchanged
  // (same seeds, same weights) and the best still chosen after it.
  absl::StatusOr<SnapshotSeries> all = ScoreSnapshots(settings, TrainedRun(), *train, SeedRange(0, 16), torch::kCPU,
                                                      FirstSnapshot::kScoreForTheRecord);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->scores.size(), 3u);
  EXPECT_EQ(all->scores[0].kimg, 1);
  EXPECT_EQ(all->scores[1].memorized, series->scores[0].memorized);
  EXPECT_EQ(all->scores[2].memorized, series->scores[1].memorized);
  EXPECT_EQ(all->best, series->best + 1);
  EXPECT_TRUE(torch::equal(all->best_scored.pixels, series->best_scored.pixels));
}

// The first snapshot never wins, even with the highest ratio, unless it is
// the only one: checked on a copy of the run where the first snapshot's
// weights score as high as the later ones, and on a copy that keeps only it.
TEST(SnapshotScoresTest, TheFirstSnapshotCountsOnlyWhenAlone) {
  absl::StatusOr<data::Dataset> train = LoadRunTrainingSet(TrainedRun());
  ASSERT_TRUE(train.ok()) << train.status();
  ScoreSettings settings;
  settings.sampler.num_steps = 4;
  settings.ratio_threshold = 1e9;  // every sample "memorized": all ratios 1, ties go to the earliest eligible
  absl::StatusOr<SnapshotSeries> all = ScoreSnapshots(settings, TrainedRun(), *train, SeedRange(0, 4), torch::kCPU,
                                                      FirstSnapshot::kScoreForTheRecord);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->scores.size(), 3u);
  EXPECT_EQ(all->scores[0].ratio, 1.0);
  EXPECT_EQ(all->best, 1u);  // the 2 kimg snapshot, not the equally high first one

  const std::string alone = ::testing::TempDir() + "/only_first_snapshot";
  std::filesystem::remove_all(alone);
  std::filesystem::create_directories(training::RunSnapshotDir(alone));
  std::filesystem::copy_file(training::RunConfigPath(TrainedRun()), training::RunConfigPath(alone));
  std::filesystem::copy_file(training::RunSnapshotPath(TrainedRun(), 1), training::RunSnapshotPath(alone, 1));
  for (FirstSnapshot first : {FirstSnapshot::kSkip, FirstSnapshot::kScoreForTheRecord}) {
    absl::StatusOr<SnapshotSeries> one = ScoreSnapshots(settings, alone, *train, SeedRange(0, 4), torch::kCPU, first);
    ASSERT_TRUE(one.ok()) << one.status();
    ASSERT_EQ(one->scores.size(), 1u);
    EXPECT_EQ(one->scores[0].kimg, 1);
    EXPECT_EQ(one->best, 0u);
  }
}

TEST(SnapshotScoresTest, ARunWithoutSnapshotsSaysHowToGetThem) {
  const std::string dir = ::testing::TempDir() + "/no_snapshots";
  std::filesystem::create_directories(dir);
  data::Dataset empty;
  absl::StatusOr<SnapshotSeries> series =
      ScoreSnapshots(ScoreSettings(), dir, empty, SeedRange(0, 4), torch::kCPU, FirstSnapshot::kSkip);
  ASSERT_FALSE(series.ok());
  EXPECT_EQ(series.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(series.status().message().find("--snapshot_kimg"), std::string::npos) << series.status();
  absl::StatusOr<data::Dataset> train = LoadRunTrainingSet(dir);
  ASSERT_FALSE(train.ok());
  EXPECT_NE(train.status().message().find("config.json"), std::string::npos) << train.status();
}

}  // namespace
}  // namespace study
}  // namespace diffmem
