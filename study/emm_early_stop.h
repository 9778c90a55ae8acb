// When to stop one training run of an EMM study.
//
// The authors train every N for a fixed 40k epochs and score snapshots
// afterwards. diffmem scores a small batch of samples periodically during
// training and stops a run once its memorization ratio has passed 1 - epsilon
// with confidence (the lower end of the interval is above it) or has
// plateaued (no gain of `min_improvement` over the best earlier value within
// the last `patience` evaluations, after at least `min_images` training
// images, so the flat start of training is not taken for a plateau). The run's
// final ratio is then measured on the full sample count.
//
//   RatioCurvePoint      — one periodic evaluation: training images, ratio, CI
//   EarlyStopOptions     — epsilon, confirmations, min_images, patience, min_improvement
//   DecideEarlyStop(o, c) — continue, passed or plateaued, with a reason
//   StillRising(o, c)     — the curve gained at least min_improvement over its
//                           last `patience` evaluations: a run that ends so was
//                           cut short by its duration, not done memorizing
//
// Example:
//   std::vector<RatioCurvePoint> curve;
//   ... every k steps: curve.push_back({images, r, lo, hi, 64});
//   EarlyStopDecision d = DecideEarlyStop(options, curve);
//   if (d.stop()) { std::cerr << d.reason; break; }

#ifndef DIFFMEM_STUDY_EMM_EARLY_STOP_H_
#define DIFFMEM_STUDY_EMM_EARLY_STOP_H_

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "util/enum_names.h"

namespace diffmem {
namespace study {

struct RatioCurvePoint {
  int64_t images = 0;    // training images seen when the batch was sampled
  double ratio = 0.0;    // memorized fraction of the batch
  double ci_low = 0.0;   // confidence interval of the ratio
  double ci_high = 1.0;
  int64_t samples = 0;   // batch size the ratio was measured on
};

struct EarlyStopOptions {
  double epsilon = 0.1;         // "passed" means ci_low >= 1 - epsilon
  int confirmations = 1;        // ... at this many consecutive evaluations
  int64_t min_images = 0;       // no plateau verdict before this many training images
  int patience = 3;             // evaluations that must bring no gain for a plateau
  double min_improvement = 0.05;  // a gain smaller than this is no gain
};

enum class EarlyStop { kContinue, kPassed, kPlateaued };

}  // namespace study

template <>
struct EnumNames<study::EarlyStop> {
  static constexpr std::pair<study::EarlyStop, const char*> kNames[] = {
      {study::EarlyStop::kContinue, "continue"}, {study::EarlyStop::kPassed, "passed"},
      {study::EarlyStop::kPlateaued, "plateaued"}};
};

namespace study {

struct EarlyStopDecision {
  EarlyStop verdict = EarlyStop::kContinue;
  std::string reason;
  bool stop() const { return verdict != EarlyStop::kContinue; }
};

inline absl::Status ValidateEarlyStopOptions(const EarlyStopOptions& o) {
  if (!(o.epsilon > 0 && o.epsilon < 1)) {
    return absl::InvalidArgumentError(absl::StrCat("early stop: epsilon must be in (0, 1), got ", o.epsilon));
  }
  if (o.confirmations < 1) {
    return absl::InvalidArgumentError(absl::StrCat("early stop: confirmations must be >= 1, got ", o.confirmations));
  }
  if (o.patience < 1) {
    return absl::InvalidArgumentError(absl::StrCat("early stop: patience must be >= 1, got ", o.patience));
  }
  if (o.min_images < 0 || o.min_improvement < 0) {
    return absl::InvalidArgumentError("early stop: min_images and min_improvement must be >= 0");
  }
  return absl::OkStatus();
}

// The verdict after the evaluations in `curve` (in training order).
inline EarlyStopDecision DecideEarlyStop(const EarlyStopOptions& o, const std::vector<RatioCurvePoint>& curve) {
  EarlyStopDecision d;
  if (curve.empty()) return d;
  const double target = 1.0 - o.epsilon;
  const size_t n = curve.size();
  const size_t c = static_cast<size_t>(o.confirmations);
  if (n >= c && std::all_of(curve.end() - c, curve.end(),
                            [&](const RatioCurvePoint& p) { return p.ci_low >= target; })) {
    d.verdict = EarlyStop::kPassed;
    d.reason = absl::StrFormat("ratio %.3f (CI low %.3f) >= %.3f at %d images", curve.back().ratio,
                               curve.back().ci_low, target, curve.back().images);
    return d;
  }
  const size_t p = static_cast<size_t>(o.patience);
  if (n > p && curve.back().images >= o.min_images) {
    double before = 0.0, recent = 0.0;
    for (size_t i = 0; i < n - p; ++i) before = std::max(before, curve[i].ratio);
    for (size_t i = n - p; i < n; ++i) recent = std::max(recent, curve[i].ratio);
    if (recent < before + o.min_improvement) {
      d.verdict = EarlyStop::kPlateaued;
      d.reason = absl::StrFormat("ratio plateaued at %.3f (best before %.3f, +%.3f needed) over %d evaluations",
                                 recent, before, o.min_improvement, o.patience);
      return d;
    }
  }
  return d;
}

// Whether the ratio was still rising at the last evaluation: its best over the
// last `patience` evaluations beats the best before them by min_improvement
// (the converse of the plateau rule, without its min_images wait).
inline bool StillRising(const EarlyStopOptions& o, const std::vector<RatioCurvePoint>& curve) {
  const size_t n = curve.size(), p = static_cast<size_t>(o.patience);
  if (n <= p) return n >= 2 && curve.back().ratio >= curve.front().ratio + o.min_improvement;
  double before = 0.0, recent = 0.0;
  for (size_t i = 0; i < n - p; ++i) before = std::max(before, curve[i].ratio);
  for (size_t i = n - p; i < n; ++i) recent = std::max(recent, curve[i].ratio);
  return recent >= before + o.min_improvement;
}

}  // namespace study
}  // namespace diffmem

#endif  // DIFFMEM_STUDY_EMM_EARLY_STOP_H_
