// The training loop: Trainer<Precond, Net> trains a NETWORK under a
// preconditioner with EDM's denoising loss, keeps an EMA copy, and manages a
// run directory; TrainNetwork() is the one-call form for the UNets of a
// NetworkConfig (what //tools:train and the EMM study call).
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
// Data order: epoch e visits the images in the order of a Fisher–Yates
// permutation drawn from std::mt19937_64 seeded by seed_seq{seed, e} (fixed by
// the C++ standard), or with data_order = fixed epoch 0's permutation every
// epoch (the authors' sampler with window size 0); batches run across epoch
// boundaries.
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
//   absl::StatusOr<TrainResult> r = TrainNetwork(net, dataset, t, "runs/n32", /*resume=*/true, cb);

#ifndef DIFFMEM_DIFFUSION_TRAIN_H_
#define DIFFMEM_DIFFUSION_TRAIN_H_

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <torch/cuda.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>
#include <torch/types.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "data/dataset.h"
#include "data/pixels.h"
#include "data/subsets.h"
#include "diffusion/checkpoint.h"
#include "diffusion/denoiser.h"
#include "diffusion/ema.h"
#include "diffusion/flat_optimizer.h"
#include "diffusion/loss.h"
#include "diffusion/network.h"
#include "diffusion/run_logs.h"
#include "diffusion/train_options.h"
#include "diffusion/unet.h"
#include "nlohmann/json.hpp"
#include "util/atomic_file.h"
#include "util/json_file.h"
#include "util/progress.h"

namespace diffmem {
namespace diffusion {

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

// A DENOISER behind std::function, so callbacks need no template: also
// forwards the σ range and round_sigma of the denoiser it wraps.
struct AnyDenoiser {
  std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&)> fn;
  double min_sigma = 0;
  double max_sigma = INFINITY;
  std::function<double(double)> round;

  torch::Tensor operator()(const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor& labels) const {
    return fn(x, sigma, labels);
  }
  double sigma_min() const { return min_sigma; }
  double sigma_max() const { return max_sigma; }
  double round_sigma(double sigma) const { return round ? round(sigma) : sigma; }
};

// Wraps a Denoiser<Precond, Net>: evaluation runs without gradients.
template <class Precond, class Net>
AnyDenoiser MakeAnyDenoiser(Denoiser<Precond, Net> d) {
  AnyDenoiser a;
  a.min_sigma = d.sigma_min();
  a.max_sigma = d.sigma_max();
  a.round = [d](double s) { return d.round_sigma(s); };
  a.fn = [d](const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor& labels) {
    torch::NoGradGuard no_grad;
    return d(x, sigma, labels);
  };
  return a;
}

struct TrainedModels {
  AnyDenoiser raw;  // the trained weights
  AnyDenoiser ema;  // the moving average
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
};

// Files of a run directory.
inline std::string RunConfigPath(const std::string& run_dir) { return run_dir + "/config.json"; }
inline std::string RunCheckpointPath(const std::string& run_dir) { return run_dir + "/checkpoint.pt"; }
inline std::string RunResultPath(const std::string& run_dir) { return run_dir + "/result.json"; }

// The snapshot series of a run (TrainOptions::snapshot_kimg): EDM's names.
inline std::string RunSnapshotDir(const std::string& run_dir) { return run_dir + "/snapshots"; }
inline std::string RunSnapshotPath(const std::string& run_dir, int64_t kimg) {
  return absl::StrFormat("%s/network-snapshot-%06d.pt", RunSnapshotDir(run_dir), kimg);
}

// A checkpoint file, or a run directory's checkpoint.pt.
inline std::string CheckpointPathOf(const std::string& file_or_run_dir) {
  std::error_code ec;
  return std::filesystem::is_directory(file_or_run_dir, ec) ? RunCheckpointPath(file_or_run_dir) : file_or_run_dir;
}

// The network a checkpoint was trained with (its stored configuration).
inline absl::StatusOr<NetworkConfig> ReadCheckpointNetwork(const std::string& checkpoint) {
  absl::StatusOr<std::string> text = ReadCheckpointConfig(checkpoint);
  if (!text.ok()) return text.status();
  const nlohmann::json config = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded() || !config.contains("network")) {
    return absl::DataLossError(absl::StrCat(checkpoint, ": the stored configuration has no network section"));
  }
  absl::StatusOr<NetworkConfig> network = NetworkConfigFromJson(config.at("network"));
  if (!network.ok()) return absl::DataLossError(absl::StrCat(checkpoint, ": ", network.status().message()));
  return network;
}

// ---- Data order ----

// The order of epoch `epoch` over n images.
inline std::vector<int64_t> EpochPermutation(uint64_t seed, int64_t epoch, int64_t n) {
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32), static_cast<uint32_t>(epoch),
                    static_cast<uint32_t>(static_cast<uint64_t>(epoch) >> 32)};
  std::mt19937_64 rng(seq);
  std::vector<int64_t> p(n);
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  for (int64_t i = n - 1; i > 0; --i) {
    const int64_t j = static_cast<int64_t>(data::UniformBelow(rng, static_cast<uint64_t>(i + 1)));
    std::swap(p[i], p[j]);
  }
  return p;
}

// Indices of images nimg … nimg+batch−1 of the endless seeded stream: a new
// permutation every epoch, or (fixed) epoch 0's permutation every epoch.
class DataStream {
 public:
  DataStream(uint64_t seed, int64_t n, bool fixed = false) : seed_(seed), n_(n), fixed_(fixed) {}
  torch::Tensor Batch(int64_t nimg, int64_t batch) {
    torch::Tensor out = torch::empty({batch}, torch::kInt64);
    int64_t* o = out.data_ptr<int64_t>();
    for (int64_t k = 0; k < batch; ++k) {
      const int64_t g = nimg + k, epoch = fixed_ ? 0 : g / n_;
      if (epoch != epoch_) {
        perm_ = EpochPermutation(seed_, epoch, n_);
        epoch_ = epoch;
      }
      o[k] = perm_[g % n_];
    }
    return out;
  }

 private:
  uint64_t seed_;
  int64_t n_;
  bool fixed_;
  int64_t epoch_ = -1;
  std::vector<int64_t> perm_;
};

// FNV-1a over images and labels: tells a resumed run it sees the same data.
inline std::string DatasetFingerprint(const data::Dataset& ds) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](const torch::Tensor& t) {
    torch::Tensor c = t.contiguous().cpu();
    const auto* b = static_cast<const unsigned char*>(c.data_ptr());
    const size_t bytes = c.numel() * c.element_size();
    for (size_t i = 0; i < bytes; ++i) h = (h ^ b[i]) * 1099511628211ull;
  };
  if (ds.images.defined()) mix(ds.images);
  if (ds.labels.defined()) mix(ds.labels);
  return absl::StrFormat("%016x", h);
}

inline nlohmann::json DatasetSummaryJson(const data::Dataset& ds) {
  return nlohmann::json{{"source", ds.source},
                        {"size", ds.size()},
                        {"channels", ds.size() > 0 ? ds.channels() : 0},
                        {"height", ds.size() > 0 ? ds.height() : 0},
                        {"width", ds.size() > 0 ? ds.width() : 0},
                        {"has_labels", ds.has_labels()},
                        {"num_classes", ds.num_classes},
                        {"fingerprint", DatasetFingerprint(ds)}};
}

namespace internal_train {

// The optimizer TrainOptions names, over flat parameter buffers: LibTorch's
// Adam, AdamW or SGD arithmetic in one pass per step (diffusion/flat_optimizer.h).
inline std::unique_ptr<FlatOptimizer> MakeOptimizer(std::vector<torch::Tensor> params, const TrainOptions& t) {
  if (t.optimizer == "adamw") {
    return std::make_unique<FlatOptimizer>(std::move(params), torch::optim::AdamWOptions(t.lr)
                                                                   .betas({t.adam_beta1, t.adam_beta2})
                                                                   .eps(t.adam_eps)
                                                                   .weight_decay(t.weight_decay));
  }
  if (t.optimizer == "sgd") {
    return std::make_unique<FlatOptimizer>(
        std::move(params), torch::optim::SGDOptions(t.lr).momentum(t.sgd_momentum).weight_decay(t.weight_decay));
  }
  return std::make_unique<FlatOptimizer>(std::move(params), torch::optim::AdamOptions(t.lr)
                                                                .betas({t.adam_beta1, t.adam_beta2})
                                                                .eps(t.adam_eps)
                                                                .weight_decay(t.weight_decay));
}

// Which setting of a stored configuration differs from the new one in a way
// that would break a bit-exact resume ("training.lr: was 0.001, now 0.002");
// "" when compatible. The duration, intervals and device may change.
inline std::string ResumeMismatch(nlohmann::json stored, nlohmann::json now) {
  for (nlohmann::json* j : {&stored, &now}) {
    j->erase("total_steps");
    if (!j->contains("training") || !j->at("training").is_object()) continue;
    nlohmann::json& t = j->at("training");
    for (auto it = t.begin(); it != t.end();) it = TrainOptionMayChangeOnResume(it.key()) ? t.erase(it) : std::next(it);
  }
  return util::FirstJsonDifference(stored, now);
}

// Adds the time since the last lap to a StepTimes part (nothing when off).
class PhaseClock {
 public:
  PhaseClock(bool on, torch::Device device) : on_(on), cuda_(device.is_cuda()) {
    if (on_) Read(&wall_, &cpu_);
  }
  void Lap(StepTimes::Part* into) {
    if (!on_) return;
    if (cuda_) torch::cuda::synchronize();
    double wall = 0, cpu = 0;
    Read(&wall, &cpu);
    into->wall_s += wall - wall_;
    into->cpu_s += cpu - cpu_;
    wall_ = wall;
    cpu_ = cpu;
  }

 private:
  static void Read(double* wall, double* cpu) {
    *wall = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    *cpu = static_cast<double>(std::clock()) / CLOCKS_PER_SEC;
  }
  bool on_, cuda_;
  double wall_ = 0, cpu_ = 0;
};

}  // namespace internal_train

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

  // Prepares the run directory: a new run (resume = false; the directory
  // must not hold one) or the continuation of the checkpoint in it (resume =
  // true; starts fresh when there is none yet).
  absl::Status Start(bool resume) {
    if (absl::Status s = ValidateTrainOptions(options_); !s.ok()) return s;
    if (absl::Status s = data::ValidateDataset(dataset_); !s.ok()) return s;
    if (dataset_.size() < 1) return absl::InvalidArgumentError(absl::StrCat(dataset_.source, ": no images to train on"));
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

    std::error_code ec;
    const std::string ckpt = RunCheckpointPath(run_dir_), cfg = RunConfigPath(run_dir_);
    if (!resume) {
      if (util::FileExists(ckpt) || util::FileExists(cfg)) {
        return absl::AlreadyExistsError(absl::StrCat(run_dir_, ": already holds a run (", cfg,
                                                     "); pass --resume to continue it or choose another --out"));
      }
    } else if (util::FileExists(cfg)) {
      absl::StatusOr<std::string> text = util::ReadFileToString(cfg);
      if (!text.ok()) return text.status();
      const nlohmann::json stored = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
      if (stored.is_discarded()) return absl::DataLossError(absl::StrCat(cfg, ": not valid JSON"));
      if (std::string why = internal_train::ResumeMismatch(stored, config_); !why.empty()) {
        return absl::FailedPreconditionError(
            absl::StrCat(run_dir_, ": cannot resume, the configuration changed: ", why));
      }
    }
    std::filesystem::create_directories(run_dir_, ec);
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
      if (absl::Status s = RunLogs(run_dir_, options_.log_every).TruncateAfter(step_, /*drop_partial=*/step_ < total_steps_);
          !s.ok()) {
        return s;
      }
    } else {
      if (absl::Status s = RunLogs(run_dir_, options_.log_every).Create(); !s.ok()) return s;
    }
    started_ = true;
    return util::WriteFileAtomically(cfg, config_.dump(2) + "\n");
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
      if (callbacks.hook && callbacks.hook_every > 0 && step_ % callbacks.hook_every == 0) {
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
        if (absl::Status s = logs.Append({step_, nimg_, p.loss, lr, p.ema_beta, p.images_per_s, p.wall_s}); !s.ok()) {
          return s;
        }
        last_progress_ = p;
        if (callbacks.progress) callbacks.progress(p);
        interval_start = Clock::now();
        interval_steps = 0;
        if (regular) {
          log_loss_sum_ = 0;
          log_steps_ = 0;
        }
      }
      if (stop || last || (options_.checkpoint_every > 0 && step_ % options_.checkpoint_every == 0)) {
        if (absl::Status s = WriteCheckpoint(); !s.ok()) return s;
      }
      if (options_.snapshot_kimg > 0) {
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
    const int64_t batch = options_.batch_size;
    torch::Tensor idx = order_.Batch(nimg_, batch).to(device_);
    torch::Tensor x = data::PixelsToFloat(images_.index_select(0, idx));
    torch::Tensor y = labels_.defined() ? labels_.index_select(0, idx) : torch::Tensor();
    clock.Lap(times ? &times->batch : nullptr);
    optimizer_->ZeroGrad();
    clock.Lap(times ? &times->optimizer : nullptr);
    torch::Tensor loss = DenoisingLoss(denoiser_, x, y, loss_gen_);
    const double value = loss.item<double>();
    if (!std::isfinite(value)) {
      return absl::AbortedError(absl::StrCat(
          "training diverged: loss is ", value, " at step ", step_ + 1, "; the last good checkpoint ",
          util::FileExists(RunCheckpointPath(run_dir_)) ? RunCheckpointPath(run_dir_) : "(none yet)",
          " is kept. Try a lower --lr, a longer --lr_warmup_kimg or --grad_clip"));
    }
    loss.backward();
    clock.Lap(times ? &times->forward_backward : nullptr);
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
};

// Checks that a data set fits a network config: image shape, labels for a
// conditional net (label_dim ≥ num_classes). Messages name the flags.
inline absl::Status CheckDatasetForNetwork(const data::Dataset& ds, const NetworkConfig& c) {
  if (absl::Status s = data::ValidateDataset(ds); !s.ok()) return s;
  if (ds.size() < 1) return absl::InvalidArgumentError(absl::StrCat(ds.source, ": no images"));
  const UNetOptions& o = c.unet;
  if (ds.channels() != o.in_channels() || ds.height() != o.img_resolution() || ds.width() != o.img_resolution()) {
    return absl::InvalidArgumentError(absl::StrCat(ds.source, ": images are ", ds.channels(), "×", ds.height(), "×",
                                                   ds.width(), " but the network expects ", o.in_channels(), "×",
                                                   o.img_resolution(), "×", o.img_resolution(),
                                                   " (--resolution / channels)"));
  }
  if (o.label_dim() > 0) {
    if (!ds.has_labels()) {
      return absl::InvalidArgumentError(
          absl::StrCat(ds.source, ": a class-conditional network (label_dim ", o.label_dim(), ") needs labels"));
    }
    if (ds.num_classes > o.label_dim()) {
      return absl::InvalidArgumentError(absl::StrCat(ds.source, ": ", ds.num_classes,
                                                     " classes do not fit label_dim ", o.label_dim()));
    }
  }
  return absl::OkStatus();
}

// Builds the config's UNet (parameters drawn after torch::manual_seed(seed))
// and trains it in `run_dir`: the one entry point of //tools:train and of
// every EMM study run. Labels reach the network only when label_dim > 0.
// `data_config` is recorded in config.json under "data"
// (data::DataSourceToJson). Callbacks: see TrainCallbacks.
inline absl::StatusOr<TrainResult> TrainNetwork(const NetworkConfig& network, const data::Dataset& dataset,
                                                const TrainOptions& options, const std::string& run_dir, bool resume,
                                                const TrainCallbacks& callbacks = TrainCallbacks(),
                                                const nlohmann::json& data_config = nlohmann::json::object()) {
  if (absl::Status s = ValidateTrainOptions(options); !s.ok()) return s;
  if (absl::Status s = CheckDatasetForNetwork(dataset, network); !s.ok()) return s;
  absl::StatusOr<TrainResult> out = absl::InternalError("unreachable");
  absl::Status visited = VisitNetwork(network, [&](auto spec, auto precond) -> absl::Status {
    using Spec = typename decltype(spec)::type;
    using Precond = typename decltype(precond)::type;
    torch::manual_seed(options.seed);
    UNet<Spec> net(network.unet);
    data::Dataset ds = dataset;
    if (network.unet.label_dim() == 0) ds = data::WithoutLabels(ds);
    nlohmann::json config = {{"network", NetworkConfigToJson(network)}, {"data", data_config}};
    Trainer<Precond, UNet<Spec>> trainer(net, Precond(), std::move(ds), options, run_dir, std::move(config));
    if (absl::Status s = trainer.Start(resume); !s.ok()) return s;
    if (callbacks.started) {
      callbacks.started({NumParameters(*net), trainer.device(), trainer.device_note(), trainer.step(),
                         trainer.total_steps()});
    }
    out = trainer.Run(callbacks);
    if (!out.ok() || !callbacks.finished) return out.status();
    trainer.net()->eval();  // no dropout after training (Run leaves the net in training mode)
    trainer.ema_net()->eval();
    TrainedModels models = trainer.Models();
    return callbacks.finished(*out, models);
  });
  if (!visited.ok()) return visited;
  return out;
}

}  // namespace diffusion
}  // namespace diffmem

#endif  // DIFFMEM_DIFFUSION_TRAIN_H_
