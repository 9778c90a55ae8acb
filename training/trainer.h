// The training loop: Trainer<Precond, Net> trains a NETWORK under a
// preconditioner with EDM's denoising loss, keeps an EMA copy, and manages a
// run directory (training/train_network.h's TrainNetwork is the one-call form for
// the UNets of a NetworkConfig: what //tools:train and the EMM study call).
// Here: the loop (Run) and one optimizer step (Step). The state they work on
// and its run directory — Start, WriteCheckpoint, WriteSnapshot, Models and
// the accessors — are training/trainer_state.h's TrainerState, its base.
//
// What a run directory holds: training/run_dir.h; when the loop writes a
// log row, a checkpoint or a snapshot: training/step_actions.h.
// Resuming (resume = true) continues bit for bit: the data order is a pure
// function of (seed, images seen), and the random streams' states are in
// the checkpoint (training/training_rngs.h). Without resume an existing run directory is
// an error (nothing is overwritten). A non-finite loss stops the run with an
// error before the optimizer step; the last checkpoint stays as it was.
// SIGINT or SIGTERM, once a tool installed util/interrupt.h's handlers, ends
// the run after the current step with its checkpoint written: a Cancelled
// status (util::InterruptedBy names the signal), and --resume continues it.
//
// Data order: training/data_stream.h.
//
// Data parallelism (set_replicas before Start; what it means:
// parallel/replicas.h): each rank trains on its rows of every global batch
// of batch_size images with the σ and noise of their global index; the loss
// and flat gradient are averaged over ranks; rank 0 alone writes the run
// directory and calls the callbacks; a resume needs the same world size.
//
// Snapshots (snapshot_kimg > 0): the EMA weights alone, named by kimg seen
// as EDM names them.
//
// Callbacks: `started` once the run directory is ready (and a resumed run's
// step known); `progress` every log_every steps and at the end; `hook` every
// hook_every steps with the current networks as type-erased DENOISERs (raw
// weights and EMA, both in eval mode, no grad) — the EMM study samples and
// scores there and returns TrainControl::kStop to end the run early;
// `finished` after the last step, with both networks in eval mode.
//
// Example:
//   using namespace diffmem::training;
//   NetworkConfig net;  net.unet = UNetOptions(16, 1, 1).model_channels(32).channel_mult({1, 2});
//   TrainOptions t;     t.steps = 2000;  t.ema_schedule = EmaSchedule::kFixed;  t.ema_beta = 0.99;  t.lr = 1e-3;
//   TrainCallbacks cb;
//   cb.progress = [](const TrainProgress& p) { std::fprintf(stderr, "%s\n", FormatProgress(p).c_str()); };
//   cb.hook_every = 250;
//   cb.hook = [&](const TrainProgress& p, TrainedModels& m) {
//     torch::Tensor x = EdmSampler<>().SampleFromSeeds(m.ema, seeds, {1, 16, 16}, {}, m.device);
//     return Score(x) > 0.9 ? TrainControl::kStop : TrainControl::kContinue;
//   };
//   Trainer<EdmPreconditioner, UNet<DdpmppSpec>> trainer(UNet<DdpmppSpec>(net.unet), {}, dataset, t, "runs/n32");
//   if (absl::Status s = trainer.Start(/*resume=*/true); !s.ok()) return s;
//   absl::StatusOr<TrainResult> r = trainer.Run(cb);

#ifndef DIFFMEM_TRAINING_TRAINER_H_
#define DIFFMEM_TRAINING_TRAINER_H_

#include <torch/types.h>

#include <signal.h>

#include <cmath>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "data/pixels.h"
#include "diffusion/loss.h"
#include "networks/num_parameters.h"
#include "nlohmann/json.hpp"
#include "parallel/replicas.h"
#include "training/internal/trainer_parts.h"
#include "training/run_dir.h"
#include "training/run_logs.h"
#include "training/step_actions.h"
#include "training/train_callbacks.h"
#include "training/train_options.h"
#include "training/trainer_state.h"
#include "util/atomic_file.h"
#include "util/interrupt.h"
#include "util/torch_compat.h"

namespace diffmem {
namespace training {

template <class Precond, class Net>
class Trainer : public TrainerState<Precond, Net> {
  using State = TrainerState<Precond, Net>;

 public:
  using State::State;

  // Trains until the duration is reached or the hook says stop.
  absl::StatusOr<TrainResult> Run(const TrainCallbacks& callbacks = TrainCallbacks()) {
    if (!started_) return absl::FailedPreconditionError("Trainer::Run before Start");
    meter_.StartSession();
    double last_loss = NAN;
    TrainResult result;
    result.resumed = resumed_;
    result.parameters = networks::NumParameters(*net_);
    const RunLogs logs(run_dir_, options_.log_every);
    int interrupted = 0;  // the signal that stops the run

    while (step_ < total_steps_) {
      const int64_t batch = options_.batch_size;
      absl::StatusOr<double> step_loss = Step();
      if (!step_loss.ok()) return step_loss.status();
      meter_.Add(*step_loss);
      bool stop = false;
      const bool writes = replicas_.writes();
      const bool hook_step = callbacks.hook && callbacks.hook_every > 0 && step_ % callbacks.hook_every == 0;
      if (writes && hook_step) {
        TrainProgress p = last_progress_;
        p.step = step_;
        p.total_steps = total_steps_;
        p.nimg = nimg_;
        p.wall_s = meter_.wall_s();
        TrainedModels models = this->Models();
        net_->eval();
        stop = callbacks.hook(p, models) == TrainControl::kStop;
        net_->train();
      }
      if (hook_step && replicas_.distributed()) {  // rank 0's decision, on every rank
        absl::StatusOr<bool> any = internal_train::AnyRank(replicas_, stop);
        if (!any.ok()) return any.status();
        stop = *any;
      }
      // SIGINT/SIGTERM (util/interrupt.h; a tool installs the handlers): the
      // run stops after this step as an early stop does (log row, checkpoint,
      // snapshot), writes no result.json, and returns the interruption. The
      // ranks of a data-parallel job agree on it at every log step, so they
      // stop at the same step (a rank that caught nothing reports SIGTERM).
      if (!replicas_.distributed()) {
        interrupted = util::InterruptSignal();
      } else if (options_.log_every > 0 && step_ % options_.log_every == 0) {
        absl::StatusOr<bool> any = internal_train::AnyRank(replicas_, util::InterruptSignal() != 0);
        if (!any.ok()) return any.status();
        if (*any) interrupted = util::InterruptSignal() != 0 ? util::InterruptSignal() : SIGTERM;
      }
      stop = stop || interrupted != 0;
      const StepActions act = ActionsAfterStep(options_, step_, total_steps_, nimg_, stop);
      if (act.log) {
        const TrainProgress p = meter_.Row(step_, total_steps_, nimg_, last_lr_, last_ema_beta_, batch);
        last_loss = p.loss;
        if (writes) {
          const LogRecord row = {step_, nimg_, p.loss, p.lr, p.ema_beta, p.images_per_s, p.wall_s};
          if (absl::Status s = logs.Append(row); !s.ok()) return s;
        }
        last_progress_ = p;
        if (writes && callbacks.progress) callbacks.progress(p);
        meter_.NextInterval(act.log_interval_ends);
      }
      if (writes && act.checkpoint) {
        if (absl::Status s = this->WriteCheckpoint(); !s.ok()) return s;
      }
      if (writes && act.snapshot) {
        if (absl::Status s = this->WriteSnapshot(); !s.ok()) return s;
      }
      if (stop) {
        result.stopped_early = true;
        break;
      }
    }
    if (interrupted != 0) {
      return util::InterruptedError(
          interrupted, absl::StrCat("interrupted by ", util::SignalName(interrupted), " after step ", step_, " of ",
                                    total_steps_, "; ", RunCheckpointPath(run_dir_), " holds step ", step_));
    }
    result.steps = step_;
    result.total_steps = total_steps_;
    result.nimg = nimg_;
    result.last_loss = last_loss;
    result.wall_s = meter_.wall_s();
    if (!replicas_.writes()) return result;
    if (step_ >= total_steps_ && !util::FileExists(RunCheckpointPath(run_dir_))) {
      if (absl::Status s = this->WriteCheckpoint(); !s.ok()) return s;  // resumed at the end already
    }
    const nlohmann::json r = {{"steps", result.steps},       {"total_steps", result.total_steps},
                              {"nimg", result.nimg},         {"last_loss", std::isfinite(last_loss) ? last_loss : 0.0},
                              {"stopped_early", result.stopped_early}, {"wall_s", result.wall_s}};
    if (absl::Status s = util::WriteFileAtomically(RunResultPath(run_dir_), r.dump(2) + "\n"); !s.ok()) return s;
    return result;
  }

  // One optimizer step on the next batch of the seeded stream (forward,
  // backward, optional clipping, optimizer, EMA); returns the batch loss.
  // Run() calls this; exposed for benchmarks and custom loops. With `times`,
  // also the wall and CPU time of each part (benchmarks split the step with it).
  absl::StatusOr<double> Step(StepTimes* times = nullptr) {
    if (!started_) return absl::FailedPreconditionError("Trainer::Step before Start");
    internal_train::PhaseClock clock(times != nullptr, device_);
    const int64_t batch = options_.batch_size;  // global: over all ranks
    const auto [begin, end] = parallel::GlobalBatchSlice(replicas_, batch);
    torch::Tensor idx = order_.Batch(nimg_, batch).slice(0, begin, end).to(device_);
    torch::Tensor x = data::PixelsToFloat(images_.index_select(0, idx));
    torch::Tensor y = labels_.defined() ? labels_.index_select(0, idx) : torch::Tensor();
    // The whole global batch's σ and noise, this rank's rows of them.
    std::vector<int64_t> shape = x.sizes().vec();
    shape[0] = batch;
    diffusion::TrainingNoise drawn = diffusion::DrawTrainingNoise(precond_, shape, rngs_.loss);
    drawn.sigma = drawn.sigma.slice(0, begin, end);
    drawn.noise = drawn.noise.slice(0, begin, end);
    clock.Lap(times ? &times->batch : nullptr);
    optimizer_->ZeroGrad();
    clock.Lap(times ? &times->optimizer : nullptr);
    torch::Tensor loss;
    {
      // --precision=bf16: the forward pass under autocast; backward, the
      // optimizer and the EMA work on the float32 parameters as always.
      std::optional<util::AutocastScope> autocast;
      if (options_.precision == Precision::kBf16) autocast.emplace(device_.type(), at::kBFloat16);
      loss = diffusion::DenoisingLossWithNoise(precond_, denoiser_, x, y, drawn);
    }
    double value = loss.item<double>();
    if (replicas_.distributed()) {  // the global batch's mean loss, the same on every rank
      absl::StatusOr<double> mean = internal_train::MeanOverRanks(replicas_, value);
      if (!mean.ok()) return mean.status();
      value = *mean;
    }
    if (!std::isfinite(value)) {
      return absl::AbortedError(absl::StrCat(
          "training diverged: loss is ", value, " at step ", step_ + 1, "; the last good checkpoint ",
          util::FileExists(RunCheckpointPath(run_dir_)) ? RunCheckpointPath(run_dir_) : "(none yet)",
          " is kept. Try a lower --lr, a longer --lr_warmup_kimg or --grad_clip"));
    }
    loss.backward();
    clock.Lap(times ? &times->forward_backward : nullptr);
    if (replicas_.distributed()) {  // one collective over the flat gradient, averaged
      std::vector<torch::Tensor> grads = optimizer_->flat_gradients();
      if (absl::Status s = replicas_.all_reduce_sum(grads); !s.ok()) return s;
      for (torch::Tensor& g : grads) g.div_(replicas_.world_size);
      clock.Lap(times ? &times->all_reduce : nullptr);
    }
    if (options_.grad_clip > 0) optimizer_->ClipGradNorm(options_.grad_clip);
    const double lr = LearningRate(options_, dataset_.size(), nimg_);
    for (auto& group : optimizer_->param_groups()) group.options().set_lr(lr);
    optimizer_->step();
    clock.Lap(times ? &times->optimizer : nullptr);
    last_ema_beta_ = EmaBeta(options_, dataset_.size(), nimg_);
    ema_->Update(net_, last_ema_beta_);
    clock.Lap(times ? &times->ema : nullptr);
    nimg_ += batch;
    ++step_;
    last_lr_ = lr;
    return value;
  }

 private:
  using State::dataset_;
  using State::denoiser_;
  using State::device_;
  using State::ema_;
  using State::images_;
  using State::labels_;
  using State::last_ema_beta_;
  using State::last_lr_;
  using State::last_progress_;
  using State::meter_;
  using State::net_;
  using State::nimg_;
  using State::optimizer_;
  using State::options_;
  using State::order_;
  using State::precond_;
  using State::replicas_;
  using State::resumed_;
  using State::rngs_;
  using State::run_dir_;
  using State::started_;
  using State::step_;
  using State::total_steps_;
};

}  // namespace training
}  // namespace diffmem

#endif  // DIFFMEM_TRAINING_TRAINER_H_
