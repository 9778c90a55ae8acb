#include "tools/mem_ratio_main.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "data/data_factors.h"
#include "data/png.h"
#include "data/png_folder.h"
#include "memorization/top_memorized.h"
#include "study/sample_and_score.h"
#include "study/snapshot_scores.h"
#include "tools/data_flags.h"
#include "tools/sampler_flags.h"
#include "tools/tool_main.h"
#include "util/atomic_file.h"
#include "util/json_file.h"
#include "util/progress.h"

ABSL_FLAG(std::string, samples, "", "folder of generated PNG images (searched recursively)");
ABSL_FLAG(std::string, run, "",
          "instead of --samples: a run directory whose snapshot series (train --snapshot_kimg) to score, each "
          "snapshot's EMA weights sampling --seeds (sampler flags as //tools:sample) against the run's own "
          "training set; one line per snapshot and the highest after the first (the paper's rule)");
ABSL_FLAG(std::string, out, "", "output directory for report.json and top_memorized.png (required; created)");
ABSL_FLAG(std::string, metric, "l2", "distance (the list is in the usage line above)");
ABSL_FLAG(double, threshold, 1.0 / 3.0, "memorized when d1/d2 < threshold");
ABSL_FLAG(double, confidence, 0.95, "level of the Wilson confidence interval");
ABSL_FLAG(int64_t, top, 16, "pairs shown in top_memorized.png");

namespace diffmem {
namespace tools {
namespace {

using memorization::MemorizationReport;

// Pictures written beside samples by diffmem's tools: not samples.
bool IsToolPicture(const std::string& rel) { return rel == "grid.png" || rel == "top_memorized.png"; }

struct Samples {
  std::vector<std::string> files;  // relative to --samples
  torch::Tensor images;            // uint8 S×C×H×W
};

absl::StatusOr<Samples> ReadSamples(const std::string& dir) {
  absl::StatusOr<std::vector<std::string>> names = data::ListPngFiles(dir);
  if (!names.ok()) return names.status();
  Samples s;
  std::vector<torch::Tensor> images;
  util::ProgressMeter meter(static_cast<int64_t>(names->size()), "files");
  for (const std::string& rel : *names) {
    if (images.size() % 2000 == 1999) std::fprintf(stderr, "mem_ratio: reading samples %s\n", meter.Line(images.size() + 1).c_str());
    if (IsToolPicture(rel)) continue;
    const std::string path = absl::StrCat(dir, "/", rel);
    absl::StatusOr<torch::Tensor> image = data::ReadPng(path);
    if (!image.ok()) return image.status();
    if (!images.empty() && image->sizes() != images.front().sizes()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": image shape ", c10::str(image->sizes()),
                                                     " (C×H×W) differs from ", s.files.front(), "'s ",
                                                     c10::str(images.front().sizes())));
    }
    s.files.push_back(rel);
    images.push_back(*std::move(image));
  }
  if (images.empty()) return absl::InvalidArgumentError(absl::StrCat("--samples: no PNG samples under ", dir));
  s.images = torch::stack(images, 0);
  return s;
}

nlohmann::json ReportJson(const MemorizationReport& r, const Samples& samples, const data::Dataset& train,
                          const std::string& samples_dir) {
  nlohmann::json j;
  j["metric"] = r.metric;
  j["threshold"] = r.threshold;
  j["confidence"] = r.confidence;
  j["num_samples"] = r.samples.size();
  j["memorized"] = r.memorized;
  j["ratio"] = r.ratio;
  j["ci_low"] = r.ci_low;
  j["ci_high"] = r.ci_high;
  j["samples_dir"] = samples_dir;
  j["train_source"] = train.source;
  j["train_size"] = train.size();
  j["image_shape"] = {train.channels(), train.height(), train.width()};
  nlohmann::json rows = nlohmann::json::array();
  for (size_t i = 0; i < r.samples.size(); ++i) {
    const memorization::SampleMemorization& s = r.samples[i];
    nlohmann::json row = {{"file", samples.files[i]}, {"nearest", s.nearest}, {"second", s.second},
                          {"d1", s.d1},           {"d2", s.d2},           {"ratio", s.ratio},
                          {"memorized", s.memorized}};
    if (train.has_labels()) row["nearest_label"] = train.labels[s.nearest].item<int64_t>();
    rows.push_back(row);
  }
  j["samples"] = rows;
  return j;
}

// --run: the snapshot series of a run directory, scored one snapshot at a time.
absl::Status ScoreRunSeries(const std::string& run_dir, const std::string& out,
                            const memorization::MetricRegistry& metrics) {
  absl::StatusOr<diffusion::SamplerConfig> sampler = SamplerConfigFromFlags();
  if (!sampler.ok()) return sampler.status();
  absl::StatusOr<std::vector<uint64_t>> seeds = SeedsFromFlags();
  if (!seeds.ok()) return seeds.status();
  absl::StatusOr<data::Dataset> train = study::LoadRunTrainingSet(run_dir);
  if (!train.ok()) return train.status();
  study::ScoreSettings settings;
  settings.metric = absl::GetFlag(FLAGS_metric);
  settings.metrics = metrics;
  settings.ratio_threshold = absl::GetFlag(FLAGS_threshold);
  settings.confidence = absl::GetFlag(FLAGS_confidence);
  settings.sampler = *sampler;
  std::fprintf(stderr, "mem_ratio: scoring the snapshots of %s: %zu seeds each, vs %lld images of %s\n", run_dir.c_str(),
               seeds->size(), static_cast<long long>(train->size()), train->source.c_str());
  absl::StatusOr<study::SnapshotSeries> series = study::ScoreSnapshots(
      settings, run_dir, *train, *seeds, torch::kCPU, study::FirstSnapshot::kScoreForTheRecord,
      [](const std::string& line) { std::printf("%s\n", line.c_str()); });
  if (!series.ok()) return series.status();
  const study::SnapshotScore& b = series->scores[series->best];
  const char* rule = series->scores.size() > 1 ? "after the first snapshot" : "the only snapshot";
  std::printf("max (%s): %06lld kimg, ratio %.4f [%.4f, %.4f] (%lld/%lld memorized)\n", rule,
              static_cast<long long>(b.kimg), b.ratio, b.ci_low, b.ci_high, static_cast<long long>(b.memorized),
              static_cast<long long>(b.samples));
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) return absl::UnavailableError(absl::StrCat(out, ": cannot create directory: ", ec.message()));
  const nlohmann::json j = {{"run", run_dir},
                            {"metric", settings.metric},
                            {"threshold", settings.ratio_threshold},
                            {"seeds", seeds->size()},
                            {"sampler", diffusion::SamplerConfigToJson(settings.sampler)},
                            {"train_source", train->source},
                            {"train_size", train->size()},
                            {"snapshots", study::SnapshotScoresToJson(series->scores)},
                            {"max", study::SnapshotScoresToJson({b})[0]},
                            {"max_rule", rule}};
  const std::string json_path = absl::StrCat(out, "/report.json"), top_path = absl::StrCat(out, "/top_memorized.png");
  if (absl::Status s = util::WriteJsonFile(json_path, j); !s.ok()) return s;
  if (absl::Status s = memorization::WriteTopMemorized(top_path, series->best_scored.report, series->best_scored.pixels,
                                                       train->images, absl::GetFlag(FLAGS_top));
      !s.ok()) {
    return s;
  }
  std::fprintf(stderr, "mem_ratio: wrote %s and %s (the %06lld kimg snapshot's samples)\n", json_path.c_str(),
               top_path.c_str(), static_cast<long long>(b.kimg));
  return absl::OkStatus();
}

absl::Status Run(const memorization::MetricRegistry& metrics) {
  const std::string samples_dir = absl::GetFlag(FLAGS_samples), out = absl::GetFlag(FLAGS_out);
  const double threshold = absl::GetFlag(FLAGS_threshold), confidence = absl::GetFlag(FLAGS_confidence);
  const std::string run = absl::GetFlag(FLAGS_run);
  for (absl::Status s : {CheckFlag(samples_dir.empty() != run.empty(), run.empty() ? "samples" : "run",
                                   run.empty() ? "a folder of PNG samples (or --run) is required"
                                               : "--run and --samples exclude each other"),
                         CheckFlag(!out.empty(), "out", "an output directory is required"),
                         CheckFlag(threshold > 0, "threshold", "must be positive"),
                         CheckFlag(confidence > 0 && confidence < 1, "confidence", "must be in (0, 1)"),
                         CheckFlag(absl::GetFlag(FLAGS_top) >= 1, "top", "must be >= 1")}) {
    if (!s.ok()) return s;
  }
  if (absl::Status s = metrics.Check(absl::GetFlag(FLAGS_metric)); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--metric: ", s.message()));
  }
  if (!run.empty()) return ScoreRunSeries(run, out, metrics);
  // The whole training set unless the data flags choose a subset.
  std::string spec = kDefaultDataSpec;
  data::DataFactors factors = ToolDataDefaults();
  factors.labels = "keep";
  OverlayDataFlags(spec, factors);
  absl::StatusOr<data::Dataset> train = data::LoadDataset(spec, factors);
  if (!train.ok()) return train.status();
  if (train->size() < 2) return absl::InvalidArgumentError(absl::StrCat(train->source, ": needs >= 2 images"));

  absl::StatusOr<Samples> samples = ReadSamples(samples_dir);
  if (!samples.ok()) return samples.status();
  if (samples->images.sizes().slice(1) != train->images.sizes().slice(1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--samples: images are ", c10::str(samples->images.sizes().slice(1)), " (C×H×W) but ",
                     train->source, " has ", c10::str(train->images.sizes().slice(1)),
                     "; pick the training set's --resolution to match"));
  }

  memorization::MemorizationOptions options;
  options.threshold = threshold;
  options.confidence = confidence;
  util::ProgressMeter meter(samples->images.size(0), "samples");
  options.progress = [&](int64_t done, int64_t total) {
    if (total > options.progress_block) std::fprintf(stderr, "mem_ratio: nearest neighbours %s\n", meter.Line(done).c_str());
  };
  // Pixel space (uint8 values as they are), as in the paper.
  absl::StatusOr<MemorizationReport> report =
      metrics.Ratio(absl::GetFlag(FLAGS_metric), samples->images, train->images, options);
  if (!report.ok()) return report.status();

  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) return absl::UnavailableError(absl::StrCat(out, ": cannot create directory: ", ec.message()));
  const std::string json_path = absl::StrCat(out, "/report.json");
  const std::string json = ReportJson(*report, *samples, *train, samples_dir).dump(2) + "\n";
  if (absl::Status s = diffmem::util::WriteFileAtomically(json_path, json); !s.ok()) return s;
  const std::string top_path = absl::StrCat(out, "/top_memorized.png");
  if (absl::Status s = memorization::WriteTopMemorized(top_path, *report, samples->images, train->images, absl::GetFlag(FLAGS_top));
      !s.ok()) {
    return s;
  }
  std::printf("memorization ratio %.4f (%lld of %lld), %.0f%% CI [%.4f, %.4f], %s, d1/d2 < %.4g vs %lld images of %s\n",
              report->ratio, static_cast<long long>(report->memorized),
              static_cast<long long>(report->samples.size()), 100 * confidence, report->ci_low, report->ci_high,
              report->metric.c_str(), threshold, static_cast<long long>(train->size()), train->source.c_str());
  std::fprintf(stderr, "mem_ratio: wrote %s and %s\n", json_path.c_str(), top_path.c_str());
  return absl::OkStatus();
}

}  // namespace

int RunMemRatioTool(int argc, char** argv, const memorization::MetricRegistry& metrics) {
  return ToolMain(
      argc, argv,
      absl::StrCat("Memorization ratio (d1/d2 < 1/3) of generated PNGs against a training set; writes\n"
                   "OUT/report.json and OUT/top_memorized.png.\n"
                   "  mem_ratio --samples=DIR --out=DIR [--data=fashion-mnist] [--n=1000] [--subset=balanced]\n"
                   "            [--resolution=0] [--metric=l2] [--threshold=0.3333]\n"
                   "  mem_ratio --run=RUN_DIR --seeds=0-9999 --out=DIR   (a run's snapshot series; max after the first)\n"
                   "Metrics: ", absl::StrJoin(metrics.names, ", "), ". Training set: the whole of --data (default\n"
                   "Fashion-MNIST's 60k training images) unless --n/--subset choose fewer."),
      [&] { return Run(metrics); });
}

}  // namespace tools
}  // namespace diffmem
