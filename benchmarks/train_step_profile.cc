// Where the time of a Trainer step goes, by LibTorch's own autograd profiler
// (torch::autograd::profiler, the legacy CPU profiler of LibTorch 1.13):
// a few steps of one train-step benchmark config
// (benchmarks/train_step_configs.h) run under it, and the ops are listed by
// self time (time in the op minus the ops it called), with their input
// shapes. The last lines compare the time inside LibTorch ops with the wall
// time of the steps: the rest is what runs outside any op (diffmem's code,
// the dispatcher between ops).
//
//   bazel run -c opt //benchmarks:train_step_profile -- cifar32 3       # config, steps
//   OMP_NUM_THREADS=2 bazel-bin/benchmarks/train_step_profile small16 20 --by_shape --rows=100

#include <torch/csrc/autograd/profiler_legacy.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "benchmarks/train_step_configs.h"

namespace {

namespace profiler = torch::autograd::profiler;

struct OpTime {
  int64_t calls = 0;
  double total_us = 0;
  double self_us = 0;
};

std::string Shapes(const std::vector<std::vector<int64_t>>& shapes) {
  std::ostringstream out;
  for (size_t i = 0; i < shapes.size(); ++i) {
    out << (i ? " " : "") << "[";
    for (size_t j = 0; j < shapes[i].size(); ++j) out << (j ? "," : "") << shapes[i][j];
    out << "]";
  }
  return out.str();
}

// Pairs push/pop events per thread; self time = own time − children's.
std::map<std::string, OpTime> Aggregate(const profiler::thread_event_lists& lists, bool by_shape, double* top_us) {
  std::map<std::string, OpTime> ops;
  *top_us = 0;
  for (const auto& events : lists) {
    struct Open {
      const profiler::LegacyEvent* event;
      double children_us;
    };
    std::vector<Open> stack;
    for (const profiler::LegacyEvent& e : events) {
      if (e.kind() == profiler::EventKind::PushRange) {
        stack.push_back({&e, 0});
      } else if (e.kind() == profiler::EventKind::PopRange && !stack.empty()) {
        const Open open = stack.back();
        stack.pop_back();
        const double us = open.event->cpuElapsedUs(e);
        std::string key = open.event->name();
        if (by_shape) key += "  " + Shapes(open.event->shapes());
        OpTime& t = ops[key];
        ++t.calls;
        t.total_us += us;
        t.self_us += us - open.children_us;
        if (stack.empty()) {
          *top_us += us;
        } else {
          stack.back().children_us += us;
        }
      }
    }
  }
  return ops;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string config_name = argc > 1 ? argv[1] : "cifar32";
  const int steps = argc > 2 ? std::atoi(argv[2]) : 3;
  bool by_shape = false, bad_flag = false;
  size_t rows = 40;
  for (int i = 3; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--by_shape") {
      by_shape = true;
    } else if (a.rfind("--rows=", 0) == 0) {
      rows = static_cast<size_t>(std::atoi(a.c_str() + 7));
    } else {
      bad_flag = true;
    }
  }
  int64_t index = -1;
  for (int64_t i = 0; i < diffmem::benchmarks::kNumTrainStepConfigs; ++i) {
    if (config_name == diffmem::benchmarks::GetTrainStepConfig(i).name) index = i;
  }
  if (index < 0 || steps < 1 || bad_flag) {
    std::fprintf(stderr, "usage: train_step_profile [small8|small16|cifar32] [steps >= 1] [--by_shape] [--rows=N]\n");
    return 2;
  }
  diffmem::benchmarks::SetThreadsFromEnvironment();
  const diffmem::benchmarks::TrainStepConfig c = diffmem::benchmarks::GetTrainStepConfig(index);
  const std::string dir = std::filesystem::temp_directory_path().string() + "/train_step_profile";
  std::unique_ptr<diffmem::benchmarks::BenchTrainer> trainer = diffmem::benchmarks::StartBenchTrainer(c, dir);
  if (!trainer) {
    std::fprintf(stderr, "train_step_profile: Trainer::Start failed\n");
    return 1;
  }
  for (int i = 0; i < 2; ++i) (void)trainer->Step();  // warm-up
  diffmem::training::StepTimes times;
  // (Not TLSLegacyProfilerGuard: its destructor needs glog, which LibTorch
  // does not export.)
  profiler::enableProfilerLegacy(
      torch::profiler::impl::ProfilerConfig(torch::profiler::impl::ProfilerState::CPU, /*report_input_shapes=*/by_shape));
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) (void)trainer->Step(&times);
  const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const profiler::thread_event_lists lists = profiler::disableProfilerLegacy();
  double top_us = 0;
  const std::map<std::string, OpTime> ops = Aggregate(lists, by_shape, &top_us);
  std::vector<std::pair<std::string, OpTime>> sorted(ops.begin(), ops.end());
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second.self_us > b.second.self_us; });
  const double step_ms = wall_s * 1e3 / steps;
  std::printf("%s: %d steps, %d threads, %.1f ms per step (forward+backward %.1f, optimizer %.1f, EMA %.1f)\n",
              c.name, steps, at::get_num_threads(), step_ms, times.forward_backward.wall_s * 1e3 / steps,
              times.optimizer.wall_s * 1e3 / steps, times.ema.wall_s * 1e3 / steps);
  std::printf("%10s %8s %10s %10s  %s\n", "self_ms", "self_%", "total_ms", "calls", "op (per step)");
  double shown = 0;
  for (size_t i = 0; i < sorted.size() && i < rows; ++i) {
    const OpTime& t = sorted[i].second;
    shown += t.self_us;
    std::printf("%10.2f %7.1f%% %10.2f %10.1f  %s\n", t.self_us / 1e3 / steps, 100 * t.self_us / 1e3 / steps / step_ms,
                t.total_us / 1e3 / steps, static_cast<double>(t.calls) / steps, sorted[i].first.c_str());
  }
  double self_all = 0;
  for (const auto& op : sorted) self_all += op.second.self_us;
  std::printf("inside LibTorch ops: %.1f ms per step (%.1f%% of the step; the top %zu ops above: %.1f ms); "
              "outside any op: %.1f ms\n",
              top_us / 1e3 / steps, 100 * top_us / 1e3 / steps / step_ms, std::min(sorted.size(), rows),
              shown / 1e3 / steps, step_ms - top_us / 1e3 / steps);
  std::filesystem::remove_all(dir);
  return 0;
}
