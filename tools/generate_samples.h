// The sampling loop //tools:sample and //tools:optimum share: draws the
// seeds in batches with the sampler a SamplerConfig names, writes one PNG per
// seed where SampleOutput says, then the preview grid of the first 256, with
// a progress line (rate, ETA) per batch.
//
// Per seed: the latents from the seed's generator; a conditional denoiser
// gets the class EDM's generate.py draws for that seed (uniform, seeded;
// diffusion/edm_seeds.h) unless a class is fixed; with Noise::kEdm the step
// noise also follows EDM's draws, so an imported EDM network gives EDM's
// image for each seed.
//
// Example:
//   SeedClasses classes{/*label_dim=*/10, /*fixed=*/-1};
//   absl::Status s = GenerateSamples("optimum", sampler_config, optimum, seeds, {1, 28, 28}, classes,
//                                    Noise::kDiffmem, torch::kCPU, /*batch=*/64, out);

#ifndef DIFFMEM_TOOLS_GENERATE_SAMPLES_H_
#define DIFFMEM_TOOLS_GENERATE_SAMPLES_H_

#include <torch/types.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "data/image_grid.h"
#include "data/pixels.h"
#include "data/png.h"
#include "diffusion/edm_seeds.h"
#include "diffusion/sampler_config.h"
#include "tools/sampler_flags.h"
#include "util/progress.h"

namespace diffmem {
namespace tools {

// The classes a conditional denoiser is asked for.
struct SeedClasses {
  int64_t label_dim = 0;  // 0: unconditional
  int64_t fixed = -1;     // >= 0: every sample gets this class; else EDM's random class per seed
};

template <class D>
absl::Status GenerateSamples(const std::string& tool, const diffusion::SamplerConfig& config, D& denoiser,
                             const std::vector<uint64_t>& seeds, const std::vector<int64_t>& shape,
                             const SeedClasses& classes, Noise noise, torch::Device device, int64_t batch,
                             const SampleOutput& out) {
  std::error_code ec;
  std::filesystem::create_directories(out.dir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat(out.dir, ": cannot create directory: ", ec.message()));
  std::vector<torch::Tensor> preview;
  int64_t previewed = 0;
  return diffusion::VisitSampler(config, denoiser, [&](const auto& sampler) -> absl::Status {
    const int64_t total = static_cast<int64_t>(seeds.size());
    util::ProgressMeter meter(total, "images");
    for (int64_t done = 0; done < total; done += batch) {
      const int64_t len = std::min(batch, total - done);
      const std::vector<uint64_t> chunk(seeds.begin() + done, seeds.begin() + done + len);
      torch::Tensor x;
      if (noise == Noise::kEdm) {
        x = diffusion::SampleWithEdmSeeds(sampler, denoiser, chunk, shape, classes.label_dim, classes.fixed, device)
                .images;
      } else {
        torch::Tensor labels;
        if (classes.label_dim > 0) {
          labels = classes.fixed >= 0 ? torch::full({len}, classes.fixed, torch::kInt64)
                                      : diffusion::SeedLabels(chunk, shape, classes.label_dim);
          labels = labels.to(device);
        }
        x = sampler.SampleFromSeeds(denoiser, chunk, shape, labels, device);
      }
      torch::Tensor pixels = data::FloatToPixels(x.cpu());
      for (int64_t i = 0; i < len; ++i) {
        const std::string path = out.PathOf(chunk[i]);
        if (out.subdirs) std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
        if (absl::Status s = data::WritePng(path, pixels[i]); !s.ok()) return s;
      }
      if (previewed < 256) {
        preview.push_back(pixels.narrow(0, 0, std::min<int64_t>(len, 256 - previewed)));
        previewed += preview.back().size(0);
      }
      std::fprintf(stderr, "%s: %s\n", tool.c_str(), meter.Line(done + len).c_str());
    }
    if (absl::Status s = data::WriteImageGrid(out.grid, torch::cat(preview)); !s.ok()) return s;
    std::fprintf(stderr, "%s: wrote %lld PNGs to %s%s and the preview %s in %s\n", tool.c_str(),
                 static_cast<long long>(total), out.dir.c_str(), out.subdirs ? " (a folder per 1000 seeds)" : "",
                 out.grid.c_str(), util::FormatDuration(meter.elapsed_s()).c_str());
    return absl::OkStatus();
  });
}

}  // namespace tools
}  // namespace diffmem

#endif  // DIFFMEM_TOOLS_GENERATE_SAMPLES_H_
