#include "study/presets.h"

#include "gtest/gtest.h"

namespace diffmem {
namespace study {
namespace {

TEST(PresetsTest, NamesAreTheRegistry) {
  EXPECT_EQ(RegistryNames<StudyPresets>(), (std::vector<std::string>{"fashion_cpu", "paper_cifar10", "none"}));
  absl::StatusOr<EmmStudyConfig> bad = PresetConfig("fashion");
  EXPECT_EQ(bad.status().message(), "unknown preset 'fashion' (expected one of: fashion_cpu, paper_cifar10, none)");
}

// The default study: small enough for 2 CPU cores (README: "Estimating EMM").
TEST(PresetsTest, FashionCpuIsTheSmallCpuStudy) {
  const EmmStudyConfig c = *PresetConfig("fashion_cpu");
  EXPECT_EQ(c.data_spec, "fashion-mnist");
  EXPECT_EQ(c.data.resolution, 8);
  EXPECT_EQ(c.data.pad, 2);
  EXPECT_EQ(c.network.unet.model_channels(), 32);
  EXPECT_EQ(c.train.steps, 1200);
  EXPECT_EQ(c.weights, training::Weights::kRaw);
  EXPECT_EQ(c.search.max_runs, 6);
  EXPECT_EQ(c.search.extra_n, (std::vector<int64_t>{320}));
  EXPECT_TRUE(ValidateEmmStudyConfig(c).ok());
}

// The paper's CIFAR-10 setting (Gu et al.; the authors' scripts): DDPM++ with
// VP preconditioning, 128 channels, 2 blocks, attention at 16, dropout 0.13,
// batch 512, lr 2e-4, 40k epochs, EMA weights scored on 10k samples.
TEST(PresetsTest, PaperCifar10FollowsThePaper) {
  const EmmStudyConfig c = *PresetConfig("paper_cifar10");
  EXPECT_EQ(c.network.spec, "ddpmpp");
  EXPECT_EQ(c.network.precond, "vp");
  EXPECT_EQ(c.network.unet.model_channels(), 128);
  EXPECT_EQ(c.network.unet.channel_mult(), (std::vector<int64_t>{2, 2, 2}));
  EXPECT_EQ(c.network.unet.num_blocks(), 2);
  EXPECT_EQ(c.network.unet.attn_resolutions(), (std::vector<int64_t>{16}));
  EXPECT_DOUBLE_EQ(c.network.unet.dropout(), 0.13);
  EXPECT_EQ(c.train.batch_size, 512);
  EXPECT_DOUBLE_EQ(c.train.lr, 2e-4);
  EXPECT_DOUBLE_EQ(c.train.epochs, 40000);
  EXPECT_EQ(c.weights, training::Weights::kEma);
  EXPECT_EQ(c.samples, 10000);
  EXPECT_EQ(c.sample_seed, 0u);  // seeds 0-9999
  EXPECT_EQ(c.data_spec, "");  // the user names CIFAR-10 (--data)
  // The recipe is training/paper_recipe.h's, whole (pinned there setting by setting).
  EXPECT_EQ(training::TrainOptionsToJson(c.train), training::TrainOptionsToJson(training::PaperTraining()));
  EXPECT_EQ(networks::NetworkConfigToJson(c.network), networks::NetworkConfigToJson(training::PaperNetwork()));
  // Lower resolutions by PIL's Lanczos; class-balanced first-N subsets, unconditional.
  EXPECT_EQ(c.data.resize, "lanczos");
  EXPECT_EQ(c.data.subset, "balanced");
  EXPECT_EQ(c.data.labels, "none");
  // Each N scored like the authors: the best snapshot after the first, full duration.
  EXPECT_EQ(c.scoring, Scoring::kMaxOverSnapshots);
  EXPECT_EQ(c.probe_every, 0);
  EXPECT_FALSE(c.early_stop);
  EXPECT_EQ(c.sampler_steps, 18);
  EXPECT_DOUBLE_EQ(c.ratio_threshold, 1.0 / 3);
  EmmStudyConfig with_data = c;
  with_data.data_spec = "cifar10:/data/cifar-10-batches-bin";
  EXPECT_TRUE(ValidateEmmStudyConfig(with_data).ok()) << ValidateEmmStudyConfig(with_data);
  // Max-over-snapshots scoring without snapshots is refused, naming the flag.
  EmmStudyConfig no_snapshots = with_data;
  no_snapshots.train.snapshot_kimg = 0;
  absl::Status s = ValidateEmmStudyConfig(no_snapshots);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("--snapshot_kimg"), std::string::npos) << s;
}

}  // namespace
}  // namespace study
}  // namespace diffmem
