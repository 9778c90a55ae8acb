#include "tools/train_flags.h"

#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"

ABSL_FLAG(std::string, arch, "ddpmpp", "UNet family: ddpmpp or ncsnpp");
ABSL_FLAG(std::string, precond, "edm", "preconditioning: edm, vp, ve, iddpm");
ABSL_FLAG(int64_t, channels, 128, "model channels (width)");
ABSL_FLAG(std::string, channel_mult, "2,2,2", "channel multiplier per resolution level");
ABSL_FLAG(int64_t, blocks, 4, "residual blocks per level (depth)");
ABSL_FLAG(std::string, attn, "16", "resolutions with self-attention (comma list, may be empty)");
ABSL_FLAG(std::string, embedding, "default", "noise embedding: positional, fourier, default (the family's)");
ABSL_FLAG(std::string, skip_mask, "", "encoder->decoder skips on/off, one 0/1 per skip in encoder order ('' = all on)");
ABSL_FLAG(double, dropout, 0.10, "dropout probability");
ABSL_FLAG(int64_t, label_dim, -1, "class-embedding size (-1: the data set's class count when labelled, else 0)");

ABSL_FLAG(int64_t, batch, 64, "batch size");
ABSL_FLAG(std::string, optimizer, "adam", "adam, adamw or sgd");
ABSL_FLAG(double, lr, 2e-4, "learning rate");
ABSL_FLAG(double, lr_warmup_kimg, 0, "linear lr warm-up (kimg)");
ABSL_FLAG(double, weight_decay, 0, "weight decay");
ABSL_FLAG(double, grad_clip, 0, "clip the global gradient norm to this (0: off)");
ABSL_FLAG(int64_t, steps, 0, "duration in optimizer steps");
ABSL_FLAG(double, kimg, 0, "duration in thousands of training images");
ABSL_FLAG(double, epochs, 0, "duration in epochs over the N images");
ABSL_FLAG(double, ema_beta, 0, "EMA decay per step (0: EDM half-life, --ema_halflife_kimg)");
ABSL_FLAG(double, ema_halflife_kimg, 500, "EMA half-life in kimg (when --ema_beta=0)");
ABSL_FLAG(double, ema_rampup_ratio, 0.05, "EMA half-life ramp-up ratio (<= 0: none)");
ABSL_FLAG(uint64_t, seed, 0, "seed of initialisation, data order, noise and dropout");
ABSL_FLAG(int64_t, checkpoint_every, 1000, "steps between checkpoints (0: at the end only)");
ABSL_FLAG(int64_t, log_every, 100, "steps between progress lines / loss.csv rows");
ABSL_FLAG(std::string, device, "auto", "auto (CUDA if available), cpu or cuda");

namespace diffmem {
namespace tools {

absl::StatusOr<diffusion::NetworkConfig> NetworkFromFlags(const data::Dataset& ds) {
  namespace dd = diffusion;
  dd::NetworkConfig c;
  c.spec = absl::GetFlag(FLAGS_arch);
  c.precond = absl::GetFlag(FLAGS_precond);
  absl::StatusOr<std::vector<int64_t>> mult = dd::ParseIntList(absl::GetFlag(FLAGS_channel_mult), "--channel_mult");
  if (!mult.ok()) return mult.status();
  absl::StatusOr<std::vector<int64_t>> attn = dd::ParseIntList(absl::GetFlag(FLAGS_attn), "--attn");
  if (!attn.ok()) return attn.status();
  absl::StatusOr<dd::NoiseEmbedding> emb = dd::ParseNoiseEmbedding(absl::GetFlag(FLAGS_embedding));
  if (!emb.ok()) return absl::InvalidArgumentError(absl::StrCat("--", emb.status().message()));
  absl::StatusOr<std::vector<bool>> mask = dd::ParseSkipMask(absl::GetFlag(FLAGS_skip_mask));
  if (!mask.ok()) return absl::InvalidArgumentError(absl::StrCat("--skip_mask: ", mask.status().message()));
  int64_t label_dim = absl::GetFlag(FLAGS_label_dim);
  if (label_dim < 0) label_dim = ds.has_labels() ? ds.num_classes : 0;
  if (label_dim > 0 && !ds.has_labels()) {
    return absl::InvalidArgumentError("--label_dim: a conditional network needs labels (set --labels)");
  }
  c.unet = dd::UNetOptions(ds.height(), ds.channels(), ds.channels())
               .model_channels(absl::GetFlag(FLAGS_channels))
               .channel_mult(*mult)
               .num_blocks(absl::GetFlag(FLAGS_blocks))
               .attn_resolutions(*attn)
               .embedding(*emb)
               .skip_mask(*mask)
               .dropout(absl::GetFlag(FLAGS_dropout))
               .label_dim(label_dim);
  if (ds.height() != ds.width()) {
    return absl::InvalidArgumentError(absl::StrCat(ds.source, ": images must be square, got ", ds.height(), "x",
                                                   ds.width(), " (use --resolution)"));
  }
  if (absl::Status s = dd::ValidateNetworkConfig(c); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("network flags: ", s.message()));
  }
  return c;
}

diffusion::TrainOptions TrainingFromFlags() {
  diffusion::TrainOptions t;
  t.batch_size = absl::GetFlag(FLAGS_batch);
  t.optimizer = absl::GetFlag(FLAGS_optimizer);
  t.lr = absl::GetFlag(FLAGS_lr);
  t.lr_warmup_kimg = absl::GetFlag(FLAGS_lr_warmup_kimg);
  t.weight_decay = absl::GetFlag(FLAGS_weight_decay);
  t.grad_clip = absl::GetFlag(FLAGS_grad_clip);
  t.steps = absl::GetFlag(FLAGS_steps);
  t.kimg = absl::GetFlag(FLAGS_kimg);
  t.epochs = absl::GetFlag(FLAGS_epochs);
  t.ema_beta = absl::GetFlag(FLAGS_ema_beta);
  t.ema_halflife_kimg = absl::GetFlag(FLAGS_ema_halflife_kimg);
  t.ema_rampup_ratio = absl::GetFlag(FLAGS_ema_rampup_ratio);
  t.seed = absl::GetFlag(FLAGS_seed);
  t.checkpoint_every = absl::GetFlag(FLAGS_checkpoint_every);
  t.log_every = absl::GetFlag(FLAGS_log_every);
  t.device = absl::GetFlag(FLAGS_device);
  return t;
}

}  // namespace tools
}  // namespace diffmem
