#include "training/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/optim/adam.h>

#include <cstdlib>
#include <filesystem>

#include "networks/unet.h"
#include "util/atomic_file.h"

namespace diffmem {
namespace training {
namespace {

namespace fs = std::filesystem;

std::string TempPath(const std::string& name) {
  const char* base = std::getenv("TEST_TMPDIR");
  return std::string(base ? base : "/tmp") + "/checkpoint_test_" + name;
}

networks::UNetOptions Tiny() {
  return networks::UNetOptions(8, 1, 1).model_channels(8).channel_mult({1, 2}).num_blocks(1).attn_resolutions({}).dropout(0);
}

bool Same(const torch::nn::Module& a, const torch::nn::Module& b) {
  auto pa = a.parameters(), pb = b.parameters();
  for (size_t i = 0; i < pa.size(); ++i)
    if (!torch::equal(pa[i], pb[i])) return false;
  auto ba = a.buffers(), bb = b.buffers();
  for (size_t i = 0; i < ba.size(); ++i)
    if (!torch::equal(ba[i], bb[i])) return false;
  return pa.size() == pb.size() && ba.size() == bb.size();
}

TEST(CheckpointTest, RoundTripRestoresEverything) {
  torch::manual_seed(1);
  networks::UNet<networks::NcsnppSpec> net(Tiny()), ema(Tiny());  // Fourier buffer included
  torch::optim::Adam adam(net->parameters(), torch::optim::AdamOptions(1e-3));
  net->forward(torch::randn({2, 1, 8, 8}), torch::randn({2}), {}).square().sum().backward();
  adam.step();  // non-trivial optimizer state
  CheckpointState st;
  st.step = 17;
  st.nimg = 1088;
  st.config_json = R"({"hello": "world"})";
  st.log_loss_sum = 2.5;
  st.log_steps = 3;
  at::Generator gen = at::detail::createCPUGenerator(42);
  torch::randn({5}, gen);
  st.rng["loss"] = gen.get_state();
  const std::string path = TempPath("roundtrip.pt");
  ASSERT_TRUE(SaveCheckpoint(path, st, *net, ema.ptr().get(), &adam).ok());

  torch::manual_seed(2);
  networks::UNet<networks::NcsnppSpec> net2(Tiny()), ema2(Tiny());
  torch::optim::Adam adam2(net2->parameters(), torch::optim::AdamOptions(1e-3));
  ASSERT_FALSE(Same(*net, *net2));
  absl::StatusOr<CheckpointState> back = LoadCheckpoint(path, *net2, ema2.ptr().get(), &adam2, torch::kCPU);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(Same(*net, *net2));
  EXPECT_TRUE(Same(*ema, *ema2));
  EXPECT_EQ(back->step, 17);
  EXPECT_EQ(back->nimg, 1088);
  EXPECT_EQ(back->config_json, st.config_json);
  EXPECT_EQ(back->log_loss_sum, 2.5);
  EXPECT_EQ(back->log_steps, 3);
  at::Generator gen2 = at::detail::createCPUGenerator(0);
  gen2.set_state(back->rng.at("loss"));
  EXPECT_TRUE(torch::equal(torch::randn({5}, gen2), torch::randn({5}, gen)));
  // The optimizer continues identically: one more step on both gives the same weights.
  for (auto* pair : {&net, &net2}) {
    (*pair)->zero_grad();
    (*pair)->forward(torch::ones({2, 1, 8, 8}), torch::ones({2}), {}).square().sum().backward();
  }
  adam.step();
  adam2.step();
  EXPECT_TRUE(Same(*net, *net2));
  EXPECT_EQ(*ReadCheckpointConfig(path), st.config_json);
  networks::UNet<networks::NcsnppSpec> only_ema(Tiny());
  ASSERT_TRUE(LoadCheckpointWeights(path, Weights::kEma, *only_ema, torch::kCPU).ok());
  EXPECT_TRUE(Same(*only_ema, *ema));
  // No temporary files are left beside the checkpoint.
  for (const auto& e : fs::directory_iterator(fs::path(path).parent_path())) {
    EXPECT_EQ(e.path().string().find("roundtrip.pt.tmp"), std::string::npos) << e.path();
  }
}

TEST(CheckpointTest, UnreadableOrMismatchedCheckpointsFailClearly) {
  const std::string junk = TempPath("junk.pt");
  ASSERT_TRUE(util::WriteFileAtomically(junk, "definitely not a zip archive").ok());
  networks::UNet<networks::DdpmppSpec> net(Tiny());
  absl::Status s = LoadCheckpointWeights(junk, Weights::kEma, *net, torch::kCPU);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_NE(s.message().find(junk), std::string::npos);
  EXPECT_EQ(LoadCheckpointWeights(TempPath("missing.pt"), Weights::kRaw, *net, torch::kCPU).code(),
            absl::StatusCode::kNotFound);
  // A checkpoint of a different network.
  const std::string path = TempPath("wide.pt");
  networks::UNet<networks::DdpmppSpec> wide(Tiny().model_channels(16));
  ASSERT_TRUE(SaveCheckpoint(path, CheckpointState(), *wide, nullptr, nullptr).ok());
  s = LoadCheckpointWeights(path, Weights::kRaw, *net, torch::kCPU);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  // It was saved without EMA weights: said so, not a parse error.
  s = LoadCheckpointWeights(path, Weights::kEma, *wide, torch::kCPU);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_NE(s.message().find("holds no 'ema' weights"), std::string::npos) << s;
}

// A snapshot keeps the EMA weights, counters and configuration, and nothing to resume from.
TEST(CheckpointTest, SnapshotsHoldTheEmaWeightsOnly) {
  const std::string path = TempPath("snapshot.pt");
  torch::manual_seed(4);
  networks::UNet<networks::DdpmppSpec> ema(Tiny());
  ASSERT_TRUE(SaveSnapshot(path, 120, 7680, "{\"network\": {}}", *ema).ok());
  networks::UNet<networks::DdpmppSpec> back(Tiny());
  ASSERT_TRUE(LoadCheckpointWeights(path, Weights::kEma, *back, torch::kCPU).ok());
  for (size_t i = 0; i < ema->parameters().size(); ++i) {
    EXPECT_TRUE(torch::equal(ema->parameters()[i], back->parameters()[i])) << i;
  }
  EXPECT_EQ(*ReadCheckpointConfig(path), "{\"network\": {}}");
  absl::Status raw = LoadCheckpointWeights(path, Weights::kRaw, *back, torch::kCPU);
  EXPECT_EQ(raw.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(raw.message().find("a snapshot keeps the EMA weights only"), std::string::npos) << raw;
}

TEST(CheckpointTest, FailedWriteKeepsThePreviousFile) {
  const std::string dir = TempPath("dir_as_target");
  fs::remove_all(dir);
  fs::create_directories(dir + "/ckpt.pt");  // a directory where the file should go: rename fails
  networks::UNet<networks::DdpmppSpec> net(Tiny());
  EXPECT_FALSE(SaveCheckpoint(dir + "/ckpt.pt", CheckpointState(), *net, nullptr, nullptr).ok());
  EXPECT_TRUE(fs::is_directory(dir + "/ckpt.pt"));
}

}  // namespace
}  // namespace training
}  // namespace diffmem
