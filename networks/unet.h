// The UNets the memorization study trains: UNet<DdpmppSpec> (DDPM++, Song et
// al. 2021 as re-implemented in EDM's SongUNet) and UNet<NcsnppSpec>
// (NCSN++). Both satisfy the NETWORK concept of diffusion/denoiser.h:
//   torch::Tensor forward(torch::Tensor x,        // float32 N×in×R×R
//                         torch::Tensor c_noise,  // float32 N
//                         torch::Tensor labels);  // int64 N in [0, label_dim), or undefined
//
// The spec type (compile time) and UNetOptions (run time) say which UNet:
// networks/unet_options.h. A disabled skip concatenates zeros of the same
// shape, so the parameter count (networks/num_parameters.h) does not change.
//
// Labels: a label id l adds √label_dim·W[:,l] + b to the noise embedding,
// identical to EDM's Linear applied to a √label_dim-scaled one-hot vector.
// Undefined labels on a conditional net add b alone (the all-zero one-hot).
//
// Example:
//   using namespace diffmem::networks;
//   torch::manual_seed(0);                               // parameters use torch's RNG
//   UNet<DdpmppSpec> net(UNetOptions(/*img_resolution=*/16, /*in=*/1, /*out=*/1)
//                            .model_channels(32).channel_mult({1, 2}).num_blocks(2)
//                            .attn_resolutions({}).label_dim(10));
//   torch::Tensor f = net->forward(x, c_noise, labels);  // N×1×16×16

#ifndef DIFFMEM_NETWORKS_UNET_H_
#define DIFFMEM_NETWORKS_UNET_H_

#include <torch/nn/cloneable.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "networks/unet_layers.h"
#include "networks/unet_options.h"

namespace diffmem {
namespace networks {

template <class Spec>
class UNetImpl : public torch::nn::Cloneable<UNetImpl<Spec>> {
  static_assert(IsUNetSpec<Spec>::value,
                "Spec needs kName, kEmbedding, kChannelMultNoise, kResidualEncoder, kEdmEncoderType, "
                "kEdmDecoderType and ResampleFilter()");

 public:
  explicit UNetImpl(const UNetOptions& options) : options(options) { reset(); }

  void reset() override {
    const UNetOptions& o = options;
    const absl::Status valid = ValidateUNetOptions(o);
    TORCH_CHECK(valid.ok(), "UNet<", Spec::kName, ">: ", std::string(valid.message()));
    enc_.clear();
    dec_.clear();
    map_noise_positional = nullptr;
    map_noise_fourier = nullptr;
    map_label = nullptr;
    const std::vector<double> filter = Spec::ResampleFilter();
    const int64_t emb_channels = o.model_channels() * o.channel_mult_emb();
    const int64_t noise_channels = o.model_channels() * Spec::kChannelMultNoise;
    const NoiseEmbedding embedding = o.embedding() == NoiseEmbedding::kSpecDefault ? Spec::kEmbedding : o.embedding();
    if (embedding == NoiseEmbedding::kFourier) {
      map_noise_fourier = this->register_module(
          "map_noise", FourierEmbedding(FourierEmbeddingOptions(noise_channels).scale(o.fourier_scale())));
    } else {
      map_noise_positional =
          this->register_module("map_noise", PositionalEmbedding(PositionalEmbeddingOptions(noise_channels)));
    }
    if (o.label_dim() > 0) map_label = this->register_module("map_label", MakeLinear(o.label_dim(), noise_channels));
    map_layer0 = this->register_module("map_layer0", MakeLinear(noise_channels, emb_channels));
    map_layer1 = this->register_module("map_layer1", MakeLinear(emb_channels, emb_channels));

    auto block = [&](int64_t cin, int64_t cout) {
      return UNetBlockOptions(cin, cout, emb_channels).dropout(o.dropout()).resample_filter(filter);
    };
    auto has_attn = [&](int64_t res) {
      const auto& a = o.attn_resolutions();
      return std::find(a.begin(), a.end(), res) != a.end();
    };
    // Encoder.
    const int64_t levels = static_cast<int64_t>(o.channel_mult().size());
    std::vector<int64_t> skip_channels;
    int64_t cout = o.in_channels(), caux = o.in_channels();
    for (int64_t level = 0; level < levels; ++level) {
      const int64_t res = o.img_resolution() >> level;
      const std::string at = absl::StrCat("enc_", res, "x", res, "_");
      if (level == 0) {
        const int64_t cin = cout;
        cout = o.model_channels();
        AddEnc(at + "conv", Step::kConv, ResampleConv2d(ResampleConv2dOptions(cin, cout, 3)));
      } else {
        AddEnc(at + "down", Step::kBlock, UNetBlock(block(cout, cout).down(true)));
        if (Spec::kResidualEncoder) {
          AddEnc(at + "aux_residual", Step::kAuxResidual,
                 ResampleConv2d(ResampleConv2dOptions(caux, cout, 3).down(true).fused(true).resample_filter(filter)));
          caux = cout;
        }
      }
      skip_channels.push_back(cout);  // the conv / down block (or aux residual) output
      for (int64_t i = 0; i < o.num_blocks(); ++i) {
        const int64_t cin = cout;
        cout = o.model_channels() * o.channel_mult()[level];
        AddEnc(absl::StrCat(at, "block", i), Step::kBlock, UNetBlock(block(cin, cout).attention(has_attn(res))));
        skip_channels.push_back(cout);
      }
    }
    // Decoder.
    for (int64_t level = levels - 1; level >= 0; --level) {
      const int64_t res = o.img_resolution() >> level;
      const std::string at = absl::StrCat("dec_", res, "x", res, "_");
      if (level == levels - 1) {
        AddDec(at + "in0", false, UNetBlock(block(cout, cout).attention(true)));
        AddDec(at + "in1", false, UNetBlock(block(cout, cout)));
      } else {
        AddDec(at + "up", false, UNetBlock(block(cout, cout).up(true)));
      }
      for (int64_t i = 0; i <= o.num_blocks(); ++i) {
        const int64_t cin = cout + skip_channels.back();
        skip_channels.pop_back();
        cout = o.model_channels() * o.channel_mult()[level];
        AddDec(absl::StrCat(at, "block", i), true,
               UNetBlock(block(cin, cout).attention(i == o.num_blocks() && has_attn(res))));
      }
    }
    out_norm = this->register_module("out_norm", internal_unet::MakeGroupNorm(cout));
    out_conv = this->register_module(
        "out_conv", ResampleConv2d(ResampleConv2dOptions(cout, o.out_channels(), 3).init_gain(1e-5)));
  }

  torch::Tensor forward(torch::Tensor x, torch::Tensor c_noise, torch::Tensor labels) {
    const UNetOptions& o = options;
    TORCH_CHECK(x.dim() == 4 && x.size(1) == o.in_channels() && x.size(2) == o.img_resolution() &&
                    x.size(3) == o.img_resolution(),
                "UNet<", Spec::kName, ">: expected x of shape N×", o.in_channels(), "×", o.img_resolution(), "×",
                o.img_resolution(), ", got ", x.sizes());
    TORCH_CHECK(c_noise.numel() == x.size(0), "UNet: c_noise needs one value per sample (", x.size(0), "), got ",
                c_noise.numel());
    // Noise (and label) embedding.
    torch::Tensor emb = map_noise_fourier ? map_noise_fourier->forward(c_noise) : map_noise_positional->forward(c_noise);
    emb = emb.to(x.scalar_type());
    if (map_label) {
      if (labels.defined()) {
        TORCH_CHECK(labels.dim() == 1 && labels.size(0) == x.size(0) && labels.scalar_type() == torch::kInt64,
                    "UNet: labels must be int64 of length ", x.size(0));
        const double scale = std::sqrt(static_cast<double>(o.label_dim()));
        emb = emb + map_label->weight.t().index_select(0, labels).mul(scale) + map_label->bias;
      } else {
        emb = emb + map_label->bias;
      }
    }
    emb = torch::silu(map_layer0->forward(emb));
    emb = torch::silu(map_layer1->forward(emb));

    std::vector<torch::Tensor> skips;
    skips.reserve(NumSkips(o));
    torch::Tensor aux = x;
    for (EncStep& s : enc_) {
      switch (s.kind) {
        case Step::kConv: x = s.conv->forward(x); skips.push_back(x); break;
        case Step::kBlock: x = s.block->forward(x, emb); skips.push_back(x); break;
        case Step::kAuxResidual:
          x = aux = s.conv->forward(aux).add_(x).mul_(M_SQRT1_2);  // in place on the conv output
          skips.back() = x;
          break;
      }
    }
    const std::vector<bool>& mask = o.skip_mask();
    for (DecStep& s : dec_) {
      if (s.takes_skip) {
        torch::Tensor skip = std::move(skips.back());
        skips.pop_back();
        const bool on = mask.empty() || mask[skips.size()];
        x = torch::cat({x, on ? skip : torch::zeros_like(skip)}, 1);
      }
      x = s.block->forward(x, emb);
    }
    return out_conv->forward(torch::silu(internal_unet::Normalize(out_norm, x)));
  }

  UNetOptions options;
  PositionalEmbedding map_noise_positional = nullptr;
  FourierEmbedding map_noise_fourier = nullptr;
  torch::nn::Linear map_label = nullptr, map_layer0 = nullptr, map_layer1 = nullptr;
  torch::nn::GroupNorm out_norm = nullptr;
  ResampleConv2d out_conv = nullptr;

 private:
  enum class Step { kConv, kBlock, kAuxResidual };
  struct EncStep {
    Step kind;
    ResampleConv2d conv = nullptr;
    UNetBlock block = nullptr;
  };
  struct DecStep {
    bool takes_skip;
    UNetBlock block = nullptr;
  };

  torch::nn::Linear MakeLinear(int64_t in, int64_t out) {
    torch::nn::Linear l(in, out);
    internal_unet::InitWeight(l->weight, 1.0);
    torch::nn::init::zeros_(l->bias);
    return l;
  }
  void AddEnc(const std::string& name, Step kind, ResampleConv2d conv) {
    EncStep s{kind};
    s.conv = this->register_module(name, std::move(conv));
    enc_.push_back(std::move(s));
  }
  void AddEnc(const std::string& name, Step kind, UNetBlock block) {
    EncStep s{kind};
    s.block = this->register_module(name, std::move(block));
    enc_.push_back(std::move(s));
  }
  void AddDec(const std::string& name, bool takes_skip, UNetBlock block) {
    DecStep s{takes_skip};
    s.block = this->register_module(name, std::move(block));
    dec_.push_back(std::move(s));
  }

  std::vector<EncStep> enc_;
  std::vector<DecStep> dec_;
};

// The module holder (TORCH_MODULE for the class template): UNet<DdpmppSpec> net(options).
template <class Spec>
class UNet : public torch::nn::ModuleHolder<UNetImpl<Spec>> {
 public:
  using torch::nn::ModuleHolder<UNetImpl<Spec>>::ModuleHolder;
  using Impl = UNetImpl<Spec>;
};

}  // namespace networks
}  // namespace diffmem

#endif  // DIFFMEM_NETWORKS_UNET_H_
