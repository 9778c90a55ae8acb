// The shared entry point of diffmem's command-line tools.
//
// Under `bazel run` (BUILD_WORKING_DIRECTORY set) changes into the directory
// the command was typed in, so relative paths mean what the user meant; parses
// absl flags (with --help, --flagfile), sets the thread count once
// (--threads, default: all cores), runs the tool body, and turns every
// failure — an absl::Status or an exception thrown by LibTorch — into one
// clear line on stderr and a non-zero exit.
//
// Example:
//   absl::Status Run() { ...; return absl::OkStatus(); }
//   int main(int argc, char** argv) {
//     return diffmem::tools::ToolMain(argc, argv, "Writes a grid of images.\n  grid --out=g.png", Run);
//   }

#ifndef DIFFMEM_TOOLS_TOOL_MAIN_H_
#define DIFFMEM_TOOLS_TOOL_MAIN_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/status/status.h"

// --threads as given (0: each process picks, see ToolThreads).
ABSL_DECLARE_FLAG(int, threads);

namespace diffmem {
namespace tools {

// Runs `body` once the flags are parsed; tools take no positional arguments,
// so one left after parsing is refused here ("unexpected argument"). Returns
// the process exit code: 0 on success, 1 on error, 2 on bad usage.
int ToolMain(int argc, char** argv, const std::string& usage, const std::function<absl::Status()>& body);

// The --threads value in force (resolved: never 0).
int ToolThreads();

// Fails with InvalidArgument naming `flag` unless `ok`.
absl::Status CheckFlag(bool ok, const std::string& flag, const std::string& problem);

}  // namespace tools
}  // namespace diffmem

#endif  // DIFFMEM_TOOLS_TOOL_MAIN_H_
