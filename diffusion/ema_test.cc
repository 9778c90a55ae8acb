#include "diffusion/ema.h"

#include <torch/nn/cloneable.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <cmath>

#include "gtest/gtest.h"

namespace diffmem {
namespace diffusion {
namespace {

struct TinyNetImpl : torch::nn::Cloneable<TinyNetImpl> {
  TinyNetImpl() { reset(); }
  void reset() override {
    w = register_parameter("w", torch::randn({3, 2}));
    stat = register_buffer("stat", torch::zeros({2}));
    count = register_buffer("count", torch::zeros({1}, torch::kInt64));
  }
  torch::Tensor forward(torch::Tensor x, torch::Tensor c_noise, torch::Tensor labels) { return x.matmul(w); }
  torch::Tensor w, stat, count;
};
TORCH_MODULE(TinyNet);

void Fill(TinyNet& net, double v) {
  torch::NoGradGuard g;
  net->w.fill_(v);
  net->stat.fill_(v);
  net->count.fill_(static_cast<int64_t>(v));
}

TEST(EmaTest, ConstantParameterStaysConstant) {
  TinyNet net;
  Fill(net, 1.5);
  Ema<TinyNet> ema(net);
  for (int k = 0; k < 50; ++k) ema.Update(net, 0.99);
  EXPECT_TRUE(torch::allclose(ema.model()->w, torch::full({3, 2}, 1.5f)));
  EXPECT_TRUE(torch::allclose(ema.model()->stat, torch::full({2}, 1.5f)));
}

TEST(EmaTest, GeometricApproachToNewConstant) {
  TinyNet net;
  Fill(net, 1.0);
  Ema<TinyNet> ema(net);
  Fill(net, 3.0);
  for (int k = 0; k < 10; ++k) ema.Update(net, 0.8);
  // e_k − c = β^k (e_0 − c).
  const double expected = 3.0 + std::pow(0.8, 10) * (1.0 - 3.0);
  EXPECT_NEAR(ema.model()->w[1][1].item<double>(), expected, 1e-5);
  EXPECT_NEAR(ema.model()->stat[0].item<double>(), expected, 1e-5);
  EXPECT_EQ(ema.model()->count.item<int64_t>(), 3);  // integer buffers copied
  ema.Update(net, 0.0);
  EXPECT_TRUE(torch::allclose(ema.model()->w, net->w));
}

TEST(EmaTest, DeepCopyWithoutGradientUsableAsNetwork) {
  TinyNet net;
  Ema<TinyNet> ema(net);
  EXPECT_FALSE(ema.model()->w.requires_grad());
  EXPECT_TRUE(net->w.requires_grad());
  torch::Tensor before = ema.model()->w.clone();
  Fill(net, 7.0);
  EXPECT_TRUE(torch::equal(ema.model()->w, before));
  torch::Tensor x = torch::ones({4, 3});
  EXPECT_TRUE(torch::allclose(ema.model()->forward(x, torch::Tensor(), torch::Tensor()), x.matmul(before)));
  EXPECT_THROW(ema.Update(net, 1.5), std::invalid_argument);
}

TEST(EmaTest, HalfLifeBetaFormula) {
  EmaHalfLife h;  // 500 kimg, ramp-up 0.05
  // Past the ramp-up: β = 0.5^(batch / 500 000).
  EXPECT_DOUBLE_EQ(HalfLifeBeta(512, 100000000, h), std::pow(0.5, 512.0 / 500000));
  // During ramp-up the half-life is 0.05·cur_nimg = 500 images.
  EXPECT_DOUBLE_EQ(HalfLifeBeta(512, 10000, h), std::pow(0.5, 512.0 / 500));
  EXPECT_EQ(HalfLifeBeta(512, 0, h), 0.0);  // the first step copies the network
  EmaHalfLife no_rampup{2.0, 0.0};
  EXPECT_DOUBLE_EQ(HalfLifeBeta(100, 0, no_rampup), std::pow(0.5, 100.0 / 2000));
}

// After one half-life of images the distance to a new constant halves.
TEST(EmaTest, HalfLifeHalvesDistance) {
  TinyNet net;
  Fill(net, 0.0);
  Ema<TinyNet> ema(net);
  Fill(net, 1.0);
  const EmaHalfLife h{1.0, 0.0};  // 1000 images
  int64_t nimg = 0;
  for (int k = 0; k < 10; ++k, nimg += 100) ema.UpdateHalfLife(net, 100, nimg, h);
  EXPECT_NEAR(ema.model()->w[0][0].item<double>(), 0.5, 1e-5);
  for (int k = 0; k < 10; ++k, nimg += 100) ema.UpdateHalfLife(net, 100, nimg, h);
  EXPECT_NEAR(ema.model()->w[0][0].item<double>(), 0.75, 1e-5);
}

}  // namespace
}  // namespace diffusion
}  // namespace diffmem
