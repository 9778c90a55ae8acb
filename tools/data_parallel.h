// The data-parallel flags shared by //tools:train and //tools:estimate_emm
// (--nproc, --dist_timeout) and the one way a tool process takes its place
// in a data-parallel job: under a launcher's environment (torchrun-style
// variables, or an srun step) it joins the job's c10d process group; with
// --nproc=K and no such environment it launches K local ranks of its own
// command line and waits for them; otherwise it trains alone.
//
// Example:
//   absl::StatusOr<DataParallelJob> job = JoinDataParallelJob("train", training.device, training.batch_size);
//   if (!job.ok()) return job.status();
//   if (job->launched) return absl::OkStatus();     // the ranks this process started have finished
//   TrainNetwork(..., job->replicas);                // rank 0 writes; a single process has Replicas()

#ifndef DIFFMEM_TOOLS_DATA_PARALLEL_H_
#define DIFFMEM_TOOLS_DATA_PARALLEL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "parallel/replicas.h"

ABSL_DECLARE_FLAG(int, nproc);
ABSL_DECLARE_FLAG(int, dist_timeout);

namespace diffmem {
namespace tools {

struct DataParallelJob {
  // This process was the --nproc launcher: its ranks ran and all succeeded
  // (a failed rank is an error), so there is nothing left for it to do.
  bool launched = false;
  parallel::Replicas replicas;  // Replicas() for one process; a job's keeps its process group alive
};

// Checks --nproc and --dist_timeout, then launches, joins or stays alone (see
// the file comment). `device`: the training device flag ("cpu", "cuda",
// "cuda:1", "auto"); under a launcher each rank's cuda:0 becomes its own GPU
// (CUDA_VISIBLE_DEVICES) before LibTorch touches CUDA. `global_batch` must
// split evenly among the ranks. Rank 0 prints one line naming the job.
absl::StatusOr<DataParallelJob> JoinDataParallelJob(const std::string& tool, const std::string& device,
                                                    int64_t global_batch);

// --nproc (at least 1), --dist_timeout (positive) and, with --nproc=K > 1,
// that `global_batch` splits evenly among K ranks: what a start checks
// before it writes anything (JoinDataParallelJob checks it again).
absl::Status CheckDataParallelFlags(int64_t global_batch);

// Runs `argv` as --nproc=`nproc` local ranks (a child job), waiting for all;
// an error naming the exit status when a rank failed.
absl::Status RunLocalRanks(const std::vector<std::string>& argv, int nproc);

// "rank R of W: " before a distributed rank's error, once.
absl::Status WithRank(const parallel::Replicas& replicas, const absl::Status& status);

}  // namespace tools
}  // namespace diffmem

#endif  // DIFFMEM_TOOLS_DATA_PARALLEL_H_
