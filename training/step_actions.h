// ActionsAfterStep: what a training run writes after a step — a log row,
// a checkpoint, a snapshot — as a pure function of the options and where
// the run stands, so the schedule is tested apart from the loop.
//   log row       every log_every steps, and a partial row at the last step
//                 or an early stop (its steps stay in the running sum, so a
//                 resumed run logs the rows an uninterrupted one does)
//   checkpoint    every checkpoint_every steps (0: never), at the last step
//                 and on an early stop
//   snapshot      whenever the images seen cross a multiple of
//                 snapshot_kimg (0: never), at the last step and on an
//                 early stop
//
// Example:
//   StepActions a = ActionsAfterStep(options, step, total_steps, nimg, stop);
//   if (a.log) ...;  if (a.log_interval_ends) reset the running loss;

#ifndef DIFFMEM_TRAINING_STEP_ACTIONS_H_
#define DIFFMEM_TRAINING_STEP_ACTIONS_H_

#include <cmath>
#include <cstdint>

#include "training/train_options.h"

namespace diffmem {
namespace training {

struct StepActions {
  bool log = false;                // write a row of loss.csv / stats.jsonl
  bool log_interval_ends = false;  // a regular row: the running loss starts over
  bool checkpoint = false;
  bool snapshot = false;
};

// `step`: steps taken so far (≥ 1), `nimg`: images seen after it; `stop`:
// the run ends early here.
inline StepActions ActionsAfterStep(const TrainOptions& o, int64_t step, int64_t total_steps, int64_t nimg,
                                    bool stop) {
  StepActions a;
  const bool last = step == total_steps;
  a.log_interval_ends = o.log_every > 0 && step % o.log_every == 0;
  a.log = a.log_interval_ends || last || stop;
  a.checkpoint = stop || last || (o.checkpoint_every > 0 && step % o.checkpoint_every == 0);
  if (o.snapshot_kimg > 0) {
    const int64_t every = static_cast<int64_t>(std::llround(o.snapshot_kimg * 1000));
    a.snapshot = stop || last || nimg / every != (nimg - o.batch_size) / every;
  }
  return a;
}

}  // namespace training
}  // namespace diffmem

#endif  // DIFFMEM_TRAINING_STEP_ACTIONS_H_
