// Scoring a run's snapshot series (TrainOptions::snapshot_kimg): each
// snapshot's EMA weights sample the same seeds, and their memorization ratio
// is measured against the run's training set. The paper's authors report, per
// training-set size, the highest ratio over the snapshots after the first; the
// EMM study's paper preset does the same (EmmStudyConfig::scoring), and
// //tools:mem_ratio --run scores a run directory's series.
//
//   ListSnapshots(run_dir)            — (kimg, path), ascending kimg
//   LoadRunTrainingSet(run_dir)       — the images the run trained on (config.json's data block)
//   ScoreSnapshots(s, run_dir, train, seeds, device, first, log) → the scores and the best after the first
//
// Example:
//   absl::StatusOr<data::Dataset> train = LoadRunTrainingSet("study/runs/n001000");
//   absl::StatusOr<SnapshotSeries> series = ScoreSnapshots(ScoreSettings(), "study/runs/n001000", *train,
//                                                          SeedRange(0, 10000), device, FirstSnapshot::kSkip);
//   // series->scores[series->best].ratio: the run's reported ratio

#ifndef DIFFMEM_STUDY_SNAPSHOT_SCORES_H_
#define DIFFMEM_STUDY_SNAPSHOT_SCORES_H_

#include <torch/types.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <regex>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/data_factors.h"
#include "data/dataset.h"
#include "networks/network.h"
#include "study/run_record.h"
#include "study/sample_and_score.h"
#include "training/checkpoint_denoiser.h"
#include "training/run_dir.h"
#include "training/weights.h"
#include "util/json_file.h"

namespace diffmem {
namespace study {

struct SnapshotSeries {
  std::vector<SnapshotScore> scores;  // ascending kimg
  size_t best = 0;                    // the highest ratio after the first snapshot (the earliest of ties)
  Scored best_scored;                 // its report and pixels
};

// The first snapshot (an early, barely trained network) never gives the
// series' ratio unless it is the only one; it is either not scored at all
// (the study: 10 000 samples saved) or scored for the record (mem_ratio --run).
enum class FirstSnapshot { kSkip, kScoreForTheRecord };

// The snapshots of a run directory, ascending kimg (none: an empty list).
inline absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> ListSnapshots(const std::string& run_dir) {
  std::vector<std::pair<int64_t, std::string>> out;
  std::error_code ec;
  const std::string dir = training::RunSnapshotDir(run_dir);
  if (!std::filesystem::is_directory(dir, ec)) return out;
  static const std::regex kName("network-snapshot-([0-9]+)\\.pt");
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::smatch m;
    const std::string name = entry.path().filename().string();
    if (std::regex_match(name, m, kName)) out.push_back({std::stoll(m[1].str()), entry.path().string()});
  }
  if (ec) return absl::UnavailableError(absl::StrCat(dir, ": cannot list: ", ec.message()));
  std::sort(out.begin(), out.end());
  return out;
}

// The training set of a run, as its config.json's data block names it, with
// the labels only a conditional network saw.
inline absl::StatusOr<data::Dataset> LoadRunTrainingSet(const std::string& run_dir) {
  const std::string path = training::RunConfigPath(run_dir);
  absl::StatusOr<nlohmann::json> config = util::ReadJsonFile(path);
  if (!config.ok()) return config.status();
  if (!config->contains("data") || !config->contains("network")) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no data or network block (not a diffmem run directory?)"));
  }
  absl::StatusOr<std::pair<std::string, data::DataFactors>> source =
      data::DataSourceFromJson(config->at("data"), absl::StrCat(path, ": data"));
  if (!source.ok()) return source.status();
  absl::StatusOr<networks::NetworkConfig> net = networks::NetworkConfigFromJson(config->at("network"));
  if (!net.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": network: ", net.status().message()));
  absl::StatusOr<data::Dataset> ds = data::LoadDataset(source->first, source->second);
  if (!ds.ok()) return ds.status();
  return net->unet.label_dim() > 0 ? *std::move(ds) : data::WithoutLabels(*ds);
}

// Scores the snapshots with `seeds`; the best is the highest after the first.
inline absl::StatusOr<SnapshotSeries> ScoreSnapshots(const ScoreSettings& settings, const std::string& run_dir,
                                                     const data::Dataset& train, const std::vector<uint64_t>& seeds,
                                                     torch::Device device, FirstSnapshot first,
                                                     const std::function<void(const std::string&)>& log = nullptr) {
  absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> all = ListSnapshots(run_dir);
  if (!all.ok()) return all.status();
  std::vector<std::pair<int64_t, std::string>> snapshots = *std::move(all);
  if (snapshots.empty()) {
    return absl::NotFoundError(absl::StrCat(training::RunSnapshotDir(run_dir),
                                            ": no snapshots (train with --snapshot_kimg)"));
  }
  const size_t eligible_from = snapshots.size() > 1 ? 1 : 0;
  if (first == FirstSnapshot::kSkip && eligible_from == 1) snapshots.erase(snapshots.begin());
  const size_t scored_from = first == FirstSnapshot::kSkip ? 0 : eligible_from;  // index of the first eligible score
  SnapshotSeries series;
  for (const auto& [kimg, path] : snapshots) {
    absl::StatusOr<networks::NetworkConfig> network = training::ReadCheckpointNetwork(path);
    if (!network.ok()) return network.status();
    absl::StatusOr<Scored> scored = absl::InternalError("unreachable");
    absl::Status visited = training::VisitCheckpointDenoiser(path, *network, training::Weights::kEma, device,
                                                              [&](auto& denoiser) -> absl::Status {
                                                                scored = SampleAndScore(settings, denoiser, train,
                                                                                        seeds, device);
                                                                return scored.status();
                                                              });
    if (!visited.ok()) return visited;
    const memorization::MemorizationReport& r = scored->report;
    series.scores.push_back({kimg, r.ratio, r.ci_low, r.ci_high, r.memorized, static_cast<int64_t>(r.samples.size())});
    const size_t i = series.scores.size() - 1;
    if (i == scored_from || (i > scored_from && r.ratio > series.scores[series.best].ratio)) {
      series.best = i;
      series.best_scored = *std::move(scored);
    }
    if (log) {
      const SnapshotScore& sc = series.scores.back();  // (r may have moved into best_scored)
      log(absl::StrFormat("snapshot %06d kimg: ratio %.3f [%.3f, %.3f] (%d/%d memorized)", kimg, sc.ratio, sc.ci_low,
                          sc.ci_high, sc.memorized, sc.samples));
    }
  }
  return series;
}

}  // namespace study
}  // namespace diffmem

#endif  // DIFFMEM_STUDY_SNAPSHOT_SCORES_H_
