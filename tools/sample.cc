// sample: generates images from a trained checkpoint with the EDM sampler,
// one PNG per seed (000000.png, 000001.png, … as in EDM's generate.py).
//
//   bazel run //tools:sample -- --checkpoint=runs/n32 --seeds=0-63 --out=runs/n32/samples
//   bazel run //tools:sample -- --checkpoint=runs/n32/checkpoint.pt --weights=raw --seeds=0,5,10-19 --out=s
//   bazel run //tools:sample -- --checkpoint=runs/n32 --seeds=0-9999 --subdirs --S_churn=40 --out=s10k
//
// The network is rebuilt from the configuration stored in the checkpoint.
// Class-conditional networks get the class EDM draws for each seed (uniform,
// seeded) unless --class_label is given. Image i depends only on seed i
// (diffusion/seeded_noise.h); --noise=edm draws as EDM's generate.py does on
// the CPU, so a network imported with //tools:import_edm gives EDM's image
// for seed k (diffusion/edm_seeds.h).

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "diffusion/sampler_config.h"
#include "networks/network.h"
#include "networks/num_parameters.h"
#include "networks/unet.h"
#include "tools/generate_samples.h"
#include "tools/sampler_flags.h"
#include "tools/tool_main.h"
#include "training/checkpoint.h"
#include "training/checkpoint_denoiser.h"
#include "training/train_network.h"
#include "training/train_options.h"
#include "training/weights.h"
#include "util/enum_names.h"

ABSL_FLAG(std::string, checkpoint, "", "checkpoint file, or a run directory holding checkpoint.pt (required)");
ABSL_FLAG(std::string, weights, "ema", "ema (the moving average) or raw (the trained weights)");
ABSL_FLAG(int64_t, class_label, -1, "class label for conditional networks (-1: EDM's random class per seed)");
ABSL_FLAG(std::string, out, "", "output folder for the PNGs (required)");
ABSL_FLAG(std::string, device, "auto", "auto (CUDA if available), cpu or cuda");

namespace {

using diffmem::tools::CheckFlag;

absl::Status Run() {
  namespace dd = diffmem::diffusion;
  namespace networks = diffmem::networks;
  namespace training = diffmem::training;
  std::string path = absl::GetFlag(FLAGS_checkpoint);
  const std::string out = absl::GetFlag(FLAGS_out);
  if (auto s = CheckFlag(!path.empty(), "checkpoint", "a checkpoint file or run directory is required"); !s.ok()) {
    return s;
  }
  if (auto s = CheckFlag(!out.empty(), "out", "an output folder is required"); !s.ok()) return s;
  const absl::StatusOr<training::Weights> weights = diffmem::ParseEnum<training::Weights>(absl::GetFlag(FLAGS_weights), "weights");
  if (!weights.ok()) return absl::InvalidArgumentError(absl::StrCat("--weights: ", weights.status().message()));
  absl::StatusOr<dd::SamplerConfig> sampler = diffmem::tools::SamplerConfigFromFlags();
  if (!sampler.ok()) return sampler.status();
  absl::StatusOr<std::vector<uint64_t>> seeds = diffmem::tools::SeedsFromFlags();
  if (!seeds.ok()) return seeds.status();
  absl::StatusOr<diffmem::tools::Noise> noise = diffmem::tools::NoiseFromFlags();
  if (!noise.ok()) return noise.status();
  std::string note;
  absl::StatusOr<torch::Device> device = training::ResolveDevice(absl::GetFlag(FLAGS_device), &note);
  if (!device.ok()) return device.status();
  if (!note.empty()) std::fprintf(stderr, "sample: %s\n", note.c_str());

  path = training::CheckpointPathOf(path);
  absl::StatusOr<networks::NetworkConfig> network = training::ReadCheckpointNetwork(path);
  if (!network.ok()) return network.status();
  const networks::UNetOptions& o = network->unet;
  const int64_t class_label = absl::GetFlag(FLAGS_class_label);
  if (class_label >= 0 && class_label >= o.label_dim()) {
    return absl::InvalidArgumentError(absl::StrCat("--class_label: ", class_label, " is not below the network's label_dim ",
                                                   o.label_dim()));
  }
  return training::VisitCheckpointDenoiser(path, *network, *weights, *device, [&](auto& denoiser) -> absl::Status {
    std::fprintf(stderr, "sample: %s/%s UNet (%lld parameters, %s weights) from %s, %zu seeds, %s/%s sampler, %d steps, device %s\n",
                 network->spec.c_str(), network->precond.c_str(),
                 static_cast<long long>(networks::NumParameters(*denoiser.net())), diffmem::EnumName(*weights),
                 path.c_str(), seeds->size(), sampler->solver.c_str(), sampler->discretization.c_str(),
                 sampler->num_steps, device->str().c_str());
    torch::NoGradGuard no_grad;
    return diffmem::tools::GenerateSamples("sample", *sampler, denoiser, *seeds,
                                           {o.in_channels(), o.img_resolution(), o.img_resolution()},
                                           {o.label_dim(), class_label}, *noise, *device, absl::GetFlag(FLAGS_batch),
                                           diffmem::tools::SampleOutputFromFlags(out));
  });
}

}  // namespace

int main(int argc, char** argv) {
  return diffmem::tools::ToolMain(argc, argv,
                                  "Generates images from a diffmem checkpoint with the EDM sampler.\n"
                                  "  sample --checkpoint=RUN_DIR --seeds=0-63 --out=DIR [--weights=ema|raw] [--steps=18]\n"
                                  "         [--solver=heun|euler] [--discretization=edm|vp|ve|iddpm] [--S_churn=...]\n"
                                  "         [--noise=diffmem|edm] [--subdirs] [--grid=PATH]",
                                  Run);
}
