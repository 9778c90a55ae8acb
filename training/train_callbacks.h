// What a training loop tells its caller, and what the caller may do: the
// progress record (and the line //tools:train prints), the trained networks
// as type-erased DENOISERs, the callbacks of TrainNetwork / Trainer::Run
// (started, progress, hook, finished), the result, and the timing split of
// one step for benchmarks.
//
// Example:
//   TrainCallbacks cb;
//   cb.progress = [](const TrainProgress& p) { std::fprintf(stderr, "%s\n", FormatProgress(p).c_str()); };
//   cb.hook_every = 250;
//   cb.hook = [&](const TrainProgress& p, TrainedModels& m) { return TrainControl::kContinue; };

#ifndef DIFFMEM_TRAINING_TRAIN_CALLBACKS_H_
#define DIFFMEM_TRAINING_TRAIN_CALLBACKS_H_

#include <torch/types.h>
#include <torch/utils.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "data/dataset.h"
#include "diffusion/denoiser.h"
#include "util/progress.h"

namespace diffmem {
namespace training {

struct TrainProgress {
  int64_t step = 0;         // optimizer steps done
  int64_t total_steps = 0;
  int64_t nimg = 0;         // training images seen
  double loss = 0;          // mean loss over the steps since the last report
  double lr = 0;            // learning rate of the last step
  double ema_beta = 0;      // EMA decay of the last step
  double images_per_s = 0;  // over the steps since the last report
  double eta_s = 0;         // remaining steps at that rate
  double wall_s = 0;        // seconds since this session started
};

// "step 1200/2000 (60.0%)  loss 12.345  1234 img/s  ETA 1m05s"
inline std::string FormatProgress(const TrainProgress& p) {
  return absl::StrFormat("step %d/%d (%.1f%%)  loss %.4f  %.0f img/s  ETA %s", p.step, p.total_steps,
                         100.0 * p.step / std::max<int64_t>(p.total_steps, 1), p.loss, p.images_per_s,
                         util::FormatDuration(p.eta_s));
}

struct TrainedModels {
  diffusion::AnyDenoiser raw;  // the trained weights
  diffusion::AnyDenoiser ema;  // the moving average
  torch::Device device = torch::kCPU;
  const data::Dataset* dataset = nullptr;  // the training images (uint8, CPU)
};

enum class TrainControl { kContinue, kStop };

// Where a run stands once its trainer has started (a resumed run: its checkpoint's step).
struct TrainStart {
  int64_t parameters = 0;
  torch::Device device = torch::kCPU;
  std::string device_note;  // why the device is what it is ("" unless auto fell back to the CPU)
  int64_t step = 0;
  int64_t total_steps = 0;
};

struct TrainResult;

struct TrainCallbacks {
  std::function<void(const TrainStart&)> started;    // after the run directory is ready
  std::function<void(const TrainProgress&)> progress;
  int64_t hook_every = 0;  // steps between hook calls (0: never)
  std::function<TrainControl(const TrainProgress&, TrainedModels&)> hook;
  // After training ends, with both networks in eval mode (no dropout): e.g. the
  // final samples of an EMM study. Its error is the run's error.
  std::function<absl::Status(const TrainResult&, TrainedModels&)> finished;
};

struct TrainResult {
  int64_t steps = 0;          // steps done in total (this and earlier sessions)
  int64_t total_steps = 0;    // steps the duration asks for
  int64_t nimg = 0;
  double last_loss = 0;       // mean loss of the last log interval (NaN if no step ran)
  bool stopped_early = false; // the hook asked to stop
  bool resumed = false;       // continued from a checkpoint
  int64_t parameters = 0;
  double wall_s = 0;          // this session
};

// The time of the parts of one Trainer::Step (added to, so a caller can sum
// over steps): wall time, and CPU time of all the process's threads (which
// other load on a shared machine disturbs far less). On CUDA each part ends
// with a device synchronization, so only ask for them when measuring.
struct StepTimes {
  struct Part {
    double wall_s = 0;
    double cpu_s = 0;
  };
  Part batch;             // data order, gather, pixels to float
  Part forward_backward;  // loss (forward), its value, backward
  Part optimizer;         // zeroing gradients, clipping, learning rate, update
  Part ema;               // EMA update
  Part all_reduce;        // data parallel: the gradient summed over ranks
};

}  // namespace training
}  // namespace diffmem

#endif  // DIFFMEM_TRAINING_TRAIN_CALLBACKS_H_
