// What a UNet is, as types and values: the spec types that fix what
// distinguishes the two families at compile time, and UNetOptions, what a
// study varies at run time (networks/unet.h builds the module from both).
//   DdpmppSpec  positional noise embedding (noise channels = model_channels),
//               box resampling filter [1,1], plain encoder;
//   NcsnppSpec  random Fourier embedding (noise channels = 2·model_channels),
//               FIR filter [1,3,3,1], "residual" encoder (a down-sampled copy
//               of the input image joins every lower level through a 3×3 conv).
// Each spec also carries its names: kName (network.h's registry) and EDM's
// encoder/decoder types of SongUNet. IsUNetSpec<Spec> checks the interface.
// UNetOptions: resolution, channels, width (model_channels), channel
// multipliers per level, depth (num_blocks), attention resolutions, embedding
// override, dropout, label_dim, and the encoder→decoder skip mask.
//
// Skips are numbered in encoder order: 0 is the first 3×3 conv at full
// resolution; level ℓ then contributes (ℓ>0: its down-sampling block, then)
// its num_blocks residual blocks. NumSkips() = levels·(num_blocks+1).
//
// Example:
//   diffmem::networks::UNetOptions o =
//       diffmem::networks::UNetOptions(16, 1, 1).model_channels(32).channel_mult({1, 2}).num_blocks(2);
//   absl::Status s = diffmem::networks::ValidateUNetOptions(o);
//   int64_t skips = diffmem::networks::NumSkips(o);      // 2 levels · (2 + 1) = 6

#ifndef DIFFMEM_NETWORKS_UNET_OPTIONS_H_
#define DIFFMEM_NETWORKS_UNET_OPTIONS_H_

#include <torch/arg.h>

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace diffmem {
namespace networks {

enum class NoiseEmbedding { kSpecDefault, kPositional, kFourier };

inline const char* NoiseEmbeddingName(NoiseEmbedding e) {
  switch (e) {
    case NoiseEmbedding::kPositional: return "positional";
    case NoiseEmbedding::kFourier: return "fourier";
    default: return "default";
  }
}

// DDPM++ (EDM's SongUNet with model_type ddpmpp).
struct DdpmppSpec {
  static constexpr const char* kName = "ddpmpp";
  static constexpr NoiseEmbedding kEmbedding = NoiseEmbedding::kPositional;
  static constexpr int64_t kChannelMultNoise = 1;
  static constexpr bool kResidualEncoder = false;
  static constexpr const char* kEdmEncoderType = "standard";  // SongUNet's encoder_type
  static constexpr const char* kEdmDecoderType = "standard";  // SongUNet's decoder_type
  static std::vector<double> ResampleFilter() { return {1, 1}; }
};

// NCSN++ (EDM's SongUNet with model_type ncsnpp).
struct NcsnppSpec {
  static constexpr const char* kName = "ncsnpp";
  static constexpr NoiseEmbedding kEmbedding = NoiseEmbedding::kFourier;
  static constexpr int64_t kChannelMultNoise = 2;
  static constexpr bool kResidualEncoder = true;
  static constexpr const char* kEdmEncoderType = "residual";
  static constexpr const char* kEdmDecoderType = "standard";
  static std::vector<double> ResampleFilter() { return {1, 3, 3, 1}; }
};

template <class Spec, class = void>
struct IsUNetSpec : std::false_type {};
template <class Spec>
struct IsUNetSpec<Spec, std::void_t<decltype(Spec::kName), decltype(Spec::kEmbedding), decltype(Spec::kChannelMultNoise),
                                    decltype(Spec::kResidualEncoder), decltype(Spec::kEdmEncoderType),
                                    decltype(Spec::kEdmDecoderType), decltype(Spec::ResampleFilter())>>
    : std::true_type {};

struct UNetOptions {
  UNetOptions(int64_t img_resolution, int64_t in_channels, int64_t out_channels)
      : img_resolution_(img_resolution), in_channels_(in_channels), out_channels_(out_channels) {}
  TORCH_ARG(int64_t, img_resolution);
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(int64_t, model_channels) = 128;          // width at level 0 before multipliers
  TORCH_ARG(std::vector<int64_t>, channel_mult) = std::vector<int64_t>{2, 2, 2};  // one per level
  TORCH_ARG(int64_t, channel_mult_emb) = 4;           // embedding width = model_channels·this
  TORCH_ARG(int64_t, num_blocks) = 4;                 // residual blocks per level (depth)
  TORCH_ARG(std::vector<int64_t>, attn_resolutions) = std::vector<int64_t>{16};
  TORCH_ARG(double, dropout) = 0.10;
  TORCH_ARG(int64_t, label_dim) = 0;                  // 0: unconditional
  TORCH_ARG(NoiseEmbedding, embedding) = NoiseEmbedding::kSpecDefault;
  TORCH_ARG(double, fourier_scale) = 16;
  TORCH_ARG(std::vector<bool>, skip_mask) = std::vector<bool>{};  // empty: all on; else NumSkips entries
};

// Encoder→decoder skip connections of a UNet with these options.
inline int64_t NumSkips(const UNetOptions& o) {
  return static_cast<int64_t>(o.channel_mult().size()) * (o.num_blocks() + 1);
}

// Checks the run-time sizes; messages name the option.
inline absl::Status ValidateUNetOptions(const UNetOptions& o) {
  auto bad = [](auto&&... parts) { return absl::InvalidArgumentError(absl::StrCat(parts...)); };
  if (o.in_channels() <= 0 || o.out_channels() <= 0) return bad("in/out channels must be positive");
  if (o.model_channels() <= 0 || o.model_channels() % 4 != 0) {
    return bad("model_channels must be a positive multiple of 4, got ", o.model_channels());
  }
  if (o.channel_mult().empty()) return bad("channel_mult needs at least one level");
  for (int64_t m : o.channel_mult()) {
    if (m <= 0) return bad("channel_mult entries must be positive, got ", absl::StrJoin(o.channel_mult(), ","));
  }
  if (o.channel_mult_emb() <= 0) return bad("channel_mult_emb must be positive");
  if (o.num_blocks() < 1) return bad("num_blocks must be >= 1, got ", o.num_blocks());
  const int64_t levels = static_cast<int64_t>(o.channel_mult().size());
  if (levels > 16 || o.img_resolution() <= 0 || o.img_resolution() % (int64_t{1} << (levels - 1)) != 0) {
    return bad("img_resolution ", o.img_resolution(), " must be a positive multiple of 2^(levels−1) = ",
               levels > 16 ? 0 : (int64_t{1} << (levels - 1)), " for ", levels, " levels");
  }
  if (o.dropout() < 0 || o.dropout() >= 1) return bad("dropout must be in [0, 1), got ", o.dropout());
  if (o.label_dim() < 0) return bad("label_dim must be >= 0, got ", o.label_dim());
  if (!o.skip_mask().empty() && static_cast<int64_t>(o.skip_mask().size()) != NumSkips(o)) {
    return bad("skip mask has ", o.skip_mask().size(), " entries; this UNet has ", NumSkips(o),
               " skips (levels·(num_blocks+1))");
  }
  return absl::OkStatus();
}

}  // namespace networks
}  // namespace diffmem

#endif  // DIFFMEM_NETWORKS_UNET_OPTIONS_H_
