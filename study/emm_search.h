// The search for EMM (effective model memorization): the largest training-set
// size N at which a trained model's memorization ratio stays >= 1 - epsilon
// (paper, Sec. 3: epsilon = 0.1).
//
// The search is a pure policy over the measurements taken so far: geometric
// bracketing of N (N0, N0*g, N0*g^2, ... upwards while the model memorizes;
// downwards from N0 while it does not), then bisection in log N between the
// largest N that memorizes and the smallest larger N that does not, within a
// budget of measurements (training runs). Because the next N is a function of
// the set of measured points only, a study resumes from its finished runs
// without re-measuring anything, and a cluster executes the same sequence.
//
//   EmmSearchOptions      — epsilon, the N range and granularity, growth
//                           factor, bisection precision, run budget, runs per wave
//   EmmMeasurement        — one measured N: ratio and its confidence interval
//   NextEmmRuns(o, done)  — the N values to measure next (empty: finished)
//   SummarizeEmmSearch    — EMM estimate, bracket [N_lo, N_hi], the log-linear
//                           interpolated crossing of 1 - epsilon, and why the
//                           search stopped
//   RunEmmSearch(o, f)    — drives a measurement function to the end
//
// Example:
//   diffmem::study::EmmSearchOptions o;
//   o.n_min = 10; o.n_max = 5120; o.n_start = 40; o.granularity = 10; o.max_runs = 6;
//   absl::StatusOr<EmmEstimate> e = RunEmmSearch(o, [&](int64_t n) -> absl::StatusOr<EmmMeasurement> {
//     return EmmMeasurement{n, TrainAndScore(n), lo, hi};
//   });
//   // e->emm: largest tested N with ratio >= 0.9; e->n_lo/n_hi: the bracket.

#ifndef DIFFMEM_STUDY_EMM_SEARCH_H_
#define DIFFMEM_STUDY_EMM_SEARCH_H_

#include <algorithm>
#include <numeric>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "util/enum_names.h"

namespace diffmem {
namespace study {

struct EmmSearchOptions {
  double epsilon = 0.1;       // a model memorizes at N when its ratio >= 1 - epsilon
  int64_t n_min = 1;          // smallest N the search may try
  int64_t n_max = 1 << 20;    // largest N the search may try
  int64_t n_start = 0;        // first N (0: n_min); a multiple of granularity
  int64_t granularity = 1;    // every N is a multiple (e.g. the class count for balanced subsets)
  double growth = 2.0;        // bracketing factor g > 1
  double precision = 1.1;     // bisection stops once N_hi / N_lo <= precision
  int max_runs = 8;           // budget: measurements in total, including resumed ones
  int parallel = 1;           // N values proposed per wave (a cluster runs them at once)
  // N values measured first, in addition to the search (e.g. n_max, to show
  // the ratio far above EMM); they count against max_runs and, once measured,
  // inform the bracket like any other point.
  std::vector<int64_t> extra_n;

  double memorization_threshold() const { return 1.0 - epsilon; }
  int64_t start() const { return n_start > 0 ? n_start : n_min; }
};

struct EmmMeasurement {
  int64_t n = 0;
  double ratio = 0.0;    // memorized fraction of generated samples
  double ci_low = 0.0;   // confidence interval of the ratio
  double ci_high = 1.0;
};

enum class EmmSearchStatus {
  kSearching,            // more runs are needed (and the budget allows them)
  kConverged,            // bracketed, and N_hi / N_lo <= precision or no N fits between
  kMemorizesEverywhere,  // memorizes at n_max: EMM >= n_max
  kMemorizesNowhere,     // does not memorize at n_min: EMM < n_min
  kBudgetExhausted,      // max_runs measured before the search finished
};

}  // namespace study

template <>
struct EnumNames<study::EmmSearchStatus> {
  static constexpr std::pair<study::EmmSearchStatus, const char*> kNames[] = {
      {study::EmmSearchStatus::kSearching, "searching"},
      {study::EmmSearchStatus::kConverged, "converged"},
      {study::EmmSearchStatus::kMemorizesEverywhere, "memorizes_everywhere"},
      {study::EmmSearchStatus::kMemorizesNowhere, "memorizes_nowhere"},
      {study::EmmSearchStatus::kBudgetExhausted, "budget_exhausted"}};
};

namespace study {

struct EmmEstimate {
  EmmSearchStatus status = EmmSearchStatus::kSearching;
  std::optional<int64_t> emm;           // largest tested N with ratio >= 1 - epsilon
  std::optional<int64_t> n_lo, n_hi;    // bracket: n_lo = emm, n_hi = smallest tested N > emm
  std::optional<double> interpolated;   // N where the log-linear interpolation crosses 1 - epsilon
  std::vector<EmmMeasurement> measurements;  // distinct N, ascending
};

inline absl::Status ValidateEmmSearchOptions(const EmmSearchOptions& o) {
  auto bad = [](const std::string& what) { return absl::InvalidArgumentError(absl::StrCat("EMM search: ", what)); };
  if (!(o.epsilon > 0.0 && o.epsilon < 1.0)) return bad(absl::StrCat("epsilon must be in (0, 1), got ", o.epsilon));
  if (o.granularity < 1) return bad(absl::StrCat("granularity must be >= 1, got ", o.granularity));
  if (o.n_min < 1 || o.n_min % o.granularity != 0) {
    return bad(absl::StrCat("n_min must be a positive multiple of ", o.granularity, ", got ", o.n_min));
  }
  if (o.n_max < o.n_min || o.n_max % o.granularity != 0) {
    return bad(absl::StrCat("n_max must be a multiple of ", o.granularity, " >= n_min, got ", o.n_max));
  }
  const int64_t s = o.start();
  if (s < o.n_min || s > o.n_max || s % o.granularity != 0) {
    return bad(absl::StrCat("n_start must be a multiple of ", o.granularity, " in [", o.n_min, ", ", o.n_max,
                            "], got ", s));
  }
  if (!(o.growth > 1.0)) return bad(absl::StrCat("growth must be > 1, got ", o.growth));
  if (!(o.precision > 1.0)) return bad(absl::StrCat("precision must be > 1, got ", o.precision));
  if (o.max_runs < 1) return bad(absl::StrCat("max_runs must be >= 1, got ", o.max_runs));
  if (o.parallel < 1) return bad(absl::StrCat("parallel must be >= 1, got ", o.parallel));
  for (int64_t n : o.extra_n) {
    if (n < o.n_min || n > o.n_max) {
      return bad(absl::StrCat("extra_n ", n, " is outside [n_min, n_max] = [", o.n_min, ", ", o.n_max, "]"));
    }
  }
  return absl::OkStatus();
}

namespace emm_internal {

// Distinct measurements by N, ascending (the first of duplicates wins, so
// resuming never lets a re-measurement change history).
inline std::vector<EmmMeasurement> Distinct(const std::vector<EmmMeasurement>& done) {
  std::map<int64_t, EmmMeasurement> by_n;
  for (const EmmMeasurement& m : done) by_n.emplace(m.n, m);
  std::vector<EmmMeasurement> out;
  out.reserve(by_n.size());
  for (const auto& [n, m] : by_n) out.push_back(m);
  return out;
}

// Nearest multiple of the granularity, inside [n_min, n_max].
inline int64_t Snap(const EmmSearchOptions& o, double n) {
  const double q = static_cast<double>(o.granularity);
  const int64_t k = static_cast<int64_t>(std::llround(n / q));
  return std::clamp<int64_t>(k * o.granularity, o.n_min, o.n_max);
}

struct Bracket {
  std::optional<size_t> lo;  // index of the largest memorizing N
  std::optional<size_t> hi;  // index of the smallest tested N above it
};

inline Bracket FindBracket(const EmmSearchOptions& o, const std::vector<EmmMeasurement>& ms) {
  Bracket b;
  for (size_t i = 0; i < ms.size(); ++i) {
    if (ms[i].ratio >= o.memorization_threshold()) b.lo = i;
  }
  if (b.lo && *b.lo + 1 < ms.size()) b.hi = *b.lo + 1;
  if (!b.lo && !ms.empty()) b.hi = 0;  // nothing memorizes: the smallest tested N bounds EMM from above
  return b;
}

// Up to `count` N values strictly inside (lo, hi) splitting it into equal
// parts in log N, snapped to the granularity; empty when none fits.
inline std::vector<int64_t> SplitLog(const EmmSearchOptions& o, int64_t lo, int64_t hi, int count) {
  std::vector<int64_t> out;
  if (lo + o.granularity >= hi) return out;
  const double a = std::log(static_cast<double>(lo)), b = std::log(static_cast<double>(hi));
  for (int k = 1; k <= count; ++k) {
    int64_t n = Snap(o, std::exp(a + (b - a) * k / (count + 1)));
    n = std::clamp<int64_t>(n, lo + o.granularity, hi - o.granularity);
    if (out.empty() || out.back() != n) out.push_back(n);
  }
  return out;
}

// The status when no more runs are wanted, or kSearching.
inline EmmSearchStatus Finished(const EmmSearchOptions& o, const std::vector<EmmMeasurement>& ms, const Bracket& b) {
  if (b.lo) {
    const int64_t lo = ms[*b.lo].n;
    if (!b.hi) return lo >= o.n_max ? EmmSearchStatus::kMemorizesEverywhere : EmmSearchStatus::kSearching;
    const int64_t hi = ms[*b.hi].n;
    if (static_cast<double>(hi) <= o.precision * static_cast<double>(lo) || SplitLog(o, lo, hi, 1).empty()) {
      return EmmSearchStatus::kConverged;
    }
    return EmmSearchStatus::kSearching;
  }
  if (!ms.empty() && ms.front().n <= o.n_min) return EmmSearchStatus::kMemorizesNowhere;
  return EmmSearchStatus::kSearching;
}

}  // namespace emm_internal

// The N values to measure next, at most `o.parallel` (and never beyond the
// budget), none already measured; empty when the search has finished.
inline std::vector<int64_t> NextEmmRuns(const EmmSearchOptions& o, const std::vector<EmmMeasurement>& done) {
  using namespace emm_internal;
  const std::vector<EmmMeasurement> ms = Distinct(done);
  const int left = o.max_runs - static_cast<int>(ms.size());
  if (left <= 0) return {};
  const int want = std::min(left, o.parallel);
  const Bracket b = FindBracket(o, ms);
  if (Finished(o, ms, b) != EmmSearchStatus::kSearching) return {};

  std::vector<int64_t> next;
  auto add = [&](int64_t n) {
    if (static_cast<int>(next.size()) >= want) return;
    for (const EmmMeasurement& m : ms) {
      if (m.n == n) return;
    }
    if (std::find(next.begin(), next.end(), n) == next.end()) next.push_back(n);
  };
  // The extra points first, then N0: the search proper starts from N0 whatever the extras showed.
  auto measured = [&](int64_t n) {
    return std::any_of(ms.begin(), ms.end(), [&](const EmmMeasurement& m) { return m.n == n; });
  };
  for (int64_t n : o.extra_n) add(n);
  if (!next.empty()) return next;
  if (!measured(o.start()) && std::all_of(o.extra_n.begin(), o.extra_n.end(), measured) &&
      static_cast<int>(ms.size()) == static_cast<int>(std::count_if(o.extra_n.begin(), o.extra_n.end(), measured))) {
    // Only extras so far: begin the search at N0 as if nothing had been measured.
    double n = static_cast<double>(o.start());
    for (int k = 0; k < want; ++k, n *= o.growth) add(Snap(o, n));
    if (!next.empty()) return next;
  }
  if (ms.empty()) {
    // Bracketing upwards from N0; a wave of `parallel` runs covers N0 .. N0*g^(p-1).
    double n = static_cast<double>(o.start());
    for (int k = 0; k < want; ++k, n *= o.growth) add(Snap(o, n));
  } else if (!b.lo) {
    // Nothing memorizes yet: bracket downwards from the smallest tested N.
    double n = static_cast<double>(ms.front().n);
    for (int k = 0; k < want; ++k) {
      n /= o.growth;
      int64_t s = Snap(o, n);
      if (s >= ms.front().n) s = std::max(o.n_min, ms.front().n - o.granularity);
      add(s);
      if (s <= o.n_min) break;
    }
  } else if (!b.hi) {
    // Memorizes at the largest tested N: bracket upwards.
    double n = static_cast<double>(ms[*b.lo].n);
    for (int k = 0; k < want; ++k) {
      n *= o.growth;
      int64_t s = Snap(o, n);
      if (s <= ms[*b.lo].n) s = std::min(o.n_max, ms[*b.lo].n + o.granularity);
      add(s);
      if (s >= o.n_max) break;
    }
  } else {
    for (int64_t n : SplitLog(o, ms[*b.lo].n, ms[*b.hi].n, want)) add(n);
  }
  return next;
}

// Where the search stands after `done`: status, EMM, bracket, interpolation.
inline EmmEstimate SummarizeEmmSearch(const EmmSearchOptions& o, const std::vector<EmmMeasurement>& done) {
  using namespace emm_internal;
  EmmEstimate e;
  e.measurements = Distinct(done);
  const std::vector<EmmMeasurement>& ms = e.measurements;
  const Bracket b = FindBracket(o, ms);
  e.status = Finished(o, ms, b);
  if (e.status == EmmSearchStatus::kSearching && static_cast<int>(ms.size()) >= o.max_runs) {
    e.status = EmmSearchStatus::kBudgetExhausted;
  }
  if (b.lo) e.emm = e.n_lo = ms[*b.lo].n;
  if (b.hi) e.n_hi = ms[*b.hi].n;
  if (b.lo && b.hi) {
    // Linear in log N between (N_lo, r_lo >= t) and (N_hi, r_hi < t).
    const EmmMeasurement& lo = ms[*b.lo];
    const EmmMeasurement& hi = ms[*b.hi];
    const double t = o.memorization_threshold();
    const double f = (lo.ratio - t) / (lo.ratio - hi.ratio);
    const double la = std::log(static_cast<double>(lo.n)), lb = std::log(static_cast<double>(hi.n));
    e.interpolated = std::exp(la + f * (lb - la));
  }
  return e;
}

// Measures until the search finishes, starting from `done` (measured points
// are never measured again). `measure(n)` returns absl::StatusOr<EmmMeasurement>;
// its first error stops the search and is returned.
template <typename MeasureFn>
absl::StatusOr<EmmEstimate> RunEmmSearch(const EmmSearchOptions& o, MeasureFn&& measure,
                                         std::vector<EmmMeasurement> done = {}) {
  if (absl::Status s = ValidateEmmSearchOptions(o); !s.ok()) return s;
  for (std::vector<int64_t> wave = NextEmmRuns(o, done); !wave.empty(); wave = NextEmmRuns(o, done)) {
    for (int64_t n : wave) {
      absl::StatusOr<EmmMeasurement> m = measure(n);
      if (!m.ok()) return m.status();
      if (m->n != n) {
        return absl::InternalError(absl::StrCat("EMM search: asked to measure N=", n, ", got N=", m->n));
      }
      done.push_back(*m);
    }
  }
  return SummarizeEmmSearch(o, done);
}

}  // namespace study
}  // namespace diffmem

#endif  // DIFFMEM_STUDY_EMM_SEARCH_H_
