// The training loop: Trainer<Precond, Net> trains a NETWORK under a
// preconditioner with EDM's denoising loss, keeps an EMA copy, and manages a
// run directory (diffusion/train.h's TrainNetwork is the one-call form for
// the UNets of a NetworkConfig: what //tools:train and the EMM study call).
//
// A run directory holds
//   config.json     the full configuration (network, training, data, data set
//                   fingerprint, parameter count, total steps)
//   loss.csv, stats.jsonl   one record per log interval (diffusion/run_logs.h)
//   checkpoint.pt   the latest checkpoint (diffusion/checkpoint.h), written
//                   atomically every checkpoint_every steps, at the end and on
//                   an early stop
//   result.json     written when the run ends (finished or stopped early)
// Resuming (resume = true) continues bit for bit: the data order is a pure
// function of (seed, images seen), and the loss-noise and dropout generators'
// states are in the checkpoint. Without resume an existing run directory is
// an error (nothing is overwritten). A non-finite loss stops the run with an
// error before the optimizer step; the last checkpoint stays as it was.
//
// Data order: diffusion/data_stream.h.
//
// Data parallelism (set_replicas before Start; what it means:
// parallel/replicas.h): each rank trains on its rows of every global batch
// of batch_size images with the σ and noise of their global index; the loss
// and flat gradient are averaged over ranks; rank 0 alone writes the run
// directory and calls the callbacks; a resume needs the same world size.
//
// Snapshots (snapshot_kimg > 0): snapshots/network-snapshot-KKKKKK.pt (KKKKKK:
// kimg seen, as EDM names them) with the EMA weights alone, whenever the images
// seen cross a multiple of snapshot_kimg and at the end of training.
//
// Callbacks: `started` once the run directory is ready (and a resumed run's
// step known); `progress` every log_every steps and at the end; `hook` every
// hook_every steps with the current networks as type-erased DENOISERs (raw
// weights and EMA, both in eval mode, no grad) — the EMM study samples and
// scores there and returns TrainControl::kStop to end the run early;
// `finished` after the last step, with both networks in eval mode.
//
// Example:
//   using namespace diffmem::diffusion;
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

#ifndef DIFFMEM_DIFFUSION_TRAINER_H_
#define DIFFMEM_DIFFUSION_TRAINER_H_

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <torch/types.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "data/dataset.h"
#include "data/pixels.h"
#include "diffusion/checkpoint.h"
#include "diffusion/data_stream.h"
#include "diffusion/denoiser.h"
#include "diffusion/ema.h"
#include "diffusion/flat_optimizer.h"
#include "diffusion/internal/trainer_parts.h"
#include "diffusion/loss.h"
#include "diffusion/run_dir.h"
#include "diffusion/run_logs.h"
#include "diffusion/train_callbacks.h"
#include "diffusion/train_options.h"
#include "diffusion/unet.h"
#include "nlohmann/json.hpp"
#include "parallel/replicas.h"
#include "util/atomic_file.h"
#include "util/json_file.h"
#include "util/torch_compat.h"

namespace diffmem {
namespace diffusion {

template <class Precond, class Net>
class Trainer {
  static_assert(IsNetwork<Net>::value, "Net must satisfy the NETWORK concept (diffusion/denoiser.h)");

 public:
  // `dataset`: uint8 images (labels passed to the net when defined);
  // `config`: what config.json records besides "training", "dataset",
  // "parameters" and "total_steps" (e.g. {"network": …, "data": …}).
  Trainer(Net net, Precond precond, data::Dataset dataset, TrainOptions options, std::string run_dir,
          nlohmann::json config = nlohmann::json::object())
      : net_(std::move(net)),
        precond_(std::move(precond)),
        dataset_(std::move(dataset)),
        options_(std::move(options)),
        run_dir_(std::move(run_dir)),
        config_(std::move(config)),
        denoiser_(net_, precond_),
        order_(options_.seed, std::max<int64_t>(dataset_.size(), 1), options_.data_order == DataOrder::kFixed) {}

  // Joins a data-parallel job (before Start); one process by default.
  void set_replicas(parallel::Replicas replicas) { replicas_ = std::move(replicas); }
  const parallel::Replicas& replicas() const { return replicas_; }

  // Prepares the run directory: a new run (resume = false; the directory
  // must not hold one) or the continuation of the checkpoint in it (resume =
  // true; starts fresh when there is none yet).
  absl::Status Start(bool resume) {
    if (absl::Status s = ValidateTrainOptions(options_); !s.ok()) return s;
    if (absl::Status s = data::ValidateDataset(dataset_); !s.ok()) return s;
    if (dataset_.size() < 1) return absl::InvalidArgumentError(absl::StrCat(dataset_.source, ": no images to train on"));
    if (absl::Status s = parallel::CheckGlobalBatch(replicas_, options_.batch_size); !s.ok()) return s;
    std::string note;
    absl::StatusOr<torch::Device> device = ResolveDevice(options_.device, &note);
    if (!device.ok()) return device.status();
    device_ = *device;
    device_note_ = note;
    total_steps_ = TotalSteps(options_, dataset_.size());
    if (run_dir_.empty()) return absl::InvalidArgumentError("--out: a run directory is required");

    net_->to(device_);
    net_->train();
    // The optimizer moves the parameters into flat buffers first, so the EMA
    // copy gets the same layout and blends in one pass.
    optimizer_ = internal_train::MakeOptimizer(net_->parameters(), options_);
    ema_ = std::make_unique<Ema<Net>>(net_);
    ema_->model()->eval();
    images_ = dataset_.images.to(device_);
    if (dataset_.has_labels()) labels_ = dataset_.labels.to(device_);
    loss_gen_ = at::detail::createCPUGenerator(options_.seed ^ 0x6c6f7373ull);  // "loss"
    torch::manual_seed(options_.seed ^ 0x64726f70ull);  // dropout stream ("drop"); init used options.seed

    config_["training"] = TrainOptionsToJson(options_);
    config_["dataset"] = DatasetSummaryJson(dataset_);
    config_["parameters"] = NumParameters(*net_);
    config_["total_steps"] = total_steps_;
    config_["world_size"] = replicas_.world_size;

    std::error_code ec;
    const std::string ckpt = RunCheckpointPath(run_dir_), cfg = RunConfigPath(run_dir_);
    const bool writes = replicas_.writes();
    if (!resume) {
      // Only rank 0 checks: it may have written config.json already when another rank looks.
      if (writes && (util::FileExists(ckpt) || util::FileExists(cfg))) {
        return absl::AlreadyExistsError(absl::StrCat(run_dir_, ": already holds a run (", cfg,
                                                     "); pass --resume to continue it or choose another --out"));
      }
    } else if (util::FileExists(cfg)) {
      absl::StatusOr<std::string> text = util::ReadFileToString(cfg);
      if (!text.ok()) return text.status();
      const nlohmann::json stored = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
      if (stored.is_discarded()) return absl::DataLossError(absl::StrCat(cfg, ": not valid JSON"));
      if (absl::Status s = internal_train::CheckResumeWorldSize(stored, replicas_.world_size, run_dir_); !s.ok()) {
        return s;
      }
      if (std::string why = internal_train::ResumeMismatch(stored, config_); !why.empty()) {
        return absl::FailedPreconditionError(
            absl::StrCat(run_dir_, ": cannot resume, the configuration changed: ", why));
      }
    }
    if (writes) std::filesystem::create_directories(run_dir_, ec);
    if (ec) return absl::UnavailableError(absl::StrCat(run_dir_, ": cannot create run directory: ", ec.message()));

    if (resume && util::FileExists(ckpt)) {
      absl::StatusOr<CheckpointState> st =
          LoadCheckpoint(ckpt, *net_, ema_->model().ptr().get(), optimizer_.get(), device_);
      if (!st.ok()) return st.status();
      step_ = st->step;
      nimg_ = st->nimg;
      log_loss_sum_ = st->log_loss_sum;
      log_steps_ = st->log_steps;
      if (auto it = st->rng.find("loss"); it != st->rng.end()) loss_gen_.set_state(it->second);
      if (auto it = st->rng.find("default"); it != st->rng.end()) {
        at::Generator cpu = at::detail::getDefaultCPUGenerator();  // shares the global generator
        cpu.set_state(it->second);
      }
      if (device_.is_cuda()) {
        if (auto it = st->rng.find("device"); it != st->rng.end()) {
          at::Generator gpu = at::globalContext().defaultGenerator(device_);
          gpu.set_state(it->second);
        }
      }
      resumed_ = true;
      if (!writes) {
        // nothing to write
      } else if (absl::Status s = RunLogs(run_dir_, options_.log_every).TruncateAfter(step_, /*drop_partial=*/step_ < total_steps_);
          !s.ok()) {
        return s;
      }
    } else if (writes) {
      if (absl::Status s = RunLogs(run_dir_, options_.log_every).Create(); !s.ok()) return s;
    }
    started_ = true;
    return writes ? util::WriteFileAtomically(cfg, config_.dump(2) + "\n") : absl::OkStatus();
  }

  // Trains until the duration is reached or the hook says stop.
  absl::StatusOr<TrainResult> Run(const TrainCallbacks& callbacks = TrainCallbacks()) {
    if (!started_) return absl::FailedPreconditionError("Trainer::Run before Start");
    using Clock = std::chrono::steady_clock;
    const auto t0 = Clock::now();
    auto since = [](Clock::time_point a) { return std::chrono::duration<double>(Clock::now() - a).count(); };
    auto interval_start = t0;
    int64_t interval_steps = 0;  // for the image rate (this session)
    double last_loss = NAN, lr = 0;
    TrainResult result;
    result.resumed = resumed_;
    result.parameters = NumParameters(*net_);
    const RunLogs logs(run_dir_, options_.log_every);

    while (step_ < total_steps_) {
      const int64_t batch = options_.batch_size;
      absl::StatusOr<double> step_loss = Step();
      if (!step_loss.ok()) return step_loss.status();
      const double value = *step_loss;
      lr = last_lr_;
      log_loss_sum_ += value;
      ++log_steps_;
      ++interval_steps;
      bool stop = false;
      const bool writes = replicas_.writes();
      const bool hook_step = callbacks.hook && callbacks.hook_every > 0 && step_ % callbacks.hook_every == 0;
      if (writes && hook_step) {
        TrainProgress p = last_progress_;
        p.step = step_;
        p.total_steps = total_steps_;
        p.nimg = nimg_;
        p.wall_s = since(t0);
        TrainedModels models = Models();
        net_->eval();
        stop = callbacks.hook(p, models) == TrainControl::kStop;
        net_->train();
      }
      if (hook_step && replicas_.distributed()) {  // rank 0's decision, on every rank
        absl::StatusOr<bool> any = internal_train::AnyRank(replicas_, stop);
        if (!any.ok()) return any.status();
        stop = *any;
      }
      // A row every log_every steps; a partial row when the session ends
      // (its steps stay in the running sum, so a resumed run logs the same
      // rows as an uninterrupted one).
      const bool last = step_ == total_steps_;
      const bool regular = step_ % options_.log_every == 0;
      if (regular || last || stop) {
        const double dt = since(interval_start);
        TrainProgress p;
        p.step = step_;
        p.total_steps = total_steps_;
        p.nimg = nimg_;
        p.loss = last_loss = log_loss_sum_ / log_steps_;
        p.lr = lr;
        p.images_per_s = dt > 0 ? interval_steps * batch / dt : 0;
        p.eta_s = interval_steps > 0 ? dt / interval_steps * (total_steps_ - step_) : 0;
        p.wall_s = since(t0);
        p.ema_beta = last_ema_beta_;
        if (writes) {
          if (absl::Status s = logs.Append({step_, nimg_, p.loss, lr, p.ema_beta, p.images_per_s, p.wall_s}); !s.ok()) {
            return s;
          }
        }
        last_progress_ = p;
        if (writes && callbacks.progress) callbacks.progress(p);
        interval_start = Clock::now();
        interval_steps = 0;
        if (regular) {
          log_loss_sum_ = 0;
          log_steps_ = 0;
        }
      }
      if (writes && (stop || last || (options_.checkpoint_every > 0 && step_ % options_.checkpoint_every == 0))) {
        if (absl::Status s = WriteCheckpoint(); !s.ok()) return s;
      }
      if (writes && options_.snapshot_kimg > 0) {
        const int64_t every = static_cast<int64_t>(std::llround(options_.snapshot_kimg * 1000));
        if (stop || last || nimg_ / every != (nimg_ - batch) / every) {
          if (absl::Status s = WriteSnapshot(); !s.ok()) return s;
        }
      }
      if (stop) {
        result.stopped_early = true;
        break;
      }
    }
    result.steps = step_;
    result.total_steps = total_steps_;
    result.nimg = nimg_;
    result.last_loss = last_loss;
    result.wall_s = since(t0);
    if (!replicas_.writes()) return result;
    if (step_ >= total_steps_ && !util::FileExists(RunCheckpointPath(run_dir_))) {
      if (absl::Status s = WriteCheckpoint(); !s.ok()) return s;  // resumed at the end already
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
    TrainingNoise drawn = DrawTrainingNoise(precond_, shape, loss_gen_);
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
      loss = DenoisingLossWithNoise(precond_, denoiser_, x, y, drawn);
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

  // Writes checkpoint.pt now (atomically).
  absl::Status WriteCheckpoint() {
    CheckpointState st;
    st.step = step_;
    st.nimg = nimg_;
    st.config_json = config_.dump();
    st.log_loss_sum = log_loss_sum_;
    st.log_steps = log_steps_;
    st.rng["loss"] = loss_gen_.get_state();
    st.rng["default"] = at::detail::getDefaultCPUGenerator().get_state();
    if (device_.is_cuda()) st.rng["device"] = at::globalContext().defaultGenerator(device_).get_state();
    return SaveCheckpoint(RunCheckpointPath(run_dir_), st, *net_, ema_->model().ptr().get(), optimizer_.get());
  }

  // Writes the EMA weights to snapshots/network-snapshot-KKKKKK.pt now (atomically).
  absl::Status WriteSnapshot() {
    std::error_code ec;
    std::filesystem::create_directories(RunSnapshotDir(run_dir_), ec);
    if (ec) return absl::UnavailableError(absl::StrCat(RunSnapshotDir(run_dir_), ": cannot create: ", ec.message()));
    return SaveSnapshot(RunSnapshotPath(run_dir_, nimg_ / 1000), step_, nimg_, config_.dump(), *ema_->model());
  }

  // Type-erased denoisers over the current raw and EMA weights.
  TrainedModels Models() {
    TrainedModels m;
    m.raw = MakeAnyDenoiser(Denoiser<Precond, Net>(net_, precond_));
    m.ema = MakeAnyDenoiser(Denoiser<Precond, Net>(ema_->model(), precond_));
    m.device = device_;
    m.dataset = &dataset_;
    return m;
  }

  Net& net() { return net_; }
  Net& ema_net() { return ema_->model(); }
  // The optimizer (after Start): its flat_gradients() are the whole gradient.
  FlatOptimizer& optimizer() { return *optimizer_; }
  const Precond& precond() const { return precond_; }
  torch::Device device() const { return device_; }
  // Why the device is what it is ("" unless auto fell back to the CPU).
  const std::string& device_note() const { return device_note_; }
  int64_t step() const { return step_; }
  int64_t nimg() const { return nimg_; }
  int64_t total_steps() const { return total_steps_; }
  const nlohmann::json& config() const { return config_; }

 private:

  Net net_;
  Precond precond_;
  data::Dataset dataset_;
  TrainOptions options_;
  std::string run_dir_;
  nlohmann::json config_;
  Denoiser<Precond, Net> denoiser_;
  DataStream order_;
  std::unique_ptr<Ema<Net>> ema_;
  std::unique_ptr<FlatOptimizer> optimizer_;
  torch::Device device_ = torch::kCPU;
  std::string device_note_;
  torch::Tensor images_, labels_;
  at::Generator loss_gen_;
  int64_t step_ = 0, nimg_ = 0, total_steps_ = 0;
  double last_lr_ = 0;
  double last_ema_beta_ = 0;
  double log_loss_sum_ = 0;
  int64_t log_steps_ = 0;
  bool started_ = false, resumed_ = false;
  TrainProgress last_progress_;
  parallel::Replicas replicas_;
};

}  // namespace diffusion
}  // namespace diffmem

#endif  // DIFFMEM_DIFFUSION_TRAINER_H_
