#include "training/run_logs.h"

#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "util/atomic_file.h"

namespace diffmem::training {
namespace {

std::vector<std::string> Lines(const std::string& path) {
  return absl::StrSplit(*util::ReadFileToString(path), '\n', absl::SkipEmpty());
}

TEST(RunLogsTest, OneRecordPerIntervalInBothLogs) {
  const std::string dir = ::testing::TempDir();
  const RunLogs logs(dir, /*log_every=*/10);
  ASSERT_TRUE(logs.Create().ok());
  ASSERT_TRUE(logs.Append({10, 640, 1.25, 1e-3, 0.99, 512.5, 1.5}).ok());
  ASSERT_TRUE(logs.Append({20, 1280, 0.75, 1e-3, 0.995, 500, 3.0}).ok());
  const std::vector<std::string> csv = Lines(RunLossLogPath(dir));
  ASSERT_EQ(csv.size(), 3u);
  EXPECT_EQ(csv[0], "step,kimg,loss,lr,images_per_s,wall_s");
  EXPECT_EQ(csv[1], "10,0.640,1.25,0.001,512.5,1.50");
  const std::vector<std::string> jsonl = Lines(RunStatsPath(dir));
  ASSERT_EQ(jsonl.size(), 2u);
  const nlohmann::json j = nlohmann::json::parse(jsonl[1]);
  EXPECT_EQ(j["step"], 20);
  EXPECT_EQ(j["nimg"], 1280);
  EXPECT_DOUBLE_EQ(j["kimg"].get<double>(), 1.28);
  EXPECT_DOUBLE_EQ(j["loss"].get<double>(), 0.75);
  EXPECT_DOUBLE_EQ(j["lr"].get<double>(), 1e-3);
  EXPECT_DOUBLE_EQ(j["ema_beta"].get<double>(), 0.995);
  EXPECT_DOUBLE_EQ(j["images_per_s"].get<double>(), 500);
  EXPECT_DOUBLE_EQ(j["wall_s"].get<double>(), 3.0);
  EXPECT_GT(j["time"].get<double>(), 1.7e9);  // a Unix time after 2023
}

// A resumed run keeps the records up to its checkpoint; a partial
// session-end record at the checkpoint goes when training continues.
TEST(RunLogsTest, TruncateKeepsRecordsUpToTheCheckpoint) {
  const std::string dir = ::testing::TempDir() + "/t";
  std::filesystem::create_directories(dir);
  const RunLogs logs(dir, 10);
  ASSERT_TRUE(logs.Create().ok());
  for (int64_t step : {10, 20, 25, 30}) ASSERT_TRUE(logs.Append({step, step * 64, 1, 1e-3, 0.9, 100, 1}).ok());
  ASSERT_TRUE(logs.TruncateAfter(25, /*drop_partial=*/true).ok());
  EXPECT_EQ(Lines(RunLossLogPath(dir)).size(), 3u);  // header, 10, 20
  EXPECT_EQ(Lines(RunStatsPath(dir)).size(), 2u);
  ASSERT_TRUE(logs.Append({25, 1600, 1, 1e-3, 0.9, 100, 1}).ok());
  ASSERT_TRUE(logs.TruncateAfter(25, /*drop_partial=*/false).ok());  // the run ended at 25
  EXPECT_EQ(Lines(RunStatsPath(dir)).size(), 3u);
  EXPECT_EQ(nlohmann::json::parse(Lines(RunStatsPath(dir)).back())["step"], 25);
}

}  // namespace
}  // namespace diffmem::training
