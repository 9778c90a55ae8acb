// The network and training flags shared by //tools:train and
// //tools:estimate_emm, so a study's runs are configured exactly like train's:
//   network:  --arch --precond --channels --channel_mult --blocks --attn
//             --embedding --skip_mask --dropout --label_dim
//   training: --batch --optimizer --lr --lr_warmup_kimg --weight_decay
//             --grad_clip --steps --kimg --epochs --ema_beta
//             --ema_halflife_kimg --ema_rampup_ratio --seed
//             --checkpoint_every --log_every --device
// Each is a Given<T> flag (tools/given_flag.h): a tool starts from its base
// configuration and overlays the flags given. A duration flag (--steps,
// --kimg, --epochs) replaces the base's duration as a whole.
//
// Example:
//   diffmem::diffusion::NetworkConfig net;              // train's defaults
//   diffmem::diffusion::TrainOptions train;
//   if (absl::Status s = diffmem::tools::OverlayNetworkFlags(net); !s.ok()) return s;
//   diffmem::tools::OverlayTrainingFlags(train);
//   if (absl::Status s = diffmem::tools::FitNetworkToData(net, dataset); !s.ok()) return s;

#ifndef DIFFMEM_TOOLS_TRAIN_FLAGS_H_
#define DIFFMEM_TOOLS_TRAIN_FLAGS_H_

#include <cstdint>
#include <string>

#include "absl/flags/declare.h"
#include "absl/status/status.h"
#include "data/dataset.h"
#include "diffusion/network.h"
#include "diffusion/train_options.h"
#include "tools/given_flag.h"

ABSL_DECLARE_FLAG(diffmem::tools::Given<std::string>, arch);
ABSL_DECLARE_FLAG(diffmem::tools::Given<std::string>, precond);
ABSL_DECLARE_FLAG(diffmem::tools::Given<int64_t>, channels);
ABSL_DECLARE_FLAG(diffmem::tools::Given<std::string>, channel_mult);
ABSL_DECLARE_FLAG(diffmem::tools::Given<int64_t>, blocks);
ABSL_DECLARE_FLAG(diffmem::tools::Given<std::string>, attn);
ABSL_DECLARE_FLAG(diffmem::tools::Given<std::string>, embedding);
ABSL_DECLARE_FLAG(diffmem::tools::Given<std::string>, skip_mask);
ABSL_DECLARE_FLAG(diffmem::tools::Given<double>, dropout);
ABSL_DECLARE_FLAG(diffmem::tools::Given<int64_t>, label_dim);
ABSL_DECLARE_FLAG(diffmem::tools::Given<int64_t>, batch);
ABSL_DECLARE_FLAG(diffmem::tools::Given<std::string>, optimizer);
ABSL_DECLARE_FLAG(diffmem::tools::Given<double>, lr);
ABSL_DECLARE_FLAG(diffmem::tools::Given<double>, lr_warmup_kimg);
ABSL_DECLARE_FLAG(diffmem::tools::Given<double>, weight_decay);
ABSL_DECLARE_FLAG(diffmem::tools::Given<double>, grad_clip);
ABSL_DECLARE_FLAG(diffmem::tools::Given<int64_t>, steps);
ABSL_DECLARE_FLAG(diffmem::tools::Given<double>, kimg);
ABSL_DECLARE_FLAG(diffmem::tools::Given<double>, epochs);
ABSL_DECLARE_FLAG(diffmem::tools::Given<double>, ema_beta);
ABSL_DECLARE_FLAG(diffmem::tools::Given<double>, ema_halflife_kimg);
ABSL_DECLARE_FLAG(diffmem::tools::Given<double>, ema_rampup_ratio);
ABSL_DECLARE_FLAG(diffmem::tools::Given<uint64_t>, seed);
ABSL_DECLARE_FLAG(diffmem::tools::Given<int64_t>, checkpoint_every);
ABSL_DECLARE_FLAG(diffmem::tools::Given<int64_t>, log_every);
ABSL_DECLARE_FLAG(diffmem::tools::Given<std::string>, device);

namespace diffmem {
namespace tools {

// Overlays the network flags given (errors name the flag of a bad list or name).
absl::Status OverlayNetworkFlags(diffusion::NetworkConfig& net);

// Overlays the training flags given.
void OverlayTrainingFlags(diffusion::TrainOptions& train);

// Sizes the network for `ds` (resolution, channels; label_dim from --label_dim
// when given, else the data set's class count when it has labels, else 0) and
// validates it.
absl::Status FitNetworkToData(diffusion::NetworkConfig& net, const data::Dataset& ds);

}  // namespace tools
}  // namespace diffmem

#endif  // DIFFMEM_TOOLS_TRAIN_FLAGS_H_
