// `gentrace perfetto` writes its output as it reads the trace and keeps
// per-generation state only: on a Go trace of 400000 rounds (2 million
// packets of output, several times the limit, a generation every 10 ms) it
// runs with its address space limited to 24 MiB (RLIMIT_AS). The export is
// also checked as every export is (the format's rules, protoc, counts from
// dump and stats).
//
// (A peak RSS taken with wait4 would start from the resident set of the
// test process that spawned the child, so the limit is what is checked.)
// Under a sanitizer the allocator reserves far more address space than
// it uses, so the test is not run there.

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/test_files.h"
#include "gtest/gtest.h"
#include "tests/interop/go_tool.h"
#include "tests/reader_conformance/conformance_util.h"
#include "tools/gentrace/perfetto_test_decoder.h"
#include "tools/gentrace/test_process.h"

namespace gentrace {
namespace {

// The whole address space the export may take.
constexpr int64_t kLimit = 24 << 20;

TEST(PerfettoMemoryTest, RunsInBoundedMemory) {
  if (testing::kSanitizedBuild) {
    GTEST_SKIP() << "the sanitizer's allocator decides the resident set";
  }
  const std::string root = conformance::GoRoot();
  if (root.empty()) {
    GENTRACE_SKIP_GO_CHECK("no Go installation (GENTRACE_GOROOT)");
  }
  const std::string dir = conformance::TempDir("perfetto-memory");
  // A generation every 10 ms: the reader holds one at a time.
  const std::vector<std::string> env =
      conformance::GoEnv({"GODEBUG=traceadvanceperiod=10000000"});
  absl::StatusOr<conformance::ProcessOutput> b =
      conformance::RunProgram({root + "/bin/go", "build", "-o", dir + "/bench",
                               "tests/data/go/programs/bench/main.go"},
                              env);
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_EQ(b->exit_code, 0) << b->output;

  const std::string trace = dir + "/bench.trace";
  absl::StatusOr<conformance::ProcessOutput> r =
      conformance::RunProgram({dir + "/bench", trace, "400000"}, env);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->exit_code, 0) << r->output;
  const tools::DecodedPerfetto d =
      tools::ExportAndDecode(trace, dir + "/bench.pb");
  tools::ExpectMatchesTrace(d, trace);
  const int64_t out_bytes =
      static_cast<int64_t>(tools::ReadFileOrEmpty(dir + "/bench.pb").size());
  // The output alone is larger than the limit: it cannot be held.
  ASSERT_GT(out_bytes, 2 * kLimit) << "the trace is too small to tell";
  EXPECT_EQ(tools::RunGentraceLimited({"perfetto", trace, "-"}, kLimit), 0)
      << "gentrace perfetto needed more than " << kLimit
      << " bytes of address space for " << out_bytes << " bytes of output";
}

}  // namespace
}  // namespace gentrace
