// Data-parallel training speed on this machine's CPU: steps per second of
// the study's small8 network (0.72M parameters, global batch 64) trained by
// 1 process with all cores, and by 2 ranks over c10d/Gloo on the loopback
// with half the cores each, measured in the same iteration; the ratio
// 2 ranks / 1 process is the number to read (on a 2-core machine it shows
// the cost of the all-reduce and the duplicated noise draws, not a speed-up:
// the same cores do the same arithmetic). all_reduce_% is the share of a
// 2-rank step spent in the gradient all-reduce (including waiting for the
// slower rank).
//
//   bazel run -c opt //benchmarks:data_parallel_benchmark
//
// Each measurement launches the ranks as processes of this binary
// (parallel/local_launcher.h) that train 2 warm-up steps, then time
// kTimedSteps steps; rank 0 reports through a file.

#include <benchmark/benchmark.h>

#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "benchmarks/train_step_configs.h"
#include "parallel/launch_env.h"
#include "parallel/local_launcher.h"
#include "parallel/process_group.h"
#include "training/train_network.h"

namespace {

constexpr char kReportVar[] = "DATA_PARALLEL_BENCHMARK_REPORT";
constexpr int kTimedSteps = 20;

using diffmem::benchmarks::BenchTrainer;

// One rank of a measurement (this binary re-executed with torchrun's variables).
int RunRank(const std::string& report) {
  namespace dp = diffmem::parallel;
  absl::StatusOr<std::optional<dp::LaunchEnv>> env = dp::ReadLaunchEnv(dp::ProcessEnviron);
  if (!env.ok() || !env->has_value()) {
    std::fprintf(stderr, "rank: no launch environment\n");
    return 1;
  }
  const dp::LaunchEnv& e = **env;
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  at::set_num_threads(std::max(1, cores / e.world_size));
  dp::Replicas replicas;
  std::shared_ptr<dp::ProcessGroup> group;
  if (e.world_size > 1) {
    absl::StatusOr<std::shared_ptr<dp::ProcessGroup>> g = dp::ProcessGroup::Connect(e, torch::kCPU, std::chrono::seconds(120));
    if (!g.ok()) {
      std::fprintf(stderr, "%s\n", std::string(g.status().message()).c_str());
      return 1;
    }
    group = *g;
    replicas = group->replicas();
  }
  const diffmem::benchmarks::TrainStepConfig c = diffmem::benchmarks::GetTrainStepConfig(0);  // small8
  diffmem::training::TrainOptions t;
  t.batch_size = c.batch;
  t.lr = 1e-3;
  t.steps = 1 << 30;
  t.ema_schedule = diffmem::training::EmaSchedule::kFixed;
  t.ema_beta = 0.999;
  t.device = "cpu";
  const std::string dir = std::filesystem::temp_directory_path().string() + "/data_parallel_benchmark_" +
                          std::to_string(getpid());
  std::filesystem::remove_all(dir);
  torch::manual_seed(0);
  diffmem::networks::UNet<diffmem::networks::DdpmppSpec> net(c.unet);
  BenchTrainer trainer(net, diffmem::diffusion::EdmPreconditioner{}, diffmem::benchmarks::RandomImages(c.unet, 256), t,
                       dir);
  trainer.set_replicas(replicas);
  int code = 0;
  if (absl::Status s = trainer.Start(false); !s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    code = 1;
  }
  for (int i = 0; code == 0 && i < 2; ++i) code = trainer.Step().ok() ? 0 : 1;  // warm-up
  diffmem::training::StepTimes times;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; code == 0 && i < kTimedSteps; ++i) code = trainer.Step(&times).ok() ? 0 : 1;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::filesystem::remove_all(dir);
  if (code == 0 && e.rank == 0) {
    std::ofstream out(report);
    out << seconds << " " << times.all_reduce.wall_s << "\n";
  }
  return code;
}

// Steps per second and the all-reduce's share of the step for `ranks` ranks.
bool Measure(int ranks, double* steps_per_s, double* all_reduce_share) {
  const std::string report = std::filesystem::temp_directory_path().string() + "/data_parallel_benchmark_report_" +
                             std::to_string(getpid());
  std::filesystem::remove(report);
  absl::StatusOr<std::vector<std::string>> self = diffmem::parallel::OwnCommandLine();
  if (!self.ok()) return false;
  setenv(kReportVar, report.c_str(), 1);
  absl::StatusOr<int> code = diffmem::parallel::LaunchLocalRanks(*self, ranks, std::chrono::seconds(10));
  unsetenv(kReportVar);
  if (!code.ok() || *code != 0) return false;
  std::ifstream in(report);
  double seconds = 0, all_reduce = 0;
  if (!(in >> seconds >> all_reduce) || seconds <= 0) return false;
  *steps_per_s = kTimedSteps / seconds;
  *all_reduce_share = all_reduce / seconds;
  return true;
}

void BM_DataParallelSteps(benchmark::State& state) {
  double one = 0, two = 0, share = 0, unused = 0, total_s = 0;
  for (auto _ : state) {
    double s1 = 0, s2 = 0, sh = 0;
    if (!Measure(1, &s1, &unused) || !Measure(2, &s2, &sh)) {
      state.SkipWithError("a rank failed");
      return;
    }
    one += s1;
    two += s2;
    share += sh;
    total_s += kTimedSteps / s1 + kTimedSteps / s2;
    state.SetIterationTime(kTimedSteps / s1 + kTimedSteps / s2);
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["steps/s_1proc"] = one / n;
  state.counters["steps/s_2ranks"] = two / n;
  state.counters["ratio_2ranks/1proc"] = two / one;
  state.counters["all_reduce_%"] = 100 * share / n;
  state.counters["cores"] = std::thread::hardware_concurrency();
}
BENCHMARK(BM_DataParallelSteps)->Iterations(3)->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  if (const char* report = std::getenv(kReportVar)) return RunRank(report);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
