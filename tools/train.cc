// train: trains a diffusion UNet on a data set into a run directory.
//
//   bazel run //tools:train -- --data=fashion-mnist --n=32 --resolution=8 \
//       --channels=32 --channel_mult=1,2 --blocks=2 --attn= --dropout=0 \
//       --steps=1500 --lr=1e-3 --ema_beta=0.99 --out=/tmp/run_n32
//   bazel run //tools:train -- ... --out=/tmp/run_n32 --resume     # continue where it stopped
//
// The run directory gets config.json, loss.csv, checkpoint.pt and
// result.json (diffusion/train.h); //tools:sample reads the checkpoint.

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "data/data_factors.h"
#include "data/read_dataset.h"
#include "diffusion/network.h"
#include "diffusion/train.h"
#include "tools/data_flags.h"
#include "tools/tool_main.h"

// Data.
// Network.
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
// Training.
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
ABSL_FLAG(std::string, out, "", "run directory (required; must not hold a run unless --resume)");
ABSL_FLAG(bool, resume, false, "continue the run in --out from its checkpoint (bit for bit)");

namespace {

using diffmem::tools::CheckFlag;

absl::StatusOr<diffmem::diffusion::NetworkConfig> NetworkFromFlags(const diffmem::data::Dataset& ds) {
  namespace dd = diffmem::diffusion;
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

diffmem::diffusion::TrainOptions TrainingFromFlags() {
  diffmem::diffusion::TrainOptions t;
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

absl::Status Run(const std::vector<char*>& args) {
  namespace dd = diffmem::diffusion;
  if (auto s = CheckFlag(args.size() <= 1, "", absl::StrCat("unexpected argument '", args.size() > 1 ? args[1] : "",
                                                            "' (flags take the form --name=value)"));
      !s.ok()) {
    return s;
  }
  const std::string out = absl::GetFlag(FLAGS_out);
  if (auto s = CheckFlag(!out.empty(), "out", "a run directory is required"); !s.ok()) return s;
  const dd::TrainOptions training = TrainingFromFlags();
  if (absl::Status s = dd::ValidateTrainOptions(training); !s.ok()) return s;

  const diffmem::data::DataFactors f = diffmem::tools::DataFactorsFromFlags();
  absl::StatusOr<diffmem::data::Dataset> ds = diffmem::tools::LoadDatasetFromFlags();
  if (!ds.ok()) return ds.status();
  absl::StatusOr<dd::NetworkConfig> network = NetworkFromFlags(*ds);
  if (!network.ok()) return network.status();

  const nlohmann::json data_config = {{"spec", absl::GetFlag(FLAGS_data)}, {"n", f.n},
                                      {"subset", f.subset},                {"classes", f.classes},
                                      {"mix_data", f.mix_data},            {"mix_fraction", f.mix_fraction},
                                      {"pad", f.pad},                      {"resolution", f.resolution},
                                      {"labels", f.labels},                {"label_classes", f.label_classes},
                                      {"data_seed", f.seed}};
  dd::TrainCallbacks callbacks;
  callbacks.progress = [](const dd::TrainProgress& p) {
    std::fprintf(stderr, "train: %s\n", dd::FormatProgress(p).c_str());
  };
  auto on_start = [&](int64_t params, torch::Device device, const std::string& note, int64_t step, int64_t total) {
    if (!note.empty()) std::fprintf(stderr, "train: %s\n", note.c_str());
    std::fprintf(stderr, "train: %s/%s UNet, %lld parameters, %lld images %lldx%lldx%lld%s, device %s, threads %d\n",
                 network->spec.c_str(), network->precond.c_str(), static_cast<long long>(params),
                 static_cast<long long>(ds->size()), static_cast<long long>(ds->channels()),
                 static_cast<long long>(ds->height()), static_cast<long long>(ds->width()),
                 network->unet.label_dim() > 0 ? absl::StrCat(", ", network->unet.label_dim(), " labels").c_str() : "",
                 device.str().c_str(), diffmem::tools::ToolThreads());
    if (step > 0) std::fprintf(stderr, "train: resuming at step %lld of %lld\n", static_cast<long long>(step),
                               static_cast<long long>(total));
  };
  absl::StatusOr<dd::TrainResult> r =
      dd::TrainNetwork(*network, *ds, training, out, absl::GetFlag(FLAGS_resume), callbacks, data_config, on_start);
  if (!r.ok()) return r.status();
  std::fprintf(stderr, "train: %s %lld steps (%.1f kimg), last loss %.4f, %.1f s; checkpoint %s\n",
               r->stopped_early ? "stopped after" : "done,", static_cast<long long>(r->steps), r->nimg / 1000.0,
               r->last_loss, r->wall_s, dd::RunCheckpointPath(out).c_str());
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  return diffmem::tools::ToolMain(argc, argv,
                                  "Trains a diffusion UNet (DDPM++/NCSN++, EDM/VP/VE/iDDPM) into a run directory.\n"
                                  "  train --data=fashion-mnist --n=1000 --resolution=16 --steps=20000 --out=runs/n1k\n"
                                  "  train ... --out=runs/n1k --resume",
                                  Run);
}
