#include "training/ema.h"

#include <torch/nn/cloneable.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <cmath>

#include "gtest/gtest.h"
#include "networks/unet.h"
#include "training/flat_parameters.h"

namespace diffmem {
namespace training {
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

// The EMA copy lives in flat buffers; whether the trained network is flat
// in the same layout (one pass) or not (one pass per tensor), every update
// equals the per-tensor p.lerp(p_ema, β) bit for bit.
TEST(EmaTest, FlatUpdatesEqualThePerTensorLerpBitForBit) {
  const networks::UNetOptions o =
      networks::UNetOptions(8, 1, 1).model_channels(8).channel_mult({1, 2}).num_blocks(1).attn_resolutions({8}).dropout(0);
  for (bool flat_net : {true, false}) {
    torch::manual_seed(5);
    networks::UNet<networks::DdpmppSpec> net(o);
    FlatParameters flat;
    if (flat_net) flat = FlatParameters(net->parameters(), /*with_gradients=*/true);
    Ema<networks::UNet<networks::DdpmppSpec>> ema(net);
    EXPECT_TRUE(ema.flat().ValuesAttached());
    std::vector<torch::Tensor> reference;
    for (const torch::Tensor& p : net->parameters()) reference.push_back(p.detach().clone());
    for (double beta : {0.999, 0.99929, 0.9, 0.3, 0.0, 1.0}) {
      {
        torch::NoGradGuard no_grad;
        for (torch::Tensor& p : net->parameters()) p.add_(torch::randn_like(p).mul_(0.1));
      }
      ema.Update(net, beta);
      for (size_t i = 0; i < reference.size(); ++i) {
        reference[i] = net->parameters()[i].detach().lerp(reference[i], beta);
        ASSERT_TRUE(ema.model()->parameters()[i].view(torch::kInt32).equal(reference[i].view(torch::kInt32)))
            << "flat net " << flat_net << " beta " << beta << " parameter " << i;
      }
    }
    EXPECT_TRUE(ema.flat().ValuesAttached());
    if (flat_net) {
      EXPECT_TRUE(flat.ValuesAttached());
    }
  }
}

}  // namespace
}  // namespace training
}  // namespace diffmem
