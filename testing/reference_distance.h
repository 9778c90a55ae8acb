// Brute-force float64 distances: the independent truth the metric and
// nearest-neighbour tests compare diffmem's GEMM-based kernels against.
//
// Example:
//   double d = diffmem::reference::ReferenceDistance("l2", a.data(), b.data(), a.size());

#ifndef DIFFMEM_TESTING_REFERENCE_DISTANCE_H_
#define DIFFMEM_TESTING_REFERENCE_DISTANCE_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

namespace diffmem {
namespace reference {

// `metric` is a metric's kName: l2, sql2, l1, linf or cosine (1 − cos; 1 for a zero vector).
inline double ReferenceDistance(const std::string& metric, const double* a, const double* b, int64_t dim) {
  double sum = 0, max_abs = 0, dot = 0, na = 0, nb = 0;
  for (int64_t i = 0; i < dim; ++i) {
    const double d = a[i] - b[i];
    sum += metric == "l1" ? std::abs(d) : d * d;
    max_abs = std::max(max_abs, std::abs(d));
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  if (metric == "l2") return std::sqrt(sum);
  if (metric == "sql2" || metric == "l1") return sum;
  if (metric == "linf") return max_abs;
  return (na > 0 && nb > 0) ? 1 - dot / std::sqrt(na * nb) : 1.0;  // cosine
}

}  // namespace reference
}  // namespace diffmem

#endif  // DIFFMEM_TESTING_REFERENCE_DISTANCE_H_
