// An EMM study on disk:
//   study.json               the full configuration (EmmStudyConfig); later
//                            invocations must agree with it
//   runs/n000040/            one //tools:train-style run directory per N
//                            (config.json, checkpoint.pt, loss.csv, result.json),
//                            plus emm_probe.json (the probe curve so far),
//                            samples.png, top_memorized.png and emm_result.json
//                            (the run's record, written last: a run that has it
//                            is finished and never recomputed)
//   report.json, ratio_vs_n.{png,svg,pdf}, curves.{png,svg,pdf}, top_memorized.png
//
//   EmmRunDirName(n), EmmStudyConfigPath, EmmRunResultPath, EmmProbePath
//   CheckEmmStudyDir(dir, c)   — checks, writing nothing, that dir holds no other study
//   PrepareEmmStudy(dir, c)    — creates dir and study.json, or checks it agrees
//   ReadEmmStudyConfig(dir)    — study.json of an existing study
//   ReadFinishedEmmRuns(dir)   — the records of the finished runs, ascending N
//
// Example:
//   if (absl::Status s = PrepareEmmStudy("/tmp/study", config); !s.ok()) return s;
//   std::string run_dir = absl::StrCat("/tmp/study/", EmmRunDirName(40));   // .../runs/n000040

#ifndef DIFFMEM_STUDY_RUN_LAYOUT_H_
#define DIFFMEM_STUDY_RUN_LAYOUT_H_

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "study/run_record.h"
#include "study/study_config.h"
#include "util/atomic_file.h"
#include "util/json_file.h"

namespace diffmem {
namespace study {

inline std::string EmmRunDirName(int64_t n) { return absl::StrFormat("runs/n%06d", n); }
inline std::string EmmStudyConfigPath(const std::string& dir) { return dir + "/study.json"; }
inline std::string EmmRunResultPath(const std::string& run_dir) { return run_dir + "/emm_result.json"; }
inline std::string EmmProbePath(const std::string& run_dir) { return run_dir + "/emm_probe.json"; }

// Checks, writing nothing, that `dir` holds no study or the study of this
// configuration (so a rerun continues the same study).
inline absl::Status CheckEmmStudyDir(const std::string& dir, const EmmStudyConfig& c) {
  if (absl::Status s = ValidateEmmStudyConfig(c); !s.ok()) return s;
  const std::string path = EmmStudyConfigPath(dir);
  if (!util::FileExists(path)) return absl::OkStatus();
  absl::StatusOr<nlohmann::json> was = util::ReadJsonFile(path);
  if (!was.ok()) return was.status();
  if (std::string d = util::FirstJsonDifference(*was, EmmStudyConfigToJson(c)); !d.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(dir, ": holds a study with another configuration (", d,
                                                      "); use another --out, or the same flags to continue it"));
  }
  return absl::OkStatus();
}

// Creates the study directory and study.json, or checks that an existing
// study.json holds the same configuration (CheckEmmStudyDir).
inline absl::Status PrepareEmmStudy(const std::string& dir, const EmmStudyConfig& c) {
  if (absl::Status s = CheckEmmStudyDir(dir, c); !s.ok()) return s;
  const std::string path = EmmStudyConfigPath(dir);
  if (util::FileExists(path)) return absl::OkStatus();
  const nlohmann::json now = EmmStudyConfigToJson(c);
  std::error_code ec;
  std::filesystem::create_directories(dir + "/runs", ec);
  if (ec) return absl::UnavailableError(absl::StrCat(dir, ": cannot create: ", ec.message()));
  return util::WriteJsonFile(path, now);
}

// `metrics`: what this binary offers (EmmStudyConfigFromJson).
inline absl::StatusOr<EmmStudyConfig> ReadEmmStudyConfig(
    const std::string& dir, const memorization::MetricRegistry& metrics = memorization::MetricRegistryOf<>()) {
  absl::StatusOr<nlohmann::json> j = util::ReadJsonFile(EmmStudyConfigPath(dir));
  if (!j.ok()) return j.status();
  return EmmStudyConfigFromJson(*j, EmmStudyConfigPath(dir), metrics);
}

// The finished runs of a study (those with emm_result.json), ascending N.
inline absl::StatusOr<std::vector<EmmRunRecord>> ReadFinishedEmmRuns(const std::string& study_dir) {
  std::vector<EmmRunRecord> runs;
  std::error_code ec;
  const std::string root = study_dir + "/runs";
  if (!std::filesystem::is_directory(root, ec)) return runs;
  for (const auto& entry : std::filesystem::directory_iterator(root, ec)) {
    const std::string path = EmmRunResultPath(entry.path().string());
    if (!util::FileExists(path)) continue;
    absl::StatusOr<EmmRunRecord> r = ReadEmmRunRecord(path);
    if (!r.ok()) return r.status();
    runs.push_back(std::move(*r));
  }
  if (ec) return absl::UnavailableError(absl::StrCat(root, ": cannot list: ", ec.message()));
  std::sort(runs.begin(), runs.end(), [](const EmmRunRecord& a, const EmmRunRecord& b) { return a.n < b.n; });
  return runs;
}

}  // namespace study
}  // namespace diffmem

#endif  // DIFFMEM_STUDY_RUN_LAYOUT_H_
