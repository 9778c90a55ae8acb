#include "training/paper_recipe.h"

#include <vector>

#include "gtest/gtest.h"
#include "networks/unet.h"

namespace diffmem::training {
namespace {

// The authors' CIFAR-10 scripts (DESIGN.md, "Reference numbers"), setting by setting.
TEST(PaperRecipeTest, NetworkIsTheAuthors) {
  const networks::NetworkConfig c = PaperNetwork();
  EXPECT_EQ(c.spec, "ddpmpp");
  EXPECT_EQ(c.precond, "vp");
  EXPECT_EQ(c.unet.img_resolution(), 32);
  EXPECT_EQ(c.unet.model_channels(), 128);
  EXPECT_EQ(c.unet.channel_mult(), (std::vector<int64_t>{2, 2, 2}));
  EXPECT_EQ(c.unet.num_blocks(), 2);
  EXPECT_EQ(c.unet.attn_resolutions(), (std::vector<int64_t>{16}));
  EXPECT_DOUBLE_EQ(c.unet.dropout(), 0.13);
  EXPECT_EQ(c.unet.embedding(), networks::NoiseEmbedding::kSpecDefault);  // DDPM++: positional
  EXPECT_EQ(networks::DdpmppSpec::kEmbedding, networks::NoiseEmbedding::kPositional);
  EXPECT_EQ(c.unet.label_dim(), 0);  // unconditional unless the data have labels
  EXPECT_TRUE(networks::ValidateNetworkConfig(c).ok());
}

TEST(PaperRecipeTest, TrainingIsTheAuthors) {
  const TrainOptions t = PaperTraining();
  EXPECT_EQ(t.batch_size, 512);
  EXPECT_EQ(t.optimizer, "adam");
  EXPECT_DOUBLE_EQ(t.lr, 2e-4);
  EXPECT_DOUBLE_EQ(t.adam_beta1, 0.9);
  EXPECT_DOUBLE_EQ(t.adam_beta2, 0.999);
  EXPECT_DOUBLE_EQ(t.adam_eps, 1e-8);
  EXPECT_DOUBLE_EQ(t.weight_decay, 0);
  EXPECT_DOUBLE_EQ(t.grad_clip, 0);
  // Warm-up N/5 kimg = 200 epochs; duration 2000 × N/50 kimg = 40 000 epochs.
  EXPECT_DOUBLE_EQ(t.lr_warmup_epochs, 200);
  EXPECT_DOUBLE_EQ(LearningRate(t, 1000, 200 * 1000), 2e-4);
  EXPECT_DOUBLE_EQ(LearningRate(t, 1000, 100 * 1000), 1e-4);
  EXPECT_DOUBLE_EQ(t.epochs, 40000);
  EXPECT_EQ(TotalSteps(t, 1000), 78125);  // 40M images / 512
  EXPECT_EQ(t.ema_schedule, EmaSchedule::kDataRatio);
  EXPECT_DOUBLE_EQ(t.ema_halflife_kimg, 500);
  EXPECT_DOUBLE_EQ(t.ema_rampup_ratio, 0.05);
  EXPECT_NEAR(EmaBeta(t, 1000, 40000000), 0.99929, 1e-5);
  EXPECT_EQ(t.data_order, DataOrder::kFixed);
  EXPECT_EQ(t.seed, 1024u);
  EXPECT_DOUBLE_EQ(t.snapshot_kimg, 2500);
  EXPECT_TRUE(ValidateTrainOptions(t).ok());
}

}  // namespace
}  // namespace diffmem::training
