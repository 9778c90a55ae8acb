// How an EMM study measures a denoiser (a trained network or the empirical
// optimum): sample fixed seeds with the EDM Heun sampler (18 steps, the σ
// range narrowed to the denoiser's before discretizing, as EDM), asking a
// conditional denoiser for the class EDM draws for each seed (uniform,
// seeded: the same classes //tools:sample asks for), turn the samples into
// pixels as they would be saved, and compute their memorization ratio against
// the training images in pixel space with the study's metric (looked up by
// name in the settings' memorization::MetricRegistry: the built-in metrics,
// or those of the binary that runs the study).
//
//   ScoreSettings                  — metric, threshold, sampler (ScoreSettingsOf(study config))
//   SeedRange(first, count)        — first, first+1, …
//   kProbeSeedOffset               — probe seeds never overlap the final samples' seeds
//   SampleAndScore(s, d, train, seeds, device) → {report, pixels}
//
// Example:
//   absl::StatusOr<Scored> s = SampleAndScore(ScoreSettingsOf(config), models.ema, train, SeedRange(0, 128), models.device);
//   double ratio = s->report.ratio;

#ifndef DIFFMEM_STUDY_SAMPLE_AND_SCORE_H_
#define DIFFMEM_STUDY_SAMPLE_AND_SCORE_H_

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/dataset.h"
#include "data/pixels.h"
#include "diffusion/edm_seeds.h"
#include "diffusion/sampler_config.h"
#include "memorization/memorization_ratio.h"
#include "memorization/metric_registry.h"
#include "study/study_config.h"

namespace diffmem {
namespace study {

inline std::vector<uint64_t> SeedRange(uint64_t first, int64_t count) {
  std::vector<uint64_t> s(count);
  for (int64_t i = 0; i < count; ++i) s[i] = first + static_cast<uint64_t>(i);
  return s;
}

inline constexpr uint64_t kProbeSeedOffset = 1000000007ull;

// How samples are drawn and judged.
struct ScoreSettings {
  std::string metric = "l2";           // a name in `metrics`
  memorization::MetricRegistry metrics = memorization::MetricRegistryOf<>();
  double ratio_threshold = 1.0 / 3.0;  // memorized when d1/d2 < this
  double confidence = 0.95;            // level of the ratio's Wilson interval
  diffusion::SamplerConfig sampler;    // EDM Heun, 18 steps by default
};

inline ScoreSettings ScoreSettingsOf(const EmmStudyConfig& c) {
  ScoreSettings s;
  s.metric = c.metric;
  s.metrics = c.metrics;
  s.ratio_threshold = c.ratio_threshold;
  s.sampler.num_steps = c.sampler_steps;
  return s;
}

struct Scored {
  memorization::MemorizationReport report;
  torch::Tensor pixels;  // uint8 S×C×H×W
};

// Samples `seeds` from `denoiser` and scores them against `train`'s images.
template <class D>
absl::StatusOr<Scored> SampleAndScore(const ScoreSettings& c, D& denoiser, const data::Dataset& train,
                                      const std::vector<uint64_t>& seeds, torch::Device device) {
  const std::vector<int64_t> shape = {train.channels(), train.height(), train.width()};
  torch::Tensor labels;
  if (train.has_labels()) labels = diffusion::SeedLabels(seeds, shape, train.num_classes).to(device);
  torch::Tensor x;
  absl::Status sampled = diffusion::VisitSampler(c.sampler, denoiser, [&](const auto& s) {
    x = s.SampleFromSeeds(denoiser, seeds, shape, labels, device);
    return absl::OkStatus();
  });
  if (!sampled.ok()) return sampled;
  Scored out;
  out.pixels = data::FloatToPixels(x.cpu());
  memorization::MemorizationOptions mo;
  mo.threshold = c.ratio_threshold;
  mo.confidence = c.confidence;
  // On `device`: the search runs where the training images are.
  absl::StatusOr<memorization::MemorizationReport> report = c.metrics.Ratio(
      c.metric, out.pixels.to(device, torch::kFloat32), train.images.to(device, torch::kFloat32), mo);
  if (!report.ok()) return report.status();
  out.report = *std::move(report);
  return out;
}

}  // namespace study
}  // namespace diffmem

#endif  // DIFFMEM_STUDY_SAMPLE_AND_SCORE_H_
