// How an EMM study measures a denoiser (a trained network or the empirical
// optimum): sample fixed seeds with the EDM Heun sampler, turn the samples
// into pixels as they would be saved, and compute their memorization ratio
// against the training images in pixel space with the study's metric
// (looked up by name in memorization::DistanceMetrics).
//
//   SeedRange(first, count)        — first, first+1, …
//   kProbeSeedOffset               — probe seeds never overlap the final samples' seeds
//   SampleAndScore(c, d, train, seeds, device) → {report, pixels}
//
// Example:
//   absl::StatusOr<Scored> s = SampleAndScore(config, models.ema, train, SeedRange(0, 128), models.device);
//   double ratio = s->report.ratio;

#ifndef DIFFMEM_STUDY_SAMPLE_AND_SCORE_H_
#define DIFFMEM_STUDY_SAMPLE_AND_SCORE_H_

#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "data/dataset.h"
#include "data/pixels.h"
#include "diffusion/edm_sampler.h"
#include "memorization/distance.h"
#include "memorization/memorization_ratio.h"
#include "study/study_config.h"
#include "util/type_registry.h"

namespace diffmem {
namespace study {

inline std::vector<uint64_t> SeedRange(uint64_t first, int64_t count) {
  std::vector<uint64_t> s(count);
  for (int64_t i = 0; i < count; ++i) s[i] = first + static_cast<uint64_t>(i);
  return s;
}

inline constexpr uint64_t kProbeSeedOffset = 1000000007ull;

struct Scored {
  memorization::MemorizationReport report;
  torch::Tensor pixels;  // uint8 S×C×H×W
};

// Samples `seeds` from `denoiser` and scores them against `train`'s images.
template <class D>
absl::StatusOr<Scored> SampleAndScore(const EmmStudyConfig& c, D& denoiser, const data::Dataset& train,
                                      const std::vector<uint64_t>& seeds, torch::Device device) {
  diffusion::SamplerOptions so;
  so.num_steps = c.sampler_steps;
  diffusion::EdmSampler<diffusion::HeunSolver, diffusion::EdmRhoSteps> sampler(so);
  torch::Tensor labels;
  if (train.has_labels()) {
    // Class labels cycle through the training labels, so every label is asked for.
    torch::Tensor idx = torch::arange(static_cast<int64_t>(seeds.size()), torch::kInt64).remainder(train.size());
    labels = train.labels.index_select(0, idx).to(device);
  }
  torch::Tensor x = sampler.SampleFromSeeds(denoiser, seeds, {train.channels(), train.height(), train.width()}, labels,
                                            device);
  Scored out;
  out.pixels = data::FloatToPixels(x.cpu());
  memorization::MemorizationOptions mo;
  mo.threshold = c.ratio_threshold;
  absl::StatusOr<memorization::MemorizationReport> report = VisitByName<memorization::DistanceMetrics>(
      c.metric, "metric", [&](auto metric) -> absl::StatusOr<memorization::MemorizationReport> {
        using Metric = typename decltype(metric)::type;
        return memorization::MemorizationRatio<Metric>(out.pixels.to(torch::kFloat32),
                                                       train.images.to(torch::kFloat32), mo);
      });
  if (!report.ok()) return report.status();
  out.report = *std::move(report);
  return out;
}

}  // namespace study
}  // namespace diffmem

#endif  // DIFFMEM_STUDY_SAMPLE_AND_SCORE_H_
