// Conformance of `gentrace convert` with Go's own raw trace reader and
// writer (internal/trace/raw), over Go's testdata traces
// $GOROOT/src/internal/trace/testdata/tests/*.test:
// * text -> binary gives exactly the bytes Go's writer gives (gotool
//   text2bin -auto-sizes);
// * binary -> text gives exactly the text Go's TextWriter gives (gotool
//   bin2text);
// * binary -> text -> binary is the identity, and so is binary -> binary.
// GOROOT comes from GENTRACE_GOROOT (default /usr/lib/go-1.23); the Go tool
// from GENTRACE_GOTOOL (tests/interop/go_tool.h).
#include <dirent.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/interop/go_tool.h"
#include "tools/gentrace/test_process.h"

namespace gentrace {
namespace {

using tools::ProcessResult;
using tools::ReadFileOrEmpty;

std::string GoRoot() {
  const char* r = std::getenv("GENTRACE_GOROOT");
  return r != nullptr && *r != '\0' ? r : "/usr/lib/go-1.23";
}

std::string TestDataDir() {
  return GoRoot() + "/src/internal/trace/testdata/tests";
}

// The .test files, sorted.
std::vector<std::string> TestFiles() {
  std::vector<std::string> files;
  DIR* d = opendir(TestDataDir().c_str());
  if (d == nullptr) return files;
  while (dirent* e = readdir(d)) {
    if (absl::EndsWith(e->d_name, ".test")) {
      files.push_back(TestDataDir() + "/" + e->d_name);
    }
  }
  closedir(d);
  std::sort(files.begin(), files.end());
  return files;
}

std::string BaseName(const std::string& path) {
  return path.substr(path.rfind('/') + 1);
}

// Runs `gentrace convert --to=TO IN OUT` and returns OUT's contents.
std::string Convert(const std::string& to, const std::string& in,
                    const std::string& out) {
  absl::StatusOr<ProcessResult> r = tools::RunProcess(
      tools::kGentraceBinary, {"convert", "--to=" + to, in, out});
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return "";
  EXPECT_EQ(r->exit_code, 0)
      << "convert --to=" << to << " " << in << ": " << r->stderr_data;
  EXPECT_EQ(r->stderr_data, "");
  return ReadFileOrEmpty(out);
}

// Runs gotool SUBCOMMAND [flags] IN OUT and returns OUT's contents.
std::string GoConvert(std::vector<std::string> args, const std::string& out) {
  absl::StatusOr<interop::GoRunResult> r = interop::RunGoTool(args);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return "";
  EXPECT_EQ(r->exit_code, 0) << args[0] << ": " << r->stderr_data;
  return ReadFileOrEmpty(out);
}

class ConvertConformanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    files_ = TestFiles();
    if (files_.empty()) {
      GENTRACE_SKIP_GO_CHECK(
          absl::StrCat("no Go testdata traces in ", TestDataDir(),
                       " (install golang-1.23-src or set GENTRACE_GOROOT)"));
    }
  }
  std::vector<std::string> files_;
};

TEST_F(ConvertConformanceTest, BinaryTextBinaryIsIdentity) {
  for (const std::string& test : files_) {
    SCOPED_TRACE(test);
    const std::string name = BaseName(test);
    const std::string bin =
        Convert("binary", test, tools::TestTempPath(name + ".bin"));
    ASSERT_GT(bin.size(), 16u);
    const std::string text = Convert("text", tools::TestTempPath(name + ".bin"),
                                     tools::TestTempPath(name + ".txt"));
    EXPECT_TRUE(absl::StartsWith(text, "Trace Go1.2")) << text.substr(0, 40);
    EXPECT_EQ(Convert("binary", tools::TestTempPath(name + ".txt"),
                      tools::TestTempPath(name + ".2.bin")),
              bin);
    // Normalizing either format changes nothing Go's writer wrote.
    EXPECT_EQ(Convert("binary", tools::TestTempPath(name + ".bin"),
                      tools::TestTempPath(name + ".3.bin")),
              bin);
    EXPECT_EQ(Convert("text", tools::TestTempPath(name + ".txt"),
                      tools::TestTempPath(name + ".2.txt")),
              text);
  }
  // Go 1.23.5 has 20 of them; a much smaller number means a wrong GOROOT.
  EXPECT_GE(files_.size(), 10u) << TestDataDir();
}

TEST_F(ConvertConformanceTest, BinaryMatchesGoRawWriter) {
  GENTRACE_REQUIRE_GO_TOOL();
  for (const std::string& test : files_) {
    SCOPED_TRACE(test);
    const std::string name = BaseName(test);
    const std::string go_bin =
        GoConvert({"text2bin", "-auto-sizes", test,
                   tools::TestTempPath(name + ".go.bin")},
                  tools::TestTempPath(name + ".go.bin"));
    ASSERT_GT(go_bin.size(), 16u);
    const std::string ours =
        Convert("binary", test, tools::TestTempPath(name + ".our.bin"));
    EXPECT_TRUE(ours == go_bin)
        << "gentrace and Go differ; compare "
        << tools::TestTempPath(name + ".our.bin") << " with "
        << tools::TestTempPath(name + ".go.bin");
  }
}

TEST_F(ConvertConformanceTest, TextMatchesGoTextWriter) {
  GENTRACE_REQUIRE_GO_TOOL();
  for (const std::string& test : files_) {
    SCOPED_TRACE(test);
    const std::string name = BaseName(test);
    const std::string go_bin_path = tools::TestTempPath(name + ".go.bin");
    GoConvert({"text2bin", "-auto-sizes", test, go_bin_path}, go_bin_path);
    const std::string go_text = GoConvert(
        {"bin2text", go_bin_path, tools::TestTempPath(name + ".go.txt")},
        tools::TestTempPath(name + ".go.txt"));
    ASSERT_FALSE(go_text.empty());
    const std::string ours =
        Convert("text", go_bin_path, tools::TestTempPath(name + ".our.txt"));
    EXPECT_EQ(ours, go_text);
  }
}

}  // namespace
}  // namespace gentrace
