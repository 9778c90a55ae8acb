#include "tools/train_flags.h"

#include "absl/flags/flag.h"

using diffmem::tools::Given;

ABSL_FLAG(Given<int64_t>, batch, {}, "batch size");
ABSL_FLAG(Given<std::string>, optimizer, {}, "adam, adamw or sgd");
ABSL_FLAG(Given<double>, lr, {}, "learning rate");
ABSL_FLAG(Given<double>, lr_warmup_kimg, {}, "linear lr warm-up (kimg)");
ABSL_FLAG(Given<double>, weight_decay, {}, "weight decay");
ABSL_FLAG(Given<double>, grad_clip, {}, "clip the global gradient norm to this (0: off)");
ABSL_FLAG(Given<int64_t>, steps, {}, "duration in optimizer steps");
ABSL_FLAG(Given<double>, kimg, {}, "duration in thousands of training images");
ABSL_FLAG(Given<double>, epochs, {}, "duration in epochs over the N images");
ABSL_FLAG(Given<double>, ema_beta, {}, "EMA decay per step (0: EDM half-life, --ema_halflife_kimg)");
ABSL_FLAG(Given<double>, ema_halflife_kimg, {}, "EMA half-life in kimg (when --ema_beta=0)");
ABSL_FLAG(Given<double>, ema_rampup_ratio, {}, "EMA half-life ramp-up ratio (<= 0: none)");
ABSL_FLAG(Given<uint64_t>, seed, {}, "seed of initialisation, data order, noise and dropout");
ABSL_FLAG(Given<int64_t>, checkpoint_every, {}, "steps between checkpoints (0: at the end only)");
ABSL_FLAG(Given<int64_t>, log_every, {}, "steps between progress lines / loss.csv rows");
ABSL_FLAG(Given<std::string>, device, {}, "auto (CUDA if available), cpu or cuda");

namespace diffmem {
namespace tools {

void OverlayTrainingFlags(diffusion::TrainOptions& t) {
  Overlay(absl::GetFlag(FLAGS_batch), t.batch_size);
  Overlay(absl::GetFlag(FLAGS_optimizer), t.optimizer);
  Overlay(absl::GetFlag(FLAGS_lr), t.lr);
  Overlay(absl::GetFlag(FLAGS_lr_warmup_kimg), t.lr_warmup_kimg);
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
  Overlay(absl::GetFlag(FLAGS_ema_beta), t.ema_beta);
  Overlay(absl::GetFlag(FLAGS_ema_halflife_kimg), t.ema_halflife_kimg);
  Overlay(absl::GetFlag(FLAGS_ema_rampup_ratio), t.ema_rampup_ratio);
  Overlay(absl::GetFlag(FLAGS_seed), t.seed);
  Overlay(absl::GetFlag(FLAGS_checkpoint_every), t.checkpoint_every);
  Overlay(absl::GetFlag(FLAGS_log_every), t.log_every);
  Overlay(absl::GetFlag(FLAGS_device), t.device);
}

}  // namespace tools
}  // namespace diffmem
