// optimum: samples the theoretical optimum of a training set — the empirical
// optimal denoiser D*(x;σ) = Σ softmax(−‖x − y_n‖²/2σ²)·y_n driven by the EDM
// sampler — and writes one PNG per seed (OUT/000000.png, ...) and the
// preview OUT_grid.png. Its samples are copies of training images: the
// memorization ceiling that a trained model is compared with (feed --out to
// mem_ratio).
//
//   bazel run //tools:optimum -- --n=1000 --out=optimum                   # 1000 balanced Fashion-MNIST images
//   bazel run //tools:optimum -- --n=64 --subset=first --resolution=14 --seeds=0-99 --out=o64
//   bazel run //tools:optimum -- --data=zip:/data/cifar1k.zip --conditional --out=oc

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/data_factors.h"
#include "data/image_grid.h"
#include "data/pixels.h"
#include "data/png.h"
#include "diffusion/sampler_config.h"
#include "memorization/optimal_denoiser.h"
#include "tools/data_flags.h"
#include "tools/generate_samples.h"
#include "tools/sampler_flags.h"
#include "tools/tool_main.h"

ABSL_FLAG(std::string, out, "", "output folder for the PNGs (required)");
ABSL_FLAG(bool, conditional, false,
          "class-conditional optimum: each seed asks for a class drawn uniformly at random from its generator (as EDM)");
ABSL_FLAG(int64_t, reference_block, 4096, "training images per streamed block of the optimum");

namespace {

using diffmem::tools::CheckFlag;

absl::Status Run() {
  const std::string out = absl::GetFlag(FLAGS_out);
  if (auto s = CheckFlag(!out.empty(), "out", "an output folder is required"); !s.ok()) return s;
  if (auto s = CheckFlag(absl::GetFlag(FLAGS_reference_block) > 0, "reference_block", "must be positive"); !s.ok()) {
    return s;
  }
  absl::StatusOr<diffmem::diffusion::SamplerConfig> sampler = diffmem::tools::SamplerConfigFromFlags();
  if (!sampler.ok()) return sampler.status();
  absl::StatusOr<std::vector<uint64_t>> seeds = diffmem::tools::SeedsFromFlags();
  if (!seeds.ok()) return seeds.status();

  // The whole training set unless the data flags choose a subset.
  std::string spec = diffmem::tools::kDefaultDataSpec;
  diffmem::data::DataFactors factors = diffmem::tools::ToolDataDefaults();
  factors.labels = "keep";
  diffmem::tools::OverlayDataFlags(spec, factors);
  absl::StatusOr<diffmem::data::Dataset> train = diffmem::data::LoadDataset(spec, factors);
  if (!train.ok()) return train.status();
  const bool conditional = absl::GetFlag(FLAGS_conditional);
  if (conditional && !train->has_labels()) {
    return absl::InvalidArgumentError(absl::StrCat("--conditional: ", train->source, " has no labels"));
  }

  diffmem::memorization::EmpiricalOptimalDenoiserOptions options;
  options.reference_block = absl::GetFlag(FLAGS_reference_block);
  diffmem::memorization::EmpiricalOptimalDenoiser optimum(diffmem::data::PixelsToFloat(train->images),
                                                          conditional ? train->labels : torch::Tensor(), options);
  std::fprintf(stderr, "optimum: the empirical optimum of %lld training images %lldx%lldx%lld from %s; %zu seeds, %s/%s sampler, %d steps%s\n",
               static_cast<long long>(train->size()), static_cast<long long>(train->channels()),
               static_cast<long long>(train->height()), static_cast<long long>(train->width()),
               train->source.c_str(), seeds->size(), sampler->solver.c_str(), sampler->discretization.c_str(),
               sampler->num_steps, conditional ? ", class-conditional" : "");
  absl::StatusOr<diffmem::tools::Noise> noise = diffmem::tools::NoiseFromFlags();
  if (!noise.ok()) return noise.status();
  return diffmem::tools::GenerateSamples("optimum", *sampler, optimum, *seeds,
                                         {train->channels(), train->height(), train->width()},
                                         {conditional ? train->num_classes : 0, -1}, *noise, torch::kCPU, absl::GetFlag(FLAGS_batch),
                                         diffmem::tools::SampleOutputFromFlags(out));
}

}  // namespace

int main(int argc, char** argv) {
  return diffmem::tools::ToolMain(
      argc, argv,
      "Samples the empirical optimal denoiser of a training set (the whole set unless --n/--subset choose\n"
      "fewer) with the EDM sampler; writes OUT/<seed>.png per seed and the preview OUT_grid.png.\n"
      "  optimum --out=DIR [--data=fashion-mnist] [--n=1000] [--subset=balanced] [--resolution=0]\n"
      "          [--seeds=0-63] [--steps=18] [--solver=heun] [--discretization=edm] [--conditional]",
      Run);
}
