// import_edm: turns the state dict of an EDM / DiffMemorize SongUNet (DDPM++
// or NCSN++, written by Python's torch.save) into a diffmem run directory
// that //tools:sample, //tools:export_edm and the scoring tools accept:
//   RUN_DIR/config.json    the network (read off the tensors, flags override)
//                          and where the weights came from
//   RUN_DIR/checkpoint.pt  the imported weights as both the raw ("net") and
//                          the EMA ("ema") weights; no optimizer state, so
//                          //tools:train cannot --resume it
//
//   bazel run //tools:import_edm -- --state_dict=ema.pt --precond=vp --out=/tmp/edm_run
//
// ema.pt from an EDM snapshot pickle: the Python one-liner in --help and in
// README.md ("Bring your own model"), run in the EDM checkout whose code the
// pickle needs.
// The run directory appears whole or not at all (written beside, then renamed).

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "networks/edm_architecture.h"
#include "networks/edm_state_dict.h"
#include "networks/network.h"
#include "networks/num_parameters.h"
#include "networks/state_dict_file.h"
#include "networks/unet.h"
#include "nlohmann/json.hpp"
#include "tools/network_flags.h"
#include "tools/tool_main.h"
#include "training/checkpoint.h"
#include "training/train_network.h"
#include "util/atomic_file.h"
#include "util/type_registry.h"

ABSL_FLAG(std::string, state_dict, "", "EDM SongUNet state dict written by torch.save (required)");
ABSL_FLAG(std::string, out, "", "run directory to create (required; must not hold a run)");
// --precond (required) and the network flags --arch --channels --channel_mult --blocks --attn
// --embedding --skip_mask --dropout --label_dim come from tools/network_flags.h: not given, they are
// read off the tensors (dropout, which state dicts do not hold: 0).

namespace {

namespace networks = diffmem::networks;
namespace training = diffmem::training;
using diffmem::tools::CheckFlag;

// The tensors' architecture with the network flags that were given on top.
absl::StatusOr<networks::NetworkConfig> Network(const networks::StateDict& sd, const std::string& source,
                                          const std::string& precond) {
  absl::StatusOr<networks::NetworkConfig> c = networks::InferEdmNetwork(sd, source, precond);
  if (!c.ok()) return c.status();
  if (absl::Status s = diffmem::tools::OverlayNetworkFlags(*c); !s.ok()) return s;
  if (auto label_dim = absl::GetFlag(FLAGS_label_dim).value) c->unet.label_dim(*label_dim);
  if (absl::Status s = networks::ValidateNetworkConfig(*c); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("network flags: ", s.message()));
  }
  return c;
}

absl::Status Run() {
  const std::string path = absl::GetFlag(FLAGS_state_dict), out = absl::GetFlag(FLAGS_out),
                    precond = absl::GetFlag(FLAGS_precond).value.value_or("");
  if (auto s = CheckFlag(!path.empty(), "state_dict", "a state dict file is required"); !s.ok()) return s;
  if (auto s = CheckFlag(!out.empty(), "out", "a run directory is required"); !s.ok()) return s;
  if (auto s = CheckFlag(!precond.empty(), "precond",
                         absl::StrCat("required: the preconditioner the network was trained with (",
                                      absl::StrJoin(diffmem::RegistryNames<networks::Preconditioners>(), ", "),
                                      "); EDM's VPPrecond is vp, VEPrecond ve, EDMPrecond edm, iDDPMPrecond iddpm"));
      !s.ok()) {
    return s;
  }
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(out, ec) && !(fs::is_directory(out, ec) && fs::is_empty(out, ec))) {
    return absl::AlreadyExistsError(absl::StrCat("--out: ", out, " exists and is not an empty directory"));
  }
  absl::StatusOr<networks::StateDict> sd = networks::ReadStateDictFile(path);
  if (!sd.ok()) return sd.status();
  absl::StatusOr<networks::NetworkConfig> network = Network(*sd, path, precond);
  if (!network.ok()) return network.status();

  return networks::VisitNetworkModule(*network, [&](auto& net, auto pc) -> absl::Status {
    using Precond = typename decltype(pc)::type;
    std::vector<std::string> notes;
    if (absl::Status s = networks::LoadEdmStateDict<Precond>(*sd, path, net, &notes); !s.ok()) return s;
    const int64_t parameters = networks::NumParameters(*net);
    nlohmann::json config = {{"network", networks::NetworkConfigToJson(*network)},
                             {"imported",
                              {{"state_dict", fs::absolute(path, ec).string()},
                               {"format", "EDM SongUNet state dict (NVlabs/edm training/networks.py names)"},
                               {"weights", "the imported tensors are both the raw ('net') and the EMA ('ema') weights"},
                               {"notes", notes}}},
                             {"parameters", parameters}};
    // Everything goes into a sibling directory first, renamed into place at the end.
    const std::string tmp = absl::StrCat(fs::path(out).lexically_normal().string(), ".tmp.", ::getpid());
    fs::create_directories(tmp, ec);
    if (ec) return absl::UnavailableError(absl::StrCat(tmp, ": cannot create directory: ", ec.message()));
    training::CheckpointState state;
    state.config_json = config.dump();
    absl::Status s = training::SaveCheckpoint(training::RunCheckpointPath(tmp), state, *net, net.ptr().get(), nullptr);
    if (s.ok()) s = diffmem::util::WriteFileAtomically(training::RunConfigPath(tmp), config.dump(2) + "\n");
    if (s.ok() && fs::exists(out, ec)) fs::remove(out, ec);  // the empty directory it replaces
    if (s.ok()) {
      fs::rename(tmp, out, ec);
      if (ec) s = absl::UnavailableError(absl::StrCat(out, ": cannot move ", tmp, " into place: ", ec.message()));
    }
    if (!s.ok()) {
      fs::remove_all(tmp, ec);
      return s;
    }
    for (const std::string& note : notes) std::fprintf(stderr, "import_edm: %s\n", note.c_str());
    std::fprintf(stderr,
                 "import_edm: %s/%s UNet, %lld parameters, %lldx%lld, %lld channels in, label_dim %lld, from %s\n"
                 "import_edm: wrote %s (config.json, checkpoint.pt: the weights as both raw and EMA weights)\n",
                 network->spec.c_str(), Precond::kName, static_cast<long long>(parameters),
                 static_cast<long long>(network->unet.img_resolution()),
                 static_cast<long long>(network->unet.img_resolution()),
                 static_cast<long long>(network->unet.in_channels()), static_cast<long long>(network->unet.label_dim()),
                 path.c_str(), out.c_str());
    return absl::OkStatus();
  });
}

}  // namespace

int main(int argc, char** argv) {
  return diffmem::tools::ToolMain(
      argc, argv,
      "Imports an EDM/DiffMemorize SongUNet state dict (torch.save) as a diffmem run directory.\n"
      "  import_edm --state_dict=ema.pt --precond=vp --out=RUN_DIR [--arch= --channels= --channel_mult= "
      "--blocks= --attn= --label_dim= --embedding=]\n"
      "The architecture is read off the tensors; network flags, when given, override it and every tensor is\n"
      "then checked against them. Make ema.pt from an EDM snapshot, in the EDM checkout:\n"
      "  python -c \"import pickle,torch; torch.save(dict(pickle.load(open('network-snapshot.pkl','rb'))['ema']"
      ".state_dict()), 'ema.pt')\"",
      Run);
}
