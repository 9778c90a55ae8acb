// The result of a factor study (`estimate_emm --vary=FACTOR=v1,v2,...`): one
// row per value of the factor with the EMM estimate found there, as CSV (for
// spreadsheets) and JSON (emm_vs_FACTOR.csv / .json).
//
// Example:
//   std::vector<EmmFactorRow> rows = {{"resolution", "8", "study/resolution=8", estimate, 6, 412.0}};
//   std::string csv = EmmFactorTableToCsv(rows);
//   nlohmann::json j = EmmFactorTableToJson(rows, search_options);

#ifndef DIFFMEM_STUDY_FACTOR_TABLE_H_
#define DIFFMEM_STUDY_FACTOR_TABLE_H_

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "study/emm_search.h"
#include "study/emm_search_json.h"
#include "util/enum_names.h"

namespace diffmem {
namespace study {

struct EmmFactorRow {
  std::string factor, value;  // e.g. "resolution", "8"
  std::string study_dir;      // the study of this value
  EmmEstimate estimate;
  int runs = 0;
  double wall_seconds = 0;
};

inline nlohmann::json EmmFactorTableToJson(const std::vector<EmmFactorRow>& rows, const EmmSearchOptions& o) {
  nlohmann::json a = nlohmann::json::array();
  for (const EmmFactorRow& r : rows) {
    nlohmann::json e = EmmEstimateToJson(r.estimate, o);
    e["factor"] = r.factor;
    e["value"] = r.value;
    e["study_dir"] = r.study_dir;
    e["runs"] = r.runs;
    e["wall_seconds"] = r.wall_seconds;
    a.push_back(e);
  }
  return {{"format", "diffmem.emm_factor_table.v1"}, {"rows", a}};
}

// factor,value,emm,n_lo,n_hi,interpolated,status,runs,wall_seconds (empty cells for "none").
inline std::string EmmFactorTableToCsv(const std::vector<EmmFactorRow>& rows) {
  auto opt = [](const auto& v) { return v ? absl::StrCat(*v) : std::string(); };
  std::string csv = "factor,value,emm,n_lo,n_hi,interpolated,status,runs,wall_seconds\n";
  for (const EmmFactorRow& r : rows) {
    const std::string interp = r.estimate.interpolated ? absl::StrFormat("%.1f", *r.estimate.interpolated) : "";
    absl::StrAppend(&csv, r.factor, ",", r.value, ",", opt(r.estimate.emm), ",", opt(r.estimate.n_lo), ",",
                    opt(r.estimate.n_hi), ",", interp, ",", EnumName(r.estimate.status), ",", r.runs,
                    ",", absl::StrFormat("%.1f", r.wall_seconds), "\n");
  }
  return csv;
}

}  // namespace study
}  // namespace diffmem

#endif  // DIFFMEM_STUDY_FACTOR_TABLE_H_
