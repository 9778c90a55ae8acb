// TrainNetwork: builds the UNet a NetworkConfig names and trains it in a run
// directory with Trainer<Precond, UNet<Spec>> (training/trainer.h) — the one
// entry point of //tools:train and of every EMM study run — after checking
// that the data set fits the network (CheckDatasetForNetwork).
//
// Example:
//   using namespace diffmem::training;
//   NetworkConfig net;  net.unet = UNetOptions(16, 1, 1).model_channels(32).channel_mult({1, 2});
//   TrainOptions t;     t.steps = 2000;  t.ema_schedule = EmaSchedule::kFixed;  t.ema_beta = 0.99;  t.lr = 1e-3;
//   TrainCallbacks cb;
//   cb.progress = [](const TrainProgress& p) { std::fprintf(stderr, "%s\n", FormatProgress(p).c_str()); };
//   absl::StatusOr<TrainResult> r = TrainNetwork(net, dataset, t, "runs/n32", /*resume=*/true, cb);

#ifndef DIFFMEM_TRAINING_TRAIN_NETWORK_H_
#define DIFFMEM_TRAINING_TRAIN_NETWORK_H_

#include <torch/types.h>

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "data/dataset.h"
#include "data/subsets.h"
#include "networks/network.h"
#include "networks/num_parameters.h"
#include "networks/unet.h"
#include "nlohmann/json.hpp"
#include "parallel/replicas.h"
#include "training/run_dir.h"
#include "training/train_callbacks.h"
#include "training/train_options.h"
#include "training/trainer.h"

namespace diffmem {
namespace training {

// Checks that a data set fits a network config: image shape, labels for a
// conditional net (label_dim ≥ num_classes). Messages name the flags.
inline absl::Status CheckDatasetForNetwork(const data::Dataset& ds, const networks::NetworkConfig& c) {
  if (absl::Status s = data::ValidateDataset(ds); !s.ok()) return s;
  if (ds.size() < 1) return absl::InvalidArgumentError(absl::StrCat(ds.source, ": no images"));
  const networks::UNetOptions& o = c.unet;
  if (ds.channels() != o.in_channels() || ds.height() != o.img_resolution() || ds.width() != o.img_resolution()) {
    return absl::InvalidArgumentError(absl::StrCat(ds.source, ": images are ", ds.channels(), "×", ds.height(), "×",
                                                   ds.width(), " but the network expects ", o.in_channels(), "×",
                                                   o.img_resolution(), "×", o.img_resolution(),
                                                   " (--resolution / channels)"));
  }
  if (o.label_dim() > 0) {
    if (!ds.has_labels()) {
      return absl::InvalidArgumentError(
          absl::StrCat(ds.source, ": a class-conditional network (label_dim ", o.label_dim(), ") needs labels"));
    }
    if (ds.num_classes > o.label_dim()) {
      return absl::InvalidArgumentError(absl::StrCat(ds.source, ": ", ds.num_classes,
                                                     " classes do not fit label_dim ", o.label_dim()));
    }
  }
  return absl::OkStatus();
}

// Builds the config's UNet (parameters drawn after torch::manual_seed(seed))
// and trains it in `run_dir`: the one entry point of //tools:train and of
// every EMM study run. Labels reach the network only when label_dim > 0.
// `replicas`: a data-parallel job's rank (parallel/process_group.h); only
// rank 0 calls `started` and `finished` (see Trainer).
// `data_config` is recorded in config.json under "data"
// (data::DataSourceToJson). Callbacks: see TrainCallbacks.
inline absl::StatusOr<TrainResult> TrainNetwork(const networks::NetworkConfig& network, const data::Dataset& dataset,
                                                const TrainOptions& options, const std::string& run_dir, bool resume,
                                                const TrainCallbacks& callbacks = TrainCallbacks(),
                                                const nlohmann::json& data_config = nlohmann::json::object(),
                                                const parallel::Replicas& replicas = parallel::Replicas()) {
  if (absl::Status s = ValidateTrainOptions(options); !s.ok()) return s;
  if (absl::Status s = CheckDatasetForNetwork(dataset, network); !s.ok()) return s;
  absl::StatusOr<TrainResult> out = absl::InternalError("unreachable");
  torch::manual_seed(options.seed);  // the network's initial weights
  absl::Status visited = networks::VisitNetworkModule(network, [&](auto& net, auto precond) -> absl::Status {
    using Net = std::decay_t<decltype(net)>;
    using Precond = typename decltype(precond)::type;
    data::Dataset ds = dataset;
    if (network.unet.label_dim() == 0) ds = data::WithoutLabels(ds);
    nlohmann::json config = {{"network", networks::NetworkConfigToJson(network)}, {"data", data_config}};
    Trainer<Precond, Net> trainer(net, Precond(), std::move(ds), options, run_dir, std::move(config));
    trainer.set_replicas(replicas);
    if (absl::Status s = trainer.Start(resume); !s.ok()) return s;
    if (callbacks.started && replicas.writes()) {
      callbacks.started({networks::NumParameters(*net), trainer.device(), trainer.device_note(), trainer.step(),
                         trainer.total_steps()});
    }
    out = trainer.Run(callbacks);
    if (!out.ok() || !callbacks.finished || !replicas.writes()) return out.status();
    trainer.net()->eval();  // no dropout after training (Run leaves the net in training mode)
    trainer.ema_net()->eval();
    TrainedModels models = trainer.Models();
    return callbacks.finished(*out, models);
  });
  if (!visited.ok()) return visited;
  return out;
}

}  // namespace training
}  // namespace diffmem

#endif  // DIFFMEM_TRAINING_TRAIN_NETWORK_H_
