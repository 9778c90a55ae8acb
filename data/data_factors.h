// The whole data side of one experiment in a struct: which source, which
// images, what resolution, which labels. Tools fill it from flags so that
// --n / --subset / --classes / --resolution / --labels mean the same thing in
// every tool; LoadDataset turns it into a Dataset.
//
// Steps, in order (each optional):
//   1. ReadDataset(spec)
//   2. classes > 0:   FirstClasses(classes)                   (inter-diversity)
//   3. n > 0:         subset "first" | "balanced" | "random"  (size N)
//   4. mix_data:      MixSources(step 3, ReadDataset(mix_data), mix_fraction)
//                     (the second source is taken as is: its first α·N images)
//   5. pad, resolution: PadImages(pad), then to resolution×resolution by
//                     `resize`: area (averaging by an integer factor; pad = 2
//                     takes 28×28 to 32×32 → 16, 8) or lanczos (PIL's LANCZOS,
//                     as the authors lower CIFAR-10's resolution; any size)
//   6. labels:        "keep" | "true" | "none" | "random" (label_classes C) | "unique"
// A random subset draws with `seed`, random labels with `seed + 1`.
//
// JSON: DataFactorsToJson (every factor but n) and DataSourceToJson, the
// "data" block of a run's config.json: {"spec": ..., "n": N, "factors": {...}}
// (the same whether //tools:train or an EMM study wrote it).
//
// Example:
//   diffmem::data::DataFactors f;
//   f.n = 1000; f.subset = "balanced"; f.resolution = 14; f.labels = "unique";
//   absl::StatusOr<diffmem::data::Dataset> ds = diffmem::data::LoadDataset("fashion-mnist", f);

#ifndef DIFFMEM_DATA_DATA_FACTORS_H_
#define DIFFMEM_DATA_DATA_FACTORS_H_

#include <cstdint>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "data/dataset.h"
#include "data/read_dataset.h"
#include "data/resize.h"
#include "data/subsets.h"
#include "util/json_fields.h"

namespace diffmem {
namespace data {

struct DataFactors {
  int64_t n = 0;                 // images to keep (0: all)
  std::string subset = "first";  // first | balanced | random
  int64_t classes = 0;           // keep classes 0..classes−1 only (0: all)
  std::string mix_data;          // spec of a second source to mix in ("" : none)
  double mix_fraction = 0.0;     // fraction of the images taken from mix_data
  int64_t pad = 0;               // zero border added on every side first
  int64_t resolution = 0;        // resize to resolution×resolution (0: keep)
  std::string resize = "area";   // area | lanczos
  std::string labels = "keep";   // keep | true | none | random | unique
  int64_t label_classes = 0;     // C for labels = random
  uint64_t seed = 0;             // for subset = random and labels = random
};

// Checks the fields on their own; errors name the flag of the same name.
inline absl::Status ValidateDataFactors(const DataFactors& f) {
  auto bad = [](const char* flag, const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", why));
  };
  if (f.n < 0) return bad("n", absl::StrCat("must be >= 0, got ", f.n));
  if (f.subset != "first" && f.subset != "balanced" && f.subset != "random") {
    return bad("subset", absl::StrCat("'", f.subset, "': expected first, balanced or random"));
  }
  if (f.classes < 0) return bad("classes", absl::StrCat("must be >= 0, got ", f.classes));
  if (!(f.mix_fraction >= 0.0 && f.mix_fraction <= 1.0)) {
    return bad("mix_fraction", absl::StrCat("must be in [0, 1], got ", f.mix_fraction));
  }
  if (f.mix_data.empty() && f.mix_fraction > 0.0) return bad("mix_fraction", "needs --mix_data");
  if (f.pad < 0) return bad("pad", absl::StrCat("must be >= 0, got ", f.pad));
  if (f.resolution < 0) return bad("resolution", absl::StrCat("must be >= 0, got ", f.resolution));
  if (f.resize != "area" && f.resize != "lanczos") {
    return bad("resize", absl::StrCat("'", f.resize, "': expected area or lanczos"));
  }
  if (f.labels != "keep" && f.labels != "true" && f.labels != "none" && f.labels != "random" &&
      f.labels != "unique") {
    return bad("labels", absl::StrCat("'", f.labels, "': expected keep, true, none, random or unique"));
  }
  if (f.labels == "random" && f.label_classes < 1) return bad("label_classes", "random labels need C >= 1 classes");
  if (f.labels != "random" && f.label_classes != 0) return bad("label_classes", "only used with --labels=random");
  return absl::OkStatus();
}

// Applies steps 2–6 to `ds` (`mix`: the second source, needed iff mix_data is set).
inline absl::StatusOr<Dataset> ApplyDataFactors(Dataset ds, const DataFactors& f, const Dataset* mix = nullptr) {
  if (absl::Status s = ValidateDataFactors(f); !s.ok()) return s;
  if (f.classes > 0) {
    absl::StatusOr<Dataset> r = FirstClasses(ds, f.classes);
    if (!r.ok()) return r.status();
    ds = *std::move(r);
  }
  if (f.n > 0) {
    absl::StatusOr<Dataset> r = f.subset == "balanced" ? ClassBalancedFirstN(ds, f.n)
                                : f.subset == "random" ? RandomSubset(ds, f.n, f.seed)
                                                       : FirstN(ds, f.n);
    if (!r.ok()) return r.status();
    ds = *std::move(r);
  }
  if (!f.mix_data.empty()) {
    if (mix == nullptr) return absl::InvalidArgumentError("--mix_data: second source not loaded");
    absl::StatusOr<Dataset> r = MixSources(ds, *mix, f.mix_fraction);
    if (!r.ok()) return r.status();
    ds = *std::move(r);
  }
  if (f.pad > 0) {
    absl::StatusOr<Dataset> r = PadImages(ds, f.pad);
    if (!r.ok()) return r.status();
    ds = *std::move(r);
  }
  if (f.resolution > 0) {
    absl::StatusOr<Dataset> r = f.resize == "lanczos" ? ResizeLanczos(ds, f.resolution) : DownsampleByArea(ds, f.resolution);
    if (!r.ok()) return r.status();
    ds = *std::move(r);
  }
  if (f.labels == "true") {
    absl::StatusOr<Dataset> r = RequireLabels(ds);
    if (!r.ok()) return r.status();
  } else if (f.labels == "none") {
    ds = WithoutLabels(ds);
  } else if (f.labels == "random") {
    absl::StatusOr<Dataset> r = WithRandomLabels(ds, f.label_classes, f.seed + 1);
    if (!r.ok()) return r.status();
    ds = *std::move(r);
  } else if (f.labels == "unique") {
    ds = WithUniqueLabels(ds);
  }
  return ds;
}

// Every factor but n (a study varies n per run).
inline nlohmann::json DataFactorsToJson(const DataFactors& f) {
  return {{"subset", f.subset},         {"classes", f.classes},       {"mix_data", f.mix_data},
          {"mix_fraction", f.mix_fraction}, {"pad", f.pad},             {"resolution", f.resolution},
          {"resize", f.resize},         {"labels", f.labels},         {"label_classes", f.label_classes},
          {"seed", f.seed}};
}

// The factors of DataFactorsToJson (n = 0), validated; errors name `where` and the field.
inline absl::StatusOr<DataFactors> DataFactorsFromJson(const nlohmann::json& j, const std::string& where) {
  util::JsonFields g(j, where);
  DataFactors f;
  f.subset = g.String("subset");
  f.classes = g.Integer("classes");
  f.mix_data = g.String("mix_data");
  f.mix_fraction = g.Number("mix_fraction");
  f.pad = g.Integer("pad");
  f.resolution = g.Integer("resolution");
  if (g.Get("resize", /*required=*/false) != nullptr) f.resize = g.String("resize");  // absent before Lanczos existed
  f.labels = g.String("labels");
  f.label_classes = g.Integer("label_classes");
  const int64_t seed = g.Integer("seed");
  g.Check(seed >= 0, "seed", "must be >= 0");
  if (!g.status().ok()) return g.status();
  f.seed = static_cast<uint64_t>(seed);
  if (absl::Status s = ValidateDataFactors(f); !s.ok()) return absl::InvalidArgumentError(absl::StrCat(where, ": ", s.message()));
  return f;
}

// The data block of a run's config.json: where the images came from and how they were chosen.
inline nlohmann::json DataSourceToJson(const std::string& spec, const DataFactors& f) {
  return {{"spec", spec}, {"n", f.n}, {"factors", DataFactorsToJson(f)}};
}

// Reads DataSourceToJson back: the spec and the factors (n included).
inline absl::StatusOr<std::pair<std::string, DataFactors>> DataSourceFromJson(const nlohmann::json& j,
                                                                              const std::string& where) {
  util::JsonFields g(j, where);
  std::string spec = g.String("spec");
  const int64_t n = g.Integer("n");
  const nlohmann::json* factors = g.Object("factors");
  if (!g.status().ok()) return g.status();
  absl::StatusOr<DataFactors> f = DataFactorsFromJson(*factors, absl::StrCat(where, ": factors"));
  if (!f.ok()) return f.status();
  f->n = n;
  if (absl::Status s = ValidateDataFactors(*f); !s.ok()) return absl::InvalidArgumentError(absl::StrCat(where, ": ", s.message()));
  return std::make_pair(std::move(spec), *std::move(f));
}

// Reads `spec` (and f.mix_data) and applies the factors.
inline absl::StatusOr<Dataset> LoadDataset(const std::string& spec, const DataFactors& f) {
  if (absl::Status s = ValidateDataFactors(f); !s.ok()) return s;
  absl::StatusOr<Dataset> ds = ReadDataset(spec);
  if (!ds.ok()) return ds.status();
  if (f.mix_data.empty()) return ApplyDataFactors(*std::move(ds), f);
  absl::StatusOr<Dataset> mix = ReadDataset(f.mix_data);
  if (!mix.ok()) return mix.status();
  return ApplyDataFactors(*std::move(ds), f, &*mix);
}

}  // namespace data
}  // namespace diffmem

#endif  // DIFFMEM_DATA_DATA_FACTORS_H_
