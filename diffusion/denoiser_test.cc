#include "diffusion/denoiser.h"

#include <torch/nn/cloneable.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <cmath>
#include <memory>

#include "diffusion/preconditioning.h"
#include "gtest/gtest.h"

namespace diffmem {
namespace diffusion {
namespace {

// A network F(x; c_noise, labels) = tanh(x)·(1 + c_noise/10) + label/100,
// recording what it was called with.
struct RecordingNet {
  torch::Tensor last_x, last_c_noise, last_labels;
  torch::Tensor forward(torch::Tensor x, torch::Tensor c_noise, torch::Tensor labels) {
    last_x = x;
    last_c_noise = c_noise;
    last_labels = labels;
    torch::Tensor f = x.tanh() * (1 + c_noise.reshape({-1, 1, 1, 1}) / 10);
    if (labels.defined()) f = f + labels.to(torch::kFloat32).reshape({-1, 1, 1, 1}) / 100;
    return f;
  }
};
using RecordingNetPtr = std::shared_ptr<RecordingNet>;

// A torch module network with one learnable scale.
struct ScaleNetImpl : torch::nn::Cloneable<ScaleNetImpl> {
  ScaleNetImpl() { reset(); }
  void reset() override { scale = register_parameter("scale", torch::full({1}, 2.0)); }
  torch::Tensor forward(torch::Tensor x, torch::Tensor c_noise, torch::Tensor labels) { return scale * x; }
  torch::Tensor scale;
};
TORCH_MODULE(ScaleNet);

static_assert(IsNetwork<RecordingNetPtr>::value, "");
static_assert(IsNetwork<ScaleNet>::value, "");
static_assert(!IsNetwork<int*>::value, "");
static_assert(IsDenoiser<Denoiser<EdmPreconditioner, ScaleNet>>::value, "");
static_assert(IsDenoiser<const Denoiser<EdmPreconditioner, ScaleNet>>::value, "");
static_assert(HasRoundSigma<Denoiser<IddpmPreconditioner, ScaleNet>>::value, "");
static_assert(!IsDenoiser<int>::value, "");

// D = c_skip·x + c_out·F(c_in·x; c_noise), recomputed per sample in double
// from Table 1's EDM formulas.
TEST(DenoiserTest, EdmMatchesFormulaPerSample) {
  auto net = std::make_shared<RecordingNet>();
  Denoiser<EdmPreconditioner, RecordingNetPtr> d(net);
  torch::manual_seed(0);
  torch::Tensor x = torch::randn({3, 2, 4, 4});
  torch::Tensor sigma = torch::tensor({0.01f, 0.5f, 30.0f});
  torch::Tensor labels = torch::tensor({1, 7, 3}, torch::kInt64);
  torch::Tensor out = d(x, sigma, labels);
  ASSERT_EQ(out.sizes(), x.sizes());
  ASSERT_EQ(out.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(net->last_labels, labels));
  for (int i = 0; i < 3; ++i) {
    const double s = sigma[i].item<double>(), sd = 0.5, lab = labels[i].item<double>();
    const double c_skip = sd * sd / (s * s + sd * sd), c_out = s * sd / std::sqrt(s * s + sd * sd),
                 c_in = 1 / std::sqrt(s * s + sd * sd), c_noise = std::log(s) / 4;
    EXPECT_NEAR(net->last_c_noise[i].item<double>(), c_noise, 1e-6);
    torch::Tensor xi = x[i].to(torch::kFloat64);
    torch::Tensor expected = c_skip * xi + c_out * ((c_in * xi).tanh() * (1 + c_noise / 10) + lab / 100);
    EXPECT_TRUE(torch::allclose(out[i].to(torch::kFloat64), expected, 1e-5, 1e-5)) << i;
  }
}

TEST(DenoiserTest, EdmApproachesIdentityAsSigmaVanishes) {
  Denoiser<EdmPreconditioner, RecordingNetPtr> d(std::make_shared<RecordingNet>());
  torch::manual_seed(1);
  torch::Tensor x = torch::randn({4, 3, 8, 8});
  double previous = 1e9;
  for (double s : {1.0, 1e-1, 1e-2, 1e-3, 1e-4}) {
    const double err = (d(x, torch::full({4}, s), torch::Tensor()) - x).abs().max().item<double>();
    EXPECT_LT(err, previous);
    previous = err;
  }
  EXPECT_LT(previous, 2e-4);
}

TEST(DenoiserTest, UnconditionalAndScalarSigma) {
  auto net = std::make_shared<RecordingNet>();
  Denoiser<VePreconditioner, RecordingNetPtr> d(net);
  torch::Tensor x = torch::ones({2, 1, 2, 2});
  torch::Tensor out = d(x, torch::tensor({2.0f}), torch::Tensor());
  EXPECT_FALSE(net->last_labels.defined());
  // VE: D = x + σ·F(x; ln(σ/2) = 0) = 1 + 2·tanh(1).
  EXPECT_TRUE(torch::allclose(out, torch::full_like(x, 1 + 2 * std::tanh(1.0))));
  EXPECT_EQ(net->last_c_noise.sizes(), torch::IntArrayRef({2}));
}

TEST(DenoiserTest, IddpmRoundsSigmaBeforeNetwork) {
  auto net = std::make_shared<RecordingNet>();
  IddpmPreconditioner p;
  Denoiser<IddpmPreconditioner, RecordingNetPtr> d(net, p);
  const double u = p.sigmas()[500];
  torch::Tensor x = torch::zeros({1, 1, 1, 1});
  torch::Tensor out = d(x, torch::tensor({static_cast<float>(u * 1.0001)}), torch::Tensor());
  EXPECT_EQ(net->last_c_noise.item<float>(), 499.0f);
  EXPECT_NEAR(net->last_x.item<double>(), 0.0, 0);
  EXPECT_DOUBLE_EQ(d.round_sigma(u * 1.0001), u);
  EXPECT_EQ(d.sigma_max(), p.sigmas()[0]);
}

TEST(DenoiserTest, TorchModuleGradientFlows) {
  ScaleNet net;
  Denoiser<VpPreconditioner, ScaleNet> d(net);
  torch::Tensor x = torch::ones({2, 1, 2, 2});
  torch::Tensor out = d(x, torch::tensor({0.75f, 0.75f}), torch::Tensor());
  // VP at σ = 0.75: c_in = 0.8, c_out = −0.75 ⇒ D = x − 0.75·2·0.8·x = −0.2.
  EXPECT_TRUE(torch::allclose(out, torch::full_like(x, -0.2), 1e-6, 1e-6));
  out.sum().backward();
  // ∂/∂scale Σ D = Σ −0.75·0.8·x = −0.6·8.
  EXPECT_NEAR(net->scale.grad().item<double>(), -4.8, 1e-5);
}

}  // namespace
}  // namespace diffusion
}  // namespace diffmem
