// TrainerState<Precond, Net>: what a training run is between steps — the
// network under its preconditioner, the EMA copy, the optimizer over flat
// buffers, the step and image counters, the random streams, the running
// loss — and its life in a run directory: Start opens a new run or resumes
// the checkpoint there (training/run_dir.h says what the directory holds),
// WriteCheckpoint/WriteSnapshot save it. training/trainer.h's Trainer adds
// the loop and the step; this is its base, not used alone.
//
// Example: see training/trainer.h.

#ifndef DIFFMEM_TRAINING_TRAINER_STATE_H_
#define DIFFMEM_TRAINING_TRAINER_STATE_H_

#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "data/dataset.h"
#include "diffusion/denoiser.h"
#include "networks/num_parameters.h"
#include "nlohmann/json.hpp"
#include "parallel/replicas.h"
#include "training/checkpoint.h"
#include "training/data_stream.h"
#include "training/ema.h"
#include "training/flat_optimizer.h"
#include "training/internal/trainer_parts.h"
#include "training/loss_meter.h"
#include "training/run_dir.h"
#include "training/run_logs.h"
#include "training/train_callbacks.h"
#include "training/train_options.h"
#include "training/training_rngs.h"
#include "util/atomic_file.h"

namespace diffmem {
namespace training {

template <class Precond, class Net>
class TrainerState {
  static_assert(diffusion::IsNetwork<Net>::value, "Net must satisfy the NETWORK concept (diffusion/denoiser.h)");

 public:
  // `dataset`: uint8 images (labels passed to the net when defined);
  // `config`: what config.json records besides "training", "dataset",
  // "parameters" and "total_steps" (e.g. {"network": …, "data": …}).
  TrainerState(Net net, Precond precond, data::Dataset dataset, TrainOptions options, std::string run_dir,
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
    rngs_ = TrainingRngs::Seeded(options_.seed);

    config_["training"] = TrainOptionsToJson(options_);
    config_["dataset"] = DatasetSummaryJson(dataset_);
    config_["parameters"] = networks::NumParameters(*net_);
    config_["total_steps"] = total_steps_;
    config_["world_size"] = replicas_.world_size;

    const std::string ckpt = RunCheckpointPath(run_dir_);
    const bool writes = replicas_.writes();
    if (absl::Status s = OpenRunDirectory(run_dir_, config_, resume, replicas_.world_size, writes); !s.ok()) return s;
    if (resume && util::FileExists(ckpt)) {
      absl::StatusOr<CheckpointState> st =
          LoadCheckpoint(ckpt, *net_, ema_->model().ptr().get(), optimizer_.get(), device_);
      if (!st.ok()) return st.status();
      if (st->step > total_steps_) {
        return absl::FailedPreconditionError(absl::StrCat(
            run_dir_, ": cannot resume, the checkpoint is at step ", st->step, " and this run is ", total_steps_,
            " steps long (--steps, --kimg or --epochs); give a length of at least ", st->step, " steps"));
      }
      step_ = st->step;
      nimg_ = st->nimg;
      meter_ = LossMeter(st->log_loss_sum, st->log_steps);
      rngs_.Restore(st->rng, device_);
      resumed_ = true;
      if (writes) {
        const RunLogs logs(run_dir_, options_.log_every);
        if (absl::Status s = logs.TruncateAfter(step_, /*drop_partial=*/step_ < total_steps_); !s.ok()) return s;
      }
    } else if (writes) {
      if (absl::Status s = RunLogs(run_dir_, options_.log_every).Create(); !s.ok()) return s;
    }
    started_ = true;
    return writes ? util::WriteFileAtomically(RunConfigPath(run_dir_), config_.dump(2) + "\n") : absl::OkStatus();
  }

  // Writes checkpoint.pt now (atomically).
  absl::Status WriteCheckpoint() {
    CheckpointState st;
    st.step = step_;
    st.nimg = nimg_;
    st.config_json = config_.dump();
    st.log_loss_sum = meter_.loss_sum();
    st.log_steps = meter_.loss_steps();
    st.rng = rngs_.States(device_);
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
    m.raw = diffusion::MakeAnyDenoiser(diffusion::Denoiser<Precond, Net>(net_, precond_));
    m.ema = diffusion::MakeAnyDenoiser(diffusion::Denoiser<Precond, Net>(ema_->model(), precond_));
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

 protected:
  Net net_;
  Precond precond_;
  data::Dataset dataset_;
  TrainOptions options_;
  std::string run_dir_;
  nlohmann::json config_;
  diffusion::Denoiser<Precond, Net> denoiser_;
  DataStream order_;
  std::unique_ptr<Ema<Net>> ema_;
  std::unique_ptr<FlatOptimizer> optimizer_;
  torch::Device device_ = torch::kCPU;
  std::string device_note_;
  torch::Tensor images_, labels_;
  TrainingRngs rngs_;
  int64_t step_ = 0, nimg_ = 0, total_steps_ = 0;
  double last_lr_ = 0;
  double last_ema_beta_ = 0;
  LossMeter meter_;
  bool started_ = false, resumed_ = false;
  TrainProgress last_progress_;
  parallel::Replicas replicas_;
};

}  // namespace training
}  // namespace diffmem

#endif  // DIFFMEM_TRAINING_TRAINER_STATE_H_
