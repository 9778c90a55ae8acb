// Building blocks of diffmem's UNets (the SongUNet family of Karras et al.
// 2022, "Elucidating the Design Space…", which the memorization paper
// trains): noise embeddings, a convolution with FIR up/down-sampling, and
// the residual block with optional self-attention.
//
//   PositionalEmbedding  c_noise → [cos(c·f_i), sin(c·f_i)], f_i = 10000^(−i/(n/2−1))
//   FourierEmbedding     c_noise → [cos(2π c·f_i), sin(2π c·f_i)], f_i ~ N(0, scale²) (a buffer)
//   ResampleConv2d       optional 2× up/down-sampling by a separable FIR
//                        filter ([1,1] = box/nearest, [1,3,3,1] = the
//                        NCSN++ filter), then an optional k×k convolution
//   UNetBlock            GroupNorm→SiLU→conv→(+affine(emb))→GroupNorm→SiLU→
//                        dropout→conv, plus a (1×1) shortcut, scaled by √½;
//                        optionally followed by one-head self-attention
//
// Initialisation follows EDM: Xavier-uniform weights times a per-layer gain
// (1, √0.2 for attention qkv, 1e-5 for the last conv of a residual branch),
// zero biases. All parameters draw from torch's global generator, so a
// caller seeds it (torch::manual_seed) before building a network.
//
// Example:
//   diffmem::networks::UNetBlock block(
//       diffmem::networks::UNetBlockOptions(/*in=*/32, /*out=*/64, /*emb=*/128).down(true).attention(true));
//   torch::Tensor y = block->forward(x, emb);   // N×64×H/2×W/2

#ifndef DIFFMEM_NETWORKS_UNET_LAYERS_H_
#define DIFFMEM_NETWORKS_UNET_LAYERS_H_

#include <torch/nn/cloneable.h>
#include <torch/nn/init.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

namespace diffmem {
namespace networks {

namespace internal_unet {

// EDM's weight init: Xavier-uniform scaled by `gain` (fans include the kernel area).
inline void InitWeight(torch::Tensor w, double gain) {
  torch::NoGradGuard no_grad;
  torch::nn::init::xavier_uniform_(w);
  w.mul_(gain);
}

// EDM's GroupNorm: 32 groups, but at least 4 channels per group.
inline torch::nn::GroupNorm MakeGroupNorm(int64_t channels, double eps = 1e-6) {
  const int64_t groups = std::max<int64_t>(1, std::min<int64_t>(32, channels / 4));
  return torch::nn::GroupNorm(torch::nn::GroupNormOptions(groups, channels).eps(eps));
}

// A GroupNorm of `x` in its parameters' precision: under bfloat16 autocast
// the convolutions hand it bfloat16, which it normalizes in float32 (as CUDA
// autocast runs group_norm; LibTorch 1.13's CPU kernel cannot mix the two).
inline torch::Tensor Normalize(torch::nn::GroupNorm& norm, const torch::Tensor& x) {
  const auto dtype = norm->weight.scalar_type();
  return norm->forward(x.scalar_type() == torch::kBFloat16 || x.scalar_type() == torch::kHalf ? x.to(dtype) : x);
}

// conv2d without bias, with square stride/padding (spelled out: a literal 0
// padding is ambiguous with the string overload).
inline torch::Tensor Conv(const torch::Tensor& x, const torch::Tensor& w, int64_t stride, int64_t pad, int64_t groups) {
  return torch::conv2d(x, w, {}, torch::IntArrayRef{stride, stride}, torch::IntArrayRef{pad, pad},
                       torch::IntArrayRef{1, 1}, groups);
}

// Nearest 2× up-sampling, N×C×H×W → N×C×2H×2W, as two broadcast copies
// (rows, then columns). Its gradient sums each 2×2 block as
// (g00 + g01) + (g10 + g11), exactly as x.repeat_interleave(2, 2)
// .repeat_interleave(2, 3) does, but with two small reductions instead of
// index_add (the repeat_interleave form cost ~3% of a small UNet's step).
inline torch::Tensor Nearest2x(const torch::Tensor& x) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  torch::Tensor rows = x.unsqueeze(3).expand({n, c, h, 2, w}).reshape({n, c, 2 * h, w});
  return rows.unsqueeze(4).expand({n, c, 2 * h, w, 2}).reshape({n, c, 2 * h, 2 * w});
}

}  // namespace internal_unet

// Sinusoidal embedding of a scalar per sample (Vaswani et al. 2017, as in
// DDPM++): N → N×num_channels, cos half first.
struct PositionalEmbeddingOptions {
  explicit PositionalEmbeddingOptions(int64_t num_channels) : num_channels_(num_channels) {}
  TORCH_ARG(int64_t, num_channels);
  TORCH_ARG(double, max_positions) = 10000;
  TORCH_ARG(bool, endpoint) = true;  // the last frequency is exactly 1/max_positions
};

class PositionalEmbeddingImpl : public torch::nn::Cloneable<PositionalEmbeddingImpl> {
 public:
  explicit PositionalEmbeddingImpl(const PositionalEmbeddingOptions& options) : options(options) { reset(); }
  void reset() override {
    TORCH_CHECK(options.num_channels() >= 2 && options.num_channels() % 2 == 0,
                "PositionalEmbedding: num_channels must be even and >= 2, got ", options.num_channels());
  }
  torch::Tensor forward(const torch::Tensor& x) {
    const int64_t half = options.num_channels() / 2;
    const double denom = options.endpoint() ? std::max<int64_t>(half - 1, 1) : half;
    torch::Tensor freqs = torch::arange(half, x.options().dtype(torch::kFloat32)).div(denom);
    freqs = torch::pow(1.0 / options.max_positions(), freqs);
    torch::Tensor arg = torch::outer(x.to(torch::kFloat32).reshape({-1}), freqs);
    return torch::cat({arg.cos(), arg.sin()}, 1);
  }
  PositionalEmbeddingOptions options;
};
TORCH_MODULE(PositionalEmbedding);

// Random Fourier features (Tancik et al. 2020, as in NCSN++): frequencies
// drawn once from N(0, scale²) and stored as a buffer (saved with the net).
struct FourierEmbeddingOptions {
  explicit FourierEmbeddingOptions(int64_t num_channels) : num_channels_(num_channels) {}
  TORCH_ARG(int64_t, num_channels);
  TORCH_ARG(double, scale) = 16;
};

class FourierEmbeddingImpl : public torch::nn::Cloneable<FourierEmbeddingImpl> {
 public:
  explicit FourierEmbeddingImpl(const FourierEmbeddingOptions& options) : options(options) { reset(); }
  void reset() override {
    TORCH_CHECK(options.num_channels() >= 2 && options.num_channels() % 2 == 0,
                "FourierEmbedding: num_channels must be even and >= 2, got ", options.num_channels());
    freqs = register_buffer("freqs", torch::randn({options.num_channels() / 2}) * options.scale());
  }
  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor arg = torch::outer(x.to(torch::kFloat32).reshape({-1}), freqs * (2 * M_PI));
    return torch::cat({arg.cos(), arg.sin()}, 1);
  }
  FourierEmbeddingOptions options;
  torch::Tensor freqs;
};
TORCH_MODULE(FourierEmbedding);

// A k×k convolution (k = 0: none) with optional 2× FIR resampling. Without
// `fused`, resampling happens first (on the input channels); with `fused`
// (down only), the convolution runs first at full resolution and the filter
// then strides over its output, EDM's "fused_resample".
struct ResampleConv2dOptions {
  ResampleConv2dOptions(int64_t in_channels, int64_t out_channels, int64_t kernel)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_(kernel) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(int64_t, kernel);  // 0: resampling only (then in == out)
  TORCH_ARG(bool, bias) = true;
  TORCH_ARG(bool, up) = false;
  TORCH_ARG(bool, down) = false;
  TORCH_ARG(bool, fused) = false;
  TORCH_ARG(std::vector<double>, resample_filter) = std::vector<double>{1, 1};
  TORCH_ARG(double, init_gain) = 1.0;
};

class ResampleConv2dImpl : public torch::nn::Cloneable<ResampleConv2dImpl> {
 public:
  explicit ResampleConv2dImpl(const ResampleConv2dOptions& options) : options(options) { reset(); }

  void reset() override {
    const auto& o = options;
    TORCH_CHECK(!(o.up() && o.down()), "ResampleConv2d: up and down are exclusive");
    TORCH_CHECK(o.kernel() >= 0 && (o.kernel() == 0 || o.kernel() % 2 == 1),
                "ResampleConv2d: kernel must be 0 or odd, got ", o.kernel());
    TORCH_CHECK(o.kernel() > 0 || o.in_channels() == o.out_channels(),
                "ResampleConv2d: kernel 0 needs in_channels == out_channels");
    TORCH_CHECK(!o.resample_filter().empty(), "ResampleConv2d: empty resample filter");
    if (o.kernel() > 0) {
      weight = register_parameter("weight", torch::empty({o.out_channels(), o.in_channels(), o.kernel(), o.kernel()}));
      internal_unet::InitWeight(weight, o.init_gain());
      if (o.bias()) bias = register_parameter("bias", torch::zeros({o.out_channels()}));
    }
    // The 2-D filter f⊗f / (Σf)², a constant (not saved: it follows from the options).
    torch::Tensor f = torch::tensor(o.resample_filter(), torch::kFloat32);
    filter_ = torch::outer(f, f).div(f.sum().square()).unsqueeze(0).unsqueeze(0);
    box_ = o.resample_filter().size() == 2 && o.resample_filter()[0] == o.resample_filter()[1];
  }

  torch::Tensor forward(torch::Tensor x) {
    const auto& o = options;
    const int64_t w_pad = o.kernel() / 2;
    const int64_t f_pad = (filter_.size(-1) - 1) / 2;
    torch::Tensor f = filter_.to(x.device(), x.scalar_type());
    using internal_unet::Conv;
    if (o.fused() && o.down() && weight.defined()) {
      x = Conv(x, weight, 1, w_pad + f_pad, 1);
      x = Resample(x, f, /*up=*/false, 0);
    } else {
      if (o.up()) x = Resample(x, f, /*up=*/true, f_pad);
      if (o.down()) x = Resample(x, f, /*up=*/false, f_pad);
      if (weight.defined()) x = Conv(x, weight, 1, w_pad, 1);
    }
    // In place: x is always a tensor this forward made (a bias exists only
    // with a convolution), and the ops before need not keep it.
    if (bias.defined()) x.add_(bias.view({1, -1, 1, 1}));
    return x;
  }

  ResampleConv2dOptions options;
  torch::Tensor weight, bias;

 private:
  // The same filter on every channel. The box filter [1,1] is exactly
  // average pooling / nearest up-sampling; other filters run as a 1-channel
  // convolution over N·C planes (LibTorch's CPU grouped transposed
  // convolution is far slower than either).
  torch::Tensor Resample(const torch::Tensor& x, const torch::Tensor& f, bool up, int64_t pad) const {
    if (box_) {
      if (up) return internal_unet::Nearest2x(x);
      return torch::avg_pool2d(x, {2, 2});
    }
    const int64_t n = x.size(0), c = x.size(1);
    torch::Tensor planes = x.reshape({n * c, 1, x.size(2), x.size(3)});
    torch::Tensor y = up ? torch::conv_transpose2d(planes, f.mul(4), {}, torch::IntArrayRef{2, 2},
                                                   torch::IntArrayRef{pad, pad})
                         : internal_unet::Conv(planes, f, 2, pad, 1);
    return y.reshape({n, c, y.size(2), y.size(3)});
  }

  torch::Tensor filter_;
  bool box_ = false;
};
TORCH_MODULE(ResampleConv2d);

struct UNetBlockOptions {
  UNetBlockOptions(int64_t in_channels, int64_t out_channels, int64_t emb_channels)
      : in_channels_(in_channels), out_channels_(out_channels), emb_channels_(emb_channels) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(int64_t, emb_channels);
  TORCH_ARG(bool, up) = false;
  TORCH_ARG(bool, down) = false;
  TORCH_ARG(bool, attention) = false;
  TORCH_ARG(double, dropout) = 0.0;
  TORCH_ARG(std::vector<double>, resample_filter) = std::vector<double>{1, 1};
  TORCH_ARG(double, skip_scale) = M_SQRT1_2;
  TORCH_ARG(double, eps) = 1e-6;
};

class UNetBlockImpl : public torch::nn::Cloneable<UNetBlockImpl> {
 public:
  explicit UNetBlockImpl(const UNetBlockOptions& options) : options(options) { reset(); }

  void reset() override {
    const auto& o = options;
    norm0 = register_module("norm0", internal_unet::MakeGroupNorm(o.in_channels(), o.eps()));
    conv0 = register_module("conv0", ResampleConv2d(ResampleConv2dOptions(o.in_channels(), o.out_channels(), 3)
                                                        .up(o.up())
                                                        .down(o.down())
                                                        .resample_filter(o.resample_filter())));
    affine = register_module("affine", torch::nn::Linear(o.emb_channels(), o.out_channels()));
    internal_unet::InitWeight(affine->weight, 1.0);
    torch::nn::init::zeros_(affine->bias);
    norm1 = register_module("norm1", internal_unet::MakeGroupNorm(o.out_channels(), o.eps()));
    conv1 = register_module("conv1",
                            ResampleConv2d(ResampleConv2dOptions(o.out_channels(), o.out_channels(), 3).init_gain(1e-5)));
    if (o.out_channels() != o.in_channels() || o.up() || o.down()) {
      skip = register_module("skip", ResampleConv2d(ResampleConv2dOptions(o.in_channels(), o.out_channels(), 1)
                                                        .up(o.up())
                                                        .down(o.down())
                                                        .resample_filter(o.resample_filter())));
    }
    if (o.attention()) {
      norm2 = register_module("norm2", internal_unet::MakeGroupNorm(o.out_channels(), o.eps()));
      qkv = register_module(
          "qkv", ResampleConv2d(ResampleConv2dOptions(o.out_channels(), 3 * o.out_channels(), 1).init_gain(std::sqrt(0.2))));
      proj = register_module("proj",
                             ResampleConv2d(ResampleConv2dOptions(o.out_channels(), o.out_channels(), 1).init_gain(1e-5)));
    }
  }

  // x: N×in×H×W, emb: N×emb_channels → N×out×H'×W'.
  // The additions and scalings run in place on tensors this forward just
  // made and no backward needs (convolution outputs, a matmul output): the
  // same values as out of place, without a fresh buffer each.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& emb) {
    torch::Tensor h = conv0->forward(torch::silu(internal_unet::Normalize(norm0, x)));
    h.add_(affine->forward(emb).unsqueeze(2).unsqueeze(3));
    h = torch::silu(internal_unet::Normalize(norm1, h));
    h = conv1->forward(torch::dropout(h, options.dropout(), is_training()));
    h.add_(skip ? skip->forward(x) : x).mul_(options.skip_scale());
    if (options.attention()) {
      // One head over all channels: softmax_k(q·k/√C), a = Σ_k w·v.
      const int64_t n = h.size(0), c = h.size(1);
      torch::Tensor t = qkv->forward(internal_unet::Normalize(norm2, h)).reshape({n, c, 3, -1});
      std::vector<torch::Tensor> qkv_parts = t.unbind(2);  // q, k, v: N×C×L
      const torch::Tensor &q = qkv_parts[0], &k = qkv_parts[1], &v = qkv_parts[2];
      torch::Tensor w = torch::bmm(q.transpose(1, 2), k).mul_(1.0 / std::sqrt(double(c))).softmax(2);  // N×Lq×Lk
      torch::Tensor a = torch::bmm(v, w.transpose(1, 2));                                // N×C×Lq
      h = proj->forward(a.reshape(h.sizes())).add_(h).mul_(options.skip_scale());
    }
    return h;
  }

  UNetBlockOptions options;
  torch::nn::GroupNorm norm0 = nullptr, norm1 = nullptr, norm2 = nullptr;
  ResampleConv2d conv0 = nullptr, conv1 = nullptr, skip = nullptr, qkv = nullptr, proj = nullptr;
  torch::nn::Linear affine = nullptr;
};
TORCH_MODULE(UNetBlock);

}  // namespace networks
}  // namespace diffmem

#endif  // DIFFMEM_NETWORKS_UNET_LAYERS_H_
