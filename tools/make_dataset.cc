// make_dataset: writes a data set — any source diffmem reads, with the paper's
// data factors applied — as an EDM-style zip (PNGs + dataset.json) that the
// other diffmem tools and the authors' Python code both read.
//
//   bazel run //tools:make_dataset -- --data=fashion-mnist --n=1000 --subset=balanced
//       --pad=2 --resolution=16 --labels=true --out=/tmp/fm1k.zip
//   bazel run //tools:make_dataset -- --data=/data/cifar-10-batches-bin --n=500 --subset=balanced
//       --labels=random --label_classes=10 --out=/tmp/c500_random10.zip

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "data/data_factors.h"
#include "data/zip_dataset.h"
#include "tools/tool_main.h"

ABSL_FLAG(std::string, data, "fashion-mnist", std::string("source data set: ") + diffmem::data::kDatasetSpecHelp);
ABSL_FLAG(std::string, out, "", "output zip path (required, *.zip)");
ABSL_FLAG(int64_t, n, 0, "number of images (0: all)");
ABSL_FLAG(std::string, subset, "first", "how to choose --n images: first, balanced (first N/C per class), random");
ABSL_FLAG(int64_t, classes, 0, "keep only classes 0..C-1 (0: all)");
ABSL_FLAG(std::string, mix_data, "", "second source to mix in (intra-diversity), same image size");
ABSL_FLAG(double, mix_fraction, 0.0, "fraction of the images taken from --mix_data");
ABSL_FLAG(int64_t, pad, 0, "zero border added on every side before --resolution (2: 28x28 -> 32x32)");
ABSL_FLAG(int64_t, resolution, 0, "area-average down to RxR (integer factor; 0: keep)");
ABSL_FLAG(std::string, labels, "keep", "labels: keep, true (required), none, random (--label_classes), unique");
ABSL_FLAG(int64_t, label_classes, 0, "number of classes for --labels=random");
ABSL_FLAG(uint64_t, seed, 0, "seed for --subset=random and --labels=random");

namespace {

absl::Status Run(const std::vector<char*>& args) {
  using diffmem::tools::CheckFlag;
  if (args.size() > 1) return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", args[1], "'"));
  const std::string out = absl::GetFlag(FLAGS_out);
  if (auto s = CheckFlag(!out.empty(), "out", "an output zip path is required"); !s.ok()) return s;
  if (auto s = CheckFlag(absl::EndsWith(out, ".zip"), "out", absl::StrCat("'", out, "' must end in .zip")); !s.ok()) {
    return s;
  }
  diffmem::data::DataFactors f;
  f.n = absl::GetFlag(FLAGS_n);
  f.subset = absl::GetFlag(FLAGS_subset);
  f.classes = absl::GetFlag(FLAGS_classes);
  f.mix_data = absl::GetFlag(FLAGS_mix_data);
  f.mix_fraction = absl::GetFlag(FLAGS_mix_fraction);
  f.pad = absl::GetFlag(FLAGS_pad);
  f.resolution = absl::GetFlag(FLAGS_resolution);
  f.labels = absl::GetFlag(FLAGS_labels);
  f.label_classes = absl::GetFlag(FLAGS_label_classes);
  f.seed = absl::GetFlag(FLAGS_seed);
  if (absl::Status s = diffmem::data::ValidateDataFactors(f); !s.ok()) return s;
  absl::StatusOr<diffmem::data::Dataset> ds = diffmem::data::LoadDataset(absl::GetFlag(FLAGS_data), f);
  if (!ds.ok()) return ds.status();
  if (absl::Status s = diffmem::data::WriteEdmZip(out, *ds); !s.ok()) return s;
  std::fprintf(stderr, "make_dataset: wrote %lld images %lldx%lldx%lld%s to %s\n  from %s\n",
               static_cast<long long>(ds->size()), static_cast<long long>(ds->channels()),
               static_cast<long long>(ds->height()), static_cast<long long>(ds->width()),
               ds->has_labels() ? absl::StrCat(", ", ds->num_classes, " classes").c_str() : ", unlabeled",
               out.c_str(), ds->source.c_str());
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  return diffmem::tools::ToolMain(argc, argv,
                                  "Writes a data set (with subset, resolution and label choices) as an EDM-style zip.\n"
                                  "  make_dataset --data=fashion-mnist --n=1000 --subset=balanced --out=fm1k.zip",
                                  Run);
}
