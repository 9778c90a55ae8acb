#include "diffusion/sampler_config.h"

#include <torch/types.h>

#include <cmath>
#include <set>
#include <vector>

#include "diffusion/gaussian_denoiser.h"
#include "diffusion/preconditioning.h"
#include "diffusion/step_schedules.h"
#include "gtest/gtest.h"

namespace diffmem {
namespace diffusion {
namespace {

// A denoiser with a supported σ range, like a network under VE preconditioning.
struct RangedDenoiser {
  double lo, hi;
  torch::Tensor operator()(const torch::Tensor& x, const torch::Tensor&, const torch::Tensor&) const {
    return torch::zeros_like(x);
  }
  double sigma_min() const { return lo; }
  double sigma_max() const { return hi; }
};

// EDM builds the schedule over the range clamped to the network's: a VE
// network (σ ∈ [0.02, 100]) sampled with EDM's defaults gets 18 distinct
// levels from 80 down to 0.02, not levels collapsed onto 0.02.
TEST(SamplerConfigTest, TheScheduleSpansTheClampedRange) {
  const VePreconditioner ve;
  const RangedDenoiser d{ve.sigma_min(), ve.sigma_max()};
  ASSERT_DOUBLE_EQ(d.lo, 0.02);
  SamplerConfig c;
  std::vector<double> t;
  ASSERT_TRUE(VisitSampler(c, d, [&](const auto& sampler) {
                t = sampler.SigmasFor(d);
                return absl::OkStatus();
              }).ok());
  ASSERT_EQ(t.size(), 19u);
  EXPECT_DOUBLE_EQ(t.front(), 80);
  EXPECT_NEAR(t[17], 0.02, 1e-12);
  EXPECT_EQ(t[18], 0);
  EXPECT_EQ(std::set<double>(t.begin(), t.end() - 1).size(), 18u) << "18 distinct nonzero levels";
  for (int i = 0; i + 1 < 18; ++i) EXPECT_GT(t[i], t[i + 1]);
  // The same as EDM's ρ-schedule built over [0.02, 80] directly (Eq. 5).
  const std::vector<double> direct = EdmRhoSteps::Sigmas(18, {0.02, 80, 7});
  for (int i = 0; i < 19; ++i) EXPECT_NEAR(t[i], direct[i], 1e-12 * (1 + direct[i])) << i;
}

TEST(SamplerConfigTest, RangesComeFromTheDiscretizationWhenNotGiven) {
  SamplerConfig c;
  c.discretization = "ve";
  EXPECT_EQ(SamplerSigmaRange<VeSteps>(c, 0, INFINITY), (std::pair<double, double>(0.02, 100)));
  c.sigma_max = 50;
  EXPECT_EQ(SamplerSigmaRange<VeSteps>(c, 0, INFINITY), (std::pair<double, double>(0.02, 50)));
  EXPECT_EQ(SamplerSigmaRange<VeSteps>(c, 0.05, 40), (std::pair<double, double>(0.05, 40)));
}

// ForRange reproduces each discretization's own defaults from its default range.
TEST(SamplerConfigTest, ForRangeOfTheDefaultRangeIsTheDefault) {
  const VpSteps::Options vp = VpSteps::ForRange(VpSteps::DefaultSigmaMin(), VpSteps::DefaultSigmaMax(), 7);
  EXPECT_NEAR(vp.beta_d, 19.9, 1e-9);
  EXPECT_NEAR(vp.beta_min, 0.1, 1e-9);
  const VpSchedule s{vp.beta_d, vp.beta_min};
  const VpSteps::Options other = VpSteps::ForRange(0.01, 50, 7);
  EXPECT_NEAR(VpSchedule({other.beta_d, other.beta_min}).sigma(other.epsilon_s), 0.01, 1e-12);
  EXPECT_NEAR(VpSchedule({other.beta_d, other.beta_min}).sigma(1), 50, 1e-9);
  EXPECT_NEAR(s.sigma(1), VpSteps::DefaultSigmaMax(), 1e-9);
  const IddpmSteps::Options id = IddpmSteps::ForRange(IddpmSteps::DefaultSigmaMin(), IddpmSteps::DefaultSigmaMax(), 7);
  EXPECT_EQ(IddpmSteps::Sigmas(18, id), IddpmSteps::Sigmas(18, IddpmSteps::Options()));
  const EdmRhoSteps::Options edm = EdmRhoSteps::ForRange(0.002, 80, 7);
  EXPECT_EQ(EdmRhoSteps::Sigmas(18, edm), EdmRhoSteps::Sigmas(18, EdmRhoSteps::Options()));
}

TEST(SamplerConfigTest, NamesPickSolverAndDiscretization) {
  const RangedDenoiser d{0, INFINITY};
  SamplerConfig c;
  c.solver = "euler";
  c.discretization = "iddpm";
  c.num_steps = 10;
  ASSERT_TRUE(VisitSampler(c, d, [&](const auto& sampler) {
                using S = std::decay_t<decltype(sampler)>;
                EXPECT_TRUE((std::is_same_v<S, EdmSampler<EulerSolver, IddpmSteps>>));
                EXPECT_EQ(sampler.nfe(), 10);
                return absl::OkStatus();
              }).ok());
  c.solver = "rk4";
  absl::Status s = VisitSampler(c, d, [](const auto&) { return absl::OkStatus(); });
  EXPECT_EQ(s.message(), "--solver: unknown solver 'rk4' (expected one of: heun, euler)");
  c.solver = "heun";
  c.discretization = "cosine";
  EXPECT_EQ(VisitSampler(c, d, [](const auto&) { return absl::OkStatus(); }).message(),
            "--discretization: unknown discretization 'cosine' (expected one of: edm, vp, ve, iddpm)");
  c.discretization = "edm";
  c.sigma_min = 90;
  c.sigma_max = 80;
  EXPECT_EQ(ValidateSamplerConfig(c).message(), "--sigma_min: must be below --sigma_max");
  c.sigma_max.reset();  // above the default σ_max of 80: empty once resolved
  EXPECT_NE(VisitSampler(c, d, [](const auto&) { return absl::OkStatus(); }).message().find("is empty"),
            std::string::npos);
  c.sigma_min = 0.5;
  EXPECT_NE(VisitSampler(c, RangedDenoiser{0, 0.4}, [](const auto&) { return absl::OkStatus(); }).message().find("empty"),
            std::string::npos);
}

// Samples through VisitSampler equal those of the sampler built by hand.
TEST(SamplerConfigTest, VisitedSamplerIsTheDirectOne) {
  GaussianDenoiser g(torch::zeros({1, 4, 4}), torch::full({1, 4, 4}, 0.5));
  SamplerConfig c;
  c.num_steps = 6;
  torch::Tensor via;
  ASSERT_TRUE(VisitSampler(c, g, [&](const auto& sampler) {
                via = sampler.SampleFromSeeds(g, {1, 2}, {1, 4, 4}, torch::Tensor());
                return absl::OkStatus();
              }).ok());
  SamplerOptions o;
  o.num_steps = 6;
  const torch::Tensor direct = EdmSampler<HeunSolver, EdmRhoSteps>(o).SampleFromSeeds(g, {1, 2}, {1, 4, 4}, torch::Tensor());
  EXPECT_TRUE(torch::equal(via, direct));
}

}  // namespace
}  // namespace diffusion
}  // namespace diffmem
