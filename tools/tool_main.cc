#include "tools/tool_main.h"

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <sched.h>
#include <unistd.h>

#include <algorithm>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <optional>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/internal/parse.h"
#include "absl/flags/internal/usage.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "parallel/launch_env.h"
#include "util/interrupt.h"

ABSL_FLAG(int, threads, 0,
          "CPU threads for tensor math (0: the cores this process may use, divided among the local ranks of a "
          "--nproc/torchrun/srun job)");

namespace diffmem {
namespace tools {

int ToolThreads() {
  const int t = absl::GetFlag(FLAGS_threads);
  if (t > 0) return t;
  // The cores this process may run on (a scheduler that bound it to some
  // keeps them all); unbound, all cores shared among the ranks of a
  // data-parallel job on this node (LOCAL_WORLD_SIZE, or Slurm's tasks on
  // this node): two ranks with all cores each would oversubscribe them
  // several times over.
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (sched_getaffinity(0, sizeof(mask), &mask) == 0 && CPU_COUNT(&mask) > 0 && CPU_COUNT(&mask) < cores) {
    return CPU_COUNT(&mask);
  }
  int local_ranks = 1;
  absl::StatusOr<std::optional<parallel::LaunchEnv>> env = parallel::ReadLaunchEnv(parallel::ProcessEnviron);
  if (env.ok() && env->has_value()) local_ranks = std::max(1, (*env)->local_world_size);
  return std::max(1, cores / local_ranks);
}

absl::Status CheckFlag(bool ok, const std::string& flag, const std::string& problem) {
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", problem));
}

int ToolMain(int argc, char** argv, const std::string& usage, const std::function<absl::Status()>& body) {
  const char* name = argc > 0 ? argv[0] : "diffmem";
  // `bazel run` starts a tool inside its runfiles tree and says where the user
  // typed the command: relative paths (flags and --flagfile) mean that directory.
  if (const char* cwd = std::getenv("BUILD_WORKING_DIRECTORY"); cwd != nullptr && *cwd != '\0') {
    if (::chdir(cwd) != 0) {
      std::fprintf(stderr, "%s: BUILD_WORKING_DIRECTORY=%s: cannot change into it: %s\n", name, cwd,
                   std::strerror(errno));
      return 1;
    }
  }
  absl::SetProgramUsageMessage(usage);
  // --help lists every diffmem tool flag (shared data/network/training flags
  // and --threads included), not only those defined in the tool's own file.
  absl::FlagsUsageConfig config;
  config.contains_help_flags = [](absl::string_view file) { return absl::StrContains(file, "tools/"); };
  config.contains_helpshort_flags = config.contains_help_flags;
  absl::SetFlagsUsageConfig(config);
  // absl::ParseCommandLine ends the process with status 1 after --help; a
  // tool asked for help has done what it was asked and exits 0. The parse
  // without usage handling and the usage step are the two halves of
  // absl::ParseCommandLine (public as such only in later abseil releases).
  std::vector<char*> args = absl::flags_internal::ParseCommandLineImpl(
      argc, argv, absl::flags_internal::ArgvListAction::kRemoveParsedArgs,
      absl::flags_internal::UsageFlagsAction::kIgnoreUsage, absl::flags_internal::OnUndefinedFlag::kAbortIfUndefined);
  if (const int usage = absl::flags_internal::HandleUsageFlags(std::cout, absl::ProgramUsageMessage()); usage >= 0) {
    std::cout.flush();
    return 0;  // --help, --helpfull, --version and the like: printed, nothing else to do
  }
  if (absl::GetFlag(FLAGS_threads) < 0) {
    std::fprintf(stderr, "%s: --threads: must be >= 0, got %d\n", name, absl::GetFlag(FLAGS_threads));
    return 2;
  }
  if (args.size() > 1) {
    std::fprintf(stderr, "%s: unexpected argument '%s' (flags take the form --name=value)\n", name, args[1]);
    return 2;
  }
  at::set_num_threads(ToolThreads());
  absl::Status status;
  try {
    status = body();
  } catch (const c10::Error& e) {
    status = absl::InternalError(absl::StrCat("LibTorch error: ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    status = absl::InternalError(absl::StrCat("error: ", e.what()));
  }
  if (!status.ok()) {
    std::fprintf(stderr, "%s: %s\n", name, std::string(status.message()).c_str());
    // Stopped for SIGINT/SIGTERM (util/interrupt.h): 130/143, as a shell reports a signal.
    if (const int sig = util::InterruptedBy(status); sig != 0) return util::InterruptExitCode(sig);
    return status.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  return 0;
}

}  // namespace tools
}  // namespace diffmem
