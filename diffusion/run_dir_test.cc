#include "diffusion/run_dir.h"

#include <filesystem>
#include <string>

#include "diffusion/checkpoint.h"
#include "diffusion/unet.h"
#include "gtest/gtest.h"

namespace diffmem::diffusion {
namespace {

TEST(RunDirTest, PathsAndTheStoredNetwork) {
  const std::string dir = ::testing::TempDir() + "/run";
  std::filesystem::create_directories(dir);
  EXPECT_EQ(CheckpointPathOf(dir), dir + "/checkpoint.pt");
  EXPECT_EQ(CheckpointPathOf(dir + "/other.pt"), dir + "/other.pt");
  EXPECT_EQ(RunSnapshotPath(dir, 2500), dir + "/snapshots/network-snapshot-002500.pt");  // EDM's names
  NetworkConfig c;
  c.precond = "vp";
  c.unet = UNetOptions(8, 1, 1).model_channels(8).channel_mult({1, 1}).num_blocks(1).attn_resolutions({});
  UNet<DdpmppSpec> net(c.unet);
  CheckpointState st;
  st.config_json = nlohmann::json({{"network", NetworkConfigToJson(c)}}).dump();
  ASSERT_TRUE(SaveCheckpoint(RunCheckpointPath(dir), st, *net, nullptr, nullptr).ok());
  absl::StatusOr<NetworkConfig> back = ReadCheckpointNetwork(CheckpointPathOf(dir));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(NetworkConfigToJson(*back), NetworkConfigToJson(c));
  st.config_json = "{}";
  ASSERT_TRUE(SaveCheckpoint(dir + "/bare.pt", st, *net, nullptr, nullptr).ok());
  EXPECT_NE(ReadCheckpointNetwork(dir + "/bare.pt").status().message().find("no network section"), std::string::npos);
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
}  // namespace diffmem::diffusion
