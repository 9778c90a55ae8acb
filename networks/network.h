// The model a run trains, as data: network family (a UNet spec type),
// preconditioner (a policy type) and the UNet's run-time sizes. A
// NetworkConfig round-trips through JSON (config.json, checkpoints), and
// VisitNetwork turns its two names into types through two registries
// (util/type_registry.h), so tools and studies instantiate
// Trainer<Precond, UNet<Spec>> without an `if` per combination;
// VisitNetworkModule also builds the UNet and hands it over.
//
//   specs:            ddpmpp (UNet<DdpmppSpec>), ncsnpp (UNet<NcsnppSpec>)
//   preconditioners:  edm, vp, ve, iddpm (diffusion/preconditioning.h)
//
// Also the flag parsers the tools share: integer lists ("1,2,2"), skip
// masks ("1101": one character per skip in encoder order, "" = all on) and
// noise embeddings ("positional", "fourier", "default").
//
// Example:
//   using namespace diffmem::networks;
//   NetworkConfig config;                                  // ddpmpp + edm
//   config.unet = UNetOptions(16, 1, 1).model_channels(32).channel_mult({1, 2});
//   absl::Status s = VisitNetworkModule(config, [&](auto& net, auto precond) -> absl::Status {
//     using Net = std::decay_t<decltype(net)>;             // UNet<DdpmppSpec>
//     using Precond = typename decltype(precond)::type;    // EdmPreconditioner
//     diffusion::Denoiser<Precond, Net> d(net);
//     return absl::OkStatus();
//   });
//   nlohmann::json j = NetworkConfigToJson(config);
//   absl::StatusOr<NetworkConfig> back = NetworkConfigFromJson(j);

#ifndef DIFFMEM_NETWORKS_NETWORK_H_
#define DIFFMEM_NETWORKS_NETWORK_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "diffusion/preconditioning.h"
#include "networks/num_parameters.h"
#include "networks/unet.h"
#include "nlohmann/json.hpp"
#include "util/json_visit.h"
#include "util/type_registry.h"

namespace diffmem {
namespace networks {

using UNetSpecs = TypeList<DdpmppSpec, NcsnppSpec>;
using Preconditioners = TypeList<diffusion::EdmPreconditioner, diffusion::VpPreconditioner, diffusion::VePreconditioner, diffusion::IddpmPreconditioner>;

// Calls f(TypeTag<Spec>{}) for the UNet spec called `name`; f returns absl::Status.
template <class F>
absl::Status VisitUNetSpec(const std::string& name, F&& f) {
  return VisitByName<UNetSpecs>(name, "network spec", f);
}

// Calls f(TypeTag<Precond>{}) for the preconditioner called `name`.
template <class F>
absl::Status VisitPreconditioner(const std::string& name, F&& f) {
  return VisitByName<Preconditioners>(name, "preconditioner", f);
}

struct NetworkConfig {
  std::string spec = "ddpmpp";
  std::string precond = "edm";
  UNetOptions unet = UNetOptions(32, 3, 3);
};

// Checks the names and the UNet sizes.
inline absl::Status ValidateNetworkConfig(const NetworkConfig& c) {
  absl::Status s = VisitUNetSpec(c.spec, [](auto) { return absl::OkStatus(); });
  if (!s.ok()) return s;
  s = VisitPreconditioner(c.precond, [](auto) { return absl::OkStatus(); });
  if (!s.ok()) return s;
  return ValidateUNetOptions(c.unet);
}

// Calls f(TypeTag<Spec>{}, TypeTag<Precond>{}) for the config's names.
template <class F>
absl::Status VisitNetwork(const NetworkConfig& c, F&& f) {
  if (absl::Status s = ValidateNetworkConfig(c); !s.ok()) return s;
  return VisitUNetSpec(c.spec, [&](auto spec) {
    return VisitPreconditioner(c.precond, [&](auto precond) { return f(spec, precond); });
  });
}

// The one place a NetworkConfig becomes a module: builds UNet<Spec>(c.unet)
// on the CPU (its initial weights drawn from LibTorch's default generator)
// and calls f(net, TypeTag<Precond>{}); f returns absl::Status.
template <class F>
absl::Status VisitNetworkModule(const NetworkConfig& c, F&& f) {
  return VisitNetwork(c, [&](auto spec, auto precond) -> absl::Status {
    UNet<typename decltype(spec)::type> net(c.unet);
    return f(net, precond);
  });
}

// The parameter count of the config's UNet (built once on the CPU).
inline absl::StatusOr<int64_t> CountNetworkParameters(const NetworkConfig& c) {
  int64_t count = 0;
  absl::Status s = VisitNetworkModule(c, [&](auto& net, auto) {
    count = NumParameters(*net);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return count;
}

// ---- Parsers shared by the tools ----

// "1,2,2" → {1, 2, 2}; "" → {} (an empty list).
inline absl::StatusOr<std::vector<int64_t>> ParseIntList(absl::string_view text, absl::string_view what) {
  std::vector<int64_t> out;
  if (text.empty()) return out;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    int64_t v;
    if (!absl::SimpleAtoi(part, &v)) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": '", part, "' in '", text, "' is not an integer"));
    }
    out.push_back(v);
  }
  return out;
}

// "1101" → {on, on, off, on}; "" or "all" → {} (all on). Length is checked
// against the network by ValidateUNetOptions.
inline absl::StatusOr<std::vector<bool>> ParseSkipMask(absl::string_view text) {
  std::vector<bool> out;
  if (text.empty() || text == "all") return out;
  for (char ch : text) {
    if (ch != '0' && ch != '1') {
      return absl::InvalidArgumentError(
          absl::StrCat("skip mask '", text, "': use one 0/1 character per skip (encoder order), or 'all'"));
    }
    out.push_back(ch == '1');
  }
  return out;
}

inline std::string SkipMaskString(const std::vector<bool>& mask) {
  if (mask.empty()) return "all";
  std::string s;
  for (bool b : mask) s.push_back(b ? '1' : '0');
  return s;
}

inline absl::StatusOr<NoiseEmbedding> ParseNoiseEmbedding(absl::string_view text) {
  if (text == "positional") return NoiseEmbedding::kPositional;
  if (text == "fourier") return NoiseEmbedding::kFourier;
  if (text == "default" || text.empty()) return NoiseEmbedding::kSpecDefault;
  return absl::InvalidArgumentError(
      absl::StrCat("embedding '", text, "': expected positional, fourier or default (the spec's own)"));
}

// ---- JSON ----

// The one list of a UNet's stored options and of a NetworkConfig's fields,
// for both JSON directions (util/json_visit.h).
template <class T, class V>  // T: UNetOptions or const UNetOptions
void VisitUNetOptionsFields(T& o, V& v) {
  v("img_resolution", o.img_resolution());
  v("in_channels", o.in_channels());
  v("out_channels", o.out_channels());
  v("model_channels", o.model_channels());
  v("channel_mult", o.channel_mult());
  v("channel_mult_emb", o.channel_mult_emb());
  v("num_blocks", o.num_blocks());
  v("attn_resolutions", o.attn_resolutions());
  v("dropout", o.dropout());
  v("label_dim", o.label_dim());
  v.Text("embedding", o.embedding(), NoiseEmbeddingName, ParseNoiseEmbedding);
  v("fourier_scale", o.fourier_scale());
  v.Text("skip_mask", o.skip_mask(), SkipMaskString, ParseSkipMask);
}

template <class T, class V>  // T: NetworkConfig or const NetworkConfig
void VisitNetworkConfigFields(T& c, V& v) {
  v("spec", c.spec);
  v("precond", c.precond);
  v.Object("unet", c.unet, [](auto& o, auto& w) { VisitUNetOptionsFields(o, w); });
}

inline nlohmann::json UNetOptionsToJson(const UNetOptions& o) {
  return util::JsonWriter::Write(o, [](const UNetOptions& u, util::JsonWriter& w) { VisitUNetOptionsFields(u, w); });
}

inline absl::StatusOr<UNetOptions> UNetOptionsFromJson(const nlohmann::json& j,
                                                       const std::string& where = "network options") {
  return util::JsonReader::Read<UNetOptions>(
      j, where, [](UNetOptions& u, util::JsonReader& r) { VisitUNetOptionsFields(u, r); }, UNetOptions(0, 0, 0));
}

inline nlohmann::json NetworkConfigToJson(const NetworkConfig& c) {
  return util::JsonWriter::Write(c, [](const NetworkConfig& n, util::JsonWriter& w) { VisitNetworkConfigFields(n, w); });
}

// Checked (a missing or mistyped field names itself), then validated.
inline absl::StatusOr<NetworkConfig> NetworkConfigFromJson(const nlohmann::json& j,
                                                           const std::string& where = "network config") {
  absl::StatusOr<NetworkConfig> c = util::JsonReader::Read<NetworkConfig>(
      j, where, [](NetworkConfig& n, util::JsonReader& r) { VisitNetworkConfigFields(n, r); });
  if (!c.ok()) return c.status();
  if (absl::Status s = ValidateNetworkConfig(*c); !s.ok()) return s;
  return c;
}

}  // namespace networks
}  // namespace diffmem

#endif  // DIFFMEM_NETWORKS_NETWORK_H_
