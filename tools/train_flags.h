// The network and training flags shared by //tools:train and
// //tools:estimate_emm, so a study's runs are configured exactly like train's:
//   network:  --arch --precond --channels --channel_mult --blocks --attn
//             --embedding --skip_mask --dropout --label_dim
//   training: --batch --optimizer --lr --lr_warmup_kimg --weight_decay
//             --grad_clip --steps --kimg --epochs --ema_beta
//             --ema_halflife_kimg --ema_rampup_ratio --seed
//             --checkpoint_every --log_every --device
//
// Example:
//   absl::StatusOr<diffmem::diffusion::NetworkConfig> net = diffmem::tools::NetworkFromFlags(dataset);
//   diffmem::diffusion::TrainOptions train = diffmem::tools::TrainingFromFlags();

#ifndef DIFFMEM_TOOLS_TRAIN_FLAGS_H_
#define DIFFMEM_TOOLS_TRAIN_FLAGS_H_

#include <cstdint>
#include <string>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "data/dataset.h"
#include "diffusion/network.h"
#include "diffusion/train_options.h"

ABSL_DECLARE_FLAG(std::string, arch);
ABSL_DECLARE_FLAG(std::string, precond);
ABSL_DECLARE_FLAG(int64_t, channels);
ABSL_DECLARE_FLAG(std::string, channel_mult);
ABSL_DECLARE_FLAG(int64_t, blocks);
ABSL_DECLARE_FLAG(std::string, attn);
ABSL_DECLARE_FLAG(std::string, embedding);
ABSL_DECLARE_FLAG(std::string, skip_mask);
ABSL_DECLARE_FLAG(double, dropout);
ABSL_DECLARE_FLAG(int64_t, label_dim);
ABSL_DECLARE_FLAG(int64_t, batch);
ABSL_DECLARE_FLAG(std::string, optimizer);
ABSL_DECLARE_FLAG(double, lr);
ABSL_DECLARE_FLAG(double, lr_warmup_kimg);
ABSL_DECLARE_FLAG(double, weight_decay);
ABSL_DECLARE_FLAG(double, grad_clip);
ABSL_DECLARE_FLAG(int64_t, steps);
ABSL_DECLARE_FLAG(double, kimg);
ABSL_DECLARE_FLAG(double, epochs);
ABSL_DECLARE_FLAG(double, ema_beta);
ABSL_DECLARE_FLAG(double, ema_halflife_kimg);
ABSL_DECLARE_FLAG(double, ema_rampup_ratio);
ABSL_DECLARE_FLAG(uint64_t, seed);
ABSL_DECLARE_FLAG(int64_t, checkpoint_every);
ABSL_DECLARE_FLAG(int64_t, log_every);
ABSL_DECLARE_FLAG(std::string, device);

namespace diffmem {
namespace tools {

// The network the flags describe for images like `ds`'s (validated).
absl::StatusOr<diffusion::NetworkConfig> NetworkFromFlags(const data::Dataset& ds);

// The training options the flags describe (not yet validated).
diffusion::TrainOptions TrainingFromFlags();

}  // namespace tools
}  // namespace diffmem

#endif  // DIFFMEM_TOOLS_TRAIN_FLAGS_H_
