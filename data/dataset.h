// The in-memory data set every reader produces and every tool consumes.
//
// Example:
//   diffmem::data::Dataset ds = ...;          // from ReadIdxDataset, ReadPngFolder, ...
//   torch::Tensor x = ds.images[0];           // uint8 C×H×W
//   if (ds.has_labels()) int64_t y = ds.labels[0].item<int64_t>();

#ifndef DIFFMEM_DATA_DATASET_H_
#define DIFFMEM_DATA_DATASET_H_

#include <torch/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace diffmem {
namespace data {

struct Dataset {
  torch::Tensor images;  // uint8 N×C×H×W, contiguous, on CPU
  torch::Tensor labels;  // int64 N in [0, num_classes), or undefined when unlabeled
  int64_t num_classes = 0;
  std::string source;    // where it came from, for reports and errors

  int64_t size() const { return images.defined() ? images.size(0) : 0; }
  bool has_labels() const { return labels.defined(); }
  int64_t channels() const { return images.size(1); }
  int64_t height() const { return images.size(2); }
  int64_t width() const { return images.size(3); }
};

// Checks the invariants above; the message names `ds.source`.
inline absl::Status ValidateDataset(const Dataset& ds) {
  if (!ds.images.defined() || ds.images.dim() != 4 || ds.images.scalar_type() != torch::kUInt8) {
    return absl::InvalidArgumentError(absl::StrCat(ds.source, ": images must be uint8 N×C×H×W"));
  }
  if (ds.has_labels()) {
    if (ds.labels.dim() != 1 || ds.labels.size(0) != ds.images.size(0) || ds.labels.scalar_type() != torch::kInt64) {
      return absl::InvalidArgumentError(
          absl::StrCat(ds.source, ": labels must be int64 of length ", ds.images.size(0)));
    }
    if (ds.size() > 0) {
      const int64_t lo = ds.labels.min().item<int64_t>(), hi = ds.labels.max().item<int64_t>();
      if (lo < 0 || hi >= ds.num_classes) {
        return absl::InvalidArgumentError(absl::StrCat(ds.source, ": label ", lo < 0 ? lo : hi,
                                                       " outside [0, ", ds.num_classes, ")"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace data
}  // namespace diffmem

#endif  // DIFFMEM_DATA_DATASET_H_
