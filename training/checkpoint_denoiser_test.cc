#include "training/checkpoint_denoiser.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <string>

#include "diffusion/preconditioning.h"
#include "testing/train_fixtures.h"
#include "training/run_dir.h"
#include "training/train_network.h"

namespace diffmem {
namespace training {
namespace {

// A run's checkpoint comes back as the denoiser it was trained as: the
// recorded preconditioner (VP here), the chosen weights, eval mode; a
// configuration the tensors do not fit is refused naming the file.
TEST(CheckpointDenoiserTest, BuildsTheRecordedNetworkWithTheChosenWeights) {
  at::set_num_threads(1);
  const std::string dir = ::testing::TempDir() + "/ckpt_denoiser";
  networks::NetworkConfig net;
  net.precond = "vp";
  net.unet = networks::UNetOptions(8, 1, 1).model_channels(8).channel_mult({1, 2}).num_blocks(1).attn_resolutions({}).dropout(0);
  TrainOptions t;
  t.batch_size = 4;
  t.lr = 1e-2;
  t.steps = 3;
  t.ema_schedule = EmaSchedule::kFixed;
  t.ema_beta = 0.5;
  absl::StatusOr<TrainResult> r = TrainNetwork(net, testing_train::FashionMnist8x8(8), t, dir, false);
  ASSERT_TRUE(r.ok()) << r.status();
  const std::string ckpt = RunCheckpointPath(dir);
  absl::StatusOr<networks::NetworkConfig> recorded = ReadCheckpointNetwork(ckpt);
  ASSERT_TRUE(recorded.ok()) << recorded.status();

  torch::Tensor raw_first, ema_first;
  for (Weights w : {Weights::kRaw, Weights::kEma}) {
    absl::Status s = VisitCheckpointDenoiser(ckpt, *recorded, w, torch::kCPU, [&](auto& d) -> absl::Status {
      EXPECT_DOUBLE_EQ(d.sigma_min(), diffusion::VpPreconditioner().sigma_min());
      EXPECT_DOUBLE_EQ(d.sigma_max(), diffusion::VpPreconditioner().sigma_max());
      EXPECT_FALSE(d.net()->is_training());
      networks::UNet<networks::DdpmppSpec> direct(recorded->unet);
      EXPECT_TRUE(LoadCheckpointWeights(ckpt, w, *direct, torch::kCPU).ok());
      const torch::Tensor p = d.net()->parameters()[0];
      EXPECT_TRUE(torch::equal(p, direct->parameters()[0]));
      (w == Weights::kRaw ? raw_first : ema_first) = p.clone();
      return absl::OkStatus();
    });
    ASSERT_TRUE(s.ok()) << s;
  }
  EXPECT_FALSE(torch::equal(raw_first, ema_first));  // the two weights really were chosen

  networks::NetworkConfig wider = *recorded;
  wider.unet.model_channels(16);
  absl::Status s = VisitCheckpointDenoiser(ckpt, wider, Weights::kEma, torch::kCPU,
                                           [](auto&) -> absl::Status { return absl::OkStatus(); });
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("checkpoint.pt"), std::string::npos) << s;
}

}  // namespace
}  // namespace training
}  // namespace diffmem
