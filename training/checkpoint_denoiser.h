// The denoiser a checkpoint or snapshot holds: a UNet of the network
// configuration it records, its raw or EMA weights loaded on `device`, in
// eval mode, wrapped with its preconditioner and handed to `f(denoiser)` with
// the types resolved (VisitNetwork). What //tools:sample and the snapshot
// scoring of the EMM study both need.
//
// Example:
//   absl::StatusOr<NetworkConfig> net = ReadCheckpointNetwork("runs/n32/checkpoint.pt");
//   absl::Status s = VisitCheckpointDenoiser("runs/n32/checkpoint.pt", *net, Weights::kEma, torch::kCPU,
//                                            [&](auto& denoiser) { /* sample it */ return absl::OkStatus(); });

#ifndef DIFFMEM_TRAINING_CHECKPOINT_DENOISER_H_
#define DIFFMEM_TRAINING_CHECKPOINT_DENOISER_H_

#include <torch/types.h>

#include <string>

#include "absl/status/status.h"
#include "diffusion/denoiser.h"
#include "networks/network.h"
#include "networks/unet.h"
#include "training/checkpoint.h"
#include "training/weights.h"

namespace diffmem {
namespace training {

// `network`: the checkpoint's own configuration (ReadCheckpointNetwork);
// the weights are checked against it tensor by tensor.
template <class F>
absl::Status VisitCheckpointDenoiser(const std::string& checkpoint, const networks::NetworkConfig& network, Weights weights,
                                     torch::Device device, F&& f) {
  return networks::VisitNetworkModule(network, [&](auto& net, auto precond) -> absl::Status {
    using Net = std::decay_t<decltype(net)>;
    using Precond = typename decltype(precond)::type;
    if (absl::Status s = LoadCheckpointWeights(checkpoint, weights, *net, device); !s.ok()) return s;
    net->to(device);
    net->eval();
    diffusion::Denoiser<Precond, Net> denoiser(net);
    return f(denoiser);
  });
}

}  // namespace training
}  // namespace diffmem

#endif  // DIFFMEM_TRAINING_CHECKPOINT_DENOISER_H_
