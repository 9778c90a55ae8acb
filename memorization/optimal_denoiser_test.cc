#include "memorization/optimal_denoiser.h"

#include <torch/types.h>

#include <cmath>
#include <limits>
#include <vector>

#include "diffusion/denoiser.h"
#include "gtest/gtest.h"

namespace diffmem {
namespace memorization {
namespace {

static_assert(diffusion::IsDenoiser<EmpiricalOptimalDenoiser>::value, "the optimum must be a DENOISER");
static_assert(diffusion::IsDenoiser<const EmpiricalOptimalDenoiser>::value, "");

// The direct formula in float64, unblocked: D*(x;σ) = Σ_n w_n y_n with
// w = softmax(−‖x − y_n‖²/2σ²) over the points whose label matches (all when
// label < 0), distances from the differences.
std::vector<double> DirectOptimum(const torch::Tensor& x_row, double sigma, const torch::Tensor& train,
                                  const torch::Tensor& train_labels, int64_t label) {
  torch::Tensor x = x_row.reshape({-1}).to(torch::kFloat64).contiguous();
  torch::Tensor y = train.reshape({train.size(0), -1}).to(torch::kFloat64).contiguous();
  const int64_t n = y.size(0), d = y.size(1);
  const double* xp = x.data_ptr<double>();
  const double* yp = y.data_ptr<double>();
  std::vector<double> logits(n, -std::numeric_limits<double>::infinity());
  double max_logit = -std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < n; ++i) {
    if (label >= 0 && train_labels[i].item<int64_t>() != label) continue;
    double sq = 0;
    for (int64_t j = 0; j < d; ++j) sq += (xp[j] - yp[i * d + j]) * (xp[j] - yp[i * d + j]);
    logits[i] = -sq / (2 * sigma * sigma);
    max_logit = std::max(max_logit, logits[i]);
  }
  std::vector<double> out(d, 0.0);
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double w = std::exp(logits[i] - max_logit);
    total += w;
    for (int64_t j = 0; j < d; ++j) out[j] += w * yp[i * d + j];
  }
  for (double& v : out) v /= total;
  return out;
}

double MaxAbsDiff(const torch::Tensor& got_row, const std::vector<double>& want) {
  torch::Tensor g = got_row.reshape({-1}).to(torch::kFloat64).contiguous();
  double m = 0;
  for (size_t j = 0; j < want.size(); ++j) m = std::max(m, std::abs(g.data_ptr<double>()[j] - want[j]));
  return m;
}

struct Fixture {
  torch::Tensor train, labels, x, sigma;
};

Fixture MakeFixture() {
  torch::manual_seed(20);
  Fixture f;
  f.train = torch::rand({300, 3, 4, 4}) * 2 - 1;  // like images in [−1, 1]
  f.labels = torch::randint(0, 3, {300}, torch::kInt64);
  const std::vector<double> sigmas = {0.1, 0.2, 0.3, 0.5, 1, 2, 5, 20, 80};
  const int64_t b = static_cast<int64_t>(sigmas.size()) * 2;
  f.sigma = torch::empty({b}, torch::kFloat32);
  f.x = torch::empty({b, 3, 4, 4});
  for (int64_t i = 0; i < b; ++i) {
    const double s = sigmas[i % sigmas.size()];
    f.sigma[i] = s;
    f.x[i] = f.train[(7 * i) % 300] + s * torch::randn({3, 4, 4});
  }
  return f;
}

TEST(EmpiricalOptimalDenoiserTest, MatchesDirectFloat64Formula) {
  Fixture f = MakeFixture();
  EmpiricalOptimalDenoiserOptions o;
  o.reference_block = 37;  // many blocks, the last one partial: exercises the streaming log-sum-exp
  o.query_block = 5;
  for (const EmpiricalOptimalDenoiserOptions& options : {o, EmpiricalOptimalDenoiserOptions()}) {
    EmpiricalOptimalDenoiser optimum(f.train, torch::Tensor(), options);
    torch::Tensor out = optimum(f.x, f.sigma, torch::Tensor());
    ASSERT_EQ(out.sizes(), f.x.sizes());
    ASSERT_EQ(out.scalar_type(), torch::kFloat32);
    for (int64_t i = 0; i < f.x.size(0); ++i) {
      const double s = f.sigma[i].item<double>();
      std::vector<double> want = DirectOptimum(f.x[i], s, f.train, f.labels, -1);
      // float32 logits err by ~1e-5 absolute, i.e. 1e-5/2σ² in the exponent.
      EXPECT_LT(MaxAbsDiff(out[i], want), 1e-5 + 2e-5 / (2 * s * s)) << "sigma " << s;
    }
  }
}

TEST(EmpiricalOptimalDenoiserTest, ClassConditionalAveragesOverTheLabelOnly) {
  Fixture f = MakeFixture();
  EmpiricalOptimalDenoiserOptions o;
  o.reference_block = 29;
  EmpiricalOptimalDenoiser optimum(f.train, f.labels, o);
  ASSERT_TRUE(optimum.class_conditional());
  torch::Tensor query_labels = torch::arange(f.x.size(0), torch::kInt64) % 3;
  torch::Tensor out = optimum(f.x, f.sigma, query_labels);
  for (int64_t i = 0; i < f.x.size(0); ++i) {
    const double s = f.sigma[i].item<double>();
    std::vector<double> want = DirectOptimum(f.x[i], s, f.train, f.labels, query_labels[i].item<int64_t>());
    EXPECT_LT(MaxAbsDiff(out[i], want), 1e-5 + 2e-5 / (2 * s * s)) << "sigma " << s;
  }
  // Undefined labels: the unconditional optimum over all points.
  torch::Tensor all = optimum(f.x, f.sigma, torch::Tensor());
  torch::Tensor unconditional = EmpiricalOptimalDenoiser(f.train)(f.x, f.sigma, torch::Tensor());
  EXPECT_TRUE(torch::allclose(all, unconditional, 1e-5, 1e-6));
  // Labels outside the training labels, or labels for an unconditional optimum, are errors.
  EXPECT_THROW(optimum(f.x.narrow(0, 0, 1), f.sigma.narrow(0, 0, 1), torch::full({1}, 3, torch::kInt64)), c10::Error);
  EXPECT_THROW(EmpiricalOptimalDenoiser(f.train)(f.x, f.sigma, query_labels), c10::Error);
}

TEST(EmpiricalOptimalDenoiserTest, TinySigmaReturnsTheNearestTrainingPointExactly) {
  Fixture f = MakeFixture();
  EmpiricalOptimalDenoiserOptions o;
  o.reference_block = 64;
  EmpiricalOptimalDenoiser optimum(f.train, torch::Tensor(), o);
  const std::vector<int64_t> targets = {0, 17, 63, 64, 150, 299};  // block edges included
  torch::Tensor x = torch::empty({6, 3, 4, 4});
  for (size_t i = 0; i < targets.size(); ++i) x[i] = f.train[targets[i]] + 0.02 * torch::randn({3, 4, 4});
  for (double s : {1e-3, 1e-6, 1e-30, 0.0}) {
    torch::Tensor out = optimum(x, torch::full({6}, s, torch::kFloat32), torch::Tensor());
    for (size_t i = 0; i < targets.size(); ++i) {
      EXPECT_TRUE(torch::equal(out[i], f.train[targets[i]])) << "sigma " << s << " target " << targets[i];
    }
  }
}

TEST(EmpiricalOptimalDenoiserTest, HugeSigmaReturnsTheMean) {
  Fixture f = MakeFixture();
  EmpiricalOptimalDenoiserOptions o;
  o.reference_block = 50;
  EmpiricalOptimalDenoiser optimum(f.train, torch::Tensor(), o);
  torch::Tensor mean = f.train.to(torch::kFloat64).mean(0);
  torch::Tensor x = torch::randn({3, 3, 4, 4}) * 5;
  for (double s : {1e6, 1e20, std::numeric_limits<double>::infinity()}) {
    torch::Tensor out = optimum(x, torch::full({3}, s, torch::kFloat32), torch::Tensor()).to(torch::kFloat64);
    for (int64_t i = 0; i < 3; ++i) {
      EXPECT_LT((out[i] - mean).abs().max().item<double>(), 2e-6) << "sigma " << s;
    }
  }
}

TEST(EmpiricalOptimalDenoiserTest, ScalarSigmaAndShapeChecks) {
  Fixture f = MakeFixture();
  EmpiricalOptimalDenoiser optimum(f.train);
  torch::Tensor per_sample = optimum(f.x, torch::full({f.x.size(0)}, 0.7f), torch::Tensor());
  torch::Tensor scalar = optimum(f.x, torch::tensor(0.7f), torch::Tensor());
  EXPECT_TRUE(torch::equal(per_sample, scalar));
  EXPECT_THROW(optimum(torch::zeros({2, 3, 4, 5}), torch::ones({2}), torch::Tensor()), c10::Error);
  EXPECT_THROW(optimum(f.x, -torch::ones({f.x.size(0)}), torch::Tensor()), c10::Error);
}

}  // namespace
}  // namespace memorization
}  // namespace diffmem
