// A downstream program using diffmem: summarises Fashion-MNIST, writes a
// grid of its first images, and says how large the paper's network is.
//
//   bazel run //:dataset_summary -- /tmp/first16.png

#include <cstdio>

#include "data/idx.h"
#include "data/image_grid.h"
#include "networks/network.h"
#include "training/paper_recipe.h"

int main(int argc, char** argv) {
  absl::StatusOr<diffmem::data::Dataset> ds = diffmem::data::ReadFashionMnist("t10k");
  if (!ds.ok()) {
    std::fprintf(stderr, "dataset_summary: %s\n", std::string(ds.status().message()).c_str());
    return 1;
  }
  std::printf("%s: %lld images of %lldx%lldx%lld, %lld classes, mean pixel %.2f\n", ds->source.c_str(),
              static_cast<long long>(ds->size()), static_cast<long long>(ds->channels()),
              static_cast<long long>(ds->height()), static_cast<long long>(ds->width()),
              static_cast<long long>(ds->num_classes), ds->images.to(torch::kFloat64).mean().item<double>());
  absl::StatusOr<int64_t> params = diffmem::networks::CountNetworkParameters(diffmem::training::PaperNetwork());
  if (!params.ok()) {
    std::fprintf(stderr, "dataset_summary: %s\n", std::string(params.status().message()).c_str());
    return 1;
  }
  std::printf("the authors' CIFAR-10 network (DDPM++, VP): %lld parameters\n", static_cast<long long>(*params));
  if (argc > 1) {
    absl::Status s = diffmem::data::WriteImageGrid(argv[1], ds->images.narrow(0, 0, 16));
    if (!s.ok()) {
      std::fprintf(stderr, "dataset_summary: %s\n", std::string(s.message()).c_str());
      return 1;
    }
    std::printf("wrote %s\n", argv[1]);
  }
  return 0;
}
