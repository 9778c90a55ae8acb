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
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "data/dataset.h"
#include "util/atomic_file.h"

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

inline bool IsGzip(absl::string_view bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

// Inflates a (possibly multi-member) gzip stream, refusing output beyond `limit`.
inline absl::StatusOr<std::string> Gunzip(absl::string_view in, uint64_t limit, absl::string_view name) {
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
    return absl::InternalError(absl::StrCat(name, ": zlib initialisation failed"));
  }
  std::string out;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  char buf[1 << 16];
  int rc = Z_OK;
  while (true) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof(buf);
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof(buf) - z.avail_out);
    if (out.size() > limit) {
      inflateEnd(&z);
      return absl::InvalidArgumentError(absl::StrCat(name, ": decompressed data larger than ", limit, " bytes"));
    }
    if (rc == Z_STREAM_END) {
      if (z.avail_in == 0 || !IsGzip(absl::string_view(reinterpret_cast<const char*>(z.next_in), z.avail_in))) break;
      inflateReset(&z);  // another gzip member follows
      continue;
    }
    if (rc == Z_BUF_ERROR && z.avail_in == 0) {
      inflateEnd(&z);
      return absl::DataLossError(absl::StrCat(name, ": truncated gzip stream"));
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      const std::string msg = z.msg ? z.msg : "invalid data";
      inflateEnd(&z);
      return absl::DataLossError(absl::StrCat(name, ": corrupt gzip stream: ", msg));
    }
  }
  inflateEnd(&z);
  return out;
}

inline uint32_t BigEndian32(const unsigned char* b) {
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
}

}  // namespace internal_idx

// Parses IDX bytes (gzip-compressed or plain); `name` prefixes every error.
inline absl::StatusOr<IdxArray> ParseIdx(absl::string_view bytes, absl::string_view name) {
  std::string inflated;
  if (internal_idx::IsGzip(bytes)) {
    absl::StatusOr<std::string> raw = internal_idx::Gunzip(bytes, kMaxIdxElements + 4 + 4 * 4, name);
    if (!raw.ok()) return raw.status();
    inflated = *std::move(raw);
    bytes = inflated;
  }
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < 4) return absl::DataLossError(absl::StrCat(name, ": truncated file while reading the magic number"));
  if (b[0] != 0 || b[1] != 0) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": wrong magic number (not an IDX file)"));
  }
  if (b[2] != 0x08) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": IDX element type 0x", absl::Hex(b[2]), " unsupported (only 0x08, unsigned byte)"));
  }
  const int rank = b[3];
  if (rank < 1 || rank > 4) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": IDX rank ", rank, " unsupported (1 to 4)"));
  }
  const uint64_t header = 4 + 4 * static_cast<uint64_t>(rank);
  if (bytes.size() < header) return absl::DataLossError(absl::StrCat(name, ": truncated file while reading the dimensions"));
  IdxArray out;
  uint64_t total = 1;  // saturates instead of overflowing
  for (int d = 0; d < rank; ++d) {
    const uint64_t size = internal_idx::BigEndian32(b + 4 + 4 * d);
    if (size == 0) return absl::InvalidArgumentError(absl::StrCat(name, ": IDX dimension 0 (axis ", d, ")"));
    total = total > UINT64_MAX / size ? UINT64_MAX : total * size;
    out.dims.push_back(static_cast<int64_t>(size));
  }
  // The data must be there before a count is judged: a header that claims
  // more elements than the file holds is a short (or damaged) file.
  if (bytes.size() - header < total) {
    return absl::DataLossError(absl::StrCat(name, ": file too short for its header's counts (",
                                            absl::StrJoin(out.dims, "x"), " = ",
                                            total == UINT64_MAX ? std::string("over 2^64") : absl::StrCat(total),
                                            " bytes of data, the file has ", bytes.size() - header, ")"));
  }
  if (total > kMaxIdxElements) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": ", absl::StrJoin(out.dims, "x"), " elements, more than diffmem reads (", kMaxIdxElements, ")"));
  }
  if (bytes.size() > header + total) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": trailing bytes after ", absl::StrJoin(out.dims, "x"), " elements (wrong dimensions?)"));
  }
  out.data = torch::empty(out.dims, torch::kUInt8);
  std::memcpy(out.data.data_ptr<uint8_t>(), b + header, total);
  return out;
}

// Reads an unsigned-byte IDX file of any rank.
inline absl::StatusOr<IdxArray> ReadIdx(const std::string& path) {
  absl::StatusOr<std::string> bytes = util::ReadFileToString(path);
  if (!bytes.ok()) return bytes.status();
  return ParseIdx(*bytes, path);
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
