#include "networks/num_parameters.h"
#include "networks/unet.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <torch/nn/functional/pooling.h>

#include <cmath>

#include "networks/unet_layers.h"

namespace diffmem {
namespace networks {
namespace {

// ---- Parameter counts from the architecture description (EDM's SongUNet) ----
int64_t Conv(int64_t cin, int64_t cout, int64_t k) { return cin * cout * k * k + cout; }
int64_t Lin(int64_t in, int64_t out) { return in * out + out; }
int64_t Gn(int64_t c) { return 2 * c; }
int64_t Block(int64_t cin, int64_t cout, int64_t emb, bool resample, bool attn) {
  int64_t n = Gn(cin) + Conv(cin, cout, 3) + Lin(emb, cout) + Gn(cout) + Conv(cout, cout, 3);
  if (cin != cout || resample) n += Conv(cin, cout, 1);
  if (attn) n += Gn(cout) + Conv(cout, 3 * cout, 1) + Conv(cout, cout, 1);
  return n;
}

// Walks the SongUNet layout: encoder (conv, then per level [down block,
// aux residual conv], blocks), middle (in0 with attention, in1), decoder
// (up block, num_blocks+1 blocks taking a skip each), output GN + conv.
int64_t ExpectedParameters(const UNetOptions& o, int64_t mult_noise, bool residual_encoder) {
  const int64_t mc = o.model_channels(), emb = mc * o.channel_mult_emb(), noise = mc * mult_noise;
  const int64_t levels = o.channel_mult().size();
  auto attn_at = [&](int64_t res) {
    for (int64_t r : o.attn_resolutions()) if (r == res) return true;
    return false;
  };
  int64_t n = Lin(noise, emb) + Lin(emb, emb) + (o.label_dim() > 0 ? Lin(o.label_dim(), noise) : 0);
  std::vector<int64_t> skips;
  int64_t c = mc, caux = o.in_channels();
  n += Conv(o.in_channels(), mc, 3);
  skips.push_back(mc);
  for (int64_t l = 0; l < levels; ++l) {
    const int64_t res = o.img_resolution() >> l;
    if (l > 0) {
      n += Block(c, c, emb, true, false);
      if (residual_encoder) n += Conv(caux, c, 3), caux = c;
      skips.push_back(c);
    }
    for (int64_t b = 0; b < o.num_blocks(); ++b) {
      const int64_t out = mc * o.channel_mult()[l];
      n += Block(c, out, emb, false, attn_at(res));
      c = out;
      skips.push_back(c);
    }
  }
  n += Block(c, c, emb, false, true) + Block(c, c, emb, false, false);
  for (int64_t l = levels - 1; l >= 0; --l) {
    const int64_t res = o.img_resolution() >> l;
    if (l < levels - 1) n += Block(c, c, emb, true, false);
    for (int64_t b = 0; b <= o.num_blocks(); ++b) {
      const int64_t out = mc * o.channel_mult()[l];
      n += Block(c + skips.back(), out, emb, false, b == o.num_blocks() && attn_at(res));
      skips.pop_back();
      c = out;
    }
  }
  EXPECT_TRUE(skips.empty());
  return n + Gn(c) + Conv(c, o.out_channels(), 3);
}

// Replaces every parameter by N(0, 0.2²), so that zero-initialised branches
// (the EDM init) do not hide differences between variants.
void Randomize(torch::nn::Module& m, uint64_t seed) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(seed);
  for (torch::Tensor& p : m.parameters()) p.normal_(0, 0.2);
}

UNetOptions Small(int64_t res = 8) {
  return UNetOptions(res, 1, 1).model_channels(16).channel_mult({1, 2}).num_blocks(1).attn_resolutions({}).dropout(0);
}

class UNetTest : public ::testing::Test {
 protected:
  void SetUp() override { at::set_num_threads(2); }
};

TEST_F(UNetTest, ShapesForSeveralSpecs) {
  torch::manual_seed(0);
  torch::Tensor c = torch::randn({3});
  torch::Tensor labels = torch::tensor({0, 2, 1}, torch::kInt64);
  {
    UNet<DdpmppSpec> net(Small());
    EXPECT_EQ(net->forward(torch::randn({3, 1, 8, 8}), c, {}).sizes(), (std::vector<int64_t>{3, 1, 8, 8}));
  }
  {
    UNet<NcsnppSpec> net(UNetOptions(16, 3, 2).model_channels(8).channel_mult({1, 2, 2}).num_blocks(2)
                             .attn_resolutions({8}).label_dim(3));
    EXPECT_EQ(net->forward(torch::randn({3, 3, 16, 16}), c, labels).sizes(), (std::vector<int64_t>{3, 2, 16, 16}));
  }
  {
    UNet<DdpmppSpec> net(UNetOptions(12, 3, 3).model_channels(12).channel_mult({1, 1, 2}).num_blocks(1)
                             .attn_resolutions({6, 3}).embedding(NoiseEmbedding::kFourier));
    EXPECT_EQ(net->forward(torch::randn({3, 3, 12, 12}), c, {}).sizes(), (std::vector<int64_t>{3, 3, 12, 12}));
  }
}

TEST_F(UNetTest, ParameterCountsMatchTheLayoutFormula) {
  struct Case {
    UNetOptions o;
    bool ncsnpp;
  };
  std::vector<Case> cases = {
      {Small(), false},
      {Small(), true},
      {UNetOptions(16, 1, 1).model_channels(32).channel_mult({1, 2}).num_blocks(2).attn_resolutions({}), false},
      {UNetOptions(16, 3, 3).model_channels(8).channel_mult({1, 2, 2}).num_blocks(2).attn_resolutions({8}).label_dim(10),
       true},
      {UNetOptions(32, 3, 3).model_channels(16).channel_mult({2, 2, 2}).num_blocks(2).attn_resolutions({16}).label_dim(5),
       false},
  };
  for (const Case& k : cases) {
    int64_t got;
    if (k.ncsnpp) {
      got = NumParameters(*UNet<NcsnppSpec>(k.o));
      EXPECT_EQ(got, ExpectedParameters(k.o, 2, true));
    } else {
      got = NumParameters(*UNet<DdpmppSpec>(k.o));
      EXPECT_EQ(got, ExpectedParameters(k.o, 1, false));
    }
  }
  // The embedding type does not change the count (Fourier frequencies are a buffer).
  EXPECT_EQ(NumParameters(*UNet<DdpmppSpec>(Small().embedding(NoiseEmbedding::kFourier))),
            NumParameters(*UNet<DdpmppSpec>(Small())));
}

TEST_F(UNetTest, DisabledSkipChangesOutputButNotParameterCount) {
  UNetOptions o = Small();
  ASSERT_EQ(NumSkips(o), 4);
  torch::manual_seed(1);
  torch::Tensor x = torch::randn({2, 1, 8, 8}), c = torch::randn({2});
  UNet<DdpmppSpec> all_on(o);
  Randomize(*all_on, 7);
  const torch::Tensor y_on = all_on->forward(x, c, {});
  for (int64_t k = 0; k < NumSkips(o); ++k) {
    std::vector<bool> mask(NumSkips(o), true);
    mask[k] = false;
    UNet<DdpmppSpec> off(UNetOptions(o).skip_mask(mask));
    EXPECT_EQ(NumParameters(*off), NumParameters(*all_on));
    Randomize(*off, 7);  // same weights as all_on
    const torch::Tensor y_off = off->forward(x, c, {});
    EXPECT_GT((y_off - y_on).abs().max().item<double>(), 1e-3 * y_on.abs().max().item<double>()) << "skip " << k;
  }
  // An all-true mask is the same network as no mask.
  UNet<DdpmppSpec> explicit_on(UNetOptions(o).skip_mask(std::vector<bool>(NumSkips(o), true)));
  Randomize(*explicit_on, 7);
  EXPECT_TRUE(torch::equal(explicit_on->forward(x, c, {}), y_on));
}

TEST_F(UNetTest, LabelsChangeOutputs) {
  torch::manual_seed(2);
  UNet<DdpmppSpec> net(Small().label_dim(4));
  Randomize(*net, 3);
  torch::Tensor x = torch::randn({1, 1, 8, 8}).expand({4, 1, 8, 8}).contiguous();
  torch::Tensor c = torch::full({4}, 0.3);
  torch::Tensor y = net->forward(x, c, torch::tensor({0, 1, 2, 0}, torch::kInt64));
  EXPECT_TRUE(torch::allclose(y[0], y[3], 1e-5, 1e-6));  // same label, same output
  EXPECT_GT((y[0] - y[1]).abs().max().item<double>(), 1e-3);
  EXPECT_GT((y[1] - y[2]).abs().max().item<double>(), 1e-3);
}

TEST_F(UNetTest, LabelEmbeddingIsScaledOneHotTimesWeight) {
  // A conditional net with label l equals the same net fed no label after
  // the one-hot product √d·W·e_l has been folded into the bias.
  torch::manual_seed(4);
  UNet<NcsnppSpec> net(Small().label_dim(3));
  Randomize(*net, 5);
  torch::Tensor x = torch::randn({2, 1, 8, 8}), c = torch::randn({2});
  torch::Tensor with_label = net->forward(x, c, torch::tensor({2, 2}, torch::kInt64));
  {
    torch::NoGradGuard no_grad;
    torch::Tensor one_hot = torch::zeros({3});
    one_hot[2] = std::sqrt(3.0);
    net->map_label->bias.add_(torch::mv(net->map_label->weight, one_hot));
  }
  EXPECT_TRUE(torch::allclose(net->forward(x, c, {}), with_label, 1e-4, 1e-5));
}

TEST_F(UNetTest, CloneIsIndependentCopy) {
  torch::manual_seed(5);
  UNet<NcsnppSpec> net(Small());
  Randomize(*net, 1);
  auto copy = std::dynamic_pointer_cast<UNetImpl<NcsnppSpec>>(net->clone());
  torch::Tensor x = torch::randn({2, 1, 8, 8}), c = torch::randn({2});
  EXPECT_TRUE(torch::equal(copy->forward(x, c, {}), net->forward(x, c, {})));
  {
    torch::NoGradGuard no_grad;
    copy->out_conv->bias.add_(1.0);
  }
  EXPECT_FALSE(torch::equal(copy->forward(x, c, {}), net->forward(x, c, {})));
}

TEST_F(UNetTest, DropoutOnlyInTraining) {
  torch::manual_seed(6);
  UNet<DdpmppSpec> net(Small().dropout(0.5));
  Randomize(*net, 2);
  torch::Tensor x = torch::randn({2, 1, 8, 8}), c = torch::randn({2});
  net->eval();
  EXPECT_TRUE(torch::equal(net->forward(x, c, {}), net->forward(x, c, {})));
  net->train();
  EXPECT_FALSE(torch::equal(net->forward(x, c, {}), net->forward(x, c, {})));
}

TEST_F(UNetTest, InvalidOptionsAreRejected) {
  EXPECT_FALSE(ValidateUNetOptions(UNetOptions(10, 1, 1).channel_mult({1, 2, 2})).ok());  // 10 % 4
  EXPECT_FALSE(ValidateUNetOptions(Small().skip_mask({true, false})).ok());
  EXPECT_FALSE(ValidateUNetOptions(Small().model_channels(6)).ok());
  EXPECT_FALSE(ValidateUNetOptions(Small().num_blocks(0)).ok());
  EXPECT_TRUE(ValidateUNetOptions(Small()).ok());
  EXPECT_THROW(UNet<DdpmppSpec>(UNetOptions(10, 1, 1).channel_mult({1, 2, 2})), c10::Error);
  UNet<DdpmppSpec> net(Small());
  EXPECT_THROW(net->forward(torch::randn({2, 1, 16, 16}), torch::randn({2}), {}), c10::Error);
}

// ---- Layers against closed forms ----

// Brute-force 2× resampling by the separable filter f⊗f/(Σf)², zero padding:
//   down: y[i][j] = Σ_ab g[a][b]·x[2i+a−p][2j+b−p]
//   up:   y[2i+a−p][2j+b−p] += 4·g[a][b]·x[i][j]
torch::Tensor ReferenceResample(const torch::Tensor& x, const std::vector<double>& f, bool up) {
  const int64_t k = f.size(), p = (k - 1) / 2, h = x.size(2), w = x.size(3);
  double sum = 0;
  for (double v : f) sum += v;
  auto xa = x.to(torch::kFloat64).contiguous();
  const int64_t ho = up ? 2 * h : h / 2, wo = up ? 2 * w : w / 2;
  torch::Tensor y = torch::zeros({x.size(0), x.size(1), ho, wo}, torch::kFloat64);
  auto X = xa.accessor<double, 4>();
  auto Y = y.accessor<double, 4>();
  for (int64_t n = 0; n < x.size(0); ++n) {
    for (int64_t c = 0; c < x.size(1); ++c) {
      for (int64_t a = 0; a < k; ++a) {
        for (int64_t b = 0; b < k; ++b) {
          const double g = f[a] * f[b] / (sum * sum);
          if (up) {
            for (int64_t i = 0; i < h; ++i)
              for (int64_t j = 0; j < w; ++j) {
                const int64_t r = 2 * i + a - p, s = 2 * j + b - p;
                if (r >= 0 && r < ho && s >= 0 && s < wo) Y[n][c][r][s] += 4 * g * X[n][c][i][j];
              }
          } else {
            for (int64_t i = 0; i < ho; ++i)
              for (int64_t j = 0; j < wo; ++j) {
                const int64_t r = 2 * i + a - p, s = 2 * j + b - p;
                if (r >= 0 && r < h && s >= 0 && s < w) Y[n][c][i][j] += g * X[n][c][r][s];
              }
          }
        }
      }
    }
  }
  return y;
}

TEST_F(UNetTest, ResamplingMatchesBruteForceFilter) {
  torch::manual_seed(7);
  torch::Tensor x = torch::randn({2, 3, 8, 8});
  for (const std::vector<double>& f : {std::vector<double>{1, 1}, std::vector<double>{1, 3, 3, 1}}) {
    for (bool up : {false, true}) {
      ResampleConv2d r(ResampleConv2dOptions(3, 3, 0).up(up).down(!up).resample_filter(f));
      torch::Tensor got = r->forward(x).to(torch::kFloat64);
      EXPECT_TRUE(torch::allclose(got, ReferenceResample(x, f, up), 1e-5, 1e-5)) << f.size() << " up " << up;
    }
  }
  // Box filter = average pooling / nearest-neighbour up-sampling.
  ResampleConv2d down(ResampleConv2dOptions(3, 3, 0).down(true));
  EXPECT_TRUE(torch::allclose(ReferenceResample(x, {1, 1}, false).to(torch::kFloat32),
                              x.reshape({2, 3, 4, 2, 4, 2}).mean({3, 5}), 1e-5, 1e-6));
}

// ---- The residual block written with out-of-place ops, select() and
// repeat_interleave: how UNetBlock computed before its in-place form. ----
torch::Tensor OutOfPlaceResample(ResampleConv2dImpl& m, torch::Tensor x) {
  if (m.options.up()) x = x.repeat_interleave(2, 2).repeat_interleave(2, 3);
  if (m.options.down()) x = torch::avg_pool2d(x, {2, 2});
  if (m.weight.defined()) x = torch::conv2d(x, m.weight, {}, 1, m.options.kernel() / 2);
  if (m.bias.defined()) x = x + m.bias.view({1, -1, 1, 1});
  return x;
}

torch::Tensor OutOfPlaceBlock(UNetBlockImpl& b, const torch::Tensor& x, const torch::Tensor& emb) {
  torch::Tensor h = OutOfPlaceResample(*b.conv0, torch::silu(b.norm0->forward(x)));
  h = h + b.affine->forward(emb).unsqueeze(2).unsqueeze(3);
  h = torch::silu(b.norm1->forward(h));
  h = OutOfPlaceResample(*b.conv1, torch::dropout(h, b.options.dropout(), b.is_training()));
  h = (h + (b.skip ? OutOfPlaceResample(*b.skip, x) : x)) * b.options.skip_scale();
  if (b.options.attention()) {
    const int64_t n = h.size(0), c = h.size(1);
    torch::Tensor t = OutOfPlaceResample(*b.qkv, b.norm2->forward(h)).reshape({n, c, 3, -1});
    torch::Tensor q = t.select(2, 0), k = t.select(2, 1), v = t.select(2, 2);
    torch::Tensor w = torch::bmm(q.transpose(1, 2), k).mul(1.0 / std::sqrt(double(c))).softmax(2);
    torch::Tensor a = torch::bmm(v, w.transpose(1, 2));
    h = (OutOfPlaceResample(*b.proj, a.reshape(h.sizes())) + h) * b.options.skip_scale();
  }
  return h;
}

bool SameBits(const torch::Tensor& a, const torch::Tensor& b) {
  return a.sizes() == b.sizes() && a.contiguous().view(torch::kInt32).equal(b.contiguous().view(torch::kInt32));
}

// The in-place form gives the same output and the same gradients (input,
// embedding, every parameter), bit for bit, with dropout on.
TEST_F(UNetTest, BlockInPlaceFormEqualsOutOfPlaceFormBitForBit) {
  for (int kind = 0; kind < 3; ++kind) {
    torch::manual_seed(20 + kind);
    UNetBlockOptions o(16, kind == 2 ? 16 : 32, 64);
    o.up(kind == 0).down(kind == 1).attention(kind == 2).dropout(0.2);
    UNetBlock block(o);
    Randomize(*block, 30 + kind);
    const int64_t res = kind == 0 ? 4 : 8;
    torch::Tensor x = torch::randn({3, 16, res, res}).requires_grad_(), emb = torch::randn({3, 64}).requires_grad_();
    std::vector<torch::Tensor> outputs, grads;
    for (bool in_place : {true, false}) {
      block->zero_grad();
      x.mutable_grad() = torch::Tensor();
      emb.mutable_grad() = torch::Tensor();
      torch::manual_seed(99);  // the same dropout masks
      torch::Tensor y = in_place ? block->forward(x, emb) : OutOfPlaceBlock(*block, x, emb);
      torch::manual_seed(98);
      y.backward(torch::randn_like(y));
      outputs.push_back(y.detach());
      grads.push_back(x.grad().clone());
      grads.push_back(emb.grad().clone());
      for (const torch::Tensor& p : block->parameters()) grads.push_back(p.grad().clone());
    }
    EXPECT_TRUE(SameBits(outputs[0], outputs[1])) << "kind " << kind;
    const size_t half = grads.size() / 2;
    for (size_t i = 0; i < half; ++i) EXPECT_TRUE(SameBits(grads[i], grads[half + i])) << "kind " << kind << " grad " << i;
  }
}

TEST_F(UNetTest, FirResamplingPreservesConstantsAwayFromBorders) {
  torch::Tensor x = torch::full({1, 2, 8, 8}, 3.0);
  ResampleConv2d down(ResampleConv2dOptions(2, 2, 0).down(true).resample_filter({1, 3, 3, 1}));
  torch::Tensor d = down->forward(x);
  ASSERT_EQ(d.sizes(), (std::vector<int64_t>{1, 2, 4, 4}));
  EXPECT_TRUE(torch::allclose(d.slice(2, 1, 3).slice(3, 1, 3), torch::full({1, 2, 2, 2}, 3.0), 1e-5, 1e-6));
  ResampleConv2d up(ResampleConv2dOptions(2, 2, 0).up(true).resample_filter({1, 3, 3, 1}));
  torch::Tensor u = up->forward(x);
  ASSERT_EQ(u.sizes(), (std::vector<int64_t>{1, 2, 16, 16}));
  EXPECT_TRUE(torch::allclose(u.slice(2, 1, 15).slice(3, 1, 15), torch::full({1, 2, 14, 14}, 3.0), 1e-5, 1e-6));
  // Fused down-sampling conv: a 3×3 conv then the filter with stride 2.
  ResampleConv2d fused(ResampleConv2dOptions(2, 4, 3).down(true).fused(true).resample_filter({1, 3, 3, 1}));
  EXPECT_EQ(fused->forward(x).sizes(), (std::vector<int64_t>{1, 4, 4, 4}));
}

TEST_F(UNetTest, PositionalEmbeddingClosedForm) {
  PositionalEmbedding emb(PositionalEmbeddingOptions(8));
  torch::Tensor e = emb->forward(torch::tensor({0.5f, -2.0f}));
  ASSERT_EQ(e.sizes(), (std::vector<int64_t>{2, 8}));
  const double xs[2] = {0.5, -2.0};
  for (int n = 0; n < 2; ++n) {
    for (int i = 0; i < 4; ++i) {
      const double f = std::pow(1e-4, i / 3.0);
      EXPECT_NEAR(e[n][i].item<double>(), std::cos(xs[n] * f), 1e-5);
      EXPECT_NEAR(e[n][4 + i].item<double>(), std::sin(xs[n] * f), 1e-5);
    }
  }
}

TEST_F(UNetTest, FourierEmbeddingUsesItsStoredFrequencies) {
  torch::manual_seed(8);
  FourierEmbedding emb(FourierEmbeddingOptions(6).scale(16));
  ASSERT_EQ(emb->freqs.numel(), 3);
  EXPECT_EQ(emb->parameters().size(), 0u);
  torch::Tensor e = emb->forward(torch::tensor({0.25f}));
  for (int i = 0; i < 3; ++i) {
    const double a = 2 * M_PI * 0.25 * emb->freqs[i].item<double>();
    EXPECT_NEAR(e[0][i].item<double>(), std::cos(a), 1e-4);
    EXPECT_NEAR(e[0][3 + i].item<double>(), std::sin(a), 1e-4);
  }
}

}  // namespace
}  // namespace networks
}  // namespace diffmem
