#include "training/run_dir.h"

#include <filesystem>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "networks/unet.h"
#include "training/checkpoint.h"
#include "util/atomic_file.h"

namespace diffmem::training {
namespace {

TEST(RunDirTest, PathsAndTheStoredNetwork) {
  const std::string dir = ::testing::TempDir() + "/run";
  std::filesystem::create_directories(dir);
  EXPECT_EQ(CheckpointPathOf(dir), dir + "/checkpoint.pt");
  EXPECT_EQ(CheckpointPathOf(dir + "/other.pt"), dir + "/other.pt");
  EXPECT_EQ(RunSnapshotPath(dir, 2500), dir + "/snapshots/network-snapshot-002500.pt");  // EDM's names
  networks::NetworkConfig c;
  c.precond = "vp";
  c.unet = networks::UNetOptions(8, 1, 1).model_channels(8).channel_mult({1, 1}).num_blocks(1).attn_resolutions({});
  networks::UNet<networks::DdpmppSpec> net(c.unet);
  CheckpointState st;
  st.config_json = nlohmann::json({{"network", networks::NetworkConfigToJson(c)}}).dump();
  ASSERT_TRUE(SaveCheckpoint(RunCheckpointPath(dir), st, *net, nullptr, nullptr).ok());
  absl::StatusOr<networks::NetworkConfig> back = ReadCheckpointNetwork(CheckpointPathOf(dir));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(networks::NetworkConfigToJson(*back), networks::NetworkConfigToJson(c));
  st.config_json = "{}";
  ASSERT_TRUE(SaveCheckpoint(dir + "/bare.pt", st, *net, nullptr, nullptr).ok());
  EXPECT_NE(ReadCheckpointNetwork(dir + "/bare.pt").status().message().find("no network section"), std::string::npos);
}

TEST(RunDirTest, OpenRefusesToOverwriteAndToResumeAnotherConfiguration) {
  const std::string dir = ::testing::TempDir() + "/open";
  std::filesystem::remove_all(dir);
  const nlohmann::json config = {{"training", {{"lr", 0.001}, {"steps", 10}}}, {"world_size", 1}};
  ASSERT_TRUE(OpenRunDirectory(dir, config, /*resume=*/false, 1, /*writes=*/true).ok());
  EXPECT_TRUE(std::filesystem::is_directory(dir));
  ASSERT_TRUE(util::WriteFileAtomically(RunConfigPath(dir), config.dump()).ok());
  // A new run never overwrites one; a rank that does not write does not look.
  EXPECT_EQ(OpenRunDirectory(dir, config, false, 1, true).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(OpenRunDirectory(dir, config, false, 2, /*writes=*/false).ok());
  // A resume: the duration may change, the learning rate and the world size may not.
  nlohmann::json longer = config;
  longer["training"]["steps"] = 20;
  EXPECT_TRUE(OpenRunDirectory(dir, longer, true, 1, true).ok());
  nlohmann::json other = config;
  other["training"]["lr"] = 0.002;
  const absl::Status changed = OpenRunDirectory(dir, other, true, 1, true);
  EXPECT_EQ(changed.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(changed.message().find("training.lr"), std::string::npos) << changed;
  const absl::Status ranks = OpenRunDirectory(dir, config, true, 2, true);
  EXPECT_NE(ranks.message().find("world size 1"), std::string::npos) << ranks;
  ASSERT_TRUE(util::WriteFileAtomically(RunConfigPath(dir), "{not json").ok());
  EXPECT_EQ(OpenRunDirectory(dir, config, true, 1, true).code(), absl::StatusCode::kDataLoss);
}

// A process killed inside WriteFileAtomically leaves FILE.tmp.PID: a resume
// removes the run's, in the run directory and snapshots/, and nothing else.
TEST(RunDirTest, AResumeRemovesTheTempFilesOfKilledWrites) {
  const std::string dir = ::testing::TempDir() + "/stale";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir + "/snapshots");
  const nlohmann::json config = {{"training", {{"steps", 10}}}, {"world_size", 1}};
  ASSERT_TRUE(util::WriteFileAtomically(RunConfigPath(dir), config.dump()).ok());
  const std::vector<std::string> stale = {"checkpoint.pt.tmp.4242", "config.json.tmp.17",
                                          "snapshots/network-snapshot-000001.pt.tmp.99"};
  const std::vector<std::string> kept = {"notes.tmp.txt", "loss.tmp.", "snapshots/a.tmp.12x", "checkpoint.pt"};
  for (const auto& f : stale) ASSERT_TRUE(util::WriteFileAtomically(dir + "/" + f, "partial").ok());
  for (const auto& f : kept) ASSERT_TRUE(util::WriteFileAtomically(dir + "/" + f, "kept").ok());
  EXPECT_EQ(RemoveStaleTempFiles(dir).value_or(-1), 3);
  for (const auto& f : kept) ASSERT_TRUE(util::WriteFileAtomically(dir + "/" + f, "kept").ok());
  for (const auto& f : stale) ASSERT_TRUE(util::WriteFileAtomically(dir + "/" + f, "partial").ok());
  ASSERT_TRUE(OpenRunDirectory(dir, config, /*resume=*/true, 1, /*writes=*/true).ok());
  for (const auto& f : stale) EXPECT_FALSE(std::filesystem::exists(dir + "/" + f)) << f;
  for (const auto& f : kept) EXPECT_TRUE(std::filesystem::exists(dir + "/" + f)) << f;
  EXPECT_EQ(RemoveStaleTempFiles(dir + "/nonexistent").value_or(-1), 0);
}

TEST(RunDirTest, FingerprintChangesWithAnyPixelOrLabel) {
  data::Dataset ds;
  ds.images = torch::zeros({3, 1, 2, 2}, torch::kUInt8);
  ds.labels = torch::tensor({0, 1, 2}, torch::kInt64);
  ds.num_classes = 3;
  const std::string f = DatasetFingerprint(ds);
  EXPECT_EQ(f.size(), 16u);
  data::Dataset pixel = ds;
  pixel.images = ds.images.clone();
  pixel.images[2][0][1][1] = 1;
  EXPECT_NE(DatasetFingerprint(pixel), f);
  data::Dataset label = ds;
  label.labels = torch::tensor({0, 2, 1}, torch::kInt64);
  EXPECT_NE(DatasetFingerprint(label), f);
  EXPECT_EQ(DatasetSummaryJson(ds)["size"], 3);
}

}  // namespace
}  // namespace diffmem::training
