// make_dataset: writes a data set — any source diffmem reads, with the paper's
// data factors applied — as an EDM-style zip (PNGs + dataset.json) that the
// other diffmem tools and the authors' Python code both read.
//
//   bazel run //tools:make_dataset -- --data=fashion-mnist --n=1000 --subset=balanced
//       --pad=2 --resolution=16 --labels=true --out=/tmp/fm1k.zip
//   bazel run //tools:make_dataset -- --data=/data/cifar-10-batches-bin --n=500 --subset=balanced
//       --labels=random --label_classes=10 --out=/tmp/c500_random10.zip

#include <cstdio>
#include <filesystem>
#include <system_error>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "data/data_factors.h"
#include "data/zip_dataset.h"
#include "tools/data_flags.h"
#include "tools/tool_main.h"
#include "util/progress.h"

ABSL_FLAG(std::string, out, "", "output zip path (required, *.zip)");

namespace {

absl::Status Run() {
  using diffmem::tools::CheckFlag;
  const std::string out = absl::GetFlag(FLAGS_out);
  if (auto s = CheckFlag(!out.empty(), "out", "an output zip path is required"); !s.ok()) return s;
  if (auto s = CheckFlag(absl::EndsWith(out, ".zip"), "out", absl::StrCat("'", out, "' must end in .zip")); !s.ok()) {
    return s;
  }
  std::string spec = diffmem::tools::kDefaultDataSpec;
  diffmem::data::DataFactors factors = diffmem::tools::ToolDataDefaults();
  factors.labels = "keep";
  diffmem::tools::OverlayDataFlags(spec, factors);
  absl::StatusOr<diffmem::data::Dataset> ds = diffmem::data::LoadDataset(spec, factors);
  if (!ds.ok()) return ds.status();
  if (const std::filesystem::path parent = std::filesystem::path(out).parent_path(); !parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) return absl::UnavailableError(absl::StrCat(parent.string(), ": cannot create directory: ", ec.message()));
  }
  diffmem::util::ProgressMeter meter(ds->size(), "images");
  auto progress = [&](int64_t done, int64_t total) {
    if (total >= 5000) std::fprintf(stderr, "make_dataset: encoding %s\n", meter.Line(done).c_str());
  };
  if (absl::Status s = diffmem::data::WriteEdmZip(out, *ds, progress); !s.ok()) return s;
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
