#include "diffusion/preconditioning.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <vector>

#include "diffusion/noise_schedule.h"
#include "gtest/gtest.h"

namespace diffmem {
namespace diffusion {
namespace {

static_assert(IsPreconditioner<VpPreconditioner>::value, "");
static_assert(IsPreconditioner<VePreconditioner>::value, "");
static_assert(IsPreconditioner<IddpmPreconditioner>::value, "");
static_assert(IsPreconditioner<EdmPreconditioner>::value, "");
static_assert(!IsPreconditioner<int>::value, "");
struct NoTraining {
  torch::Tensor c_skip(const torch::Tensor& s) const { return s; }
  torch::Tensor c_out(const torch::Tensor& s) const { return s; }
  torch::Tensor c_in(const torch::Tensor& s) const { return s; }
  torch::Tensor c_noise(const torch::Tensor& s) const { return s; }
};
static_assert(!IsPreconditioner<NoTraining>::value, "");

double At(const torch::Tensor& t) { return t.item<double>(); }
torch::Tensor S(double sigma) { return torch::tensor({sigma}, torch::kFloat64); }

// Hand-computed: with σ_data = 0.5, σ = 1.2 gives σ² + σ_d² = 1.69 = 1.3² and
// σ = 0.375 gives 0.390625 = 0.625².
TEST(EdmPreconditionerTest, CoefficientsByHand) {
  const EdmPreconditioner p;
  EXPECT_NEAR(At(p.c_skip(S(0.5))), 0.5, 1e-15);
  EXPECT_NEAR(At(p.c_out(S(0.5))), 0.25 / std::sqrt(0.5), 1e-15);
  EXPECT_NEAR(At(p.c_in(S(0.5))), std::sqrt(2.0), 1e-15);
  EXPECT_NEAR(At(p.c_noise(S(0.5))), std::log(0.5) / 4, 1e-15);

  EXPECT_NEAR(At(p.c_skip(S(1.2))), 0.25 / 1.69, 1e-15);
  EXPECT_NEAR(At(p.c_out(S(1.2))), 0.6 / 1.3, 1e-15);
  EXPECT_NEAR(At(p.c_in(S(1.2))), 1 / 1.3, 1e-15);
  EXPECT_NEAR(At(p.c_noise(S(1.2))), std::log(1.2) / 4, 1e-15);

  EXPECT_NEAR(At(p.c_skip(S(0.375))), 0.64, 1e-15);
  EXPECT_NEAR(At(p.c_out(S(0.375))), 0.3, 1e-15);
  EXPECT_NEAR(At(p.c_in(S(0.375))), 1.6, 1e-15);
  EXPECT_NEAR(At(p.loss_weight(S(0.375))), 0.390625 / (0.375 * 0.375 * 0.25), 1e-12);

  EdmPreconditioner q;
  q.sigma_data = 1.0;  // per-instance parameter
  EXPECT_NEAR(At(q.c_skip(S(1.0))), 0.5, 1e-15);
  EXPECT_NEAR(At(q.c_out(S(1.0))), 1 / std::sqrt(2.0), 1e-15);
}

TEST(EdmPreconditionerTest, SkipDominatesAsSigmaVanishes) {
  const EdmPreconditioner p;
  EXPECT_NEAR(At(p.c_skip(S(1e-6))), 1.0, 1e-11);
  EXPECT_NEAR(At(p.c_out(S(1e-6))), 0.0, 2e-6);
  EXPECT_NEAR(At(p.c_skip(S(1e6))), 0.0, 1e-12);
  EXPECT_NEAR(At(p.c_out(S(1e6))), 0.5, 1e-9);  // → σ_data
}

// Unit effective weight λ(σ)·c_out(σ)² = 1 (EDM Sec. 5 / Table 1) for all four.
template <class P>
void ExpectUnitEffectiveWeight(const P& p) {
  torch::Tensor sigma = torch::logspace(-2.5, 2, 40, 10, torch::kFloat64);
  torch::Tensor w = p.loss_weight(sigma) * p.c_out(sigma).square();
  EXPECT_TRUE(torch::allclose(w, torch::ones_like(w), 1e-12, 1e-12)) << w;
}

TEST(PreconditionerTest, UnitEffectiveWeight) {
  ExpectUnitEffectiveWeight(EdmPreconditioner());
  EdmPreconditioner wide;
  wide.sigma_data = 1.7;
  ExpectUnitEffectiveWeight(wide);
  ExpectUnitEffectiveWeight(VpPreconditioner());
  ExpectUnitEffectiveWeight(VePreconditioner());
  ExpectUnitEffectiveWeight(IddpmPreconditioner());
}

// Hand-computed: σ = 0.75 gives σ² + 1 = 1.5625 = 1.25²; c_noise uses
// t(σ) = (sqrt(β_min² + 2β_d ln(1+σ²)) − β_min)/β_d (independent Python value).
TEST(VpPreconditionerTest, CoefficientsByHand) {
  const VpPreconditioner p;
  EXPECT_EQ(At(p.c_skip(S(0.75))), 1.0);
  EXPECT_NEAR(At(p.c_out(S(0.75))), -0.75, 1e-15);
  EXPECT_NEAR(At(p.c_in(S(0.75))), 0.8, 1e-15);
  const double t = (std::sqrt(0.01 + 2 * 19.9 * std::log(1.5625)) - 0.1) / 19.9;
  EXPECT_NEAR(At(p.c_noise(S(0.75))), 999 * t, 1e-10);
  EXPECT_NEAR(At(p.c_noise(S(p.sigma_max()))), 999, 1e-9);
  EXPECT_NEAR(p.sigma_min(), 0.0010004976266502028, 1e-13);
  EXPECT_NEAR(At(p.loss_weight(S(0.75))), 1 / 0.5625, 1e-13);
}

TEST(VePreconditionerTest, CoefficientsByHand) {
  const VePreconditioner p;
  EXPECT_EQ(At(p.c_skip(S(3.0))), 1.0);
  EXPECT_EQ(At(p.c_in(S(3.0))), 1.0);
  EXPECT_NEAR(At(p.c_out(S(3.0))), 3.0, 1e-15);
  EXPECT_NEAR(At(p.c_noise(S(2.0))), 0.0, 1e-15);
  EXPECT_NEAR(At(p.c_noise(S(0.02))), std::log(0.01), 1e-14);
  EXPECT_EQ(p.sigma_min(), 0.02);
  EXPECT_EQ(p.sigma_max(), 100);
}

TEST(IddpmPreconditionerTest, DiscreteNoiseLevels) {
  const IddpmPreconditioner p;
  const std::vector<double>& u = p.sigmas();
  ASSERT_EQ(u.size(), 1001u);
  EXPECT_EQ(p.sigma_max(), u[0]);
  EXPECT_EQ(p.sigma_min(), u[999]);
  for (int j : {0, 8, 100, 500, 998, 999}) {
    EXPECT_NEAR(At(p.c_noise(S(u[j] * (1 + 1e-7)))), 999 - j, 0) << j;
    EXPECT_EQ(p.round_sigma(u[j] * (1 + 1e-7)), u[j]);
  }
  EXPECT_NEAR(At(p.c_in(S(0.75))), 0.8, 1e-15);
  EXPECT_NEAR(At(p.c_out(S(0.75))), -0.75, 1e-15);
  // Tensor and double round_sigma agree (nearest level).
  torch::Tensor s = torch::logspace(-3, 2, 37, 10, torch::kFloat64);
  torch::Tensor r = p.round_sigma(s);
  for (int i = 0; i < 37; ++i) {
    const double si = s[i].item<double>(), ri = r[i].item<double>();
    EXPECT_EQ(ri, p.round_sigma(si));
    for (double uj : u) ASSERT_LE(std::abs(ri - si), std::abs(uj - si));
  }
}

TEST(TrainingSigmaTest, EdmLogNormal) {
  const EdmPreconditioner p;
  at::Generator g = at::detail::createCPUGenerator(1);
  torch::Tensor s = p.sample_training_sigma(40000, g, torch::kFloat64);
  ASSERT_EQ(s.size(0), 40000);
  torch::Tensor l = s.log();
  EXPECT_NEAR(l.mean().item<double>(), -1.2, 4 * 1.2 / 200);
  EXPECT_NEAR(l.std().item<double>(), 1.2, 0.03);
}

TEST(TrainingSigmaTest, VeLogUniformInRange) {
  const VePreconditioner p;
  at::Generator g = at::detail::createCPUGenerator(2);
  torch::Tensor l = p.sample_training_sigma(40000, g, torch::kFloat64).log();
  const double lo = std::log(0.02), hi = std::log(100.0);
  EXPECT_GE(l.min().item<double>(), lo - 1e-12);
  EXPECT_LE(l.max().item<double>(), hi + 1e-12);
  const double sd = (hi - lo) / std::sqrt(12.0);
  EXPECT_NEAR(l.mean().item<double>(), (lo + hi) / 2, 4 * sd / 200);
  EXPECT_NEAR(l.std().item<double>(), sd, 0.02 * sd);
}

TEST(TrainingSigmaTest, VpUniformTime) {
  const VpPreconditioner p;
  at::Generator g = at::detail::createCPUGenerator(3);
  torch::Tensor t = p.schedule().sigma_inv(p.sample_training_sigma(40000, g, torch::kFloat64));
  EXPECT_GE(t.min().item<double>(), 1e-5 - 1e-12);
  EXPECT_LE(t.max().item<double>(), 1 + 1e-12);
  EXPECT_NEAR(t.mean().item<double>(), 0.5, 4 * 0.2887 / 200);
}

TEST(TrainingSigmaTest, IddpmOnTableUniformIndex) {
  const IddpmPreconditioner p;
  at::Generator g = at::detail::createCPUGenerator(4);
  torch::Tensor s = p.sample_training_sigma(40000, g, torch::kFloat64);
  torch::Tensor j = 999 - p.c_noise(s);  // table index
  EXPECT_TRUE(torch::equal(p.round_sigma(s), s));
  EXPECT_GE(j.min().item<double>(), 0);
  EXPECT_LE(j.max().item<double>(), 999);
  EXPECT_NEAR(j.mean().item<double>(), 499.5, 4 * 288.7 / 200);
}

TEST(TrainingSigmaTest, DeterministicGivenSeed) {
  const EdmPreconditioner p;
  at::Generator a = at::detail::createCPUGenerator(9), b = at::detail::createCPUGenerator(9);
  EXPECT_TRUE(torch::equal(p.sample_training_sigma(100, a), p.sample_training_sigma(100, b)));
  EXPECT_EQ(p.sample_training_sigma(5, a).scalar_type(), torch::kFloat32);
}

}  // namespace
}  // namespace diffusion
}  // namespace diffmem
