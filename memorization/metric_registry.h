// MetricRegistry: the distance metrics a tool or a study offers, as a value.
// A registry type list (memorization::DistanceMetrics, or it with metrics
// appended: util/type_registry.h's Append) becomes the names it offers and
// the memorization ratio under each, so code that is not a template — a
// tool's body, the study's configuration and its runs — reaches every metric
// the binary was built with, the ones a user appended included.
//
// Example:
//   using Metrics = diffmem::Append<diffmem::memorization::DistanceMetrics, MyMetric>;
//   diffmem::memorization::MetricRegistry metrics = diffmem::memorization::MetricRegistryOf<Metrics>();
//   absl::Status known = metrics.Check("my_metric");
//   absl::StatusOr<MemorizationReport> r = metrics.Ratio("my_metric", samples, train, {});

#ifndef DIFFMEM_MEMORIZATION_METRIC_REGISTRY_H_
#define DIFFMEM_MEMORIZATION_METRIC_REGISTRY_H_

#include <torch/types.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "memorization/distance.h"
#include "memorization/memorization_ratio.h"
#include "util/type_registry.h"

namespace diffmem {
namespace memorization {

struct MetricRegistry {
  using RatioFn = std::function<absl::StatusOr<MemorizationReport>(
      const std::string& name, const torch::Tensor& samples, const torch::Tensor& train,
      const MemorizationOptions& options)>;

  std::vector<std::string> names;  // in registry order
  RatioFn ratio;

  // An unknown name is an error listing the valid ones.
  absl::Status Check(const std::string& name) const {
    if (std::find(names.begin(), names.end(), name) != names.end()) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat("unknown metric '", name, "' (expected one of: ", absl::StrJoin(names, ", "), ")"));
  }
  // MemorizationRatio<Metric>(samples, train, options) for the metric `name`.
  absl::StatusOr<MemorizationReport> Ratio(const std::string& name, const torch::Tensor& samples,
                                           const torch::Tensor& train, const MemorizationOptions& options) const {
    if (absl::Status s = Check(name); !s.ok()) return s;
    return ratio(name, samples, train, options);
  }
};

template <class Metrics = DistanceMetrics>
MetricRegistry MetricRegistryOf() {
  MetricRegistry r;
  r.names = RegistryNames<Metrics>();
  r.ratio = [](const std::string& name, const torch::Tensor& samples, const torch::Tensor& train,
               const MemorizationOptions& options) {
    return VisitByName<Metrics>(name, "metric", [&](auto metric) -> absl::StatusOr<MemorizationReport> {
      using Metric = typename decltype(metric)::type;
      static_assert(IsDistanceMetric<Metric>::value, "a registry of metrics holds METRIC types (distance.h)");
      return MemorizationRatio<Metric>(samples, train, options);
    });
  };
  return r;
}

}  // namespace memorization
}  // namespace diffmem

#endif  // DIFFMEM_MEMORIZATION_METRIC_REGISTRY_H_
