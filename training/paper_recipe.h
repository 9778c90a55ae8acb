// The paper authors' CIFAR-10 training recipe (Gu et al., "On Memorization in
// Diffusion Models": their scripts on EDM's code), as diffmem's configs:
// //tools:train's defaults and the base of the paper_cifar10 study preset,
// so the two cannot drift apart. docs/fidelity.md lists each setting with the
// test that pins it.
//   network   DDPM++ (EDM's SongUNet), VP preconditioning, 128 channels,
//             multipliers 2,2,2, 2 blocks per level, attention at 16 px,
//             dropout 0.13, positional noise embedding
//   training  batch 512, Adam (β 0.9, 0.999, ε 1e-8) lr 2e-4 with a linear
//             warm-up over N/5 kimg (200 epochs), 40 000 epochs, EMA with the
//             data-ratio half-life (500 kimg at 50k images, ramp-up 0.05), one
//             fixed data permutation (their sampler's window size 0), seed
//             1024, fp32, no augmentation, a snapshot every 2.5 Mimg
//
// Example:
//   diffmem::networks::NetworkConfig net = diffmem::training::PaperNetwork();
//   diffmem::training::TrainOptions train = diffmem::training::PaperTraining();

#ifndef DIFFMEM_TRAINING_PAPER_RECIPE_H_
#define DIFFMEM_TRAINING_PAPER_RECIPE_H_

#include "networks/network.h"
#include "networks/unet.h"
#include "training/ema_schedule.h"
#include "training/train_options.h"

namespace diffmem {
namespace training {

inline networks::NetworkConfig PaperNetwork() {
  networks::NetworkConfig c;
  c.spec = "ddpmpp";
  c.precond = "vp";
  c.unet = networks::UNetOptions(32, 3, 3)
               .model_channels(128)
               .channel_mult({2, 2, 2})
               .num_blocks(2)
               .attn_resolutions({16})
               .dropout(0.13)
               .embedding(networks::NoiseEmbedding::kSpecDefault);
  return c;
}

inline TrainOptions PaperTraining() {
  TrainOptions t;
  t.batch_size = 512;
  t.optimizer = "adam";
  t.lr = 2e-4;
  t.adam_beta1 = 0.9;
  t.adam_beta2 = 0.999;
  t.adam_eps = 1e-8;
  t.lr_warmup_epochs = 200;  // N/5 kimg
  t.epochs = 40000;          // 2000 × N/50 kimg
  t.ema_schedule = EmaSchedule::kDataRatio;
  t.ema_halflife_kimg = 500;
  t.ema_rampup_ratio = 0.05;
  t.data_order = DataOrder::kFixed;
  t.seed = 1024;
  t.snapshot_kimg = 2500;
  return t;
}

}  // namespace training
}  // namespace diffmem

#endif  // DIFFMEM_TRAINING_PAPER_RECIPE_H_
