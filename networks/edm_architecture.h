// The architecture of an EDM SongUNet read off its state dict:
// InferEdmNetwork returns the NetworkConfig (spec, preconditioner, UNet
// options) of the diffmem UNet that holds exactly those tensors, or an error
// naming the tensor that shows the net is something diffmem does not have.
//
// What the tensors tell (names as in EDM's training/networks.py, after the
// preconditioner's "model." prefix):
//   enc.RxR_conv.weight [C, in, 3, 3]      img_resolution R, in_channels, model_channels C
//   enc.rxr_block{i}.conv0.weight [m·C,…]  levels, channel_mult m, num_blocks (blocks at R)
//   enc.rxr_block0.qkv.weight              attention at resolution r
//   enc.rxr_aux_residual.*                 NCSN++'s residual encoder → ncsnpp, else ddpmpp
//   map_noise.freqs                        Fourier embedding, else positional
//   map_layer0.weight [E, n]               channel_mult_emb = E/C; n = C·(1 or 2) per spec
//   map_label.weight [n, L]                label_dim L
//   dec.RxR_aux_conv.weight [out, C', 3,3] out_channels (2·in under iDDPM)
// The preconditioner cannot be read off a SongUNet (only iDDPM stores a
// table), so it is an argument. Dropout is not stored: it is left at 0.
// Refused with the tensor named: EDM's 'skip' encoder/decoder, ADM
// (DhariwalUNet), uneven block counts, widths not a multiple of C.
//
// The other way, EdmConstructor(config) is the Python expression that builds
// EDM's preconditioner and SongUNet for a diffmem network (in an EDM checkout,
// after `from training import networks`), e.g. for loading an export.
//
// Example:
//   absl::StatusOr<StateDict> sd = ReadStateDictFile("ema.pt");
//   absl::StatusOr<NetworkConfig> c = InferEdmNetwork(*sd, "ema.pt", "vp");
//   // c->spec == "ddpmpp", c->unet.channel_mult() == {2, 2, 2}, …
//   std::string py = EdmConstructor(*c);   // "networks.VPPrecond(img_resolution=32, …)"

#ifndef DIFFMEM_NETWORKS_EDM_ARCHITECTURE_H_
#define DIFFMEM_NETWORKS_EDM_ARCHITECTURE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "networks/edm_state_dict.h"
#include "networks/network.h"
#include "networks/state_dict_file.h"

namespace diffmem {
namespace networks {

inline absl::StatusOr<NetworkConfig> InferEdmNetwork(const StateDict& sd, const std::string& source,
                                                     const std::string& precond) {
  absl::StatusOr<std::string> prefix = EdmModelPrefix(sd, source);
  if (!prefix.ok()) return prefix.status();
  auto bad = [&](const std::string& name, const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": '", *prefix, name, "': ", why));
  };
  auto find = [&](const std::string& name) { return FindTensor(sd, *prefix + name); };
  auto at = [](const char* part, int64_t r) { return absl::StrCat(part, r, "x", r, "_"); };

  // Families diffmem does not have.
  for (const auto& [key, tensor] : sd) {
    if (!absl::StartsWith(key, *prefix)) continue;
    const std::string name = key.substr(prefix->size());
    if (absl::StrContains(name, "_aux_skip") || absl::StrContains(name, "_aux_down")) {
      return bad(name, "EDM's 'skip' encoder, which diffmem's UNets do not have (ddpmpp: standard, ncsnpp: residual)");
    }
    if (absl::StrContains(name, "_aux_up")) return bad(name, "EDM's 'skip' decoder, which diffmem's UNets do not have");
    if (absl::StartsWith(name, "out_conv.") || absl::StartsWith(name, "out_norm.")) {
      return bad(name, "a tensor of EDM's DhariwalUNet (ADM); diffmem reads SongUNets (DDPM++, NCSN++)");
    }
  }

  // Resolution, input channels and width from the first convolution.
  int64_t res = 0;
  const torch::Tensor* conv = nullptr;
  for (const auto& [key, tensor] : sd) {
    if (!absl::StartsWith(key, *prefix + "enc.")) continue;
    const std::string name = key.substr(prefix->size());
    int64_t r = 0;
    if (absl::SimpleAtoi(name.substr(4, name.find('x') - 4), &r) && r > 0 &&
        name == absl::StrCat(at("enc.", r), "conv.weight")) {
      res = r;
      conv = &tensor;
    }
  }
  if (conv == nullptr) return bad("enc.RxR_conv.weight", "missing: no first convolution, so not a SongUNet");
  if (conv->dim() != 4) return bad(at("enc.", res) + "conv.weight", "expected a 4-d convolution weight");
  const int64_t width = conv->size(0), in_channels = conv->size(1);

  // Levels: block0 at R, R/2, …; multipliers from their widths.
  std::vector<int64_t> mult, attn;
  int64_t num_blocks = 0;
  for (int64_t r = res; r >= 1 && find(at("enc.", r) + "block0.conv0.weight"); r /= 2) {
    const std::string name = at("enc.", r) + "block0.conv0.weight";
    const int64_t c = find(name)->size(0);
    if (c % width != 0) return bad(name, absl::StrCat(c, " channels is not a multiple of model_channels ", width));
    mult.push_back(c / width);
    if (find(at("enc.", r) + "block0.qkv.weight")) attn.push_back(r);
    int64_t blocks = 0;
    while (find(absl::StrCat(at("enc.", r), "block", blocks, ".conv0.weight"))) ++blocks;
    if (num_blocks != 0 && blocks != num_blocks) {
      return bad(absl::StrCat(at("enc.", r), "block", blocks - 1, ".conv0.weight"),
                 absl::StrCat(blocks, " blocks at this resolution but ", num_blocks, " at ", res,
                              "; diffmem's UNets have the same number per level"));
    }
    num_blocks = blocks;
    if (r % 2 != 0) break;
  }
  if (mult.empty()) return bad(at("enc.", res) + "block0.conv0.weight", "missing: no residual blocks");

  const torch::Tensor* layer0 = find("map_layer0.weight");
  if (layer0->dim() != 2 || layer0->size(0) % width != 0) {
    return bad("map_layer0.weight", absl::StrCat("shape ", c10::str(layer0->sizes()),
                                                 ": rows are not a multiple of model_channels ", width));
  }
  const int64_t noise_channels = layer0->size(1);
  const bool fourier = find("map_noise.freqs") != nullptr;
  const bool residual = mult.size() > 1 && find(at("enc.", res / 2) + "aux_residual.weight") != nullptr;
  NetworkConfig c;
  c.precond = precond;
  c.spec = residual || (mult.size() == 1 && noise_channels == 2 * width) ? NcsnppSpec::kName : DdpmppSpec::kName;
  int64_t noise_mult = 0;
  NoiseEmbedding spec_default = NoiseEmbedding::kSpecDefault;
  (void)VisitUNetSpec(c.spec, [&](auto spec) {
    using Spec = typename decltype(spec)::type;
    noise_mult = Spec::kChannelMultNoise;
    spec_default = Spec::kEmbedding;
    return absl::OkStatus();
  });
  if (noise_channels != noise_mult * width) {
    return bad("map_layer0.weight",
               absl::StrCat("a noise embedding of ", noise_channels, " channels; diffmem's ", c.spec, " uses ",
                            noise_mult, "·model_channels = ", noise_mult * width));
  }
  const std::string out_name = at("dec.", res) + "aux_conv.weight";
  const torch::Tensor* out = find(out_name);
  if (out == nullptr) return bad(out_name, "missing: no output convolution");
  int64_t out_channels = out->size(0);
  if (precond == "iddpm") {
    if (out_channels != 2 * in_channels) {
      return bad(out_name, absl::StrCat(out_channels, " outputs; iDDPM's network has 2·", in_channels));
    }
    out_channels = in_channels;
  } else if (out_channels != in_channels) {
    return bad(out_name, absl::StrCat(out_channels, " outputs for ", in_channels, " input channels"));
  }
  const torch::Tensor* label = find("map_label.weight");
  c.unet = UNetOptions(res, in_channels, out_channels)
               .model_channels(width)
               .channel_mult(mult)
               .channel_mult_emb(layer0->size(0) / width)
               .num_blocks(num_blocks)
               .attn_resolutions(attn)
               .dropout(0)
               .label_dim(label != nullptr && label->dim() == 2 ? label->size(1) : 0)
               .embedding(fourier ? NoiseEmbedding::kFourier : NoiseEmbedding::kPositional);
  if (c.unet.embedding() == spec_default) c.unet.embedding(NoiseEmbedding::kSpecDefault);
  if (absl::Status s = ValidateNetworkConfig(c); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": the architecture read off the tensors is not valid: ", s.message()));
  }
  return c;
}

// Python: networks.<Precond>(…, model_type='SongUNet', …) for `c`; the
// class and the encoder/decoder types are those the policies carry
// (kEdmClass, kEdmEncoderType, kEdmDecoderType).
inline absl::StatusOr<std::string> EdmConstructor(const NetworkConfig& c) {
  std::string python;
  absl::Status s = VisitNetwork(c, [&](auto spec, auto precond) {
    using Spec = typename decltype(spec)::type;
    using Precond = typename decltype(precond)::type;
    const UNetOptions& o = c.unet;
    auto list = [](const auto& v) { return absl::StrCat("[", absl::StrJoin(v, ", "), "]"); };
    const NoiseEmbedding embedding = o.embedding() == NoiseEmbedding::kSpecDefault ? Spec::kEmbedding : o.embedding();
    python = absl::StrCat(
        "networks.", Precond::kEdmClass, "(img_resolution=", o.img_resolution(), ", img_channels=", o.in_channels(),
        ", label_dim=", o.label_dim(), ", model_type='SongUNet', model_channels=", o.model_channels(),
        ", channel_mult=", list(o.channel_mult()), ", channel_mult_emb=", o.channel_mult_emb(),
        ", num_blocks=", o.num_blocks(), ", attn_resolutions=", list(o.attn_resolutions()), ", dropout=", o.dropout(),
        ", embedding_type='", embedding == NoiseEmbedding::kFourier ? "fourier" : "positional",
        "', channel_mult_noise=", Spec::kChannelMultNoise, ", encoder_type='", Spec::kEdmEncoderType,
        "', decoder_type='", Spec::kEdmDecoderType, "', resample_filter=", list(Spec::ResampleFilter()), ")");
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return python;
}

}  // namespace networks
}  // namespace diffmem

#endif  // DIFFMEM_NETWORKS_EDM_ARCHITECTURE_H_
