#include "study/factors.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "study/presets.h"

namespace diffmem {
namespace study {
namespace {

// The authors' data-dimension study: the same network levels attend at every
// resolution (16 px at 32, 8 at 16, 4 at 8).
TEST(FactorsTest, ResolutionMovesTheAttentionWithTheData) {
  EmmStudyConfig paper = PaperCifar10Preset::Config();
  paper.data_spec = "cifar10:/data/cifar-10-batches-bin";
  ASSERT_EQ(paper.network.unet.attn_resolutions(), (std::vector<int64_t>{16}));
  for (auto [r, attn] : {std::pair<int64_t, int64_t>{32, 16}, {16, 8}, {8, 4}}) {
    EmmStudyConfig c = paper;
    ASSERT_TRUE(ApplyFactor(c, "resolution", absl::StrCat(r)).ok()) << r;
    EXPECT_EQ(c.data.resolution, r);
    EXPECT_EQ(c.network.unet.attn_resolutions(), (std::vector<int64_t>{attn})) << r;
  }
  EmmStudyConfig odd = paper;
  EXPECT_NE(ApplyFactor(odd, "resolution", "3").message().find("attention at 16 px of a 32 px network does not scale to 3 px"), std::string::npos);
}

TEST(FactorsTest, EachFactorChangesItsSetting) {
  const EmmStudyConfig base = FashionCpuPreset::Config();
  EmmStudyConfig c = base;
  ASSERT_TRUE(ApplyFactor(c, "resolution", "16").ok());
  EXPECT_EQ(c.data.resolution, 16);
  c = base;
  ASSERT_TRUE(ApplyFactor(c, "batch", "128").ok());
  EXPECT_EQ(c.train.batch_size, 128);
  EXPECT_DOUBLE_EQ(c.train.lr, base.train.lr * 2);  // lr scaled with the batch
  c = base;
  ASSERT_TRUE(ApplyFactor(c, "labels", "random-7").ok());
  EXPECT_EQ(c.data.labels, "random");
  EXPECT_EQ(c.data.label_classes, 7);
  c = base;
  ASSERT_TRUE(ApplyFactor(c, "steps", "300").ok());
  EXPECT_EQ(c.train.steps, 300);
  c = base;
  ASSERT_TRUE(ApplyFactor(c, "embedding", "fourier").ok());
  EXPECT_EQ(c.network.unet.embedding(), networks::NoiseEmbedding::kFourier);
  c = base;
  ASSERT_TRUE(ApplyFactor(c, "skip_mask", "101").ok());
  EXPECT_EQ(c.network.unet.skip_mask(), (std::vector<bool>{true, false, true}));
}

// Balanced subsets need every N to be a multiple of the class count.
TEST(FactorsTest, ClassesMoveTheSearchGrid) {
  EmmStudyConfig c = FashionCpuPreset::Config();  // N in [10, 320], steps of 10
  ASSERT_TRUE(ApplyFactor(c, "classes", "3").ok());
  EXPECT_EQ(c.data.classes, 3);
  EXPECT_EQ(c.search.granularity, 3);
  EXPECT_EQ(c.search.n_min, 12);
  EXPECT_EQ(c.search.n_start, 12);
  EXPECT_EQ(c.search.n_max, 318);
  EXPECT_EQ(c.search.extra_n, (std::vector<int64_t>{318}));  // the preset's extra point 320, on the grid
}

TEST(FactorsTest, BadValuesAndUnknownFactorsAreErrorsThatSayWhy) {
  EmmStudyConfig c = FashionCpuPreset::Config();
  EXPECT_EQ(ApplyFactor(c, "resolution", "x").message(), "--vary: resolution=x: expected a positive integer");
  EXPECT_EQ(ApplyFactor(c, "labels", "random-0").message(), "--vary: labels=random-0: expected none, true, random-C or unique");
  const std::string unknown(ApplyFactor(c, "colour", "red").message());
  EXPECT_EQ(unknown.rfind("--vary: unknown factor 'colour' (expected one of: resolution, classes,", 0), 0u) << unknown;
  // Valid syntax, invalid configuration: caught by the study's validation.
  EXPECT_FALSE(ApplyFactor(c, "ema", "1.5").ok());
  for (const std::string& name : RegistryNames<StudyFactors>()) {
    EXPECT_NE(FactorHelp().find(name + " ("), std::string::npos) << name;
  }
}

TEST(FactorsTest, PlanPutsEachValueInItsOwnDirectory) {
  std::string factor;
  absl::StatusOr<std::vector<FactorStudy>> s =
      PlanFactorStudies("/tmp/s", FashionCpuPreset::Config(), "resolution=8,16", &factor);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(factor, "resolution");
  ASSERT_EQ(s->size(), 2u);
  EXPECT_EQ((*s)[1].dir, "/tmp/s/resolution=16");
  EXPECT_EQ((*s)[1].config.data.resolution, 16);
  absl::StatusOr<std::vector<FactorStudy>> single = PlanFactorStudies("/tmp/s", FashionCpuPreset::Config(), "", &factor);
  ASSERT_TRUE(single.ok());
  EXPECT_EQ(factor, "");
  EXPECT_EQ((*single)[0].dir, "/tmp/s");
  EXPECT_FALSE(PlanFactorStudies("/tmp/s", FashionCpuPreset::Config(), "resolution", &factor).ok());
}

}  // namespace
}  // namespace study
}  // namespace diffmem
