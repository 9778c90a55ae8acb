#include "diffusion/edm_sampler.h"

#include <cmath>
#include <vector>

#include "diffusion/gaussian_denoiser.h"
#include "diffusion/preconditioning.h"
#include "diffusion/seeded_noise.h"
#include "diffusion/step_schedules.h"
#include "gtest/gtest.h"

namespace diffmem {
namespace diffusion {
namespace {

constexpr int kSamples = 4096;

// Data N(μ, diag s²) over 2×2×2 "images": μ_k in [−0.5, 0.5], s_k in [0.2, 0.6].
GaussianDenoiser MakeData() {
  return GaussianDenoiser(torch::linspace(-0.5, 0.5, 8).reshape({2, 2, 2}),
                          torch::linspace(0.2, 0.6, 8).reshape({2, 2, 2}));
}

std::vector<uint64_t> Seeds(int n, uint64_t first = 0) {
  std::vector<uint64_t> s(n);
  for (int i = 0; i < n; ++i) s[i] = first + i;
  return s;
}

// Standardized samples (x − μ)/s must be N(0, 1): pooled mean within 4.5
// standard errors of 0 and pooled variance within 4.5 standard errors of 1;
// each dimension's mean and variance within 5 of its own standard errors.
void ExpectMatchesData(const torch::Tensor& x, const GaussianDenoiser& data) {
  ASSERT_EQ(x.scalar_type(), torch::kFloat32);
  torch::Tensor z = ((x - data.mean()) / data.variance().sqrt()).to(torch::kFloat64).reshape({x.size(0), -1});
  const double n = z.size(0), count = z.numel();
  EXPECT_NEAR(z.mean().item<double>(), 0.0, 4.5 / std::sqrt(count));
  EXPECT_NEAR(z.var().item<double>(), 1.0, 4.5 * std::sqrt(2 / count));
  torch::Tensor mean_k = z.mean(0), var_k = z.var(0);
  EXPECT_LT(mean_k.abs().max().item<double>(), 5 / std::sqrt(n)) << mean_k;
  EXPECT_LT((var_k - 1).abs().max().item<double>(), 5 * std::sqrt(2 / n)) << var_k;
}

TEST(EdmSamplerTest, HeunDeterministicMatchesGaussian) {
  const GaussianDenoiser data = MakeData();
  SamplerOptions o;
  o.num_steps = 256;
  EdmSampler<HeunSolver, EdmRhoSteps> sampler(o);
  ExpectMatchesData(sampler.SampleFromSeeds(data, Seeds(kSamples), {2, 2, 2}, torch::Tensor()), data);
}

TEST(EdmSamplerTest, EulerDeterministicMatchesGaussian) {
  const GaussianDenoiser data = MakeData();
  SamplerOptions o;
  o.num_steps = 2048;
  EdmSampler<EulerSolver, EdmRhoSteps> sampler(o);
  ExpectMatchesData(sampler.SampleFromSeeds(data, Seeds(kSamples, 10000), {2, 2, 2}, torch::Tensor()), data);
}

TEST(EdmSamplerTest, HeunWithChurnMatchesGaussian) {
  const GaussianDenoiser data = MakeData();
  SamplerOptions o;
  o.num_steps = 256;
  o.s_churn = 40;
  o.s_min = 0.05;
  o.s_max = 50;
  EdmSampler<HeunSolver, EdmRhoSteps> sampler(o);
  ExpectMatchesData(sampler.SampleFromSeeds(data, Seeds(kSamples, 20000), {2, 2, 2}, torch::Tensor()), data);
}

TEST(EdmSamplerTest, EulerWithChurnMatchesGaussian) {
  const GaussianDenoiser data = MakeData();
  SamplerOptions o;
  o.num_steps = 2048;  // Euler at 512 steps misses the variance by ~7%
  o.s_churn = 80;
  o.s_min = 0.05;      // churn where σ ~ s (≈ 640 of the steps)
  o.s_max = 2;
  EdmSampler<EulerSolver, EdmRhoSteps> sampler(o);
  ExpectMatchesData(sampler.SampleFromSeeds(data, Seeds(kSamples, 30000), {2, 2, 2}, torch::Tensor()), data);
}

// For the linear ODE of Gaussian data each deterministic step multiplies
// x − μ by a scalar; recompute Algorithm 2's recurrence per dimension in
// double and compare sample by sample at the default 18 steps.
template <class Solver>
void ExpectExactLinearRecurrence() {
  const GaussianDenoiser data = MakeData();
  EdmSampler<Solver, EdmRhoSteps> sampler;
  const std::vector<double> t = sampler.sigmas();
  PerSeedNoise noise(Seeds(16, 77));
  torch::Tensor z = noise.Randn({2, 2, 2});
  torch::Tensor x = sampler.Sample(data, z, torch::Tensor(), nullptr).reshape({16, 8}).to(torch::kFloat64);
  torch::Tensor mu = data.mean().reshape({8}).to(torch::kFloat64);
  torch::Tensor var = data.variance().reshape({8}).to(torch::kFloat64);
  for (int k = 0; k < 8; ++k) {
    const double s2 = var[k].item<double>();
    double f = 1;
    for (int i = 0; i < 18; ++i) {
      const double c = t[i], nx = t[i + 1];
      const double d = c / (s2 + c * c);  // slope/(x − μ) at σ = c
      double step = 1 + (nx - c) * d;
      if (Solver::kOrder == 2 && nx > 0) step = 1 + (nx - c) * (0.5 * d + 0.5 * nx / (s2 + nx * nx) * step);
      f *= step;
    }
    torch::Tensor expected = mu[k] + (t[0] * z.reshape({16, 8}).select(1, k).to(torch::kFloat64) - mu[k]) * f;
    EXPECT_TRUE(torch::allclose(x.select(1, k), expected, 1e-5, 1e-5)) << k;
  }
}

TEST(EdmSamplerTest, HeunFollowsAlgorithm2Exactly) { ExpectExactLinearRecurrence<HeunSolver>(); }
TEST(EdmSamplerTest, EulerFollowsAlgorithm2Exactly) { ExpectExactLinearRecurrence<EulerSolver>(); }

TEST(EdmSamplerTest, DeterministicPerSeedEvenWithChurn) {
  const GaussianDenoiser data = MakeData();
  SamplerOptions o;
  o.s_churn = 10;
  EdmSampler<HeunSolver, EdmRhoSteps> sampler(o);
  torch::Tensor a = sampler.SampleFromSeeds(data, {5, 6, 7}, {2, 2, 2}, torch::Tensor());
  torch::Tensor b = sampler.SampleFromSeeds(data, {5, 6, 7}, {2, 2, 2}, torch::Tensor());
  torch::Tensor c = sampler.SampleFromSeeds(data, {9, 6}, {2, 2, 2}, torch::Tensor());
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_TRUE(torch::equal(a[1], c[1]));  // image of seed 6 independent of its batch
  EXPECT_FALSE(torch::equal(a[0], a[2]));
}

TEST(EdmSamplerTest, ChurnWithoutNoiseSourceThrows) {
  const GaussianDenoiser data = MakeData();
  SamplerOptions o;
  o.s_churn = 10;
  EdmSampler<EulerSolver, EdmRhoSteps> sampler(o);
  EXPECT_THROW(sampler.Sample(data, torch::randn({2, 2, 2, 2}), torch::Tensor(), nullptr), std::invalid_argument);
}

// Counts evaluations, checks labels and σ arrive, delegates to the data.
struct CountingDenoiser {
  GaussianDenoiser data = MakeData();
  torch::Tensor expected_labels;
  std::vector<double> seen_sigma;
  torch::Tensor operator()(const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor& labels) {
    EXPECT_EQ(x.scalar_type(), torch::kFloat32);
    EXPECT_EQ(sigma.sizes(), torch::IntArrayRef({x.size(0)}));
    EXPECT_TRUE(torch::equal(labels, expected_labels));
    seen_sigma.push_back(sigma[0].item<double>());
    return data(x, sigma, labels);
  }
};

TEST(EdmSamplerTest, NfeLabelsAndCallback) {
  CountingDenoiser d;
  d.expected_labels = torch::tensor({3, 1}, torch::kInt64);
  EdmSampler<HeunSolver, EdmRhoSteps> heun;
  std::vector<int> steps;
  std::vector<double> sigmas;
  heun.SampleFromSeeds(d, {0, 1}, {2, 2, 2}, d.expected_labels, torch::kCPU, [&](int i, double s) {
    steps.push_back(i);
    sigmas.push_back(s);
  });
  EXPECT_EQ(heun.nfe(), 35);
  EXPECT_EQ(d.seen_sigma.size(), 35u);
  ASSERT_EQ(steps.size(), 18u);
  for (int i = 0; i < 18; ++i) {
    EXPECT_EQ(steps[i], i);
    EXPECT_DOUBLE_EQ(sigmas[i], heun.sigmas()[i + 1]);
  }
  EXPECT_EQ(sigmas.back(), 0.0);
  EXPECT_NEAR(d.seen_sigma.front(), 80, 1e-4);

  d.seen_sigma.clear();
  EdmSampler<EulerSolver, VeSteps> euler(SamplerOptions(), VeSteps::Options{0.02, 100});
  euler.SampleFromSeeds(d, {0, 1}, {2, 2, 2}, d.expected_labels);
  EXPECT_EQ(euler.nfe(), 18);
  EXPECT_EQ(d.seen_sigma.size(), 18u);
  EXPECT_NEAR(d.seen_sigma.front(), 100, 1e-4);
}

// A denoiser with a discrete σ set and a σ range: the sampler clamps then snaps.
struct SnappingDenoiser {
  GaussianDenoiser data = MakeData();
  double round_sigma(double s) const { return std::round(s * 10) / 10; }
  double sigma_min() const { return 0.1; }
  double sigma_max() const { return 20; }
  torch::Tensor operator()(const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor& labels) const {
    return data(x, sigma, labels);
  }
};

TEST(EdmSamplerTest, SigmasClampedAndRoundedByDenoiser) {
  SnappingDenoiser d;
  EdmSampler<HeunSolver, EdmRhoSteps> sampler;
  const std::vector<double> t = sampler.SigmasFor(d);
  ASSERT_EQ(t.size(), 19u);
  EXPECT_DOUBLE_EQ(t[0], 20.0);
  EXPECT_DOUBLE_EQ(t[17], 0.1);
  EXPECT_EQ(t[18], 0.0);
  for (size_t i = 0; i + 1 < t.size(); ++i) EXPECT_NEAR(t[i] * 10, std::round(t[i] * 10), 1e-9);
  torch::Tensor x = sampler.SampleFromSeeds(d, {1, 2}, {2, 2, 2}, torch::Tensor());
  EXPECT_TRUE(torch::isfinite(x).all().item<bool>());
}

TEST(EdmSamplerTest, StepMatchesSample) {
  const GaussianDenoiser data = MakeData();
  SamplerOptions o;
  o.num_steps = 5;
  EdmSampler<HeunSolver, IddpmSteps> sampler(o);
  torch::Tensor z = torch::randn({3, 2, 2, 2});
  torch::Tensor x = z.to(torch::kFloat64) * sampler.sigmas()[0];
  for (int i = 0; i < 5; ++i) x = sampler.Step(data, x, i, torch::Tensor(), nullptr);
  EXPECT_TRUE(torch::allclose(x.to(torch::kFloat32), sampler.Sample(data, z, torch::Tensor(), nullptr)));
  EXPECT_THROW(sampler.Step(data, x, 5, torch::Tensor(), nullptr), std::out_of_range);
}

// Steps through a reused workspace (alternating buffers), with churn, equal
// the fresh-tensor steps and Sample, and never write their input.
TEST(EdmSamplerTest, WorkspaceStepsMatchFreshSteps) {
  const GaussianDenoiser data = MakeData();
  SamplerOptions o;
  o.num_steps = 6;
  o.s_churn = 5;
  EdmSampler<HeunSolver, EdmRhoSteps> sampler(o);
  PerSeedNoise n1({4, 5, 6}), n2({4, 5, 6}), n3({4, 5, 6});
  torch::Tensor z = n1.Randn({2, 2, 2});
  n2.Randn({2, 2, 2});  // every stream starts past the latents
  n3.Randn({2, 2, 2});
  torch::Tensor fresh = z.to(torch::kFloat64) * sampler.sigmas()[0];
  torch::Tensor reused = fresh.clone(), input_copy = fresh.clone(), input = fresh;
  EdmSampler<HeunSolver, EdmRhoSteps>::Workspace ws;
  for (int i = 0; i < 6; ++i) {
    torch::Tensor before = reused.clone();
    fresh = sampler.Step(data, fresh, i, torch::Tensor(), &n1);
    torch::Tensor next = sampler.Step(data, reused, i, torch::Tensor(), &n2, &ws);
    EXPECT_TRUE(torch::equal(reused, before)) << i;  // input untouched
    EXPECT_TRUE(torch::equal(next, fresh)) << i;
    reused = next;
  }
  EXPECT_TRUE(torch::equal(input, input_copy));
  EXPECT_TRUE(torch::equal(fresh.to(torch::kFloat32), sampler.Sample(data, z, torch::Tensor(), &n3)));
}

}  // namespace
}  // namespace diffusion
}  // namespace diffmem
