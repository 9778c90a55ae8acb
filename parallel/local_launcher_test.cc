#include "parallel/local_launcher.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "util/atomic_file.h"

namespace diffmem {
namespace parallel {
namespace {

// The file's bytes ("" when it cannot be read).
std::string ReadAll(const std::string& path) {
  absl::StatusOr<std::string> text = diffmem::util::ReadFileToString(path);
  return text.ok() ? *text : std::string();
}

TEST(FreeLocalPortTest, GivesAPortThatCanBeBound) {
  absl::StatusOr<int> port = FreeLocalPort();
  ASSERT_TRUE(port.ok()) << port.status();
  EXPECT_GT(*port, 0);
  EXPECT_LT(*port, 65536);
}

TEST(OwnCommandLineTest, StartsWithThisExecutable) {
  absl::StatusOr<std::vector<std::string>> argv = OwnCommandLine();
  ASSERT_TRUE(argv.ok()) << argv.status();
  ASSERT_FALSE(argv->empty());
  EXPECT_EQ((*argv)[0].front(), '/');
  EXPECT_NE((*argv)[0].find("local_launcher_test"), std::string::npos) << (*argv)[0];
}

TEST(LaunchLocalRanksTest, EveryRankGetsTheTorchrunVariables) {
  const std::string dir = ::testing::TempDir();
  const std::string script = "echo \"$RANK $LOCAL_RANK $WORLD_SIZE $MASTER_ADDR $MASTER_PORT\" > " + dir + "/rank$RANK";
  absl::StatusOr<int> code = LaunchLocalRanks({"/bin/sh", "-c", script}, 3, std::chrono::seconds(5));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  std::string port;
  for (int r = 0; r < 3; ++r) {
    std::istringstream in(ReadAll(dir + "/rank" + std::to_string(r)));
    int rank = -1, local = -1, world = -1;
    std::string addr, p;
    in >> rank >> local >> world >> addr >> p;
    EXPECT_EQ(rank, r);
    EXPECT_EQ(local, r);
    EXPECT_EQ(world, 3);
    EXPECT_EQ(addr, "127.0.0.1");
    if (r == 0) port = p;
    EXPECT_EQ(p, port);  // one rendezvous port for the job
    EXPECT_FALSE(p.empty());
  }
}

TEST(LaunchLocalRanksTest, AFailingRankEndsTheJobWithItsStatus) {
  // Rank 1 fails at once; rank 0 would sleep for a minute.
  const auto t0 = std::chrono::steady_clock::now();
  absl::StatusOr<int> code = LaunchLocalRanks(
      {"/bin/sh", "-c", "if [ \"$RANK\" = 1 ]; then exit 7; fi; sleep 60"}, 2, std::chrono::seconds(5));
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 7);
  EXPECT_LT(s, 30) << "the sleeping rank was not ended";
}

TEST(LaunchLocalRanksTest, ARankIgnoringSigtermIsKilledAfterTheGrace) {
  const auto t0 = std::chrono::steady_clock::now();
  absl::StatusOr<int> code = LaunchLocalRanks(
      {"/bin/sh", "-c", "if [ \"$RANK\" = 0 ]; then exit 3; fi; trap '' TERM; sleep 60"}, 2,
      std::chrono::milliseconds(500));
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 3);
  EXPECT_LT(s, 30);
}

TEST(LaunchLocalRanksTest, AMissingExecutableFails) {
  absl::StatusOr<int> code = LaunchLocalRanks({"/nonexistent/binary"}, 2, std::chrono::seconds(1));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 127);
  EXPECT_FALSE(LaunchLocalRanks({"/bin/true"}, 0, std::chrono::seconds(1)).ok());
}

}  // namespace
}  // namespace parallel
}  // namespace diffmem
