// The training flags shared by //tools:train and //tools:estimate_emm, so a
// study's runs are trained exactly like train's:
//   --batch --optimizer --lr --lr_warmup_kimg --lr_warmup_epochs --weight_decay
//   --grad_clip --steps --kimg --epochs --ema_schedule --ema_beta
//   --ema_halflife_kimg --ema_rampup_ratio --data_order --precision --seed
//   --checkpoint_every --snapshot_kimg --log_every --device
// Each is a Given<T> flag (tools/given_flag.h): a tool starts from its base
// options and overlays the flags given. A duration flag (--steps, --kimg,
// --epochs) replaces the base's duration as a whole.
//
// Example:
//   diffmem::training::TrainOptions train;             // train's defaults
//   if (absl::Status s = diffmem::tools::OverlayTrainingFlags(train); !s.ok()) return s;

#ifndef DIFFMEM_TOOLS_TRAIN_FLAGS_H_
#define DIFFMEM_TOOLS_TRAIN_FLAGS_H_

#include <cstdint>
#include <string>

#include "absl/flags/declare.h"
#include "absl/status/status.h"
#include "tools/given_flag.h"
#include "training/train_options.h"

ABSL_DECLARE_FLAG(diffmem::tools::Given<int64_t>, batch);
ABSL_DECLARE_FLAG(diffmem::tools::Given<std::string>, optimizer);
ABSL_DECLARE_FLAG(diffmem::tools::Given<double>, lr);
ABSL_DECLARE_FLAG(diffmem::tools::Given<double>, lr_warmup_kimg);
ABSL_DECLARE_FLAG(diffmem::tools::Given<double>, lr_warmup_epochs);
ABSL_DECLARE_FLAG(diffmem::tools::Given<double>, weight_decay);
ABSL_DECLARE_FLAG(diffmem::tools::Given<double>, grad_clip);
ABSL_DECLARE_FLAG(diffmem::tools::Given<int64_t>, steps);
ABSL_DECLARE_FLAG(diffmem::tools::Given<double>, kimg);
ABSL_DECLARE_FLAG(diffmem::tools::Given<double>, epochs);
ABSL_DECLARE_FLAG(diffmem::tools::Given<std::string>, ema_schedule);
ABSL_DECLARE_FLAG(diffmem::tools::Given<double>, ema_beta);
ABSL_DECLARE_FLAG(diffmem::tools::Given<double>, ema_halflife_kimg);
ABSL_DECLARE_FLAG(diffmem::tools::Given<double>, ema_rampup_ratio);
ABSL_DECLARE_FLAG(diffmem::tools::Given<std::string>, data_order);
ABSL_DECLARE_FLAG(diffmem::tools::Given<std::string>, precision);
ABSL_DECLARE_FLAG(diffmem::tools::Given<uint64_t>, seed);
ABSL_DECLARE_FLAG(diffmem::tools::Given<int64_t>, checkpoint_every);
ABSL_DECLARE_FLAG(diffmem::tools::Given<int64_t>, log_every);
ABSL_DECLARE_FLAG(diffmem::tools::Given<double>, snapshot_kimg);
ABSL_DECLARE_FLAG(diffmem::tools::Given<std::string>, device);

namespace diffmem {
namespace tools {

// Overlays the training flags given (errors name a flag with a bad name).
absl::Status OverlayTrainingFlags(training::TrainOptions& train);

}  // namespace tools
}  // namespace diffmem

#endif  // DIFFMEM_TOOLS_TRAIN_FLAGS_H_
