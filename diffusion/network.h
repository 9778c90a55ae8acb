// The model a run trains, as data: network family (a UNet spec type),
// preconditioner (a policy type) and the UNet's run-time sizes. A
// NetworkConfig round-trips through JSON (config.json, checkpoints), and
// VisitNetwork turns its two names into types through two registries
// (util/type_registry.h), so tools and studies instantiate
// Trainer<Precond, UNet<Spec>> without an `if` per combination.
//
//   specs:            ddpmpp (UNet<DdpmppSpec>), ncsnpp (UNet<NcsnppSpec>)
//   preconditioners:  edm, vp, ve, iddpm (diffusion/preconditioning.h)
//
// Also the flag parsers the tools share: integer lists ("1,2,2"), skip
// masks ("1101": one character per skip in encoder order, "" = all on) and
// noise embeddings ("positional", "fourier", "default").
//
// Example:
//   using namespace diffmem::diffusion;
//   NetworkConfig config;                                  // ddpmpp + edm
//   config.unet = UNetOptions(16, 1, 1).model_channels(32).channel_mult({1, 2});
//   absl::Status s = VisitNetwork(config, [&](auto spec, auto precond) -> absl::Status {
//     using Spec = typename decltype(spec)::type;          // DdpmppSpec
//     using Precond = typename decltype(precond)::type;    // EdmPreconditioner
//     UNet<Spec> net(config.unet);
//     Denoiser<Precond, UNet<Spec>> d(net);
//     return absl::OkStatus();
//   });
//   nlohmann::json j = NetworkConfigToJson(config);
//   absl::StatusOr<NetworkConfig> back = NetworkConfigFromJson(j);

#ifndef DIFFMEM_DIFFUSION_NETWORK_H_
#define DIFFMEM_DIFFUSION_NETWORK_H_

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
#include "diffusion/unet.h"
#include "nlohmann/json.hpp"
#include "util/type_registry.h"

namespace diffmem {
namespace diffusion {

using UNetSpecs = TypeList<DdpmppSpec, NcsnppSpec>;
using Preconditioners = TypeList<EdmPreconditioner, VpPreconditioner, VePreconditioner, IddpmPreconditioner>;

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

// The parameter count of the config's UNet (built once on the CPU).
inline absl::StatusOr<int64_t> CountNetworkParameters(const NetworkConfig& c) {
  if (absl::Status s = ValidateNetworkConfig(c); !s.ok()) return s;
  int64_t count = 0;
  absl::Status s = VisitUNetSpec(c.spec, [&](auto spec) {
    UNet<typename decltype(spec)::type> net(c.unet);
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

inline nlohmann::json UNetOptionsToJson(const UNetOptions& o) {
  return nlohmann::json{{"img_resolution", o.img_resolution()},
                        {"in_channels", o.in_channels()},
                        {"out_channels", o.out_channels()},
                        {"model_channels", o.model_channels()},
                        {"channel_mult", o.channel_mult()},
                        {"channel_mult_emb", o.channel_mult_emb()},
                        {"num_blocks", o.num_blocks()},
                        {"attn_resolutions", o.attn_resolutions()},
                        {"dropout", o.dropout()},
                        {"label_dim", o.label_dim()},
                        {"embedding", NoiseEmbeddingName(o.embedding())},
                        {"fourier_scale", o.fourier_scale()},
                        {"skip_mask", SkipMaskString(o.skip_mask())}};
}

inline absl::StatusOr<UNetOptions> UNetOptionsFromJson(const nlohmann::json& j) {
  try {
    UNetOptions o(j.at("img_resolution").get<int64_t>(), j.at("in_channels").get<int64_t>(),
                  j.at("out_channels").get<int64_t>());
    o.model_channels(j.at("model_channels").get<int64_t>())
        .channel_mult(j.at("channel_mult").get<std::vector<int64_t>>())
        .channel_mult_emb(j.at("channel_mult_emb").get<int64_t>())
        .num_blocks(j.at("num_blocks").get<int64_t>())
        .attn_resolutions(j.at("attn_resolutions").get<std::vector<int64_t>>())
        .dropout(j.at("dropout").get<double>())
        .label_dim(j.at("label_dim").get<int64_t>())
        .fourier_scale(j.at("fourier_scale").get<double>());
    absl::StatusOr<NoiseEmbedding> e = ParseNoiseEmbedding(j.at("embedding").get<std::string>());
    if (!e.ok()) return e.status();
    o.embedding(*e);
    absl::StatusOr<std::vector<bool>> mask = ParseSkipMask(j.at("skip_mask").get<std::string>());
    if (!mask.ok()) return mask.status();
    o.skip_mask(*mask);
    return o;
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("network options: ", e.what()));
  }
}

inline nlohmann::json NetworkConfigToJson(const NetworkConfig& c) {
  return nlohmann::json{{"spec", c.spec}, {"precond", c.precond}, {"unet", UNetOptionsToJson(c.unet)}};
}

inline absl::StatusOr<NetworkConfig> NetworkConfigFromJson(const nlohmann::json& j) {
  NetworkConfig c;
  try {
    c.spec = j.at("spec").get<std::string>();
    c.precond = j.at("precond").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("network config: ", e.what()));
  }
  absl::StatusOr<UNetOptions> unet = UNetOptionsFromJson(j.value("unet", nlohmann::json::object()));
  if (!unet.ok()) return unet.status();
  c.unet = *std::move(unet);
  if (absl::Status s = ValidateNetworkConfig(c); !s.ok()) return s;
  return c;
}

}  // namespace diffusion
}  // namespace diffmem

#endif  // DIFFMEM_DIFFUSION_NETWORK_H_
