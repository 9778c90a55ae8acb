// IDX files (the MNIST / Fashion-MNIST format), gzip-compressed or plain.
//
// An IDX file is a big-endian header — two zero bytes, a type code (0x08 for
// unsigned bytes, the only type image data sets use), the number of
// dimensions — then one uint32 size per dimension, then the data.
//
// Example:
//   auto ds = diffmem::data::ReadIdxDataset(
//       "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz",
//       "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz");
//   // ds->images: uint8 60000×1×28×28, ds->labels: int64 60000, 10 classes

#ifndef DIFFMEM_DATA_IDX_H_
#define DIFFMEM_DATA_IDX_H_

#include <torch/types.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "data/dataset.h"

namespace diffmem {
namespace data {

// Default location of Debian's dataset-fashion-mnist package.
inline constexpr char kFashionMnistDir[] = "/usr/share/datasets/fashion-mnist";

// Refuse arrays beyond this many elements (a corrupt header, not a data set).
inline constexpr uint64_t kMaxIdxElements = uint64_t{1} << 34;

struct IdxArray {
  std::vector<int64_t> dims;
  torch::Tensor data;  // uint8, shape `dims`
};

namespace internal_idx {

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};

// Reads exactly `n` bytes; gzread handles both gzip and plain files.
inline absl::Status ReadExactly(gzFile f, void* dst, uint64_t n, const std::string& path, const char* what) {
  auto* p = static_cast<unsigned char*>(dst);
  while (n > 0) {
    const unsigned chunk = static_cast<unsigned>(std::min<uint64_t>(n, 1u << 30));
    const int got = gzread(f, p, chunk);
    if (got < 0) {
      int errnum = 0;
      const char* msg = gzerror(f, &errnum);
      return absl::DataLossError(absl::StrCat(path, ": corrupt compressed data while reading ", what, ": ", msg));
    }
    if (got == 0) return absl::DataLossError(absl::StrCat(path, ": truncated file while reading ", what));
    p += got;
    n -= static_cast<uint64_t>(got);
  }
  return absl::OkStatus();
}

}  // namespace internal_idx

// Reads an unsigned-byte IDX file of any rank.
inline absl::StatusOr<IdxArray> ReadIdx(const std::string& path) {
  std::unique_ptr<gzFile_s, internal_idx::GzCloser> f(gzopen(path.c_str(), "rb"));
  if (!f) return absl::NotFoundError(absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
  unsigned char magic[4];
  if (absl::Status s = internal_idx::ReadExactly(f.get(), magic, 4, path, "the magic number"); !s.ok()) return s;
  if (magic[0] != 0 || magic[1] != 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": wrong magic number (not an IDX file)"));
  }
  if (magic[2] != 0x08) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": IDX element type 0x", absl::Hex(magic[2]), " unsupported (only 0x08, unsigned byte)"));
  }
  const int rank = magic[3];
  if (rank < 1 || rank > 4) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": IDX rank ", rank, " unsupported (1 to 4)"));
  }
  IdxArray out;
  uint64_t total = 1;
  for (int d = 0; d < rank; ++d) {
    unsigned char b[4];
    if (absl::Status s = internal_idx::ReadExactly(f.get(), b, 4, path, "the dimensions"); !s.ok()) return s;
    const uint64_t size = (uint64_t{b[0]} << 24) | (uint64_t{b[1]} << 16) | (uint64_t{b[2]} << 8) | b[3];
    total *= size;
    if (size == 0 || total > kMaxIdxElements) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": implausible IDX dimension ", size, " (axis ", d, ")"));
    }
    out.dims.push_back(static_cast<int64_t>(size));
  }
  out.data = torch::empty(out.dims, torch::kUInt8);
  if (absl::Status s = internal_idx::ReadExactly(f.get(), out.data.data_ptr<uint8_t>(), total, path, "the data");
      !s.ok()) {
    return s;
  }
  unsigned char extra;
  if (gzread(f.get(), &extra, 1) > 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": trailing bytes after ", absl::StrJoin(out.dims, "x"), " elements (wrong dimensions?)"));
  }
  return out;
}

// Reads an IDX image file (N×H×W) as uint8 N×1×H×W.
inline absl::StatusOr<torch::Tensor> ReadIdxImages(const std::string& path) {
  absl::StatusOr<IdxArray> a = ReadIdx(path);
  if (!a.ok()) return a.status();
  if (a->dims.size() != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": expected 3 dimensions (N×H×W) for images, found ", a->dims.size()));
  }
  return a->data.unsqueeze(1);
}

// Reads an IDX label file (N) as int64 N.
inline absl::StatusOr<torch::Tensor> ReadIdxLabels(const std::string& path) {
  absl::StatusOr<IdxArray> a = ReadIdx(path);
  if (!a.ok()) return a.status();
  if (a->dims.size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": expected 1 dimension (N) for labels, found ", a->dims.size()));
  }
  return a->data.to(torch::kInt64);
}

// Reads images and (optionally, when `labels_path` is non-empty) labels.
// num_classes is max(label) + 1.
inline absl::StatusOr<Dataset> ReadIdxDataset(const std::string& images_path, const std::string& labels_path = "") {
  Dataset ds;
  ds.source = images_path;
  absl::StatusOr<torch::Tensor> images = ReadIdxImages(images_path);
  if (!images.ok()) return images.status();
  ds.images = *std::move(images);
  if (!labels_path.empty()) {
    absl::StatusOr<torch::Tensor> labels = ReadIdxLabels(labels_path);
    if (!labels.ok()) return labels.status();
    if (labels->size(0) != ds.images.size(0)) {
      return absl::InvalidArgumentError(absl::StrCat(labels_path, ": ", labels->size(0), " labels for ",
                                                     ds.images.size(0), " images in ", images_path));
    }
    ds.labels = *std::move(labels);
    ds.num_classes = ds.labels.max().item<int64_t>() + 1;
  }
  return ds;
}

// Fashion-MNIST from Debian's package: split "train" (60k) or "t10k" (10k).
inline absl::StatusOr<Dataset> ReadFashionMnist(const std::string& split = "train",
                                                const std::string& dir = kFashionMnistDir) {
  if (split != "train" && split != "t10k") {
    return absl::InvalidArgumentError(absl::StrCat("Fashion-MNIST split '", split, "': expected train or t10k"));
  }
  return ReadIdxDataset(absl::StrCat(dir, "/", split, "-images-idx3-ubyte.gz"),
                        absl::StrCat(dir, "/", split, "-labels-idx1-ubyte.gz"));
}

}  // namespace data
}  // namespace diffmem

#endif  // DIFFMEM_DATA_IDX_H_
