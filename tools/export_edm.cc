// export_edm: writes the weights of a diffmem run as the state dict of EDM's
// preconditioner around a SongUNet (NVlabs/edm training/networks.py names,
// networks/edm_state_dict.h), a file Python's torch.load reads. It prints
// the Python that builds the matching EDM network, so that in an EDM checkout
//   net = <printed constructor>; net.load_state_dict(torch.load('net.pt'))
// loads it with every name and shape checked.
//
//   bazel run //tools:export_edm -- --checkpoint=/tmp/run_n30 --out=/tmp/net.pt [--weights=ema|raw]

#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "networks/edm_architecture.h"
#include "networks/edm_state_dict.h"
#include "networks/network.h"
#include "networks/state_dict_file.h"
#include "networks/unet.h"
#include "nlohmann/json.hpp"
#include "tools/tool_main.h"
#include "training/checkpoint.h"
#include "training/train_network.h"
#include "training/weights.h"
#include "util/enum_names.h"

ABSL_FLAG(std::string, checkpoint, "", "checkpoint file, or a run directory holding checkpoint.pt (required)");
ABSL_FLAG(std::string, out, "", "state dict file to write (required)");
ABSL_FLAG(std::string, weights, "ema", "ema (the moving average) or raw (the trained weights)");
ABSL_FLAG(
    std::string, prefix, "model.",
    "prefix of every UNet tensor: model. (EDM's preconditioner holds the UNet as .model) or '' (a bare SongUNet)");

namespace {

namespace networks = diffmem::networks;
namespace training = diffmem::training;
using diffmem::tools::CheckFlag;

absl::Status Run() {
  std::string path = absl::GetFlag(FLAGS_checkpoint);
  const std::string out = absl::GetFlag(FLAGS_out), weights = absl::GetFlag(FLAGS_weights),
                    prefix = absl::GetFlag(FLAGS_prefix);
  if (auto s = CheckFlag(!path.empty(), "checkpoint", "a checkpoint file or run directory is required"); !s.ok()) {
    return s;
  }
  if (auto s = CheckFlag(!out.empty(), "out", "an output file is required"); !s.ok()) return s;
  const absl::StatusOr<training::Weights> which = diffmem::ParseEnum<training::Weights>(weights, "weights");
  if (!which.ok()) return absl::InvalidArgumentError(absl::StrCat("--weights: ", which.status().message()));
  if (auto s = CheckFlag(prefix.empty() || prefix == "model.", "prefix", "expected model. or ''"); !s.ok()) return s;
  path = training::CheckpointPathOf(path);
  absl::StatusOr<networks::NetworkConfig> network = training::ReadCheckpointNetwork(path);
  if (!network.ok()) return network.status();
  absl::StatusOr<std::string> python = networks::EdmConstructor(*network);
  if (!python.ok()) return python.status();

  return networks::VisitNetworkModule(*network, [&](auto& net, auto pc) -> absl::Status {
    using Precond = typename decltype(pc)::type;
    if (absl::Status s = training::LoadCheckpointWeights(path, *which, *net, torch::kCPU);
        !s.ok()) {
      return s;
    }
    absl::StatusOr<networks::StateDict> sd = networks::ToEdmStateDict<Precond>(net, prefix);
    if (!sd.ok()) return absl::FailedPreconditionError(absl::StrCat(path, ": ", sd.status().message()));
    if (absl::Status s = networks::WriteStateDictFile(out, *sd); !s.ok()) return s;
    std::fprintf(stderr, "export_edm: wrote %zu tensors (%s weights of %s) to %s\n", sd->size(), weights.c_str(),
                 path.c_str(), out.c_str());
    // stdout: the Python to load it, for scripts and copy-paste.
    const std::string net_expr = prefix.empty() ? *python + ".model" : *python;
    std::printf(
        "# in an EDM checkout (NVlabs/edm):\n"
        "import torch\nfrom training import networks\n"
        "net = %s\nnet.load_state_dict(torch.load('%s'))\n",
        net_expr.c_str(), out.c_str());
    return absl::OkStatus();
  });
}

}  // namespace

int main(int argc, char** argv) {
  return diffmem::tools::ToolMain(
      argc, argv,
      "Exports a diffmem run's UNet as an EDM state dict (torch.load-able) and prints the Python that loads it.\n"
      "  export_edm --checkpoint=RUN_DIR --out=net.pt [--weights=ema|raw] [--prefix=model.]",
      Run);
}
