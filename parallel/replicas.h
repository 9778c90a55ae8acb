// Replicas: how a training loop sees data parallelism, without c10d — its
// rank, the world size, and a sum over ranks (parallel/process_group.h makes
// one from a c10d process group; tests can make one from anything). Every
// rank holds the same model; each takes its slice of every global batch
// (GlobalBatchSlice) and the gradients are averaged over ranks before the
// optimizer step, so W ranks × B/W images step like one process × B up to
// the order of float additions. training::Trainer's use:
// - σ and the noise of image i depend on i's place in the global batch, not
//   on the rank: every rank draws the whole batch's σ and noise from the
//   shared seeded generator and keeps its rows (cost: the global batch's
//   noise drawn on every rank, small next to the forward and backward).
// - The batch loss (divergence check, logs) and the flat gradient are summed
//   and divided by the world size before clipping and the optimizer step.
// - Dropout masks come from each rank's own generator (seeded alike), so
//   with dropout > 0 they differ from one process's.
// - Rank 0 alone writes the run directory (config, logs, checkpoints,
//   snapshots, result.json) and calls the callbacks; the hook's stop
//   decision reaches every rank.
// - A resume needs the world size recorded in config.json, and the run
//   directory visible to every rank (one machine or a shared file system).
//
// Example:
//   Replicas r = group->replicas();                 // or Replicas() alone: one process
//   if (absl::Status s = CheckGlobalBatch(r, batch); !s.ok()) return s;
//   auto [begin, end] = GlobalBatchSlice(r, batch);  // this rank's rows
//   ... backward ...
//   if (absl::Status s = r.all_reduce_sum(grads); !s.ok()) return s;  // then divide by r.world_size

#ifndef DIFFMEM_PARALLEL_REPLICAS_H_
#define DIFFMEM_PARALLEL_REPLICAS_H_

#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace diffmem {
namespace parallel {

struct Replicas {
  int rank = 0;
  int world_size = 1;
  // Sums each tensor in place over all ranks (one collective per tensor;
  // every rank calls it with tensors of the same shapes, in the same order).
  // Required when world_size > 1; an error (a rank died, a timeout) ends
  // training on every rank.
  std::function<absl::Status(std::vector<torch::Tensor>&)> all_reduce_sum;

  bool distributed() const { return world_size > 1; }
  // Rank 0 alone writes run files, logs and progress.
  bool writes() const { return rank == 0; }
};

// The global batch must split evenly: every rank takes the same number of
// images, so averaging the ranks' gradients is the mean over the batch.
// (Also before a job exists: a launcher checks the batch for the ranks it
// is about to start.)
inline absl::Status CheckBatchSplits(int world_size, int64_t global_batch) {
  if (global_batch % world_size != 0) {
    return absl::InvalidArgumentError(absl::StrCat("--batch=", global_batch, " (the global batch) must be divisible by the ",
                                                   world_size, " data-parallel ranks"));
  }
  return absl::OkStatus();
}

// A job's replicas are valid and share the global batch evenly.
inline absl::Status CheckGlobalBatch(const Replicas& r, int64_t global_batch) {
  if (r.world_size < 1 || r.rank < 0 || r.rank >= r.world_size) {
    return absl::InvalidArgumentError(absl::StrCat("rank ", r.rank, " of world size ", r.world_size, " is invalid"));
  }
  if (r.distributed() && !r.all_reduce_sum) {
    return absl::InvalidArgumentError("data parallel: world size > 1 but no all-reduce was given");
  }
  return CheckBatchSplits(r.world_size, global_batch);
}

// Rows [begin, end) of a global batch that this rank trains on.
inline std::pair<int64_t, int64_t> GlobalBatchSlice(const Replicas& r, int64_t global_batch) {
  const int64_t per_rank = global_batch / r.world_size;
  return {r.rank * per_rank, (r.rank + 1) * per_rank};
}

}  // namespace parallel
}  // namespace diffmem

#endif  // DIFFMEM_PARALLEL_REPLICAS_H_
