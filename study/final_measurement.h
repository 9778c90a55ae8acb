// The final measurement of a trained EMM run: the memorization ratio on the
// study's `samples` seeds — of the final weights (raw or EMA), or of the best
// snapshot after the first (the authors' scoring) — the run's pictures
// (samples.png, top_memorized.png) and the empirical optimum's ratio on the
// same seeds; the results go into the run's record.
//
//   ScoreWeights(c, models, seeds)             — sample the chosen weights and score them
//   MeasureTrainedRun(c, run_dir, models, rec, say) — the whole measurement
//
// Example:
//   if (absl::Status s = MeasureTrainedRun(config, "study/runs/n000040", models, record, Log); !s.ok()) return s;

#ifndef DIFFMEM_STUDY_FINAL_MEASUREMENT_H_
#define DIFFMEM_STUDY_FINAL_MEASUREMENT_H_

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/dataset.h"
#include "data/image_grid.h"
#include "data/pixels.h"
#include "memorization/optimal_denoiser.h"
#include "memorization/top_memorized.h"
#include "study/run_record.h"
#include "study/sample_and_score.h"
#include "study/snapshot_scores.h"
#include "study/study_config.h"
#include "training/train_callbacks.h"
#include "training/weights.h"
#include "util/enum_names.h"

namespace diffmem {
namespace study {

using EmmLog = std::function<void(const std::string&)>;

// Samples the weights the study scores (c.weights) on `seeds` and scores them.
inline absl::StatusOr<Scored> ScoreWeights(const EmmStudyConfig& c, training::TrainedModels& m,
                                           const std::vector<uint64_t>& seeds) {
  return SampleAndScore(ScoreSettingsOf(c), c.weights == training::Weights::kEma ? m.ema : m.raw, *m.dataset, seeds,
                        m.device);
}

// Fills rec's ratio, interval, sample count, snapshot scores and optimum
// ratio; writes the pictures into run_dir. `say` gets progress lines
// (": measuring ...").
inline absl::Status MeasureTrainedRun(const EmmStudyConfig& c, const std::string& run_dir,
                                      training::TrainedModels& m, EmmRunRecord& rec, const EmmLog& say) {
  // The final measurement on the full sample count: the final weights, or
  // the best snapshot after the first.
  const std::vector<uint64_t> seeds = SeedRange(c.sample_seed, c.samples);
  absl::StatusOr<Scored> s = absl::InternalError("not scored");
  rec.scored_by = c.scoring;
  if (c.scoring == Scoring::kMaxOverSnapshots) {
    say(absl::StrFormat(": measuring %d samples per snapshot (EMA weights; the best counts)", c.samples));
    absl::StatusOr<SnapshotSeries> series = ScoreSnapshots(ScoreSettingsOf(c), run_dir, *m.dataset, seeds, m.device,
                                                           FirstSnapshot::kSkip, [&](const std::string& line) {
                                                             say(absl::StrCat(": ", line));
                                                           });
    if (!series.ok()) return series.status();
    rec.snapshots = series->scores;
    rec.best_snapshot_kimg = series->scores[series->best].kimg;
    rec.weights = training::Weights::kEma;
    s = std::move(series->best_scored);
  } else {
    say(absl::StrFormat(": measuring %d samples (%s weights)", c.samples, EnumName(c.weights)));
    s = ScoreWeights(c, m, seeds);
  }
  if (!s.ok()) return s.status();
  rec.samples = static_cast<int64_t>(s->report.samples.size());
  rec.memorized = s->report.memorized;
  rec.ratio = s->report.ratio;
  rec.ci_low = s->report.ci_low;
  rec.ci_high = s->report.ci_high;
  const data::Dataset& train = *m.dataset;
  data::GridOptions grid;
  grid.columns = 16;
  if (absl::Status w = data::WriteImageGrid(run_dir + "/samples.png",
                                            s->pixels.narrow(0, 0, std::min<int64_t>(256, s->pixels.size(0))), grid);
      !w.ok()) {
    return w;
  }
  if (absl::Status w = memorization::WriteTopMemorized(run_dir + "/top_memorized.png", s->report, s->pixels,
                                                       train.images, 16);
      !w.ok()) {
    return w;
  }
  if (c.optimum_reference) {
    // On the run's device: the optimum computes where its training images are.
    memorization::EmpiricalOptimalDenoiser optimum(data::PixelsToFloat(train.images.to(m.device)),
                                                   train.has_labels() ? train.labels.to(m.device) : torch::Tensor());
    absl::StatusOr<Scored> o = SampleAndScore(ScoreSettingsOf(c), optimum, train, seeds, m.device);
    if (!o.ok()) return o.status();
    rec.optimum_ratio = o->report.ratio;
    rec.optimum_samples = static_cast<int64_t>(o->report.samples.size());
  }
  return absl::OkStatus();
}

}  // namespace study
}  // namespace diffmem

#endif  // DIFFMEM_STUDY_FINAL_MEASUREMENT_H_
