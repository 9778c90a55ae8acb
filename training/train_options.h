// What a training run is told, apart from the network and the data:
// optimizer, learning rate and warm-up (kimg or epochs), weight decay,
// gradient clipping, duration (steps, kimg or epochs), EMA schedule (fixed β,
// EDM's half-life, the authors' data-ratio half-life: training/ema_schedule.h),
// data order (a new permutation per epoch, or one per run as the authors),
// seed, checkpoint, snapshot and log intervals, device. Validation with errors that name the
// flag of the same name, JSON for config.json, the step count a duration
// means for a data set of N images, and the device choice.
//
// Example:
//   diffmem::training::TrainOptions t;
//   t.batch_size = 64; t.lr = 1e-3; t.steps = 2000;
//   t.ema_schedule = EmaSchedule::kFixed; t.ema_beta = 0.99;      // or the default half-life
//   if (absl::Status s = ValidateTrainOptions(t); !s.ok()) return s;
//   int64_t steps = TotalSteps(t, /*dataset_size=*/32);          // 2000
//   double lr = LearningRate(t, /*dataset_size=*/32, /*cur_nimg=*/0);
//   double beta = EmaBeta(t, /*dataset_size=*/32, /*cur_nimg=*/6400);
//   std::string note;
//   absl::StatusOr<torch::Device> dev = ResolveDevice("auto", &note);  // CUDA if LibTorch has it

#ifndef DIFFMEM_TRAINING_TRAIN_OPTIONS_H_
#define DIFFMEM_TRAINING_TRAIN_OPTIONS_H_

#include <ATen/Context.h>
#include <c10/core/DeviceType.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <torch/cuda.h>
#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "training/ema_schedule.h"
#include "util/enum_names.h"
#include "util/json_visit.h"

namespace diffmem {
namespace training {

// The order the training images are visited in.
enum class DataOrder {
  kReshuffle,  // a new permutation every epoch
  kFixed,      // one permutation for the whole run (the authors' sampler with window size 0)
};

// The arithmetic of the training forward pass.
enum class Precision {
  kFp32,  // float32 throughout, TF32 off (the paper)
  kBf16,  // bfloat16 autocast of the forward pass; float32 master weights, optimizer and EMA
};

}  // namespace training

template <>
struct EnumNames<training::DataOrder> {
  static constexpr std::pair<training::DataOrder, const char*> kNames[] = {
      {training::DataOrder::kReshuffle, "reshuffle"}, {training::DataOrder::kFixed, "fixed"}};
};

template <>
struct EnumNames<training::Precision> {
  static constexpr std::pair<training::Precision, const char*> kNames[] = {
      {training::Precision::kFp32, "fp32"}, {training::Precision::kBf16, "bf16"}};
};

namespace training {

struct TrainOptions {
  int64_t batch_size = 64;
  std::string optimizer = "adam";  // adam | adamw | sgd
  double lr = 2e-4;
  // lr ramps linearly over the first this many images seen, counted before
  // each step as EDM does (0: none); kimg or epochs of the training set.
  double lr_warmup_kimg = 0;
  double lr_warmup_epochs = 0;
  double weight_decay = 0;         // adam: L2 added to the gradient; adamw: decoupled; sgd: L2
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double adam_eps = 1e-8;
  double sgd_momentum = 0.9;
  double grad_clip = 0;            // max global L2 norm of the gradient (0: off)
  // Duration: exactly one of these is > 0.
  int64_t steps = 0;
  double kimg = 0;
  double epochs = 0;
  // EMA (training/ema_schedule.h): fixed uses ema_beta; halflife and
  // data_ratio use the half-life and its ramp-up.
  EmaSchedule ema_schedule = EmaSchedule::kHalfLife;
  double ema_beta = 0;
  double ema_halflife_kimg = 500;
  double ema_rampup_ratio = 0.05;  // ≤ 0: no ramp-up
  DataOrder data_order = DataOrder::kReshuffle;
  uint64_t seed = 0;               // initialisation, data order, noise, dropout
  int64_t checkpoint_every = 1000; // steps between checkpoints (0: only at the end)
  double snapshot_kimg = 0;        // an EMA-weights snapshot every this many kimg and at the end (0: none)
  int64_t log_every = 100;         // steps between loss-log rows and progress reports
  std::string device = "auto";     // auto | cpu | cuda
  // fp32 (the paper), or bf16 autocast of the forward pass: the parameters,
  // gradients, optimizer state and EMA stay float32.
  Precision precision = Precision::kFp32;
};

// Checks each field; messages start with the flag of the same name.
inline absl::Status ValidateTrainOptions(const TrainOptions& t) {
  auto bad = [](const char* flag, const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", why));
  };
  if (t.batch_size < 1) return bad("batch", absl::StrCat("must be >= 1, got ", t.batch_size));
  if (t.optimizer != "adam" && t.optimizer != "adamw" && t.optimizer != "sgd") {
    return bad("optimizer", absl::StrCat("'", t.optimizer, "': expected adam, adamw or sgd"));
  }
  if (!(t.lr > 0) || !std::isfinite(t.lr)) return bad("lr", absl::StrCat("must be positive, got ", t.lr));
  if (!(t.lr_warmup_kimg >= 0)) return bad("lr_warmup_kimg", "must be >= 0");
  if (!(t.lr_warmup_epochs >= 0)) return bad("lr_warmup_epochs", "must be >= 0");
  if (t.lr_warmup_kimg > 0 && t.lr_warmup_epochs > 0) {
    return bad("lr_warmup_epochs", "give the warm-up in kimg or in epochs, not both");
  }
  if (!(t.weight_decay >= 0)) return bad("weight_decay", "must be >= 0");
  if (!(t.adam_beta1 >= 0 && t.adam_beta1 < 1) || !(t.adam_beta2 >= 0 && t.adam_beta2 < 1)) {
    return bad("adam_betas", "must be in [0, 1)");
  }
  if (!(t.adam_eps > 0)) return bad("adam_eps", "must be positive");
  if (!(t.sgd_momentum >= 0 && t.sgd_momentum < 1)) return bad("sgd_momentum", "must be in [0, 1)");
  if (!(t.grad_clip >= 0)) return bad("grad_clip", "must be >= 0");
  const int durations = (t.steps > 0) + (t.kimg > 0) + (t.epochs > 0);
  if (t.steps < 0 || t.kimg < 0 || t.epochs < 0 || durations != 1) {
    return bad("steps", "give exactly one positive duration: --steps, --kimg or --epochs");
  }
  if (t.ema_schedule == EmaSchedule::kFixed) {
    if (!(t.ema_beta > 0 && t.ema_beta < 1)) return bad("ema_beta", absl::StrCat("must be in (0, 1), got ", t.ema_beta));
  } else {
    if (t.ema_beta != 0) {
      return bad("ema_beta", absl::StrCat("is used only with --ema_schedule=fixed (the schedule is ",
                                          EnumName(t.ema_schedule), ")"));
    }
    if (!(t.ema_halflife_kimg > 0)) return bad("ema_halflife_kimg", "must be positive");
  }
  if (!(t.snapshot_kimg >= 0)) return bad("snapshot_kimg", "must be >= 0");
  if (t.checkpoint_every < 0) return bad("checkpoint_every", "must be >= 0");
  if (t.log_every < 1) return bad("log_every", "must be >= 1");
  if (t.device != "auto" && t.device != "cpu" && t.device != "cuda") {
    return bad("device", absl::StrCat("'", t.device, "': expected auto, cpu or cuda"));
  }
  return absl::OkStatus();
}

// Optimizer steps for a data set of `dataset_size` images (duration rounded up).
inline int64_t TotalSteps(const TrainOptions& t, int64_t dataset_size) {
  if (t.steps > 0) return t.steps;
  const double images = t.kimg > 0 ? t.kimg * 1000 : t.epochs * static_cast<double>(dataset_size);
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(images / static_cast<double>(t.batch_size) - 1e-9)));
}

// The learning rate of the step after `cur_nimg` images: lr, ramped linearly
// over the warm-up (EDM: lr · min(cur_nimg / warm-up images, 1)).
inline double LearningRate(const TrainOptions& t, int64_t dataset_size, int64_t cur_nimg) {
  const double warmup = t.lr_warmup_kimg > 0 ? t.lr_warmup_kimg * 1000 : t.lr_warmup_epochs * dataset_size;
  if (!(warmup > 0)) return t.lr;
  return t.lr * std::min(1.0, static_cast<double>(cur_nimg) / warmup);
}

// The EMA decay of the step after `cur_nimg` images (training/ema_schedule.h).
inline double EmaBeta(const TrainOptions& t, int64_t dataset_size, int64_t cur_nimg) {
  switch (t.ema_schedule) {
    case EmaSchedule::kFixed:
      return t.ema_beta;
    case EmaSchedule::kDataRatio:
      return DataRatioBeta(dataset_size, cur_nimg, {t.ema_halflife_kimg, t.ema_rampup_ratio});
    case EmaSchedule::kHalfLife:
      break;
  }
  return HalfLifeBeta(t.batch_size, cur_nimg, EmaHalfLife{t.ema_halflife_kimg, t.ema_rampup_ratio});
}

// "auto": CUDA when LibTorch has a usable GPU, else CPU (and `note` says
// why); "cuda" without one is an error. Either way float32 stays strict on
// GPUs: cuDNN's convolutions and cuBLAS's GEMMs may not round to TF32 (as
// the paper authors' training, which turns TF32 off; LibTorch lets cuDNN use
// it by default).
inline absl::StatusOr<torch::Device> ResolveDevice(const std::string& flag, std::string* note = nullptr) {
  at::globalContext().setAllowTF32CuDNN(false);
  at::globalContext().setAllowTF32CuBLAS(false);
  const bool cuda = torch::cuda::is_available();
  if (flag == "cpu") return torch::Device(torch::kCPU);
  if (flag == "cuda" || flag == "auto") {
    if (cuda) return torch::Device(torch::kCUDA, 0);
    if (flag == "cuda") {
      // libc10_cuda registers the CUDA device guard when loaded: without it
      // the binary was built against a CPU-only LibTorch.
      if (!c10::impl::hasDeviceGuardImpl(c10::DeviceType::CUDA)) {
        return absl::FailedPreconditionError(
            "--device=cuda: this binary's LibTorch has no CUDA support (build against a CUDA LibTorch via "
            "DIFFMEM_LIBTORCH, or use --device=cpu)");
      }
      return absl::FailedPreconditionError(
          "--device=cuda: no GPU available (LibTorch has CUDA, but sees no CUDA device: no GPU or no NVIDIA "
          "driver); use --device=cpu");
    }
    if (note) *note = "no CUDA device available to LibTorch; using the CPU";
    return torch::Device(torch::kCPU);
  }
  return absl::InvalidArgumentError(absl::StrCat("--device: '", flag, "': expected auto, cpu or cuda"));
}

// The one list of TrainOptions' stored fields, for both JSON directions
// (util/json_visit.h); the fields marked optional are newer than the first
// runs: absent, they keep what those runs did (the defaults).
template <class T, class V>  // T: TrainOptions or const TrainOptions
void VisitTrainOptionsFields(T& t, V& v) {
  v("batch_size", t.batch_size);
  v("optimizer", t.optimizer);
  v("lr", t.lr);
  v("lr_warmup_kimg", t.lr_warmup_kimg);
  v("lr_warmup_epochs", t.lr_warmup_epochs, util::kOptional);
  v("weight_decay", t.weight_decay);
  v("adam_beta1", t.adam_beta1);
  v("adam_beta2", t.adam_beta2);
  v("adam_eps", t.adam_eps);
  v("sgd_momentum", t.sgd_momentum);
  v("grad_clip", t.grad_clip);
  v("steps", t.steps);
  v("kimg", t.kimg);
  v("epochs", t.epochs);
  v("ema_schedule", t.ema_schedule, util::kOptional);
  v("ema_beta", t.ema_beta);
  v("ema_halflife_kimg", t.ema_halflife_kimg);
  v("ema_rampup_ratio", t.ema_rampup_ratio);
  v("data_order", t.data_order, util::kOptional);
  v("seed", t.seed);
  v("checkpoint_every", t.checkpoint_every);
  v("snapshot_kimg", t.snapshot_kimg, util::kOptional);
  v("log_every", t.log_every);
  v("device", t.device);
  v("precision", t.precision, util::kOptional);
}

inline nlohmann::json TrainOptionsToJson(const TrainOptions& t) {
  return util::JsonWriter::Write(t, [](const TrainOptions& o, util::JsonWriter& w) { VisitTrainOptionsFields(o, w); });
}

// Checked: a missing or mistyped field is an error naming it; then validated.
inline absl::StatusOr<TrainOptions> TrainOptionsFromJson(const nlohmann::json& j,
                                                         const std::string& where = "training options") {
  absl::StatusOr<TrainOptions> t =
      util::JsonReader::Read<TrainOptions>(j, where, [](TrainOptions& o, util::JsonReader& r) { VisitTrainOptionsFields(o, r); });
  if (!t.ok()) return t.status();
  // Runs from before EMA schedules had a fixed β exactly when ema_beta > 0.
  if (!j.contains("ema_schedule") && t->ema_beta > 0) t->ema_schedule = EmaSchedule::kFixed;
  if (absl::Status s = ValidateTrainOptions(*t); !s.ok()) return s;
  return t;
}

// Fields that may differ when a run is resumed: how long, how often it
// reports, where it runs. Everything else must match for a bit-exact resume.
inline bool TrainOptionMayChangeOnResume(const std::string& key) {
  return key == "steps" || key == "kimg" || key == "epochs" || key == "checkpoint_every" || key == "log_every" ||
         key == "device" || key == "snapshot_kimg";
}

}  // namespace training
}  // namespace diffmem

#endif  // DIFFMEM_TRAINING_TRAIN_OPTIONS_H_
