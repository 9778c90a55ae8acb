#include "tools/network_flags.h"

#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"

using diffmem::tools::Given;

ABSL_FLAG(Given<std::string>, arch, {}, "UNet family: ddpmpp or ncsnpp");
ABSL_FLAG(Given<std::string>, precond, {}, "preconditioning: edm, vp, ve, iddpm");
ABSL_FLAG(Given<int64_t>, channels, {}, "model channels (width)");
ABSL_FLAG(Given<std::string>, channel_mult, {}, "channel multiplier per resolution level (comma list)");
ABSL_FLAG(Given<int64_t>, blocks, {}, "residual blocks per level (depth)");
ABSL_FLAG(Given<std::string>, attn, {}, "resolutions with self-attention (comma list; empty: none)");
ABSL_FLAG(Given<std::string>, embedding, {}, "noise embedding: positional, fourier, default (the family's)");
ABSL_FLAG(Given<std::string>, skip_mask, {}, "encoder->decoder skips on/off, one 0/1 per skip in encoder order (all: all on)");
ABSL_FLAG(Given<double>, dropout, {}, "dropout probability");
ABSL_FLAG(Given<int64_t>, label_dim, {}, "class-embedding size (default: the data set's class count when labelled, else 0)");

namespace diffmem {
namespace tools {

absl::Status OverlayNetworkFlags(networks::NetworkConfig& c) {
  Overlay(absl::GetFlag(FLAGS_arch), c.spec);
  Overlay(absl::GetFlag(FLAGS_precond), c.precond);
  networks::UNetOptions& u = c.unet;
  if (auto v = absl::GetFlag(FLAGS_channels).value) u.model_channels(*v);
  if (auto v = absl::GetFlag(FLAGS_blocks).value) u.num_blocks(*v);
  if (auto v = absl::GetFlag(FLAGS_dropout).value) u.dropout(*v);
  if (auto v = absl::GetFlag(FLAGS_channel_mult).value) {
    absl::StatusOr<std::vector<int64_t>> mult = networks::ParseIntList(*v, "--channel_mult");
    if (!mult.ok()) return mult.status();
    u.channel_mult(*mult);
  }
  if (auto v = absl::GetFlag(FLAGS_attn).value) {
    absl::StatusOr<std::vector<int64_t>> attn = networks::ParseIntList(*v, "--attn");
    if (!attn.ok()) return attn.status();
    u.attn_resolutions(*attn);
  }
  if (auto v = absl::GetFlag(FLAGS_embedding).value) {
    absl::StatusOr<networks::NoiseEmbedding> emb = networks::ParseNoiseEmbedding(*v);
    if (!emb.ok()) return absl::InvalidArgumentError(absl::StrCat("--", emb.status().message()));
    u.embedding(*emb);
  }
  if (auto v = absl::GetFlag(FLAGS_skip_mask).value) {
    absl::StatusOr<std::vector<bool>> mask = networks::ParseSkipMask(*v);
    if (!mask.ok()) return absl::InvalidArgumentError(absl::StrCat("--skip_mask: ", mask.status().message()));
    u.skip_mask(*mask);
  }
  return absl::OkStatus();
}

absl::Status FitNetworkToData(networks::NetworkConfig& c, const data::Dataset& ds) {
  if (ds.height() != ds.width()) {
    return absl::InvalidArgumentError(absl::StrCat(ds.source, ": images must be square, got ", ds.height(), "x",
                                                   ds.width(), " (use --resolution)"));
  }
  const int64_t label_dim = absl::GetFlag(FLAGS_label_dim).value.value_or(ds.has_labels() ? ds.num_classes : 0);
  if (label_dim > 0 && !ds.has_labels()) {
    return absl::InvalidArgumentError("--label_dim: a conditional network needs labels (set --labels)");
  }
  c.unet.img_resolution(ds.height()).in_channels(ds.channels()).out_channels(ds.channels()).label_dim(label_dim);
  if (absl::Status s = networks::ValidateNetworkConfig(c); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("network flags: ", s.message()));
  }
  return absl::OkStatus();
}

}  // namespace tools
}  // namespace diffmem
