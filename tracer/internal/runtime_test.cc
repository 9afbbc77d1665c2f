// Runtime across fork: a child that starts tracing numbers its generations
// above every generation its parent used, so ids cached per generation
// before the fork (a StaticName's) are never taken for ids of its trace.
// Every trace is read by our reader, then by Go's parser when
// GENTRACE_GOTOOL is set.
#include "tracer/internal/runtime.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "reader/reader.h"
#include "tracer/gentrace.h"
#include "tracer/ring_test_util.h"

namespace gentrace::internal {
namespace {

using ::gentrace::testing::CheckTrace;
using ::gentrace::testing::ReadFile;
using ::gentrace::testing::TempPath;
using ::gentrace::testing::TraceCheck;
using ::testing::ElementsAre;

const StaticName kCachedName("cached before fork");

// The names of the regions the trace at `path` begins, by our reader.
std::vector<std::string> RegionNames(const std::string& path) {
  std::vector<std::string> names;
  absl::StatusOr<std::unique_ptr<reader::Reader>> r =
      reader::Reader::Open(path);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return names;
  reader::Event ev;
  while ((*r)->ReadEvent(&ev)) {
    if (ev.kind() == reader::EventKind::kRegionBegin) {
      names.emplace_back(ev.region().type);
    }
  }
  EXPECT_TRUE((*r)->status().ok()) << (*r)->status();
  return names;
}

TEST(RuntimeTest, ForkedChildTracesAboveItsParentsGenerations) {
#if defined(GENTRACE_TSAN)
  GTEST_SKIP() << "ThreadSanitizer does not let a child of a multi-threaded "
                  "fork start threads";
#endif
  const std::string child_path = TempPath("fork-child.trace");
  Options o;
  o.path = TempPath("fork-parent.trace");
  o.generation_period = absl::Hours(1);  // generations end when asked
  ASSERT_TRUE(Start(o).ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(AdvanceGenerationForTesting().ok());
  { ScopedRegion r(kCachedName); }  // its id is cached for this generation
  const uint64_t parent_gen = Runtime::Get().gen();
  const pid_t pid = fork();
  if (pid == 0) {
    o.path = child_path;
    bool ok = Start(o).ok();
    // Up to the parent's generation, if the child's trace starts below it.
    while (ok && Runtime::Get().gen() < parent_gen) {
      ok = AdvanceGenerationForTesting().ok();
    }
    { ScopedRegion r(kCachedName); }
    ok = Stop().ok() && ok;
    _exit(ok ? 0 : 1);
  }
  ASSERT_GT(pid, 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  ASSERT_TRUE(Stop().ok());

  absl::StatusOr<TraceCheck> c = CheckTrace(ReadFile(child_path), "fork");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_FALSE(c->gen_numbers.empty());
  EXPECT_GT(c->gen_numbers.front(), parent_gen);
  EXPECT_THAT(RegionNames(child_path), ElementsAre("cached before fork"));
}

}  // namespace
}  // namespace gentrace::internal
