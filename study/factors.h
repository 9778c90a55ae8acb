// The factor rules of `estimate_emm --vary=FACTOR=v1,v2,...`: how one value of
// a factor the paper varies changes a study's configuration. A registry
// (util/type_registry.h) of factor types, each with
//   static constexpr const char* kName;    // the FACTOR of --vary
//   static constexpr const char* kValues;  // what a value looks like (for errors and --help)
//   static absl::Status Apply(EmmStudyConfig& c, const std::string& value);
// so a new factor is one type plus one line in StudyFactors.
//
//   ApplyFactor(c, factor, value)      — validated afterwards
//   FactorHelp()                       — "resolution (a positive integer), classes (...), ..."
//   PlanFactorStudies(out, base, vary) — one FactorStudy per value, in OUT/FACTOR=VALUE
//
// Example:
//   absl::StatusOr<std::vector<FactorStudy>> s = PlanFactorStudies("/tmp/s", base, "resolution=8,16");
//   // s->at(1).dir == "/tmp/s/resolution=16", s->at(1).config.data.resolution == 16

#ifndef DIFFMEM_STUDY_FACTORS_H_
#define DIFFMEM_STUDY_FACTORS_H_

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "networks/network.h"
#include "study/study_config.h"
#include "util/type_registry.h"

namespace diffmem {
namespace study {
namespace internal_factors {

inline absl::StatusOr<int64_t> PositiveInt(const std::string& value) {
  int64_t i = 0;
  if (!absl::SimpleAtoi(value, &i) || i < 1) return absl::InvalidArgumentError("expected a positive integer");
  return i;
}
inline absl::StatusOr<double> Number(const std::string& value) {
  double d = 0;
  if (!absl::SimpleAtod(value, &d)) return absl::InvalidArgumentError("expected a number");
  return d;
}
inline int64_t RoundUp(int64_t x, int64_t q) { return (x + q - 1) / q * q; }

}  // namespace internal_factors

// Data dimension: images resized to R×R (by the study's resize method), with
// the attention resolutions moved along so the same network levels attend
// (the authors: attention at 16 px for 32 px data, 8 at 16, 4 at 8). The
// network's own resolution is what the preset designed it for.
struct ResolutionFactor {
  static constexpr const char* kName = "resolution";
  static constexpr const char* kValues = "a positive integer";
  static absl::Status Apply(EmmStudyConfig& c, const std::string& value) {
    absl::StatusOr<int64_t> r = internal_factors::PositiveInt(value);
    if (!r.ok()) return r.status();
    const int64_t base = c.network.unet.img_resolution();
    std::vector<int64_t> attn;
    for (int64_t a : c.network.unet.attn_resolutions()) {
      if (a * *r % base != 0 || a * *r / base < 1) {
        return absl::InvalidArgumentError(absl::StrCat("attention at ", a, " px of a ", base,
                                                       " px network does not scale to ", *r, " px"));
      }
      attn.push_back(a * *r / base);
    }
    c.data.resolution = *r;
    c.network.unet.img_resolution(*r).attn_resolutions(attn);
    return absl::OkStatus();
  }
};

// Inter-diversity: the first C classes. Balanced subsets need N divisible by
// C: the search range and its extra points move onto multiples of C.
struct ClassesFactor {
  static constexpr const char* kName = "classes";
  static constexpr const char* kValues = "a positive integer";
  static absl::Status Apply(EmmStudyConfig& c, const std::string& value) {
    using internal_factors::RoundUp;
    absl::StatusOr<int64_t> k = internal_factors::PositiveInt(value);
    if (!k.ok()) return k.status();
    c.data.classes = *k;
    if (c.data.subset == "balanced") {
      c.search.granularity = *k;
      c.search.n_min = RoundUp(c.search.n_min, *k);
      c.search.n_start = RoundUp(c.search.start(), *k);
      c.search.n_max = std::max(c.search.n_start, c.search.n_max / *k * *k);
      for (int64_t& n : c.search.extra_n) n = std::clamp(n / *k * *k, c.search.n_min, c.search.n_max);
    }
    return absl::OkStatus();
  }
};

// Intra-diversity: the fraction of images from the second source.
struct MixFractionFactor {
  static constexpr const char* kName = "mix_fraction";
  static constexpr const char* kValues = "a number in [0, 1]";
  static absl::Status Apply(EmmStudyConfig& c, const std::string& value) {
    absl::StatusOr<double> d = internal_factors::Number(value);
    if (!d.ok()) return d.status();
    c.data.mix_fraction = *d;
    return absl::OkStatus();
  }
};

struct ChannelsFactor {
  static constexpr const char* kName = "channels";
  static constexpr const char* kValues = "a positive integer";
  static absl::Status Apply(EmmStudyConfig& c, const std::string& value) {
    absl::StatusOr<int64_t> k = internal_factors::PositiveInt(value);
    if (!k.ok()) return k.status();
    c.network.unet.model_channels(*k);
    return absl::OkStatus();
  }
};

struct BlocksFactor {
  static constexpr const char* kName = "blocks";
  static constexpr const char* kValues = "a positive integer";
  static absl::Status Apply(EmmStudyConfig& c, const std::string& value) {
    absl::StatusOr<int64_t> k = internal_factors::PositiveInt(value);
    if (!k.ok()) return k.status();
    c.network.unet.num_blocks(*k);
    return absl::OkStatus();
  }
};

struct EmbeddingFactor {
  static constexpr const char* kName = "embedding";
  static constexpr const char* kValues = "positional, fourier or default";
  static absl::Status Apply(EmmStudyConfig& c, const std::string& value) {
    absl::StatusOr<networks::NoiseEmbedding> e = networks::ParseNoiseEmbedding(value);
    if (!e.ok()) return e.status();
    c.network.unet.embedding(*e);
    return absl::OkStatus();
  }
};

struct SkipMaskFactor {
  static constexpr const char* kName = "skip_mask";
  static constexpr const char* kValues = "one 0/1 per skip, or all";
  static absl::Status Apply(EmmStudyConfig& c, const std::string& value) {
    absl::StatusOr<std::vector<bool>> m = networks::ParseSkipMask(value);
    if (!m.ok()) return m.status();
    c.network.unet.skip_mask(*m);
    return absl::OkStatus();
  }
};

// Batch size, with the learning rate scaled in proportion (paper, Sec. 4.3).
struct BatchFactor {
  static constexpr const char* kName = "batch";
  static constexpr const char* kValues = "a positive integer";
  static absl::Status Apply(EmmStudyConfig& c, const std::string& value) {
    absl::StatusOr<int64_t> b = internal_factors::PositiveInt(value);
    if (!b.ok()) return b.status();
    c.train.lr *= static_cast<double>(*b) / c.train.batch_size;
    c.train.batch_size = *b;
    return absl::OkStatus();
  }
};

struct WeightDecayFactor {
  static constexpr const char* kName = "weight_decay";
  static constexpr const char* kValues = "a number";
  static absl::Status Apply(EmmStudyConfig& c, const std::string& value) {
    absl::StatusOr<double> d = internal_factors::Number(value);
    if (!d.ok()) return d.status();
    c.train.weight_decay = *d;
    return absl::OkStatus();
  }
};

// EMA decay per step.
struct EmaFactor {
  static constexpr const char* kName = "ema";
  static constexpr const char* kValues = "a decay in [0, 1)";
  static absl::Status Apply(EmmStudyConfig& c, const std::string& value) {
    absl::StatusOr<double> d = internal_factors::Number(value);
    if (!d.ok()) return absl::InvalidArgumentError("expected a decay in [0, 1)");
    c.train.ema_schedule = training::EmaSchedule::kFixed;
    c.train.ema_beta = *d;
    return absl::OkStatus();
  }
};

struct LrFactor {
  static constexpr const char* kName = "lr";
  static constexpr const char* kValues = "a number";
  static absl::Status Apply(EmmStudyConfig& c, const std::string& value) {
    absl::StatusOr<double> d = internal_factors::Number(value);
    if (!d.ok()) return d.status();
    c.train.lr = *d;
    return absl::OkStatus();
  }
};

struct DropoutFactor {
  static constexpr const char* kName = "dropout";
  static constexpr const char* kValues = "a number";
  static absl::Status Apply(EmmStudyConfig& c, const std::string& value) {
    absl::StatusOr<double> d = internal_factors::Number(value);
    if (!d.ok()) return d.status();
    c.network.unet.dropout(*d);
    return absl::OkStatus();
  }
};

// Training duration in optimizer steps.
struct StepsFactor {
  static constexpr const char* kName = "steps";
  static constexpr const char* kValues = "a positive integer";
  static absl::Status Apply(EmmStudyConfig& c, const std::string& value) {
    absl::StatusOr<int64_t> k = internal_factors::PositiveInt(value);
    if (!k.ok()) return k.status();
    c.train.steps = *k;
    c.train.kimg = c.train.epochs = 0;
    return absl::OkStatus();
  }
};

// Conditioning: none, true labels, random labels from C classes, a unique label per image.
struct LabelsFactor {
  static constexpr const char* kName = "labels";
  static constexpr const char* kValues = "none, true, random-C or unique";
  static absl::Status Apply(EmmStudyConfig& c, const std::string& value) {
    c.data.label_classes = 0;
    int64_t k = 0;
    if (value == "none" || value == "true" || value == "unique") {
      c.data.labels = value;
    } else if (absl::StartsWith(value, "random-") && absl::SimpleAtoi(value.substr(7), &k) && k >= 1) {
      c.data.labels = "random";
      c.data.label_classes = k;
    } else {
      return absl::InvalidArgumentError("expected none, true, random-C or unique");
    }
    return absl::OkStatus();
  }
};

using StudyFactors =
    TypeList<ResolutionFactor, ClassesFactor, MixFractionFactor, ChannelsFactor, BlocksFactor, EmbeddingFactor,
             SkipMaskFactor, BatchFactor, WeightDecayFactor, EmaFactor, LrFactor, DropoutFactor, StepsFactor,
             LabelsFactor>;

// Sets `factor` to `value` in `c`, then validates the whole configuration.
inline absl::Status ApplyFactor(EmmStudyConfig& c, const std::string& factor, const std::string& value) {
  absl::Status s = VisitByName<StudyFactors>(factor, "factor", [&](auto f) -> absl::Status {
    absl::Status applied = decltype(f)::type::Apply(c, value);
    if (applied.ok()) return applied;
    return absl::InvalidArgumentError(absl::StrCat(factor, "=", value, ": ", applied.message()));
  });
  if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat("--vary: ", s.message()));
  return ValidateEmmStudyConfig(c);
}

// The factors and their values, for --help.
inline std::string FactorHelp() {
  std::vector<std::string> parts;
  ForEachType<StudyFactors>([&](auto f) {
    using F = typename decltype(f)::type;
    parts.push_back(absl::StrCat(F::kName, " (", F::kValues, ")"));
  });
  return absl::StrJoin(parts, ", ");
}

// One study of a factor study.
struct FactorStudy {
  std::string value;  // "" for a single study
  std::string dir;
  EmmStudyConfig config;
};

// "FACTOR=v1,v2,..." → one study per value in OUT/FACTOR=VALUE ("" → the single study in OUT).
inline absl::StatusOr<std::vector<FactorStudy>> PlanFactorStudies(const std::string& out, const EmmStudyConfig& base,
                                                                  const std::string& vary, std::string* factor) {
  factor->clear();
  if (vary.empty()) return std::vector<FactorStudy>{{"", out, base}};
  const size_t eq = vary.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == vary.size()) {
    return absl::InvalidArgumentError(absl::StrCat("--vary: '", vary, "': expected FACTOR=v1,v2,..."));
  }
  *factor = vary.substr(0, eq);
  std::vector<FactorStudy> studies;
  for (absl::string_view v : absl::StrSplit(vary.substr(eq + 1), ',', absl::SkipEmpty())) {
    FactorStudy s{std::string(v), absl::StrCat(out, "/", *factor, "=", v), base};
    if (absl::Status st = ApplyFactor(s.config, *factor, s.value); !st.ok()) return st;
    studies.push_back(std::move(s));
  }
  return studies;
}

}  // namespace study
}  // namespace diffmem

#endif  // DIFFMEM_STUDY_FACTORS_H_
