// LossMeter: a training run's running loss over the current log interval
// (carried through checkpoints, so a resumed run logs the rows an
// uninterrupted one does) and this session's image rate and ETA, turned
// into the TrainProgress record of a log row.
//
// Example:
//   LossMeter meter(state.log_loss_sum, state.log_steps);   // 0, 0 for a new run
//   meter.Add(loss);                                          // after each step
//   TrainProgress p = meter.Row(step, total_steps, nimg, lr, beta, batch);
//   meter.NextInterval(/*reset_loss=*/step % log_every == 0);

#ifndef DIFFMEM_TRAINING_LOSS_METER_H_
#define DIFFMEM_TRAINING_LOSS_METER_H_

#include <chrono>
#include <cstdint>

#include "training/train_callbacks.h"

namespace diffmem {
namespace training {

class LossMeter {
 public:
  using Clock = std::chrono::steady_clock;

  explicit LossMeter(double loss_sum = 0, int64_t loss_steps = 0) : sum_(loss_sum), steps_(loss_steps) {}

  // Starts this session's clock (the wall time and rate count from here).
  void StartSession() { t0_ = interval_start_ = Clock::now(); interval_steps_ = 0; }
  void Add(double loss) {
    sum_ += loss;
    ++steps_;
    ++interval_steps_;
  }
  // The record of a log row after `step`: the interval's mean loss, the
  // rate of this session's steps since the last row.
  TrainProgress Row(int64_t step, int64_t total_steps, int64_t nimg, double lr, double ema_beta, int64_t batch) const {
    const double dt = Seconds(interval_start_);
    TrainProgress p;
    p.step = step;
    p.total_steps = total_steps;
    p.nimg = nimg;
    p.loss = steps_ > 0 ? sum_ / steps_ : 0;
    p.lr = lr;
    p.images_per_s = dt > 0 ? interval_steps_ * batch / dt : 0;
    p.eta_s = interval_steps_ > 0 ? dt / interval_steps_ * (total_steps - step) : 0;
    p.wall_s = wall_s();
    p.ema_beta = ema_beta;
    return p;
  }
  // After a row: the rate starts over; the loss too at the end of a regular interval.
  void NextInterval(bool reset_loss) {
    interval_start_ = Clock::now();
    interval_steps_ = 0;
    if (reset_loss) {
      sum_ = 0;
      steps_ = 0;
    }
  }
  double wall_s() const { return Seconds(t0_); }
  double loss_sum() const { return sum_; }   // for the checkpoint
  int64_t loss_steps() const { return steps_; }

 private:
  static double Seconds(Clock::time_point since) {
    return std::chrono::duration<double>(Clock::now() - since).count();
  }
  double sum_;
  int64_t steps_;
  Clock::time_point t0_ = Clock::now(), interval_start_ = t0_;
  int64_t interval_steps_ = 0;
};

}  // namespace training
}  // namespace diffmem

#endif  // DIFFMEM_TRAINING_LOSS_METER_H_
