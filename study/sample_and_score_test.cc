#include "study/sample_and_score.h"

#include <torch/types.h>

#include <string>

#include "data/idx.h"
#include "data/subsets.h"
#include "diffusion/edm_seeds.h"
#include "gtest/gtest.h"
#include "memorization/optimal_denoiser.h"

namespace diffmem {
namespace study {
namespace {

data::Dataset Train() {
  absl::StatusOr<data::Dataset> all = data::ReadFashionMnist("t10k");
  EXPECT_TRUE(all.ok()) << all.status();
  absl::StatusOr<data::Dataset> ds = data::DownsampleByArea(*data::ClassBalancedFirstN(*all, 20), 7);
  EXPECT_TRUE(ds.ok()) << ds.status();
  return *ds;
}

// The empirical optimum only replays its training images (paper, Sec. 3), so
// every sample is memorized, and its nearest training image is itself.
TEST(SampleAndScoreTest, TheOptimumIsFullyMemorized) {
  const data::Dataset train = data::WithoutLabels(Train());
  memorization::EmpiricalOptimalDenoiser optimum(data::PixelsToFloat(train.images));
  EmmStudyConfig c;
  c.metric = "l1";
  absl::StatusOr<Scored> s = SampleAndScore(ScoreSettingsOf(c), optimum, train, SeedRange(5, 16), torch::kCPU);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->pixels.sizes(), (std::vector<int64_t>{16, 1, 7, 7}));
  EXPECT_EQ(s->pixels.scalar_type(), torch::kUInt8);
  EXPECT_EQ(s->report.metric, "l1");
  EXPECT_EQ(s->report.memorized, 16);
  for (const auto& r : s->report.samples) {
    EXPECT_LE(r.d1, 1.0 * 49) << "a sample is its nearest training image, up to rounding";
  }
  // Seeds fix the samples: the same seeds again give the same pixels.
  absl::StatusOr<Scored> again = SampleAndScore(ScoreSettingsOf(c), optimum, train, SeedRange(5, 16), torch::kCPU);
  EXPECT_TRUE(torch::equal(again->pixels, s->pixels));
  EXPECT_EQ(SeedRange(5, 3), (std::vector<uint64_t>{5, 6, 7}));
}

// A class-conditional optimum asked for class y returns a training image of
// class y; the class of each seed is EDM's uniform, seeded draw.
TEST(SampleAndScoreTest, ConditionalSamplesFollowTheirSeedsClasses) {
  const data::Dataset train = Train();
  ASSERT_TRUE(train.has_labels());
  memorization::EmpiricalOptimalDenoiser optimum(data::PixelsToFloat(train.images), train.labels);
  EmmStudyConfig c;
  const std::vector<uint64_t> seeds = SeedRange(0, 20);
  absl::StatusOr<Scored> s = SampleAndScore(ScoreSettingsOf(c), optimum, train, seeds, torch::kCPU);
  ASSERT_TRUE(s.ok()) << s.status();
  const torch::Tensor asked = diffusion::SeedLabels(seeds, {1, 7, 7}, train.num_classes);
  for (size_t i = 0; i < s->report.samples.size(); ++i) {
    EXPECT_EQ(train.labels[s->report.samples[i].nearest].item<int64_t>(), asked[i].item<int64_t>()) << "sample " << i;
  }
}

// With a unique label per image (the paper's N = 50k experiment), the seeds'
// classes cover the label range uniformly, not just its first few values.
TEST(SampleAndScoreTest, SeedClassesAreUniformOverManyClasses) {
  const std::vector<uint64_t> seeds = SeedRange(0, 10000);
  const torch::Tensor y = diffusion::SeedLabels(seeds, {3, 8, 8}, 50000);
  EXPECT_GE(y.min().item<int64_t>(), 0);
  EXPECT_LT(y.max().item<int64_t>(), 50000);
  // 10 bins of 5000 classes: each holds about 1000 of the 10000 seeds (a chi-square test, 9 dof, p = 0.001).
  const torch::Tensor bins = torch::bincount(torch::floor_divide(y, 5000), {}, 10).to(torch::kFloat64);
  const double chi2 = ((bins - 1000).square() / 1000).sum().item<double>();
  EXPECT_LT(chi2, 27.88) << bins;
  EXPECT_GT(std::get<0>(torch::_unique(y)).size(0), 9000);  // nearly all distinct
}

TEST(SampleAndScoreTest, AnUnknownMetricIsAnError) {
  const data::Dataset train = data::WithoutLabels(Train());
  memorization::EmpiricalOptimalDenoiser optimum(data::PixelsToFloat(train.images));
  EmmStudyConfig c;
  c.metric = "l7";
  absl::StatusOr<Scored> s = SampleAndScore(ScoreSettingsOf(c), optimum, train, SeedRange(0, 2), torch::kCPU);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("unknown metric 'l7'"), std::string::npos) << s.status();
}

}  // namespace
}  // namespace study
}  // namespace diffmem
