#include "tools/data_parallel.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "parallel/launch_env.h"
#include "parallel/local_launcher.h"
#include "parallel/process_group.h"
#include "tools/tool_main.h"
#include "training/train_options.h"
#include "util/interrupt.h"

ABSL_FLAG(int, nproc, 1,
          "data-parallel ranks to start on this machine (re-executes this binary with torchrun's variables; "
          "estimate_emm: the ranks of each of its runs, --plan's too); under a launcher that sets them (torchrun, "
          "srun) WORLD_SIZE / SLURM_STEP_NUM_TASKS count instead");
ABSL_FLAG(int, dist_timeout, 1800,
          "data parallel: seconds a rank waits for the others (rendezvous, every all-reduce, rank 0's probes) "
          "before failing; a rank that exits fails the others at once");

namespace diffmem {
namespace tools {

absl::Status RunLocalRanks(const std::vector<std::string>& argv, int nproc) {
  absl::StatusOr<int> code = parallel::LaunchLocalRanks(argv, nproc, std::chrono::seconds(10));
  if (!code.ok()) return code.status();
  if (*code != 0) return absl::AbortedError(absl::StrCat("--nproc=", nproc, ": a rank failed (exit status ", *code, ")"));
  return absl::OkStatus();
}

absl::Status CheckDataParallelFlags(int64_t global_batch) {
  const int nproc = absl::GetFlag(FLAGS_nproc);
  if (absl::Status s = CheckFlag(nproc >= 1, "nproc", absl::StrCat("must be at least 1, got ", nproc)); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckFlag(absl::GetFlag(FLAGS_dist_timeout) > 0, "dist_timeout",
                                 absl::StrCat("must be positive, got ", absl::GetFlag(FLAGS_dist_timeout)));
      !s.ok()) {
    return s;
  }
  // A batch the ranks cannot share is refused before any rank starts.
  return nproc > 1 ? parallel::CheckBatchSplits(nproc, global_batch) : absl::OkStatus();
}

absl::StatusOr<DataParallelJob> JoinDataParallelJob(const std::string& tool, const std::string& device,
                                                    int64_t global_batch) {
  absl::StatusOr<std::optional<parallel::LaunchEnv>> env = parallel::ReadLaunchEnv(parallel::ProcessEnviron);
  if (!env.ok()) return env.status();
  const int nproc = absl::GetFlag(FLAGS_nproc);
  DataParallelJob job;
  if (absl::Status s = CheckDataParallelFlags(global_batch); !s.ok()) return s;
  if (!env->has_value() && nproc > 1) {
    absl::StatusOr<std::vector<std::string>> self = parallel::OwnCommandLine();
    if (!self.ok()) return self.status();
    if (absl::Status s = RunLocalRanks(*self, nproc); !s.ok()) return s;
    job.launched = true;
    return job;
  }
  if (!env->has_value() || (*env)->world_size == 1) return job;
  const parallel::LaunchEnv& e = **env;
  if (nproc > 1 && nproc != e.world_size) {
    return CheckFlag(false, "nproc",
                     absl::StrCat(nproc, " ranks asked, but the ", e.source, " environment has ", e.world_size));
  }
  // Each rank's cuda:0 is its own GPU (before LibTorch touches CUDA).
  if (device != "cpu") {
    absl::StatusOr<std::string> gpu =
        parallel::VisibleDeviceForRank(parallel::ProcessEnviron("CUDA_VISIBLE_DEVICES"), e.local_rank);
    if (!gpu.ok()) return gpu.status();
    setenv("CUDA_VISIBLE_DEVICES", gpu->c_str(), 1);
  }
  absl::StatusOr<torch::Device> dev = training::ResolveDevice(device);
  if (!dev.ok()) return dev.status();
  absl::StatusOr<std::shared_ptr<parallel::ProcessGroup>> group =
      parallel::ProcessGroup::Connect(e, *dev, std::chrono::seconds(absl::GetFlag(FLAGS_dist_timeout)));
  if (!group.ok()) return group.status();
  job.replicas = (*group)->replicas();
  if (absl::Status s = parallel::CheckGlobalBatch(job.replicas, global_batch); !s.ok()) return s;
  if (e.rank == 0) {
    std::fprintf(stderr, "%s: data parallel, %d ranks (%s environment, %s), global batch %lld = %d x %lld\n",
                 tool.c_str(), e.world_size, e.source.c_str(), (*group)->backend(*dev).c_str(),
                 static_cast<long long>(global_batch), e.world_size, static_cast<long long>(global_batch / e.world_size));
  }
  return job;
}

absl::Status WithRank(const parallel::Replicas& replicas, const absl::Status& status) {
  if (status.ok() || !replicas.distributed() || absl::StartsWith(status.message(), "rank ")) return status;
  return util::AnnotateStatus(status, absl::StrCat("rank ", replicas.rank, " of ", replicas.world_size, ": "));
}

}  // namespace tools
}  // namespace diffmem
