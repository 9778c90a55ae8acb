// The data flags every diffmem tool shares, so that a training set is named
// the same way in train, optimum, mem_ratio, make_dataset and estimate_emm:
//   --data --n --subset --classes --mix_data --mix_fraction --pad
//   --resolution --resize --labels --label_classes --data_seed
// Each is a Given<T> flag (tools/given_flag.h): a tool starts from its own
// defaults (or a preset) and overlays the flags given on the command line.
//
// Example:
//   std::string spec = "fashion-mnist";
//   diffmem::data::DataFactors f = diffmem::tools::ToolDataDefaults();
//   diffmem::tools::OverlayDataFlags(spec, f);
//   absl::StatusOr<diffmem::data::Dataset> ds = diffmem::data::LoadDataset(spec, f);

#ifndef DIFFMEM_TOOLS_DATA_FLAGS_H_
#define DIFFMEM_TOOLS_DATA_FLAGS_H_

#include <cstdint>
#include <string>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "data/data_factors.h"
#include "data/dataset.h"
#include "tools/given_flag.h"

ABSL_DECLARE_FLAG(diffmem::tools::Given<std::string>, data);
ABSL_DECLARE_FLAG(diffmem::tools::Given<int64_t>, n);
ABSL_DECLARE_FLAG(diffmem::tools::Given<std::string>, subset);
ABSL_DECLARE_FLAG(diffmem::tools::Given<int64_t>, classes);
ABSL_DECLARE_FLAG(diffmem::tools::Given<std::string>, mix_data);
ABSL_DECLARE_FLAG(diffmem::tools::Given<double>, mix_fraction);
ABSL_DECLARE_FLAG(diffmem::tools::Given<int64_t>, pad);
ABSL_DECLARE_FLAG(diffmem::tools::Given<int64_t>, resolution);
ABSL_DECLARE_FLAG(diffmem::tools::Given<std::string>, resize);
ABSL_DECLARE_FLAG(diffmem::tools::Given<std::string>, labels);
ABSL_DECLARE_FLAG(diffmem::tools::Given<int64_t>, label_classes);
ABSL_DECLARE_FLAG(diffmem::tools::Given<uint64_t>, data_seed);

namespace diffmem {
namespace tools {

// The data tools start from unless a flag says otherwise: Fashion-MNIST,
// all images, class-balanced subsets, no labels.
inline constexpr char kDefaultDataSpec[] = "fashion-mnist";
data::DataFactors ToolDataDefaults();

// Overlays the data flags given on the command line.
void OverlayDataFlags(std::string& spec, data::DataFactors& factors);

}  // namespace tools
}  // namespace diffmem

#endif  // DIFFMEM_TOOLS_DATA_FLAGS_H_
