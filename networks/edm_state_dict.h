// diffmem's UNets under EDM's names, both ways: ToEdmStateDict writes the
// tensors of a UNet<Spec> as the state_dict of EDM's preconditioner wrapping
// a SongUNet (Karras et al. 2022, training/networks.py), and LoadEdmStateDict
// reads such a state_dict into a UNet<Spec>, checking every tensor first.
//
// The mapping (verified against EDM's networks.py and checked numerically by
// edm_state_dict_test against outputs of EDM's own code):
//   diffmem                      EDM (under the wrapper's "model." prefix)
//   enc_8x8_conv.weight          enc.8x8_conv.weight     (same for every enc_/dec_ block)
//   out_norm.{weight,bias}       dec.RxR_aux_norm.*      (R = img_resolution)
//   out_conv.{weight,bias}       dec.RxR_aux_conv.*
//   map_noise.freqs, map_label.*, map_layer0.*, map_layer1.*   unchanged
// Layout differences:
//   - Noise embedding order: both embeddings compute [cos, sin], but EDM's
//     SongUNet.forward swaps the halves (`flip(1)`) before map_label is added
//     and map_layer0 applied; diffmem does not. So map_layer0.weight's input
//     columns and map_label's output rows (weight and bias) are swapped halves.
//   - EDM stores the up/down-sampling filter f⊗f/(Σf)² of every resampling
//     Conv2d as a buffer `resample_filter`; diffmem derives it from the spec.
//     On import each is checked against the spec's filter.
//   - iDDPM: EDM's iDDPMPrecond wraps a net with 2·C outputs (the second half,
//     the learned variance, is unused by D) and keeps the table `u` beside
//     `model.`: import takes the first C outputs and checks u; export pads the
//     variance half with zeros and writes diffmem's table (u only with the
//     wrapper's prefix: a bare SongUNet has no table).
//   - map_augment.weight (augmentation labels, unused when sampling) is skipped.
// diffmem's skip mask has no EDM counterpart: export refuses a masked net.
//
// Example:
//   using namespace diffmem::networks;
//   absl::StatusOr<StateDict> sd = ReadStateDictFile("ema.pt");
//   UNet<DdpmppSpec> net(options);
//   absl::Status s = LoadEdmStateDict<VpPreconditioner>(*sd, "ema.pt", net);   // shape-checked, all or nothing
//   absl::StatusOr<StateDict> edm = ToEdmStateDict<VpPreconditioner>(net);      // "model.enc.8x8_conv.weight", …

#ifndef DIFFMEM_NETWORKS_EDM_STATE_DICT_H_
#define DIFFMEM_NETWORKS_EDM_STATE_DICT_H_

#include <torch/types.h>

#include <memory>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "diffusion/preconditioning.h"
#include "networks/state_dict_file.h"
#include "networks/unet.h"
#include "networks/unet_layers.h"

namespace diffmem {
namespace networks {

// EDM's name (without the wrapper's prefix) of a diffmem UNet tensor.
inline std::string EdmTensorName(const std::string& name, int64_t img_resolution) {
  const std::string out_block = absl::StrCat("dec.", img_resolution, "x", img_resolution, "_aux_");
  if (absl::StartsWith(name, "enc_")) return "enc." + name.substr(4);
  if (absl::StartsWith(name, "dec_")) return "dec." + name.substr(4);
  if (absl::StartsWith(name, "out_norm.")) return out_block + "norm." + name.substr(9);
  if (absl::StartsWith(name, "out_conv.")) return out_block + "conv." + name.substr(9);
  return name;
}

// The prefix under which a state dict holds the UNet: "model." (a
// preconditioner's state_dict) or "" (the SongUNet's own).
inline absl::StatusOr<std::string> EdmModelPrefix(const StateDict& sd, const std::string& source) {
  if (FindTensor(sd, "model.map_layer0.weight") != nullptr) return std::string("model.");
  if (FindTensor(sd, "map_layer0.weight") != nullptr) return std::string();
  return absl::InvalidArgumentError(absl::StrCat(
      source,
      ": no 'model.map_layer0.weight' or 'map_layer0.weight': not the state dict of EDM's SongUNet or of a "
      "preconditioner (VPPrecond, VEPrecond, EDMPrecond, iDDPMPrecond) around one"));
}

namespace internal_edm_state_dict {

enum class Layout { kSame, kSwapColumns, kSwapRows, kOutputHalf, kBuffer };

// One EDM tensor and where its values live in the diffmem net.
struct Entry {
  std::string edm_name;  // with prefix
  torch::Tensor target;  // the diffmem tensor (undefined for kBuffer)
  Layout layout = Layout::kSame;
  torch::Tensor constant;  // kBuffer: the value EDM stores
  std::vector<int64_t> edm_shape;
};

inline torch::Tensor SwapHalves(const torch::Tensor& t, int64_t dim) {
  const int64_t half = t.size(dim) / 2;
  return torch::cat({t.narrow(dim, half, t.size(dim) - half), t.narrow(dim, 0, half)}, dim);
}

// diffmem layout → EDM layout.
inline torch::Tensor ToEdm(const Entry& e) {
  switch (e.layout) {
    case Layout::kSwapColumns: return SwapHalves(e.target, 1);
    case Layout::kSwapRows: return SwapHalves(e.target, 0);
    case Layout::kOutputHalf: return torch::cat({e.target, torch::zeros_like(e.target)}, 0);
    case Layout::kBuffer: return e.constant;
    default: return e.target;
  }
}

// EDM layout → diffmem layout (the swaps are their own inverses).
inline torch::Tensor FromEdm(const Entry& e, const torch::Tensor& t) {
  if (e.layout == Layout::kOutputHalf) return t.narrow(0, 0, e.target.size(0));
  if (e.layout == Layout::kSwapColumns) return SwapHalves(t, 1);
  if (e.layout == Layout::kSwapRows) return SwapHalves(t, 0);
  return t;
}

template <class Precond, class Spec>
std::vector<Entry> Entries(UNet<Spec>& net, const std::string& prefix) {
  constexpr bool kIddpm = std::is_same<Precond, diffusion::IddpmPreconditioner>::value;
  const int64_t res = net->options.img_resolution();
  std::vector<Entry> out;
  auto add = [&](const std::string& name, const torch::Tensor& t) {
    Entry e{prefix + EdmTensorName(name, res), t};
    if (name == "map_layer0.weight") e.layout = Layout::kSwapColumns;
    if (name == "map_label.weight" || name == "map_label.bias") e.layout = Layout::kSwapRows;
    if (kIddpm && absl::StartsWith(name, "out_conv.")) e.layout = Layout::kOutputHalf;
    e.edm_shape = t.sizes().vec();
    if (e.layout == Layout::kOutputHalf) e.edm_shape[0] *= 2;
    out.push_back(std::move(e));
  };
  for (const auto& p : net->named_parameters()) add(p.key(), p.value());
  for (const auto& b : net->named_buffers()) add(b.key(), b.value());
  for (const auto& m : net->named_modules()) {
    auto conv = std::dynamic_pointer_cast<ResampleConv2dImpl>(m.value());
    if (!conv || !(conv->options.up() || conv->options.down())) continue;
    torch::Tensor f = torch::tensor(conv->options.resample_filter(), torch::kFloat32);
    Entry e{prefix + EdmTensorName(m.key(), res) + ".resample_filter", {}, Layout::kBuffer};
    e.constant = torch::outer(f, f).div(f.sum().square()).reshape({1, 1, f.size(0), f.size(0)});
    e.edm_shape = e.constant.sizes().vec();
    out.push_back(std::move(e));
  }
  if constexpr (kIddpm) {
    if (!prefix.empty()) {  // iDDPMPrecond's table, beside the wrapped net (a bare SongUNet has none)
      Entry e{"u", {}, Layout::kBuffer};
      e.constant = torch::tensor(Precond().sigmas(), torch::kFloat64).to(torch::kFloat32);
      e.edm_shape = e.constant.sizes().vec();
      out.push_back(std::move(e));
    }
  }
  return out;
}

}  // namespace internal_edm_state_dict

// The state dict EDM's preconditioner `Precond` around a SongUNet would have
// for these weights; `prefix` "model." as EDM's wrappers hold the UNet ("" for
// a bare SongUNet). Tensors are fresh CPU copies.
template <class Precond, class Spec>
absl::StatusOr<StateDict> ToEdmStateDict(UNet<Spec>& net, const std::string& prefix = "model.") {
  for (bool on : net->options.skip_mask()) {
    if (!on) return absl::FailedPreconditionError("EDM's SongUNet has no skip mask: this network disables skips");
  }
  torch::NoGradGuard no_grad;
  StateDict out;
  for (const internal_edm_state_dict::Entry& e : internal_edm_state_dict::Entries<Precond>(net, prefix)) {
    out.emplace_back(e.edm_name, internal_edm_state_dict::ToEdm(e).detach().to(torch::kCPU).clone());
  }
  return out;
}

// Loads `sd` (an EDM state dict; `source` names it in errors) into `net`:
// every tensor the net needs must be present with EDM's shape, resampling
// filters and iDDPM's table must match, and no other tensor may be present
// (map_augment.weight excepted; `notes` receives a line about it). Nothing is
// copied unless every check passes. Floating tensors of any dtype are accepted.
template <class Precond, class Spec>
absl::Status LoadEdmStateDict(const StateDict& sd, const std::string& source, UNet<Spec>& net,
                              std::vector<std::string>* notes = nullptr) {
  using internal_edm_state_dict::Entry;
  using internal_edm_state_dict::Layout;
  absl::StatusOr<std::string> prefix = EdmModelPrefix(sd, source);
  if (!prefix.ok()) return prefix.status();
  const std::vector<Entry> entries = internal_edm_state_dict::Entries<Precond>(net, *prefix);
  const std::string what = absl::StrCat("diffmem's ", Spec::kName, " UNet with these options");
  std::vector<torch::Tensor> values;
  std::set<std::string> used;
  for (const Entry& e : entries) {
    const torch::Tensor* t = FindTensor(sd, e.edm_name);
    if (t == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": tensor '", e.edm_name, "' is missing; ", what,
                                                     " expects it with shape ",
                                                     c10::str(c10::IntArrayRef(e.edm_shape))));
    }
    if (t->sizes().vec() != e.edm_shape) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": tensor '", e.edm_name, "' has shape ",
                                                     c10::str(t->sizes()), ", ", what, " expects ",
                                                     c10::str(c10::IntArrayRef(e.edm_shape))));
    }
    if (!t->is_floating_point()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": tensor '", e.edm_name, "' has dtype ", c10::toString(t->scalar_type()),
                                                     ", expected a floating-point type"));
    }
    torch::Tensor value = t->to(torch::kFloat32);
    if (e.layout == Layout::kBuffer) {
      // Filters are exact ratios. EDM computes iDDPM's table by a float32
      // recursion over 1000 levels: up to 5e-4 from diffmem's float64 table.
      const double rtol = e.edm_name == "u" ? 2e-3 : 1e-6;
      if (!torch::allclose(value, e.constant, rtol, /*atol=*/1e-6)) {
        return absl::InvalidArgumentError(absl::StrCat(source, ": buffer '", e.edm_name, "' differs from ", what,
                                                       e.edm_name == "u"
                                                           ? " (iDDPM noise-level table: other M, C_1 or C_2?)"
                                                           : " (another resampling filter than the spec's?)"));
      }
    } else if (!torch::isfinite(value).all().item<bool>()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": tensor '", e.edm_name, "' holds NaN or Inf"));
    }
    values.push_back(internal_edm_state_dict::FromEdm(e, value));
    used.insert(e.edm_name);
  }
  for (const auto& [name, tensor] : sd) {
    if (used.count(name)) continue;
    if (name == *prefix + "map_augment.weight") {
      if (notes) notes->push_back(absl::StrCat("skipped '", name, "' (augmentation labels: training only)"));
      continue;
    }
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": tensor '", name, "' (shape ", c10::str(tensor.sizes()), ") has no place in ", what));
  }
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].layout != Layout::kBuffer) entries[i].target.copy_(values[i]);
  }
  return absl::OkStatus();
}

}  // namespace networks
}  // namespace diffmem

#endif  // DIFFMEM_NETWORKS_EDM_STATE_DICT_H_
