#include "tools/train_flags.h"

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "util/enum_names.h"

using diffmem::tools::Given;

ABSL_FLAG(Given<int64_t>, batch, {}, "batch size");
ABSL_FLAG(Given<std::string>, optimizer, {}, "adam, adamw or sgd");
ABSL_FLAG(Given<double>, lr, {}, "learning rate");
ABSL_FLAG(Given<double>, lr_warmup_kimg, {}, "linear lr warm-up (kimg)");
ABSL_FLAG(Given<double>, lr_warmup_epochs, {}, "linear lr warm-up in epochs over the N images (the authors: 200)");
ABSL_FLAG(Given<double>, weight_decay, {}, "weight decay");
ABSL_FLAG(Given<double>, grad_clip, {}, "clip the global gradient norm to this (0: off)");
ABSL_FLAG(Given<int64_t>, steps, {}, "duration in optimizer steps");
ABSL_FLAG(Given<double>, kimg, {}, "duration in thousands of training images");
ABSL_FLAG(Given<double>, epochs, {}, "duration in epochs over the N images");
ABSL_FLAG(Given<std::string>, ema_schedule, {},
          "EMA decay per step: fixed (--ema_beta), halflife (EDM: --ema_halflife_kimg, --ema_rampup_ratio) or "
          "data_ratio (the paper's authors: the half-life scales with N, --ema_halflife_kimg at 50k images); "
          "--ema_beta alone means fixed");
ABSL_FLAG(Given<double>, ema_beta, {}, "EMA decay per step of --ema_schedule=fixed");
ABSL_FLAG(Given<double>, ema_halflife_kimg, {}, "EMA half-life in kimg (halflife; data_ratio: at 50k images)");
ABSL_FLAG(Given<double>, ema_rampup_ratio, {}, "EMA half-life ramp-up ratio (<= 0: none)");
ABSL_FLAG(Given<std::string>, precision, {},
          "fp32 (the paper; TF32 off on GPUs) or bf16 (autocast of the forward pass on the training device; "
          "float32 master weights, optimizer state and EMA)");
ABSL_FLAG(Given<std::string>, data_order, {},
          "reshuffle (a new permutation every epoch) or fixed (one permutation per run, as the authors)");
ABSL_FLAG(Given<uint64_t>, seed, {}, "seed of initialisation, data order, noise and dropout");
ABSL_FLAG(Given<int64_t>, checkpoint_every, {}, "steps between checkpoints (0: at the end only)");
ABSL_FLAG(Given<int64_t>, log_every, {}, "steps between progress lines / loss.csv rows");
ABSL_FLAG(Given<double>, snapshot_kimg, {},
          "an EMA-weights snapshot every this many kimg and at the end, in RUN/snapshots/ (0: none; the authors: 2500)");
ABSL_FLAG(Given<std::string>, device, {}, "auto (CUDA if available), cpu or cuda");

namespace diffmem {
namespace tools {

absl::Status OverlayTrainingFlags(training::TrainOptions& t) {
  Overlay(absl::GetFlag(FLAGS_batch), t.batch_size);
  Overlay(absl::GetFlag(FLAGS_optimizer), t.optimizer);
  Overlay(absl::GetFlag(FLAGS_lr), t.lr);
  // A warm-up flag replaces the base's warm-up as a whole.
  const Given<double> warm_kimg = absl::GetFlag(FLAGS_lr_warmup_kimg), warm_epochs = absl::GetFlag(FLAGS_lr_warmup_epochs);
  if (warm_kimg.given() || warm_epochs.given()) {
    t.lr_warmup_kimg = warm_kimg.value.value_or(0);
    t.lr_warmup_epochs = warm_epochs.value.value_or(0);
  }
  Overlay(absl::GetFlag(FLAGS_weight_decay), t.weight_decay);
  Overlay(absl::GetFlag(FLAGS_grad_clip), t.grad_clip);
  // A duration flag replaces the base's duration as a whole.
  const Given<int64_t> steps = absl::GetFlag(FLAGS_steps);
  const Given<double> kimg = absl::GetFlag(FLAGS_kimg), epochs = absl::GetFlag(FLAGS_epochs);
  if (steps.given() || kimg.given() || epochs.given()) {
    t.steps = steps.value.value_or(0);
    t.kimg = kimg.value.value_or(0);
    t.epochs = epochs.value.value_or(0);
  }
  // --ema_beta alone means a fixed β; another schedule named alone drops the base's β.
  const Given<std::string> schedule = absl::GetFlag(FLAGS_ema_schedule);
  const Given<double> beta = absl::GetFlag(FLAGS_ema_beta);
  if (schedule.given()) {
    absl::StatusOr<training::EmaSchedule> s = ParseEnum<training::EmaSchedule>(*schedule.value, "EMA schedule");
    if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat("--ema_schedule: ", s.status().message()));
    t.ema_schedule = *s;
    if (*s != training::EmaSchedule::kFixed && !beta.given()) t.ema_beta = 0;
  } else if (beta.given()) {
    t.ema_schedule = training::EmaSchedule::kFixed;
  }
  Overlay(beta, t.ema_beta);
  Overlay(absl::GetFlag(FLAGS_ema_halflife_kimg), t.ema_halflife_kimg);
  Overlay(absl::GetFlag(FLAGS_ema_rampup_ratio), t.ema_rampup_ratio);
  if (auto precision = absl::GetFlag(FLAGS_precision).value) {
    absl::StatusOr<training::Precision> p = ParseEnum<training::Precision>(*precision, "precision");
    if (!p.ok()) return absl::InvalidArgumentError(absl::StrCat("--precision: ", p.status().message()));
    t.precision = *p;
  }
  if (auto order = absl::GetFlag(FLAGS_data_order).value) {
    absl::StatusOr<training::DataOrder> o = ParseEnum<training::DataOrder>(*order, "data order");
    if (!o.ok()) return absl::InvalidArgumentError(absl::StrCat("--data_order: ", o.status().message()));
    t.data_order = *o;
  }
  Overlay(absl::GetFlag(FLAGS_seed), t.seed);
  Overlay(absl::GetFlag(FLAGS_checkpoint_every), t.checkpoint_every);
  Overlay(absl::GetFlag(FLAGS_log_every), t.log_every);
  Overlay(absl::GetFlag(FLAGS_snapshot_kimg), t.snapshot_kimg);
  Overlay(absl::GetFlag(FLAGS_device), t.device);
  return absl::OkStatus();
}

}  // namespace tools
}  // namespace diffmem
