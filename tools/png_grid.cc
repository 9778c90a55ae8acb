// png_grid: writes a PNG grid of the first images of a data set.
//
//   bazel run //tools:png_grid -- --out=/tmp/grid.png            # Fashion-MNIST
//   bazel run //tools:png_grid -- --idx=path/images-idx3-ubyte.gz --count=100 --columns=10 --out=g.png

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "data/idx.h"
#include "data/image_grid.h"
#include "tools/tool_main.h"

ABSL_FLAG(std::string, idx, absl::StrCat(diffmem::data::kFashionMnistDir, "/train-images-idx3-ubyte.gz"),
          "IDX image file (gzip or plain)");
ABSL_FLAG(std::string, out, "", "output PNG path (required)");
ABSL_FLAG(int, count, 64, "number of images, from the first");
ABSL_FLAG(int, columns, 0, "grid columns (0: square)");
ABSL_FLAG(int, padding, 2, "pixels between tiles");

namespace {

absl::Status Run() {
  using diffmem::tools::CheckFlag;
  const std::string out = absl::GetFlag(FLAGS_out);
  if (auto s = CheckFlag(!out.empty(), "out", "an output PNG path is required"); !s.ok()) return s;
  if (auto s = CheckFlag(absl::GetFlag(FLAGS_count) > 0, "count", "must be positive"); !s.ok()) return s;
  if (auto s = CheckFlag(absl::GetFlag(FLAGS_padding) >= 0, "padding", "must be >= 0"); !s.ok()) return s;
  absl::StatusOr<torch::Tensor> images = diffmem::data::ReadIdxImages(absl::GetFlag(FLAGS_idx));
  if (!images.ok()) return images.status();
  const int64_t n = std::min<int64_t>(absl::GetFlag(FLAGS_count), images->size(0));
  diffmem::data::GridOptions grid;
  grid.columns = absl::GetFlag(FLAGS_columns);
  grid.padding = absl::GetFlag(FLAGS_padding);
  if (absl::Status s = diffmem::data::WriteImageGrid(out, images->narrow(0, 0, n), grid); !s.ok()) return s;
  std::fprintf(stderr, "png_grid: wrote %lld images to %s\n", static_cast<long long>(n), out.c_str());
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  return diffmem::tools::ToolMain(argc, argv,
                                  "Writes a PNG grid of the first images of an IDX data set.\n"
                                  "  png_grid --out=grid.png [--idx=FILE] [--count=64] [--columns=0]",
                                  Run);
}
