// sample: generates images from a trained checkpoint with the EDM sampler,
// one PNG per seed (000000.png, 000001.png, … as in EDM's generate.py).
//
//   bazel run //tools:sample -- --checkpoint=runs/n32 --seeds=0-63 --out=runs/n32/samples
//   bazel run //tools:sample -- --checkpoint=runs/n32/checkpoint.pt --weights=raw --seeds=0,5,10-19 --out=s
//   bazel run //tools:sample -- --checkpoint=runs/n32 --seeds=0-9999 --subdirs --S_churn=40 --out=s10k
//
// The network is rebuilt from the configuration stored in the checkpoint.
// Class-conditional networks get label seed mod label_dim unless --class_label
// is given. Image i depends only on seed i (diffusion/seeded_noise.h).

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "diffusion/checkpoint.h"
#include "diffusion/denoiser.h"
#include "diffusion/network.h"
#include "diffusion/sampler_config.h"
#include "diffusion/train.h"
#include "diffusion/train_options.h"
#include "diffusion/unet.h"
#include "diffusion/weights.h"
#include "tools/generate_samples.h"
#include "tools/sampler_flags.h"
#include "tools/tool_main.h"
#include "util/enum_names.h"

ABSL_FLAG(std::string, checkpoint, "", "checkpoint file, or a run directory holding checkpoint.pt (required)");
ABSL_FLAG(std::string, weights, "ema", "ema (the moving average) or raw (the trained weights)");
ABSL_FLAG(int64_t, class_label, -1, "class label for conditional networks (-1: seed mod label_dim)");
ABSL_FLAG(std::string, out, "", "output folder for the PNGs (required)");
ABSL_FLAG(std::string, device, "auto", "auto (CUDA if available), cpu or cuda");

namespace {

using diffmem::tools::CheckFlag;

absl::Status Run(const std::vector<char*>& args) {
  namespace dd = diffmem::diffusion;
  if (auto s = CheckFlag(args.size() <= 1, "", absl::StrCat("unexpected argument '", args.size() > 1 ? args[1] : "",
                                                            "' (flags take the form --name=value)"));
      !s.ok()) {
    return s;
  }
  std::string path = absl::GetFlag(FLAGS_checkpoint);
  const std::string out = absl::GetFlag(FLAGS_out);
  if (auto s = CheckFlag(!path.empty(), "checkpoint", "a checkpoint file or run directory is required"); !s.ok()) {
    return s;
  }
  if (auto s = CheckFlag(!out.empty(), "out", "an output folder is required"); !s.ok()) return s;
  const absl::StatusOr<dd::Weights> weights = diffmem::ParseEnum<dd::Weights>(absl::GetFlag(FLAGS_weights), "weights");
  if (!weights.ok()) return absl::InvalidArgumentError(absl::StrCat("--weights: ", weights.status().message()));
  absl::StatusOr<dd::SamplerConfig> sampler = diffmem::tools::SamplerConfigFromFlags();
  if (!sampler.ok()) return sampler.status();
  absl::StatusOr<std::vector<uint64_t>> seeds = diffmem::tools::SeedsFromFlags();
  if (!seeds.ok()) return seeds.status();
  std::string note;
  absl::StatusOr<torch::Device> device = dd::ResolveDevice(absl::GetFlag(FLAGS_device), &note);
  if (!device.ok()) return device.status();
  if (!note.empty()) std::fprintf(stderr, "sample: %s\n", note.c_str());

  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) path = dd::RunCheckpointPath(path);
  absl::StatusOr<std::string> config_text = dd::ReadCheckpointConfig(path);
  if (!config_text.ok()) return config_text.status();
  const nlohmann::json config = nlohmann::json::parse(*config_text, nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded() || !config.contains("network")) {
    return absl::DataLossError(absl::StrCat(path, ": the stored configuration has no network section"));
  }
  absl::StatusOr<dd::NetworkConfig> network = dd::NetworkConfigFromJson(config.at("network"));
  if (!network.ok()) return absl::DataLossError(absl::StrCat(path, ": ", network.status().message()));
  const dd::UNetOptions& o = network->unet;
  const int64_t class_label = absl::GetFlag(FLAGS_class_label);
  if (class_label >= 0 && class_label >= o.label_dim()) {
    return absl::InvalidArgumentError(absl::StrCat("--class_label: ", class_label, " is not below the network's label_dim ",
                                                   o.label_dim()));
  }
  diffmem::tools::LabelsOfSeeds labels_of;
  if (o.label_dim() > 0) {
    labels_of = [&](const std::vector<uint64_t>& chunk) {
      torch::Tensor labels = torch::empty({static_cast<int64_t>(chunk.size())}, torch::kInt64);
      for (size_t i = 0; i < chunk.size(); ++i) {
        labels[i] = class_label >= 0 ? class_label : static_cast<int64_t>(chunk[i] % o.label_dim());
      }
      return labels;
    };
  }

  return dd::VisitNetwork(*network, [&](auto spec, auto precond) -> absl::Status {
    using Spec = typename decltype(spec)::type;
    using Precond = typename decltype(precond)::type;
    dd::UNet<Spec> net(o);
    if (absl::Status s = dd::LoadCheckpointWeights(path, *weights, *net, *device); !s.ok()) return s;
    net->to(*device);
    net->eval();
    dd::Denoiser<Precond, dd::UNet<Spec>> denoiser(net);
    std::fprintf(stderr, "sample: %s/%s UNet (%lld parameters, %s weights) from %s, %zu seeds, %s/%s sampler, %d steps, device %s\n",
                 Spec::kName, Precond::kName, static_cast<long long>(dd::NumParameters(*net)),
                 diffmem::EnumName(*weights), path.c_str(), seeds->size(), sampler->solver.c_str(),
                 sampler->discretization.c_str(), sampler->num_steps, device->str().c_str());
    torch::NoGradGuard no_grad;
    return diffmem::tools::GenerateSamples("sample", *sampler, denoiser, *seeds,
                                           {o.in_channels(), o.img_resolution(), o.img_resolution()}, labels_of,
                                           *device, absl::GetFlag(FLAGS_batch),
                                           diffmem::tools::SampleOutputFromFlags(out));
  });
}

}  // namespace

int main(int argc, char** argv) {
  return diffmem::tools::ToolMain(argc, argv,
                                  "Generates images from a diffmem checkpoint with the EDM sampler.\n"
                                  "  sample --checkpoint=RUN_DIR --seeds=0-63 --out=DIR [--weights=ema|raw] [--steps=18]\n"
                                  "         [--solver=heun|euler] [--discretization=edm|vp|ve|iddpm] [--S_churn=...]",
                                  Run);
}
