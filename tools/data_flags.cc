#include "tools/data_flags.h"

#include "absl/flags/flag.h"

using diffmem::tools::Given;

ABSL_FLAG(Given<std::string>, data, {}, std::string("training data (default fashion-mnist): ") + diffmem::data::kDatasetSpecHelp);
ABSL_FLAG(Given<int64_t>, n, {}, "training-set size N (0: all images)");
ABSL_FLAG(Given<std::string>, subset, {}, "how the N images are chosen: balanced (class-balanced first N), first, random");
ABSL_FLAG(Given<int64_t>, classes, {}, "keep classes 0..C-1 only (inter-diversity; 0: all)");
ABSL_FLAG(Given<std::string>, mix_data, {}, "a second source mixed in (intra-diversity; empty: none)");
ABSL_FLAG(Given<double>, mix_fraction, {}, "fraction of the N images taken from --mix_data");
ABSL_FLAG(Given<int64_t>, pad, {}, "zero border added first (2: 28x28 -> 32x32)");
ABSL_FLAG(Given<int64_t>, resolution, {}, "resize to RxR (data dimension; 0: keep), by --resize");
ABSL_FLAG(Given<std::string>, resize, {},
          "how --resolution resizes: area (averaging by an integer factor; default) or lanczos (PIL's LANCZOS, as "
          "the authors lower CIFAR-10's resolution)");
ABSL_FLAG(Given<std::string>, labels, {},
          "labels: keep (as the data has them), none (unconditional), true, random (with --label_classes), unique");
ABSL_FLAG(Given<int64_t>, label_classes, {}, "C for --labels=random");
ABSL_FLAG(Given<uint64_t>, data_seed, {}, "seed of --subset=random and --labels=random");

namespace diffmem {
namespace tools {

data::DataFactors ToolDataDefaults() {
  data::DataFactors f;
  f.subset = "balanced";
  f.labels = "none";
  return f;
}

void OverlayDataFlags(std::string& spec, data::DataFactors& f) {
  Overlay(absl::GetFlag(FLAGS_data), spec);
  Overlay(absl::GetFlag(FLAGS_n), f.n);
  Overlay(absl::GetFlag(FLAGS_subset), f.subset);
  Overlay(absl::GetFlag(FLAGS_classes), f.classes);
  Overlay(absl::GetFlag(FLAGS_mix_data), f.mix_data);
  Overlay(absl::GetFlag(FLAGS_mix_fraction), f.mix_fraction);
  Overlay(absl::GetFlag(FLAGS_pad), f.pad);
  Overlay(absl::GetFlag(FLAGS_resolution), f.resolution);
  Overlay(absl::GetFlag(FLAGS_resize), f.resize);
  Overlay(absl::GetFlag(FLAGS_labels), f.labels);
  Overlay(absl::GetFlag(FLAGS_label_classes), f.label_classes);
  Overlay(absl::GetFlag(FLAGS_data_seed), f.seed);
}

}  // namespace tools
}  // namespace diffmem
