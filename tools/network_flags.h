// The network flags shared by //tools:train, //tools:estimate_emm and
// //tools:import_edm, so a network is described the same way everywhere:
//   --arch --precond --channels --channel_mult --blocks --attn --embedding
//   --skip_mask --dropout --label_dim
// Each is a Given<T> flag (tools/given_flag.h): a tool starts from its base
// network (train's defaults, a study's preset, the architecture read off an
// imported state dict) and overlays the flags given.
//
// Example:
//   diffmem::networks::NetworkConfig net;              // train's defaults
//   if (absl::Status s = diffmem::tools::OverlayNetworkFlags(net); !s.ok()) return s;
//   if (absl::Status s = diffmem::tools::FitNetworkToData(net, dataset); !s.ok()) return s;

#ifndef DIFFMEM_TOOLS_NETWORK_FLAGS_H_
#define DIFFMEM_TOOLS_NETWORK_FLAGS_H_

#include <cstdint>
#include <string>

#include "absl/flags/declare.h"
#include "absl/status/status.h"
#include "data/dataset.h"
#include "networks/network.h"
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

namespace diffmem {
namespace tools {

// Overlays the network flags given (errors name the flag of a bad list or
// name); --label_dim is FitNetworkToData's.
absl::Status OverlayNetworkFlags(networks::NetworkConfig& net);

// Sizes the network for `ds` (resolution, channels; label_dim from --label_dim
// when given, else the data set's class count when it has labels, else 0) and
// validates it.
absl::Status FitNetworkToData(networks::NetworkConfig& net, const data::Dataset& ds);

}  // namespace tools
}  // namespace diffmem

#endif  // DIFFMEM_TOOLS_NETWORK_FLAGS_H_
