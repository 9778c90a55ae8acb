// How the EMA decay β of a training step is chosen (Ema<Net>::Update then
// blends p_ema ← β·p_ema + (1 − β)·p):
//   fixed       β per step, as given
//   halflife    EDM's: β = 0.5^(batch / h), h = min(halflife_kimg·1000,
//               rampup_ratio·cur_nimg) images (Karras et al. 2022, training loop)
//   data_ratio  the paper authors' default ("compensate for the data ratio"):
//               h(N) = halflife_kimg·1000·N/50 000 images, ramped as
//               min(h(N), rampup_ratio·cur_nimg), and
//               β = 0.5^(512 / h / (50 000 / N)) — after the ramp-up the same
//               β = 0.5^(512/500 000) ≈ 0.99929 per step for every N and batch
//               size (512 is their reference batch, not the batch)
// cur_nimg counts the images seen before the step, so the first update copies
// the network when the ramp-up is on.
//
// Example:
//   double b = diffmem::training::DataRatioBeta(/*n_train=*/1000, /*cur_nimg=*/10'000'000, {});  // ≈ 0.99929

#ifndef DIFFMEM_TRAINING_EMA_SCHEDULE_H_
#define DIFFMEM_TRAINING_EMA_SCHEDULE_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>

#include "util/enum_names.h"

namespace diffmem {
namespace training {

enum class EmaSchedule { kFixed, kHalfLife, kDataRatio };

}  // namespace training

template <>
struct EnumNames<training::EmaSchedule> {
  static constexpr std::pair<training::EmaSchedule, const char*> kNames[] = {
      {training::EmaSchedule::kFixed, "fixed"},
      {training::EmaSchedule::kHalfLife, "halflife"},
      {training::EmaSchedule::kDataRatio, "data_ratio"}};
};

namespace training {

// EDM's defaults (train.py: --ema 0.5 Mimg, --ema_rampup 0.05).
struct EmaHalfLife {
  double halflife_kimg = 500;
  double rampup_ratio = 0.05;  // ≤ 0: no ramp-up
};

// β for one step of `batch_size` images after `cur_nimg` images.
inline double HalfLifeBeta(int64_t batch_size, int64_t cur_nimg, const EmaHalfLife& h) {
  double halflife_nimg = h.halflife_kimg * 1000;
  if (h.rampup_ratio > 0) halflife_nimg = std::min(halflife_nimg, static_cast<double>(cur_nimg) * h.rampup_ratio);
  return std::pow(0.5, static_cast<double>(batch_size) / std::max(halflife_nimg, 1e-8));
}

// The data-ratio schedule's settings (the authors' CIFAR-10 values).
struct EmaDataRatio {
  double halflife_kimg = 500;      // at the reference training-set size
  double rampup_ratio = 0.05;      // ≤ 0: no ramp-up
  double reference_n = 50000;      // CIFAR-10's training-set size
  double reference_batch = 512;    // the authors' batch size
};

// β of one step after `cur_nimg` images, for a training set of `n_train` images.
inline double DataRatioBeta(int64_t n_train, int64_t cur_nimg, const EmaDataRatio& d) {
  const double n = static_cast<double>(n_train);
  double halflife = d.halflife_kimg * 1000 * n / d.reference_n;
  if (d.rampup_ratio > 0) halflife = std::min(halflife, static_cast<double>(cur_nimg) * d.rampup_ratio);
  return std::pow(0.5, d.reference_batch / std::max(halflife, 1e-8) / (d.reference_n / n));
}

}  // namespace training
}  // namespace diffmem

#endif  // DIFFMEM_TRAINING_EMA_SCHEDULE_H_
