// The EMM search's settings and estimate as JSON, for study.json and
// report.json (format fixed: tools and notebooks read these fields).
//
//   EmmSearchOptionsToJson / EmmSearchOptionsFromJson(j, where)  — validated on reading
//   EmmEstimateToJson(estimate, options)  — status, threshold, emm, bracket, interpolated
//
// Example:
//   nlohmann::json j = EmmSearchOptionsToJson(options);
//   absl::StatusOr<EmmSearchOptions> back = EmmSearchOptionsFromJson(j, "study.json: search");

#ifndef DIFFMEM_STUDY_EMM_SEARCH_JSON_H_
#define DIFFMEM_STUDY_EMM_SEARCH_JSON_H_

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "study/emm_search.h"
#include "util/enum_names.h"
#include "util/json_fields.h"

namespace diffmem {
namespace study {

// null for an empty optional.
template <typename T>
nlohmann::json OptionalToJson(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

inline nlohmann::json EmmSearchOptionsToJson(const EmmSearchOptions& o) {
  return {{"epsilon", o.epsilon},     {"n_min", o.n_min},   {"n_max", o.n_max},         {"n_start", o.start()},
          {"granularity", o.granularity}, {"growth", o.growth}, {"precision", o.precision}, {"max_runs", o.max_runs},
          {"parallel", o.parallel},   {"extra_n", o.extra_n}};
}

inline absl::StatusOr<EmmSearchOptions> EmmSearchOptionsFromJson(const nlohmann::json& j, const std::string& where) {
  util::JsonFields f(j, where);
  EmmSearchOptions o;
  o.epsilon = f.Number("epsilon");
  o.n_min = f.Integer("n_min");
  o.n_max = f.Integer("n_max");
  o.n_start = f.Integer("n_start");
  o.granularity = f.Integer("granularity");
  o.growth = f.Number("growth");
  o.precision = f.Number("precision");
  o.max_runs = static_cast<int>(f.Integer("max_runs"));
  o.parallel = static_cast<int>(f.Integer("parallel"));
  if (const nlohmann::json* extra = f.Get("extra_n", /*required=*/false)) {
    f.Check(extra->is_array(), "extra_n", "must be an array of integers");
    for (const nlohmann::json& n : extra->is_array() ? *extra : nlohmann::json::array()) {
      f.Check(n.is_number_integer(), "extra_n", "must be an array of integers");
      if (n.is_number_integer()) o.extra_n.push_back(n.get<int64_t>());
    }
  }
  if (!f.status().ok()) return f.status();
  if (absl::Status v = ValidateEmmSearchOptions(o); !v.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", v.message()));
  }
  return o;
}

inline nlohmann::json EmmEstimateToJson(const EmmEstimate& e, const EmmSearchOptions& o) {
  return {{"status", EnumName(e.status)},
          {"threshold", o.memorization_threshold()},
          {"emm", OptionalToJson(e.emm)},
          {"bracket", {OptionalToJson(e.n_lo), OptionalToJson(e.n_hi)}},
          {"interpolated", OptionalToJson(e.interpolated)}};
}

}  // namespace study
}  // namespace diffmem

#endif  // DIFFMEM_STUDY_EMM_SEARCH_JSON_H_
