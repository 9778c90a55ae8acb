// The paper's data-side factors as operations on a Dataset: which images
// (size N, number of classes, a mix of two sources), at what resolution, and
// with which labels. Each returns a new Dataset and never changes its input.
//
//   ClassBalancedFirstN   first N/C images of each class, class by class (the
//                         authors' subsets: class 0's block, then class 1's, …)
//   FirstN / RandomSubset the first N images / N drawn without replacement
//   FirstClasses          images of classes 0..C−1 only (inter-diversity)
//   MixSources            (1−α)·N images of one source then α·N of another
//                         (intra-diversity)
//   PadImages             zero border (28×28 MNIST → 32×32, as the authors do)
//   DownsampleByArea      integer-factor area averaging (data dimension)
//   WithRandomLabels, WithUniqueLabels, WithoutLabels, RequireLabels
//                         the conditioning label schemes
//
// Seeded choices use std::mt19937_64 — its output sequence is fixed by the C++
// standard — and diffmem's own unbiased bounded draw (rejection sampling, not
// the library-specific std::uniform_int_distribution), so a seed gives the same
// subset and labels on every platform and LibTorch version.
//
// Example:
//   auto train = diffmem::data::ReadFashionMnist();
//   auto small = diffmem::data::ClassBalancedFirstN(*train, 1000);        // 100 per class
//   auto low = diffmem::data::DownsampleByArea(*small, 14);               // 1000×1×14×14
//   auto random = diffmem::data::WithRandomLabels(*low, /*num_classes=*/5, /*seed=*/0);

#ifndef DIFFMEM_DATA_SUBSETS_H_
#define DIFFMEM_DATA_SUBSETS_H_

#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "data/dataset.h"
#include "data/resize.h"

namespace diffmem {
namespace data {

// Uniform integer in [0, n) from `rng` (n > 0), without modulo bias: draws
// outside the largest multiple of n below 2^64 are rejected.
inline uint64_t UniformBelow(std::mt19937_64& rng, uint64_t n) {
  const uint64_t rem = (std::numeric_limits<uint64_t>::max() % n + 1) % n;  // 2^64 mod n
  if (rem == 0) return rng() % n;
  const uint64_t limit = 0 - rem;  // 2^64 − rem
  uint64_t x;
  do {
    x = rng();
  } while (x >= limit);
  return x % n;
}

// The images (and labels) at `indices`, in that order; `what` is appended to
// the source description.
inline Dataset SelectImages(const Dataset& ds, const std::vector<int64_t>& indices, const std::string& what) {
  torch::Tensor idx = torch::tensor(indices, torch::kInt64);
  Dataset out;
  out.images = ds.images.index_select(0, idx).contiguous();
  if (ds.has_labels()) out.labels = ds.labels.index_select(0, idx).contiguous();
  out.num_classes = ds.num_classes;
  out.source = absl::StrCat(ds.source, " | ", what);
  return out;
}

// The first n images.
inline absl::StatusOr<Dataset> FirstN(const Dataset& ds, int64_t n) {
  if (n < 1 || n > ds.size()) {
    return absl::InvalidArgumentError(absl::StrCat(ds.source, ": cannot take the first ", n, " of ", ds.size(),
                                                   " images"));
  }
  std::vector<int64_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  return SelectImages(ds, idx, absl::StrCat("first ", n));
}

// The first n / num_classes images of each class in data-set order, grouped
// by class (all of class 0, then class 1, …), as in the authors' subsets.
inline absl::StatusOr<Dataset> ClassBalancedFirstN(const Dataset& ds, int64_t n) {
  if (!ds.has_labels()) {
    return absl::InvalidArgumentError(absl::StrCat(ds.source, ": a class-balanced subset needs labels"));
  }
  const int64_t c = ds.num_classes;
  if (n < 1 || c < 1 || n % c != 0) {
    return absl::InvalidArgumentError(absl::StrCat(ds.source, ": class-balanced N = ", n,
                                                   " must be a positive multiple of the class count ", c));
  }
  const int64_t per_class = n / c;
  std::vector<std::vector<int64_t>> by_class(c);
  torch::Tensor labels = ds.labels.contiguous();
  const int64_t* l = labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < ds.size(); ++i) {
    if (static_cast<int64_t>(by_class[l[i]].size()) < per_class) by_class[l[i]].push_back(i);
  }
  std::vector<int64_t> idx;
  idx.reserve(n);
  for (int64_t k = 0; k < c; ++k) {
    if (static_cast<int64_t>(by_class[k].size()) < per_class) {
      return absl::InvalidArgumentError(absl::StrCat(ds.source, ": class ", k, " has only ", by_class[k].size(),
                                                     " images; a balanced N = ", n, " needs ", per_class,
                                                     " per class"));
    }
    idx.insert(idx.end(), by_class[k].begin(), by_class[k].end());
  }
  return SelectImages(ds, idx, absl::StrCat("balanced first ", n));
}

// n images drawn without replacement (seeded partial Fisher–Yates), returned
// in data-set order.
inline absl::StatusOr<Dataset> RandomSubset(const Dataset& ds, int64_t n, uint64_t seed) {
  if (n < 1 || n > ds.size()) {
    return absl::InvalidArgumentError(absl::StrCat(ds.source, ": cannot draw ", n, " of ", ds.size(), " images"));
  }
  std::vector<int64_t> all(ds.size());
  std::iota(all.begin(), all.end(), 0);
  std::mt19937_64 rng(seed);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t j = i + static_cast<int64_t>(UniformBelow(rng, static_cast<uint64_t>(ds.size() - i)));
    std::swap(all[i], all[j]);
  }
  all.resize(n);
  std::sort(all.begin(), all.end());
  return SelectImages(ds, all, absl::StrCat("random ", n, " (seed ", seed, ")"));
}

// Only the images of classes 0..num_classes−1 (labels unchanged, so still
// 0..C−1), in data-set order.
inline absl::StatusOr<Dataset> FirstClasses(const Dataset& ds, int64_t num_classes) {
  if (!ds.has_labels()) {
    return absl::InvalidArgumentError(absl::StrCat(ds.source, ": choosing classes needs labels"));
  }
  if (num_classes < 1 || num_classes > ds.num_classes) {
    return absl::InvalidArgumentError(absl::StrCat(ds.source, ": cannot keep ", num_classes, " of ",
                                                   ds.num_classes, " classes"));
  }
  torch::Tensor labels = ds.labels.contiguous();
  const int64_t* l = labels.data_ptr<int64_t>();
  std::vector<int64_t> idx;
  for (int64_t i = 0; i < ds.size(); ++i) {
    if (l[i] < num_classes) idx.push_back(i);
  }
  if (idx.empty()) return absl::InvalidArgumentError(absl::StrCat(ds.source, ": no image in the first ", num_classes, " classes"));
  Dataset out = SelectImages(ds, idx, absl::StrCat("classes 0..", num_classes - 1));
  out.num_classes = num_classes;
  return out;
}

// Intra-diversity: n images, of which round(fraction·n) are the first images of
// `other` and the rest the first images of `base` (base's first, then other's),
// as the authors mix CIFAR-10 with ImageNet. Images must share C×H×W. Labels are
// kept when both sources have them (num_classes: the larger), else dropped.
// n = 0 means base.size().
inline absl::StatusOr<Dataset> MixSources(const Dataset& base, const Dataset& other, double fraction,
                                          int64_t n = 0) {
  if (!(fraction >= 0.0 && fraction <= 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat("mix fraction ", fraction, " outside [0, 1]"));
  }
  if (n == 0) n = base.size();
  if (base.images.sizes().slice(1) != other.images.sizes().slice(1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        other.source, ": images are ", absl::StrJoin(other.images.sizes().slice(1), "x"), " (C×H×W) but ",
        base.source, " has ", absl::StrJoin(base.images.sizes().slice(1), "x"), "; the sizes of mixed sources must match"));
  }
  const int64_t from_other = std::llround(fraction * static_cast<double>(n));
  const int64_t from_base = n - from_other;
  if (from_base > base.size() || from_other > other.size() || n < 1) {
    return absl::InvalidArgumentError(absl::StrCat("mixing ", n, " images needs ", from_base, " from ", base.source,
                                                   " (has ", base.size(), ") and ", from_other, " from ",
                                                   other.source, " (has ", other.size(), ")"));
  }
  Dataset out;
  out.images = torch::cat({base.images.narrow(0, 0, from_base), other.images.narrow(0, 0, from_other)}).contiguous();
  if (base.has_labels() && other.has_labels()) {
    out.labels = torch::cat({base.labels.narrow(0, 0, from_base), other.labels.narrow(0, 0, from_other)}).contiguous();
    out.num_classes = std::max(base.num_classes, other.num_classes);
  }
  out.source = absl::StrCat("mix of ", from_base, " from (", base.source, ") and ", from_other, " from (",
                            other.source, ")");
  return out;
}

// Area averaging by integer factors: each output pixel is the mean of an
// f_h×f_w block, rounded to nearest (halves up). uint8 N×C×H×W → N×C×h×w.
inline absl::StatusOr<torch::Tensor> DownsampleByArea(const torch::Tensor& images, int64_t height, int64_t width) {
  if (images.dim() != 4 || images.scalar_type() != torch::kUInt8) {
    return absl::InvalidArgumentError("area averaging needs uint8 N×C×H×W images");
  }
  const int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  if (height < 1 || width < 1 || h % height != 0 || w % width != 0) {
    return absl::InvalidArgumentError(absl::StrCat("cannot area-average ", h, "x", w, " images to ", height, "x",
                                                   width, ": each side must divide by an integer factor",
                                                   " (zero padding first can help: 28 + 2·2 = 32)"));
  }
  const int64_t fh = h / height, fw = w / width, k = fh * fw;
  if (k == 1) return images.clone();
  torch::Tensor sums = images.to(torch::kInt32).reshape({n, c, height, fh, width, fw}).sum({3, 5}, false, torch::kInt32);
  return sums.add(k / 2).div(k, "floor").to(torch::kUInt8).contiguous();
}

// A data set at resolution×resolution (square images only) by PIL's LANCZOS
// resampling (data/resize.h), as the authors lower CIFAR-10's resolution.
inline absl::StatusOr<Dataset> ResizeLanczos(const Dataset& ds, int64_t resolution) {
  if (ds.height() != ds.width()) {
    return absl::InvalidArgumentError(absl::StrCat(ds.source, ": resolution change needs square images, got ",
                                                   ds.height(), "x", ds.width()));
  }
  absl::StatusOr<torch::Tensor> images = ResizeLanczos(ds.images, resolution, resolution);
  if (!images.ok()) return absl::InvalidArgumentError(absl::StrCat(ds.source, ": ", images.status().message()));
  Dataset out = ds;
  out.images = *std::move(images);
  out.source = absl::StrCat(ds.source, " | ", resolution, "x", resolution, " by Lanczos");
  return out;
}

// Zero padding of `pixels` on every side, as the authors bring 28×28 MNIST to
// 32×32 (pixels = 2) so that it halves to 16 and 8.
inline absl::StatusOr<Dataset> PadImages(const Dataset& ds, int64_t pixels) {
  if (pixels < 0) return absl::InvalidArgumentError(absl::StrCat("padding must be >= 0, got ", pixels));
  Dataset out = ds;
  out.images = torch::zeros({ds.size(), ds.channels(), ds.height() + 2 * pixels, ds.width() + 2 * pixels},
                            torch::kUInt8);
  out.images.narrow(2, pixels, ds.height()).narrow(3, pixels, ds.width()).copy_(ds.images);
  out.source = absl::StrCat(ds.source, " | padded by ", pixels);
  return out;
}

// A data set at resolution×resolution (square images only), by area averaging.
inline absl::StatusOr<Dataset> DownsampleByArea(const Dataset& ds, int64_t resolution) {
  if (ds.height() != ds.width()) {
    return absl::InvalidArgumentError(absl::StrCat(ds.source, ": resolution change needs square images, got ",
                                                   ds.height(), "x", ds.width()));
  }
  absl::StatusOr<torch::Tensor> images = DownsampleByArea(ds.images, resolution, resolution);
  if (!images.ok()) return absl::InvalidArgumentError(absl::StrCat(ds.source, ": ", images.status().message()));
  Dataset out = ds;
  out.images = *std::move(images);
  out.source = absl::StrCat(ds.source, " | ", resolution, "x", resolution, " by area averaging");
  return out;
}

// True labels: the data set as is, but an error when it has none.
inline absl::StatusOr<Dataset> RequireLabels(const Dataset& ds) {
  if (!ds.has_labels()) return absl::InvalidArgumentError(absl::StrCat(ds.source, ": has no labels"));
  return ds;
}

// Unconditional: labels removed.
inline Dataset WithoutLabels(const Dataset& ds) {
  Dataset out = ds;
  out.labels = torch::Tensor();
  out.num_classes = 0;
  return out;
}

// Random labels: each image independently gets a uniform label in
// [0, num_classes) (as the authors draw them), seeded; num_classes is set to
// the requested count even if a class happens not to be drawn.
inline absl::StatusOr<Dataset> WithRandomLabels(const Dataset& ds, int64_t num_classes, uint64_t seed) {
  if (num_classes < 1) {
    return absl::InvalidArgumentError(absl::StrCat("random labels need at least 1 class, got ", num_classes));
  }
  Dataset out = ds;
  out.labels = torch::empty({ds.size()}, torch::kInt64);
  int64_t* l = out.labels.data_ptr<int64_t>();
  std::mt19937_64 rng(seed);
  for (int64_t i = 0; i < ds.size(); ++i) l[i] = static_cast<int64_t>(UniformBelow(rng, num_classes));
  out.num_classes = num_classes;
  out.source = absl::StrCat(ds.source, " | random labels, ", num_classes, " classes (seed ", seed, ")");
  return out;
}

// Unique labels: image i gets label i; num_classes = N.
inline Dataset WithUniqueLabels(const Dataset& ds) {
  Dataset out = ds;
  out.labels = torch::arange(ds.size(), torch::kInt64);
  out.num_classes = ds.size();
  out.source = absl::StrCat(ds.source, " | unique labels");
  return out;
}

}  // namespace data
}  // namespace diffmem

#endif  // DIFFMEM_DATA_SUBSETS_H_
