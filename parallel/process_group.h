// ProcessGroup: the ranks of a data-parallel job joined through LibTorch's
// c10d — a TCPStore served by rank 0 at MASTER_ADDR:MASTER_PORT for the
// rendezvous, then ProcessGroupGloo (CPU tensors; any LibTorch built with
// Gloo, as Debian's 1.13 and PyPI's 2.x are) or, on CUDA builds whose
// LibTorch has it (USE_C10D_NCCL), ProcessGroupNCCL for CUDA tensors.
// Without NCCL, CUDA tensors are summed through Gloo via host copies.
//
// Failure is bounded: every collective and the rendezvous wait at most
// `timeout`; a rank that exits makes the others' next collective fail at
// once (the peer's socket closes), and a rank that hangs makes it fail when
// the timeout expires. Either way all_reduce_sum returns an error naming the
// rank, never blocks forever.
//
// Example:
//   absl::StatusOr<std::optional<LaunchEnv>> env = ReadLaunchEnv(ProcessEnviron);
//   absl::StatusOr<std::shared_ptr<ProcessGroup>> g =
//       ProcessGroup::Connect(**env, torch::kCPU, std::chrono::seconds(1800));
//   Replicas r = (*g)->replicas();     // hand to the Trainer
//   std::vector<torch::Tensor> t = {grad};
//   absl::Status s = r.all_reduce_sum(t);

#ifndef DIFFMEM_PARALLEL_PROCESS_GROUP_H_
#define DIFFMEM_PARALLEL_PROCESS_GROUP_H_

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/types.h>
#if defined(USE_C10D_NCCL)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <chrono>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "parallel/launch_env.h"
#include "parallel/replicas.h"

#if !defined(USE_C10D_GLOO)
#error "parallel/process_group.h needs USE_C10D_GLOO (set by //parallel:process_group)"
#endif

namespace diffmem {
namespace parallel {

class ProcessGroup : public std::enable_shared_from_this<ProcessGroup> {
 public:
  // Joins the job `env` describes (blocks until every rank has arrived or
  // `timeout` passes). `device`: where the tensors to reduce live.
  static absl::StatusOr<std::shared_ptr<ProcessGroup>> Connect(const LaunchEnv& env, torch::Device device,
                                                               std::chrono::milliseconds timeout) {
    std::shared_ptr<ProcessGroup> g(new ProcessGroup(env, timeout));
    const std::string where =
        absl::StrCat("rank ", env.rank, " of ", env.world_size, " (", env.source, " environment), rendezvous at ",
                     env.master_addr, ":", env.master_port);
    try {
      c10d::TCPStoreOptions o;
      o.port = static_cast<uint16_t>(env.master_port);
      o.isServer = env.rank == 0;
      o.numWorkers = env.world_size;
      o.waitWorkers = true;
      o.timeout = timeout;
      g->store_ = c10::make_intrusive<c10d::TCPStore>(env.master_addr, o);
      auto options = c10d::ProcessGroupGloo::Options::create(timeout);
      options->devices.push_back(GlooDevice(env.master_addr));
      g->gloo_ = c10::make_intrusive<c10d::ProcessGroupGloo>(g->store_, env.rank, env.world_size, options);
#if defined(USE_C10D_NCCL)
      if (device.is_cuda()) {
        auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
        nccl_options->timeout = timeout;
        auto prefixed = c10::make_intrusive<c10d::PrefixStore>("nccl/", g->store_);
        g->nccl_ = c10::make_intrusive<c10d::ProcessGroupNCCL>(prefixed, env.rank, env.world_size, nccl_options);
      }
#endif
    } catch (const std::exception& e) {
      return absl::UnavailableError(absl::StrCat(where, ": cannot join the process group: ", FirstLine(e.what())));
    }
    (void)device;
    return g;
  }

  int rank() const { return env_.rank; }
  int world_size() const { return env_.world_size; }
  // "gloo" or "nccl": what reduces tensors on `device`.
  std::string backend(torch::Device device) const {
#if defined(USE_C10D_NCCL)
    if (device.is_cuda() && nccl_) return "nccl";
#endif
    (void)device;
    return "gloo";
  }

  // Sums each tensor in place over all ranks, one collective per tensor.
  absl::Status AllReduceSum(std::vector<torch::Tensor>& tensors) {
    try {
      for (torch::Tensor& t : tensors) {
        if (!t.is_contiguous()) return absl::InvalidArgumentError("all-reduce: tensors must be contiguous");
        std::vector<at::Tensor> one = {t};
#if defined(USE_C10D_NCCL)
        if (t.is_cuda() && nccl_) {
          nccl_->allreduce(one)->wait();
          continue;
        }
#endif
        if (!t.device().is_cpu()) one = {t.cpu()};  // CUDA without NCCL: through the host
        gloo_->allreduce(one)->wait();
        if (!t.device().is_cpu()) t.copy_(one[0]);
      }
    } catch (const std::exception& e) {
      return absl::AbortedError(absl::StrCat(
          "rank ", env_.rank, " of ", env_.world_size, ": all-reduce failed (another rank exited, or none answered within ",
          std::chrono::duration_cast<std::chrono::seconds>(timeout_).count(), " s): ", FirstLine(e.what())));
    }
    return absl::OkStatus();
  }

  // This group as the Trainer sees it (keeps the group alive).
  Replicas replicas() {
    std::shared_ptr<ProcessGroup> self = shared_from_this();
    Replicas r;
    r.rank = env_.rank;
    r.world_size = env_.world_size;
    r.all_reduce_sum = [self](std::vector<torch::Tensor>& t) { return self->AllReduceSum(t); };
    return r;
  }

 private:
  ProcessGroup(LaunchEnv env, std::chrono::milliseconds timeout) : env_(std::move(env)), timeout_(timeout) {}

  // Gloo's transport binds to an address peers can reach: the loopback for a
  // local job, GLOO_SOCKET_IFNAME's interface when set (as torch.distributed),
  // else the address this host's name resolves to.
  static std::shared_ptr<::gloo::transport::Device> GlooDevice(const std::string& master_addr) {
    if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname != nullptr && *ifname != '\0') {
      return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
    }
    if (absl::StartsWith(master_addr, "127.") || master_addr == "localhost") {
      return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
    }
    return c10d::ProcessGroupGloo::createDefaultDevice();
  }

  // c10::Error messages carry a C++ stack trace after the first line.
  static std::string FirstLine(const std::string& what) { return what.substr(0, what.find('\n')); }

  LaunchEnv env_;
  std::chrono::milliseconds timeout_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo_;
#if defined(USE_C10D_NCCL)
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl_;
#endif
};

}  // namespace parallel
}  // namespace diffmem

#endif  // DIFFMEM_PARALLEL_PROCESS_GROUP_H_
