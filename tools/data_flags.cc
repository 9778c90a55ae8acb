#include "tools/data_flags.h"

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, data, "fashion-mnist", std::string("training data: ") + diffmem::data::kDatasetSpecHelp);
ABSL_FLAG(int64_t, n, 0, "training-set size N (0: all images)");
ABSL_FLAG(std::string, subset, "balanced",
          "how the N images are chosen: balanced (class-balanced first N), first, random");
ABSL_FLAG(int64_t, classes, 0, "keep classes 0..C-1 only (inter-diversity; 0: all)");
ABSL_FLAG(std::string, mix_data, "", "a second source mixed in (intra-diversity)");
ABSL_FLAG(double, mix_fraction, 0, "fraction of the N images taken from --mix_data");
ABSL_FLAG(int64_t, pad, 0, "zero border added first (2: 28x28 -> 32x32)");
ABSL_FLAG(int64_t, resolution, 0, "area-average to RxR (data dimension; integer factor; 0: keep)");
ABSL_FLAG(std::string, labels, "none",
          "labels: keep (as the data has them), none (unconditional), true, random (with --label_classes), unique");
ABSL_FLAG(int64_t, label_classes, 0, "C for --labels=random");
ABSL_FLAG(uint64_t, data_seed, 0, "seed of --subset=random and --labels=random");

namespace diffmem {
namespace tools {

data::DataFactors DataFactorsFromFlags() {
  data::DataFactors f;
  f.n = absl::GetFlag(FLAGS_n);
  f.subset = absl::GetFlag(FLAGS_subset);
  f.classes = absl::GetFlag(FLAGS_classes);
  f.mix_data = absl::GetFlag(FLAGS_mix_data);
  f.mix_fraction = absl::GetFlag(FLAGS_mix_fraction);
  f.pad = absl::GetFlag(FLAGS_pad);
  f.resolution = absl::GetFlag(FLAGS_resolution);
  f.labels = absl::GetFlag(FLAGS_labels);
  f.label_classes = absl::GetFlag(FLAGS_label_classes);
  f.seed = absl::GetFlag(FLAGS_data_seed);
  return f;
}

absl::StatusOr<data::Dataset> LoadDatasetFromFlags() {
  const data::DataFactors f = DataFactorsFromFlags();
  if (absl::Status s = data::ValidateDataFactors(f); !s.ok()) return s;
  return data::LoadDataset(absl::GetFlag(FLAGS_data), f);
}

}  // namespace tools
}  // namespace diffmem
