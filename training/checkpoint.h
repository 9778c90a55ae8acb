// Training checkpoints: one file holding everything a run needs to continue
// bit for bit — the network, its EMA copy, the optimizer state, the step and
// image counters, the random generators' states — plus the run's
// configuration (JSON text), so a checkpoint alone suffices to rebuild and
// sample the network. Written through LibTorch's archive format to memory,
// then to disk atomically (temp file + fsync + rename), so a crash never
// leaves a partial checkpoint and the previous one survives a failed write.
//
// Layout (archive keys): "net", "ema", "optimizer" (nested archives; the
// optimizer writes its own, see training/flat_optimizer.h for the Trainer's),
// "step", "nimg", "log_steps" (int64 scalars), "log_loss_sum" (float64), "rng/<name>" (generator states, uint8),
// "config" (string).
//
// Example:
//   using namespace diffmem::training;
//   CheckpointState st;  st.step = 100;  st.nimg = 6400;  st.config_json = config.dump();
//   st.rng["loss"] = loss_gen.get_state();
//   absl::Status s = SaveCheckpoint("run/checkpoint.pt", st, *net, ema.model().ptr().get(), &adam);
//   absl::StatusOr<CheckpointState> back = LoadCheckpoint("run/checkpoint.pt", *net, ema_impl, &adam, device);
//   absl::StatusOr<std::string> config = ReadCheckpointConfig("run/checkpoint.pt");
//   absl::Status w = LoadCheckpointWeights("run/checkpoint.pt", Weights::kEma, *fresh_net, device);

#ifndef DIFFMEM_TRAINING_CHECKPOINT_H_
#define DIFFMEM_TRAINING_CHECKPOINT_H_

#include <c10/util/Exception.h>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize/archive.h>
#include <torch/types.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "training/weights.h"
#include "util/atomic_file.h"
#include "util/torch_compat.h"

namespace diffmem {
namespace training {

// Everything in a checkpoint besides module and optimizer tensors.
struct CheckpointState {
  int64_t step = 0;
  int64_t nimg = 0;
  std::string config_json;
  double log_loss_sum = 0;  // loss summed over the steps since the last loss-log row
  int64_t log_steps = 0;    // and how many they were
  std::map<std::string, torch::Tensor> rng;  // generator states by name
};

// Writes `path` atomically. `ema` and `optimizer` may be null (not saved).
inline absl::Status SaveCheckpoint(const std::string& path, const CheckpointState& state,
                                   const torch::nn::Module& net, const torch::nn::Module* ema,
                                   const torch::optim::Optimizer* optimizer) {
  std::ostringstream bytes;
  try {
    torch::serialize::OutputArchive archive;
    torch::serialize::OutputArchive net_archive;
    net.save(net_archive);
    archive.write("net", net_archive);
    if (ema != nullptr) {
      torch::serialize::OutputArchive ema_archive;
      ema->save(ema_archive);
      archive.write("ema", ema_archive);
    }
    if (optimizer != nullptr) {
      torch::serialize::OutputArchive opt_archive;
      optimizer->save(opt_archive);
      archive.write("optimizer", opt_archive);
    }
    archive.write("step", torch::tensor(state.step, torch::kInt64));
    archive.write("nimg", torch::tensor(state.nimg, torch::kInt64));
    archive.write("log_loss_sum", torch::tensor(state.log_loss_sum, torch::kFloat64));
    archive.write("log_steps", torch::tensor(state.log_steps, torch::kInt64));
    for (const auto& [name, tensor] : state.rng) archive.write("rng/" + name, tensor.cpu());
    archive.write("config", c10::IValue(state.config_json));
    archive.save_to(bytes);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat(path, ": cannot serialize checkpoint: ", e.what_without_backtrace()));
  }
  return util::WriteFileAtomically(path, bytes.str());
}

// A snapshot of a run: the EMA weights alone (archive key "ema") with the
// step, image count and configuration — compact, for scoring a run's series
// of snapshots; it holds no optimizer or generator state, so it cannot be
// resumed. ReadCheckpointConfig and LoadCheckpointWeights(..., kEma, ...) read it.
inline absl::Status SaveSnapshot(const std::string& path, int64_t step, int64_t nimg, const std::string& config_json,
                                 const torch::nn::Module& ema) {
  std::ostringstream bytes;
  try {
    torch::serialize::OutputArchive archive;
    torch::serialize::OutputArchive ema_archive;
    ema.save(ema_archive);
    archive.write("ema", ema_archive);
    archive.write("step", torch::tensor(step, torch::kInt64));
    archive.write("nimg", torch::tensor(nimg, torch::kInt64));
    archive.write("config", c10::IValue(config_json));
    archive.save_to(bytes);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat(path, ": cannot serialize snapshot: ", e.what_without_backtrace()));
  }
  return util::WriteFileAtomically(path, bytes.str());
}

namespace internal_checkpoint {

inline absl::StatusOr<torch::serialize::InputArchive> Open(const std::string& path, c10::optional<torch::Device> device) {
  absl::StatusOr<std::string> bytes = util::ReadFileToString(path);
  if (!bytes.ok()) return bytes.status();
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(bytes->data(), bytes->size(), device);
  } catch (const c10::Error& e) {
    return absl::DataLossError(
        absl::StrCat(path, ": not a readable diffmem checkpoint (", e.what_without_backtrace(), ")"));
  }
  return archive;
}

// Module::load replaces tensors without comparing shapes; this loads
// `module` from `archive` only when every parameter, buffer and child
// matches by name and shape (throws std::runtime_error naming the tensor).
inline void LoadModuleChecked(torch::nn::Module& module, torch::serialize::InputArchive& archive,
                              const std::string& where) {
  std::vector<std::string> expected;
  auto load = [&](const std::string& name, torch::Tensor& target, bool is_buffer) {
    expected.push_back(name);
    torch::Tensor t;
    if (!archive.try_read(name, t, is_buffer)) {
      throw std::runtime_error(where + "/" + name + ": missing from the checkpoint");
    }
    if (t.sizes() != target.sizes()) {
      throw std::runtime_error(where + "/" + name + ": shape " + c10::str(t.sizes()) + " in the checkpoint, " +
                               c10::str(target.sizes()) + " in the network");
    }
    torch::NoGradGuard no_grad;
    target.copy_(t);
  };
  for (auto& p : module.named_parameters(/*recurse=*/false)) load(p.key(), p.value(), false);
  for (auto& b : module.named_buffers(/*recurse=*/false)) load(b.key(), b.value(), true);
  for (const auto& child : module.named_children()) {
    expected.push_back(child.key());
    torch::serialize::InputArchive sub;
    if (!archive.try_read(child.key(), sub)) {
      throw std::runtime_error(where + "/" + child.key() + ": module missing from the checkpoint");
    }
    LoadModuleChecked(*child.value(), sub, where + "/" + child.key());
  }
  for (const std::string& key : archive.keys()) {
    const std::string top = key.substr(0, key.find('.'));
    if (top == "training") continue;  // an attribute of the serialized module itself
    if (std::find(expected.begin(), expected.end(), top) == expected.end()) {
      throw std::runtime_error(where + "/" + top + ": in the checkpoint but not in the network");
    }
  }
}

inline std::string Short(const c10::Error& e) {
  std::string s = e.what_without_backtrace();
  const size_t nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

}  // namespace internal_checkpoint

// Restores `net` (and `ema`, `optimizer` when non-null) in place; tensors
// land on `device`. On an error the modules may be partly overwritten:
// rebuild them before use.
inline absl::StatusOr<CheckpointState> LoadCheckpoint(const std::string& path, torch::nn::Module& net,
                                                      torch::nn::Module* ema, torch::optim::Optimizer* optimizer,
                                                      torch::Device device) {
  absl::StatusOr<torch::serialize::InputArchive> archive = internal_checkpoint::Open(path, device);
  if (!archive.ok()) return archive.status();
  CheckpointState state;
  const char* part = "net";
  try {
    torch::serialize::InputArchive sub;
    archive->read("net", sub);
    internal_checkpoint::LoadModuleChecked(net, sub, "net");
    if (ema != nullptr) {
      part = "ema";
      torch::serialize::InputArchive e;
      archive->read("ema", e);
      internal_checkpoint::LoadModuleChecked(*ema, e, "ema");
    }
    if (optimizer != nullptr) {
      part = "optimizer";
      torch::serialize::InputArchive o;
      archive->read("optimizer", o);
      util::LoadOptimizerState(o, *optimizer);  // not optimizer->load: reads 1.x checkpoints under 2.x too
    }
    part = "counters";
    torch::Tensor step, nimg, log_sum, log_steps;  // fresh tensors: read() into a defined one keeps its dtype
    archive->read("step", step);
    state.step = step.item<int64_t>();
    archive->read("nimg", nimg);
    state.nimg = nimg.item<int64_t>();
    if (archive->try_read("log_loss_sum", log_sum)) state.log_loss_sum = log_sum.item<double>();
    if (archive->try_read("log_steps", log_steps)) state.log_steps = log_steps.item<int64_t>();
    part = "config";
    c10::IValue config;
    archive->read("config", config);
    state.config_json = config.toStringRef();
    part = "rng";
    for (const std::string& key : archive->keys()) {
      if (key.rfind("rng/", 0) == 0) {
        torch::Tensor s;
        archive->read(key, s);
        state.rng[key.substr(4)] = s.cpu();
      }
    }
  } catch (const c10::Error& e) {
    return absl::DataLossError(absl::StrCat(path, ": checkpoint does not match this network/optimizer (", part,
                                            "): ", internal_checkpoint::Short(e)));
  } catch (const std::runtime_error& e) {
    return absl::DataLossError(absl::StrCat(path, ": checkpoint does not match this network: ", e.what()));
  }
  return state;
}

// The configuration JSON text stored in a checkpoint.
inline absl::StatusOr<std::string> ReadCheckpointConfig(const std::string& path) {
  absl::StatusOr<torch::serialize::InputArchive> archive = internal_checkpoint::Open(path, torch::Device(torch::kCPU));
  if (!archive.ok()) return archive.status();
  c10::IValue config;
  try {
    archive->read("config", config);
    return config.toStringRef();
  } catch (const c10::Error& e) {
    return absl::DataLossError(absl::StrCat(path, ": checkpoint has no configuration: ", internal_checkpoint::Short(e)));
  }
}

// Loads one set of weights (the raw trained weights, archive key "net", or
// the moving average, key "ema") into `net`.
inline absl::Status LoadCheckpointWeights(const std::string& path, Weights weights, torch::nn::Module& net,
                                          torch::Device device) {
  const std::string which = weights == Weights::kRaw ? "net" : "ema";
  absl::StatusOr<torch::serialize::InputArchive> archive = internal_checkpoint::Open(path, device);
  if (!archive.ok()) return archive.status();
  try {
    torch::serialize::InputArchive sub;
    if (!archive->try_read(which, sub)) {
      return absl::NotFoundError(absl::StrCat(path, ": holds no '", EnumName(weights), "' weights",
                                              weights == Weights::kRaw ? " (a snapshot keeps the EMA weights only)" : ""));
    }
    internal_checkpoint::LoadModuleChecked(net, sub, which);
  } catch (const c10::Error& e) {
    return absl::DataLossError(
        absl::StrCat(path, ": cannot load '", which, "' weights: ", internal_checkpoint::Short(e)));
  } catch (const std::runtime_error& e) {
    return absl::DataLossError(absl::StrCat(path, ": checkpoint does not match this network: ", e.what()));
  }
  return absl::OkStatus();
}

}  // namespace training
}  // namespace diffmem

#endif  // DIFFMEM_TRAINING_CHECKPOINT_H_
