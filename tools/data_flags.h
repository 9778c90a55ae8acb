// The data flags every diffmem tool shares, so that a training set is named
// the same way in train, optimum, mem_ratio, make_dataset and estimate_emm:
//   --data --n --subset --classes --mix_data --mix_fraction --pad
//   --resolution --labels --label_classes --data_seed
// A tool with other defaults sets them before parsing, e.g.
//   absl::SetFlag(&FLAGS_n, 1000);  // --help then shows "currently: 1000"
//
// Example:
//   absl::StatusOr<diffmem::data::Dataset> ds = diffmem::tools::LoadDatasetFromFlags();

#ifndef DIFFMEM_TOOLS_DATA_FLAGS_H_
#define DIFFMEM_TOOLS_DATA_FLAGS_H_

#include <cstdint>
#include <string>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "data/data_factors.h"
#include "data/dataset.h"

ABSL_DECLARE_FLAG(std::string, data);
ABSL_DECLARE_FLAG(int64_t, n);
ABSL_DECLARE_FLAG(std::string, subset);
ABSL_DECLARE_FLAG(int64_t, classes);
ABSL_DECLARE_FLAG(std::string, mix_data);
ABSL_DECLARE_FLAG(double, mix_fraction);
ABSL_DECLARE_FLAG(int64_t, pad);
ABSL_DECLARE_FLAG(int64_t, resolution);
ABSL_DECLARE_FLAG(std::string, labels);
ABSL_DECLARE_FLAG(int64_t, label_classes);
ABSL_DECLARE_FLAG(uint64_t, data_seed);

namespace diffmem {
namespace tools {

// The data factors the flags name (not yet validated).
data::DataFactors DataFactorsFromFlags();

// Validates the flags, then reads --data and applies the factors.
absl::StatusOr<data::Dataset> LoadDatasetFromFlags();

}  // namespace tools
}  // namespace diffmem

#endif  // DIFFMEM_TOOLS_DATA_FLAGS_H_
