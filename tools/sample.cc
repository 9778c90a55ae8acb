// sample: generates images from a trained checkpoint with the EDM Heun
// sampler, one PNG per seed (000000.png, 000001.png, … as in EDM's
// generate.py) and a grid.
//
//   bazel run //tools:sample -- --checkpoint=/tmp/run_n32 --seeds=0-63 --out=/tmp/run_n32/samples
//   bazel run //tools:sample -- --checkpoint=/tmp/run_n32/checkpoint.pt --weights=raw --seeds=0,5,10-19 --out=s
//
// The network is rebuilt from the configuration stored in the checkpoint.
// Class-conditional networks get label seed mod label_dim unless --class is
// given. Image i depends only on seed i (diffusion/seeded_noise.h).
// --noise=edm draws as EDM's generate.py does on the CPU (a random class per
// seed from the seed's generator, noise at every step; diffusion/edm_seeds.h),
// so a network imported with //tools:import_edm gives EDM's image for seed k.

#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "data/image_grid.h"
#include "data/pixels.h"
#include "data/png.h"
#include "diffusion/checkpoint.h"
#include "diffusion/denoiser.h"
#include "diffusion/edm_sampler.h"
#include "diffusion/edm_seeds.h"
#include "diffusion/network.h"
#include "diffusion/train.h"
#include "diffusion/train_options.h"
#include "diffusion/unet.h"
#include "tools/tool_main.h"

ABSL_FLAG(std::string, checkpoint, "", "checkpoint file, or a run directory holding checkpoint.pt (required)");
ABSL_FLAG(std::string, weights, "ema", "ema (the moving average) or raw (the trained weights)");
ABSL_FLAG(std::string, seeds, "0-63", "seeds, e.g. 0-63 or 0,5,10-19; one image per seed");
ABSL_FLAG(int, steps, 18, "EDM sampler steps (Heun: 2·steps−1 network evaluations)");
ABSL_FLAG(int64_t, batch, 64, "images per sampler call");
ABSL_FLAG(int64_t, class_label, -1, "class label for conditional networks (-1: seed mod label_dim)");
ABSL_FLAG(std::string, out, "", "output directory for the PNGs and grid.png (required)");
ABSL_FLAG(int64_t, grid_columns, 0, "grid columns (0: square)");
ABSL_FLAG(std::string, device, "auto", "auto (CUDA if available), cpu or cuda");
ABSL_FLAG(std::string, noise, "diffmem",
          "per-seed draws: diffmem, or edm (EDM generate.py's on the CPU: latents, a random class per seed, "
          "noise at every step)");

namespace {

using diffmem::tools::CheckFlag;

// "0-3,7" → {0, 1, 2, 3, 7}.
absl::StatusOr<std::vector<uint64_t>> ParseSeeds(const std::string& text) {
  std::vector<uint64_t> seeds;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    std::vector<absl::string_view> range = absl::StrSplit(part, absl::MaxSplits('-', 1));
    uint64_t lo, hi;
    if (!absl::SimpleAtoi(range[0], &lo) || !absl::SimpleAtoi(range.size() == 2 ? range[1] : range[0], &hi) ||
        hi < lo) {
      return absl::InvalidArgumentError(absl::StrCat("--seeds: '", part, "' is not a seed or a range A-B with A <= B"));
    }
    if (hi - lo >= (uint64_t{1} << 24) || seeds.size() + (hi - lo) >= (uint64_t{1} << 24)) {
      return absl::InvalidArgumentError("--seeds: more than 16M seeds");
    }
    for (uint64_t s = lo; s <= hi; ++s) seeds.push_back(s);
  }
  if (seeds.empty()) return absl::InvalidArgumentError("--seeds: no seeds given");
  return seeds;
}

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
  if (auto s = CheckFlag(!out.empty(), "out", "an output directory is required"); !s.ok()) return s;
  const std::string weights_flag = absl::GetFlag(FLAGS_weights);
  if (auto s = CheckFlag(weights_flag == "ema" || weights_flag == "raw", "weights",
                         absl::StrCat("'", weights_flag, "': expected ema or raw"));
      !s.ok()) {
    return s;
  }
  const std::string noise = absl::GetFlag(FLAGS_noise);
  if (auto s = CheckFlag(noise == "diffmem" || noise == "edm", "noise",
                         absl::StrCat("'", noise, "': expected diffmem or edm"));
      !s.ok()) {
    return s;
  }
  if (auto s = CheckFlag(absl::GetFlag(FLAGS_steps) >= 1, "steps", "must be >= 1"); !s.ok()) return s;
  if (auto s = CheckFlag(absl::GetFlag(FLAGS_batch) >= 1, "batch", "must be >= 1"); !s.ok()) return s;
  if (auto s = CheckFlag(absl::GetFlag(FLAGS_grid_columns) >= 0, "grid_columns", "must be >= 0"); !s.ok()) return s;
  absl::StatusOr<std::vector<uint64_t>> seeds = ParseSeeds(absl::GetFlag(FLAGS_seeds));
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

  return dd::VisitNetwork(*network, [&](auto spec, auto precond) -> absl::Status {
    using Spec = typename decltype(spec)::type;
    using Precond = typename decltype(precond)::type;
    dd::UNet<Spec> net(o);
    if (absl::Status s = dd::LoadCheckpointWeights(path, weights_flag == "raw" ? "net" : "ema", *net, *device);
        !s.ok()) {
      return s;
    }
    net->to(*device);
    net->eval();
    dd::Denoiser<Precond, dd::UNet<Spec>> denoiser(net);
    dd::SamplerOptions so;
    so.num_steps = absl::GetFlag(FLAGS_steps);
    dd::EdmSampler<dd::HeunSolver, dd::EdmRhoSteps> sampler(so);
    std::filesystem::create_directories(out, ec);
    if (ec) return absl::UnavailableError(absl::StrCat(out, ": cannot create directory: ", ec.message()));

    std::fprintf(stderr, "sample: %s/%s UNet (%lld parameters, %s weights) from %s, %zu seeds, %d steps, device %s\n",
                 Spec::kName, dd::PreconditionerName<Precond>::kName,
                 static_cast<long long>(dd::NumParameters(*net)), weights_flag.c_str(), path.c_str(), seeds->size(),
                 so.num_steps, device->str().c_str());
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> all;
    const int64_t total = static_cast<int64_t>(seeds->size()), batch = absl::GetFlag(FLAGS_batch);
    for (int64_t done = 0; done < total; done += batch) {
      const int64_t len = std::min(batch, total - done);
      std::vector<uint64_t> chunk(seeds->begin() + done, seeds->begin() + done + len);
      const std::vector<int64_t> shape = {o.in_channels(), o.img_resolution(), o.img_resolution()};
      torch::Tensor x;
      if (noise == "edm") {
        x = dd::SampleWithEdmSeeds(sampler, denoiser, chunk, shape, o.label_dim(), class_label, *device).images;
      } else {
        torch::Tensor labels;
        if (o.label_dim() > 0) {
          labels = torch::empty({len}, torch::kInt64);
          for (int64_t i = 0; i < len; ++i) {
            labels[i] = class_label >= 0 ? class_label : static_cast<int64_t>(chunk[i] % o.label_dim());
          }
          labels = labels.to(*device);
        }
        x = sampler.SampleFromSeeds(denoiser, chunk, shape, labels, *device);
      }
      torch::Tensor pixels = diffmem::data::FloatToPixels(x.cpu());
      for (int64_t i = 0; i < len; ++i) {
        const std::string file = absl::StrCat(out, "/", absl::StrFormat("%06d", chunk[i]), ".png");
        if (absl::Status s = diffmem::data::WritePng(file, pixels[i]); !s.ok()) return s;
      }
      all.push_back(pixels);
      std::fprintf(stderr, "sample: %lld/%lld images\n", static_cast<long long>(done + len),
                   static_cast<long long>(total));
    }
    diffmem::data::GridOptions grid;
    grid.columns = absl::GetFlag(FLAGS_grid_columns);
    const std::string grid_path = out + "/grid.png";
    if (absl::Status s = diffmem::data::WriteImageGrid(grid_path, torch::cat(all), grid); !s.ok()) return s;
    std::fprintf(stderr, "sample: wrote %lld PNGs and %s\n", static_cast<long long>(total), grid_path.c_str());
    return absl::OkStatus();
  });
}

}  // namespace

int main(int argc, char** argv) {
  return diffmem::tools::ToolMain(argc, argv,
                                  "Generates images from a diffmem checkpoint with the EDM Heun sampler.\n"
                                  "  sample --checkpoint=RUN_DIR --seeds=0-63 --out=DIR [--weights=ema|raw] [--steps=18]\n"
                                  "         [--noise=diffmem|edm]",
                                  Run);
}
