// The files of a training run directory, what identifies its data, and
// opening one (a new run, or the resume of the run it holds). It holds
//   config.json     the full configuration (network, training, data, data set
//                   fingerprint, parameter count, total steps, world size)
//   loss.csv, stats.jsonl   one record per log interval (training/run_logs.h)
//   checkpoint.pt   the latest checkpoint (training/checkpoint.h)
//   result.json     written when the run ends (finished or stopped early)
//   snapshots/network-snapshot-KKKKKK.pt   EMA weights at KKKKKK kimg
//   CheckpointPathOf(file or run dir), ReadCheckpointNetwork(checkpoint)
//   DatasetFingerprint, DatasetSummaryJson — config.json's "dataset"
//   CheckNoRunIn(dir) — a new run's check, writing nothing
//   RemoveStaleTempFiles(dir) — FILE.tmp.PID left by a killed write (OpenRunDirectory calls it)
//   OpenRunDirectory — refuses to overwrite a run, and refuses a resume
//   whose configuration (or world size) would not continue bit for bit
//
// Example:
//   absl::StatusOr<NetworkConfig> net = ReadCheckpointNetwork(CheckpointPathOf("runs/n32"));

#ifndef DIFFMEM_TRAINING_RUN_DIR_H_
#define DIFFMEM_TRAINING_RUN_DIR_H_

#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <iterator>
#include <string>
#include <system_error>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/dataset.h"
#include "networks/network.h"
#include "nlohmann/json.hpp"
#include "training/checkpoint.h"
#include "training/train_options.h"
#include "util/atomic_file.h"
#include "util/json_file.h"

namespace diffmem {
namespace training {

// Files of a run directory.
inline std::string RunConfigPath(const std::string& run_dir) { return run_dir + "/config.json"; }
inline std::string RunCheckpointPath(const std::string& run_dir) { return run_dir + "/checkpoint.pt"; }
inline std::string RunResultPath(const std::string& run_dir) { return run_dir + "/result.json"; }

// The snapshot series of a run (TrainOptions::snapshot_kimg): EDM's names.
inline std::string RunSnapshotDir(const std::string& run_dir) { return run_dir + "/snapshots"; }
inline std::string RunSnapshotPath(const std::string& run_dir, int64_t kimg) {
  return absl::StrFormat("%s/network-snapshot-%06d.pt", RunSnapshotDir(run_dir), kimg);
}

// A checkpoint file, or a run directory's checkpoint.pt.
inline std::string CheckpointPathOf(const std::string& file_or_run_dir) {
  std::error_code ec;
  return std::filesystem::is_directory(file_or_run_dir, ec) ? RunCheckpointPath(file_or_run_dir) : file_or_run_dir;
}

// The network a checkpoint was trained with (its stored configuration).
inline absl::StatusOr<networks::NetworkConfig> ReadCheckpointNetwork(const std::string& checkpoint) {
  absl::StatusOr<std::string> text = ReadCheckpointConfig(checkpoint);
  if (!text.ok()) return text.status();
  const nlohmann::json config = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded() || !config.contains("network")) {
    return absl::DataLossError(absl::StrCat(checkpoint, ": the stored configuration has no network section"));
  }
  absl::StatusOr<networks::NetworkConfig> network = networks::NetworkConfigFromJson(config.at("network"));
  if (!network.ok()) return absl::DataLossError(absl::StrCat(checkpoint, ": ", network.status().message()));
  return network;
}

// FNV-1a over images and labels: tells a resumed run it sees the same data.
inline std::string DatasetFingerprint(const data::Dataset& ds) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](const torch::Tensor& t) {
    torch::Tensor c = t.contiguous().cpu();
    const auto* b = static_cast<const unsigned char*>(c.data_ptr());
    const size_t bytes = c.numel() * c.element_size();
    for (size_t i = 0; i < bytes; ++i) h = (h ^ b[i]) * 1099511628211ull;
  };
  if (ds.images.defined()) mix(ds.images);
  if (ds.labels.defined()) mix(ds.labels);
  return absl::StrFormat("%016x", h);
}

inline nlohmann::json DatasetSummaryJson(const data::Dataset& ds) {
  return nlohmann::json{{"source", ds.source},
                        {"size", ds.size()},
                        {"channels", ds.size() > 0 ? ds.channels() : 0},
                        {"height", ds.size() > 0 ? ds.height() : 0},
                        {"width", ds.size() > 0 ? ds.width() : 0},
                        {"has_labels", ds.has_labels()},
                        {"num_classes", ds.num_classes},
                        {"fingerprint", DatasetFingerprint(ds)}};
}

// Which setting of a stored configuration differs from the new one in a way
// that would break a bit-exact resume ("training.lr: was 0.001, now 0.002");
// "" when compatible. The duration, intervals and device may change; the
// world size is CheckResumeWorldSize's.
inline std::string ResumeMismatch(nlohmann::json stored, nlohmann::json now) {
  for (nlohmann::json* j : {&stored, &now}) {
    j->erase("total_steps");
    j->erase("world_size");
    if (!j->contains("training") || !j->at("training").is_object()) continue;
    nlohmann::json& t = j->at("training");
    for (auto it = t.begin(); it != t.end();) it = TrainOptionMayChangeOnResume(it.key()) ? t.erase(it) : std::next(it);
  }
  return util::FirstJsonDifference(stored, now);
}

// A run resumes only with the world size it was trained with (runs from
// before data parallelism record none: one process). Another world size
// would change the dropout streams and the order of float sums.
inline absl::Status CheckResumeWorldSize(const nlohmann::json& stored, int world_size, const std::string& run_dir) {
  int64_t was = 1;
  if (stored.contains("world_size")) {
    if (!stored["world_size"].is_number_integer()) {
      return absl::DataLossError(absl::StrCat(run_dir, "/config.json: world_size is not an integer"));
    }
    was = stored["world_size"].get<int64_t>();
  }
  if (was != world_size) {
    return absl::FailedPreconditionError(absl::StrCat(
        run_dir, ": cannot resume, the run was trained with world size ", was, " (data-parallel ranks) and this job has ",
        world_size, "; resume it with ", was, was == 1 ? " process" : " ranks"));
  }
  return absl::OkStatus();
}

// Opens `run_dir` for the run `config` describes (what config.json will
// hold): a new run (resume = false) must not find one there; a resume
// checks the stored config.json, if any, against `config`. Only the writing
// rank (`writes`) looks for an existing run and creates the directory: it
// may have written config.json already when another rank looks.
// Removes what a process killed in the middle of util::WriteFileAtomically
// left in `run_dir` and its snapshots/: files named FILE.tmp.PID. Only the
// writing rank of the run writes there, and it calls this before it writes;
// returns how many it removed.
inline absl::StatusOr<int> RemoveStaleTempFiles(const std::string& run_dir) {
  int removed = 0;
  for (const std::string& dir : {run_dir, run_dir + "/snapshots"}) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      const std::string name = entry.path().filename().string();
      const size_t at = name.rfind(".tmp.");
      if (at == std::string::npos || at == 0 || at + 5 == name.size() || !entry.is_regular_file()) continue;
      if (name.find_first_not_of("0123456789", at + 5) != std::string::npos) continue;
      if (!std::filesystem::remove(entry.path(), ec) || ec) {
        return absl::UnavailableError(absl::StrCat(entry.path().string(), ": cannot remove this stale temporary file: ",
                                                   ec.message()));
      }
      ++removed;
    }
  }
  return removed;
}

// A new run's check, writing nothing: `run_dir` holds no run (no
// checkpoint.pt, no config.json).
inline absl::Status CheckNoRunIn(const std::string& run_dir) {
  const std::string cfg = RunConfigPath(run_dir);
  if (util::FileExists(RunCheckpointPath(run_dir)) || util::FileExists(cfg)) {
    return absl::AlreadyExistsError(
        absl::StrCat(run_dir, ": already holds a run (", cfg, "); pass --resume to continue it or choose another --out"));
  }
  return absl::OkStatus();
}

inline absl::Status OpenRunDirectory(const std::string& run_dir, const nlohmann::json& config, bool resume,
                                     int world_size, bool writes) {
  const std::string cfg = RunConfigPath(run_dir);
  if (!resume) {
    if (writes) {
      if (absl::Status s = CheckNoRunIn(run_dir); !s.ok()) return s;
    }
  } else if (util::FileExists(cfg)) {
    absl::StatusOr<std::string> text = util::ReadFileToString(cfg);
    if (!text.ok()) return text.status();
    const nlohmann::json stored = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (stored.is_discarded()) return absl::DataLossError(absl::StrCat(cfg, ": not valid JSON"));
    if (absl::Status s = CheckResumeWorldSize(stored, world_size, run_dir); !s.ok()) return s;
    if (std::string why = ResumeMismatch(stored, config); !why.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(run_dir, ": cannot resume, the configuration changed: ", why));
    }
  }
  if (!writes) return absl::OkStatus();
  std::error_code ec;
  std::filesystem::create_directories(run_dir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat(run_dir, ": cannot create run directory: ", ec.message()));
  return RemoveStaleTempFiles(run_dir).status();
}

}  // namespace training
}  // namespace diffmem

#endif  // DIFFMEM_TRAINING_RUN_DIR_H_
