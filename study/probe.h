// The probe curve of one training run: every `probe_every` steps the study
// samples a small fixed batch and records its memorization ratio against the
// training images seen so far (runs/nNNNNNN/emm_probe.json). A killed run
// resumes from its checkpoint, and the curve is cut back to it (the probes
// after it are redone). A missing or damaged file is an empty curve.
//
//   ProbeState                — curve points, the step of each, training seconds so far
//   ProbeStateToJson, ReadProbeState(path)
//   CutProbeStateAt(p, step)  — drops the probes after `step`
//
// Example:
//   ProbeState p = ReadProbeState(EmmProbePath(run_dir));
//   CutProbeStateAt(p, trainer_step);
//   p.curve.push_back({nimg, ratio, lo, hi, 64});  p.steps.push_back(step);

#ifndef DIFFMEM_STUDY_PROBE_H_
#define DIFFMEM_STUDY_PROBE_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "study/emm_early_stop.h"
#include "study/run_record.h"
#include "util/json_file.h"

namespace diffmem {
namespace study {

struct ProbeState {
  std::vector<RatioCurvePoint> curve;
  std::vector<int64_t> steps;  // training step of each curve point
  double train_seconds = 0;    // accumulated over sessions, up to the last probe
};

inline nlohmann::json ProbeStateToJson(const ProbeState& p) {
  return {{"curve", RatioCurveToJson(p.curve)}, {"steps", p.steps}, {"train_seconds", p.train_seconds}};
}

// The probe state in `path`; empty when the file is missing or damaged (the
// probes are then redone, which costs time but loses nothing).
inline ProbeState ReadProbeState(const std::string& path) {
  ProbeState p;
  absl::StatusOr<nlohmann::json> j = util::ReadJsonFile(path);
  if (!j.ok() || !j->is_object() || !j->contains("curve")) return p;
  absl::StatusOr<std::vector<RatioCurvePoint>> curve = RatioCurveFromJson(j->at("curve"), path);
  if (!curve.ok()) return p;
  try {
    p.steps = j->at("steps").get<std::vector<int64_t>>();
    p.train_seconds = j->at("train_seconds").get<double>();
  } catch (const nlohmann::json::exception&) {
    return ProbeState();
  }
  if (p.steps.size() != curve->size()) return ProbeState();
  p.curve = std::move(*curve);
  return p;
}

inline void CutProbeStateAt(ProbeState& p, int64_t step) {
  while (!p.steps.empty() && p.steps.back() > step) {
    p.steps.pop_back();
    p.curve.pop_back();
  }
}

}  // namespace study
}  // namespace diffmem

#endif  // DIFFMEM_STUDY_PROBE_H_
