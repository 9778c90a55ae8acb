#include "diffusion/loss.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <cmath>

#include "diffusion/denoiser.h"
#include "diffusion/gaussian_denoiser.h"
#include "diffusion/preconditioning.h"
#include "gtest/gtest.h"

namespace diffmem {
namespace diffusion {
namespace {

struct LinearNetImpl : torch::nn::Cloneable<LinearNetImpl> {
  LinearNetImpl() { reset(); }
  void reset() override {
    a = register_parameter("a", torch::full({1}, 0.3));
    b = register_parameter("b", torch::zeros({4}));
  }
  torch::Tensor forward(torch::Tensor x, torch::Tensor c_noise, torch::Tensor labels) {
    torch::Tensor out = a * x;
    if (labels.defined()) out = out + b.index_select(0, labels).reshape({-1, 1, 1, 1});
    return out;
  }
  torch::Tensor a, b;
};
TORCH_MODULE(LinearNet);

// The loss is λ(σ)·‖D(y + σn) − y‖² with σ then n drawn from the generator:
// recompute it by hand from a generator with the same seed.
TEST(DenoisingLossTest, MatchesDefinitionPerSample) {
  LinearNet net;
  EdmPreconditioner p;
  Denoiser<EdmPreconditioner, LinearNet> d(net, p);
  torch::manual_seed(3);
  torch::Tensor y = torch::rand({6, 2, 3, 3}) * 2 - 1;
  torch::Tensor labels = torch::tensor({0, 1, 2, 3, 0, 1}, torch::kInt64);
  at::Generator g1 = at::detail::createCPUGenerator(11), g2 = at::detail::createCPUGenerator(11);
  torch::Tensor loss = DenoisingLoss(d, y, labels, g1, LossReduction::kPerSample);
  ASSERT_EQ(loss.sizes(), torch::IntArrayRef({6}));

  torch::Tensor sigma = p.sample_training_sigma(6, g2).to(torch::kFloat64);
  torch::Tensor n = torch::randn({6, 2, 3, 3}, g2).to(torch::kFloat64);
  for (int i = 0; i < 6; ++i) {
    const double s = sigma[i].item<double>(), sd = 0.5;
    torch::Tensor x = y[i].to(torch::kFloat64) + s * n[i];
    // F(c_in x) = 0.3·c_in·x (labels hit b = 0).
    torch::Tensor dx = sd * sd / (s * s + sd * sd) * x + s * sd / std::sqrt(s * s + sd * sd) * 0.3 * x /
                                                          std::sqrt(s * s + sd * sd);
    const double expected = (s * s + sd * sd) / (s * s * sd * sd) * (dx - y[i].to(torch::kFloat64)).square().sum().item<double>();
    EXPECT_NEAR(loss[i].item<double>(), expected, 1e-4 * expected) << i;
  }
  at::Generator g3 = at::detail::createCPUGenerator(11);
  EXPECT_NEAR(DenoisingLoss(d, y, labels, g3).item<double>(), loss.mean().item<double>(), 1e-6);
}

// Data parallelism: a rank draws the global batch's σ and noise and takes its
// rows; its per-image losses are those of the whole batch's rows.
TEST(DenoisingLossTest, RowsOfAGlobalDrawGiveTheWholeBatchsLosses) {
  LinearNet net;
  EdmPreconditioner p;
  Denoiser<EdmPreconditioner, LinearNet> d(net, p);
  torch::manual_seed(4);
  torch::Tensor y = torch::rand({6, 2, 3, 3}) * 2 - 1;
  torch::Tensor labels = torch::tensor({0, 1, 2, 3, 0, 1}, torch::kInt64);
  at::Generator g1 = at::detail::createCPUGenerator(12), g2 = at::detail::createCPUGenerator(12);
  torch::Tensor whole = DenoisingLoss(d, y, labels, g1, LossReduction::kPerSample);
  TrainingNoise drawn = DrawTrainingNoise(p, y.sizes(), g2);
  TrainingNoise rows{drawn.sigma.slice(0, 2, 5), drawn.noise.slice(0, 2, 5)};
  torch::Tensor part = DenoisingLossWithNoise(p, d, y.slice(0, 2, 5), labels.slice(0, 2, 5), rows,
                                              LossReduction::kPerSample);
  EXPECT_TRUE(torch::equal(part, whole.slice(0, 2, 5))) << part << whole;
  EXPECT_THROW(DenoisingLossWithNoise(p, d, y, labels, rows), std::invalid_argument);
}

TEST(DenoisingLossTest, DeterministicAndDifferentiable) {
  LinearNet net;
  Denoiser<VpPreconditioner, LinearNet> d(net);
  torch::Tensor y = torch::zeros({4, 1, 2, 2}).uniform_(-1, 1);
  torch::Tensor labels = torch::tensor({3, 2, 1, 0}, torch::kInt64);
  at::Generator a = at::detail::createCPUGenerator(5), b = at::detail::createCPUGenerator(5);
  torch::Tensor la = DenoisingLoss(d, y, labels, a), lb = DenoisingLoss(d, y, labels, b);
  EXPECT_EQ(la.item<float>(), lb.item<float>());
  la.backward();
  EXPECT_TRUE(net->a.grad().defined());
  EXPECT_GT(net->a.grad().abs().item<double>(), 0);
  EXPECT_GT(net->b.grad().abs().sum().item<double>(), 0);  // labels reach the network
}

// With data N(μ, s²) and the ideal denoiser, E‖D − y‖² per element is the
// posterior variance s²σ²/(s² + σ²), so for EDM E[loss] =
// d · E_σ[λ(σ) s²σ²/(s²+σ²)]; compare the Monte Carlo mean with that
// expectation, itself averaged over the same σ draws' distribution.
TEST(DenoisingLossTest, IdealDenoiserGivesPosteriorVariance) {
  const double s = 0.4, mu = 0.1;
  const int64_t n = 20000, dims = 16;
  GaussianDenoiser ideal(torch::full({1, 4, 4}, mu), torch::full({1, 4, 4}, s));
  EdmPreconditioner p;
  at::Generator g = at::detail::createCPUGenerator(21);
  torch::Tensor y = mu + s * torch::randn({n, 1, 4, 4}, g);
  torch::Tensor loss = DenoisingLoss(p, ideal, y, torch::Tensor(), g, LossReduction::kPerSample).to(torch::kFloat64);
  // Expected value by quadrature over ln σ ~ N(−1.2, 1.2²).
  double expected = 0;
  const int k = 4001;
  for (int i = 0; i < k; ++i) {
    const double z = -8 + 16.0 * i / (k - 1), w = std::exp(-0.5 * z * z) / std::sqrt(2 * M_PI) * 16.0 / (k - 1);
    const double sigma = std::exp(-1.2 + 1.2 * z), sd2 = 0.25;
    expected += w * (sigma * sigma + sd2) / (sigma * sigma * sd2) * dims * s * s * sigma * sigma / (s * s + sigma * sigma);
  }
  const double se = loss.std().item<double>() / std::sqrt(double(n));
  EXPECT_NEAR(loss.mean().item<double>(), expected, 4.5 * se);
}

}  // namespace
}  // namespace diffusion
}  // namespace diffmem
