// The files of a training run directory and what identifies its data:
//   config.json, checkpoint.pt, result.json, snapshots/network-snapshot-KKKKKK.pt
//   (loss.csv and stats.jsonl: diffusion/run_logs.h)
//   CheckpointPathOf(file or run dir), ReadCheckpointNetwork(checkpoint)
//   DatasetFingerprint, DatasetSummaryJson — config.json's "dataset"
//
// Example:
//   absl::StatusOr<NetworkConfig> net = ReadCheckpointNetwork(CheckpointPathOf("runs/n32"));

#ifndef DIFFMEM_DIFFUSION_RUN_DIR_H_
#define DIFFMEM_DIFFUSION_RUN_DIR_H_

#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/dataset.h"
#include "diffusion/checkpoint.h"
#include "diffusion/network.h"
#include "nlohmann/json.hpp"

namespace diffmem {
namespace diffusion {

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
inline absl::StatusOr<NetworkConfig> ReadCheckpointNetwork(const std::string& checkpoint) {
  absl::StatusOr<std::string> text = ReadCheckpointConfig(checkpoint);
  if (!text.ok()) return text.status();
  const nlohmann::json config = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded() || !config.contains("network")) {
    return absl::DataLossError(absl::StrCat(checkpoint, ": the stored configuration has no network section"));
  }
  absl::StatusOr<NetworkConfig> network = NetworkConfigFromJson(config.at("network"));
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

}  // namespace diffusion
}  // namespace diffmem

#endif  // DIFFMEM_DIFFUSION_RUN_DIR_H_
