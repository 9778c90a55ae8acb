#include "study/sbatch_array.h"

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "util/atomic_file.h"

namespace diffmem {
namespace study {
namespace {

// The file's bytes ("" when it cannot be read).
std::string ReadAll(const std::string& path) {
  absl::StatusOr<std::string> text = diffmem::util::ReadFileToString(path);
  return text.ok() ? *text : std::string();
}

// Runs the script with bash as array task `task` would; returns the exit code, output in *out.
int RunTask(const std::string& script, const std::string& task, std::string* out) {
  const std::string dir = ::testing::TempDir();
  std::ofstream(dir + "/plan.sbatch") << script;
  const std::string env = task.empty() ? "env -u SLURM_ARRAY_TASK_ID" : "env SLURM_ARRAY_TASK_ID=" + task;
  const int status = std::system((env + " bash " + dir + "/plan.sbatch > " + dir + "/out.txt 2>&1").c_str());
  *out = ReadAll(dir + "/out.txt");
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(SbatchArrayScriptTest, EachArrayTaskRunsItsCommand) {
  const std::string script = SbatchArrayScript(
      {"echo first 'a  b'  # run dir /x/n0010", "echo second \"$((2 + 3))\"", "echo third; exit 4"}, "emm study");
  EXPECT_NE(script.find("#SBATCH --array=1-3\n"), std::string::npos) << script;
  EXPECT_NE(script.find("#SBATCH --job-name=emm_study\n"), std::string::npos) << script;
  std::string out;
  EXPECT_EQ(RunTask(script, "1", &out), 0);
  EXPECT_EQ(out, "first a  b\n");  // the trailing comment did not swallow the rest
  EXPECT_EQ(RunTask(script, "2", &out), 0);
  EXPECT_EQ(out, "second 5\n");
  EXPECT_EQ(RunTask(script, "3", &out), 4);  // a failing run fails its task
  EXPECT_EQ(out, "third\n");
  EXPECT_EQ(RunTask(script, "4", &out), 2);
  EXPECT_NE(out.find("no planned run for array task 4 (1-3)"), std::string::npos) << out;
  EXPECT_NE(RunTask(script, "", &out), 0);  // not under sbatch
  EXPECT_NE(out.find("run this script with sbatch"), std::string::npos) << out;
}

TEST(SbatchArrayScriptTest, RanksPerRunGoThroughSrun) {
  const std::string script = SbatchArrayScript({"echo run 'a  b'  # run dir /x/n0010"}, "emm", 4);
  EXPECT_NE(script.find("#SBATCH --ntasks=4\n"), std::string::npos) << script;
  EXPECT_NE(script.find("#SBATCH --array=1-1\n"), std::string::npos) << script;
  // A stand-in srun on PATH that says how it was called, then runs its command.
  const std::string bin = ::testing::TempDir() + "/fake_srun_bin";
  ASSERT_EQ(std::system(("mkdir -p " + bin).c_str()), 0);
  std::ofstream(bin + "/srun") << "#!/bin/bash\necho \"srun with $# arguments\"\nexec \"$@\"\n";
  ASSERT_EQ(std::system(("chmod +x " + bin + "/srun").c_str()), 0);
  std::string out;
  EXPECT_EQ(RunTask("PATH=" + bin + ":$PATH\n" + script, "1", &out), 0);
  EXPECT_EQ(out, "srun with 3 arguments\nrun a  b\n");
  EXPECT_EQ(SbatchArrayScript({"echo x"}, "emm", 1).find("srun"), std::string::npos);
}

TEST(SbatchArrayScriptTest, NoRunsGivesAScriptThatSaysSo) {
  const std::string script = SbatchArrayScript({}, "x");
  EXPECT_EQ(script.find("#SBATCH"), std::string::npos);
  std::string out;
  EXPECT_EQ(RunTask(script, "1", &out), 0);
}

}  // namespace
}  // namespace study
}  // namespace diffmem
