// The reader against Go's own reader test cases: every
// $GOROOT/src/internal/trace/testdata/tests/*.test archive and ours in
// tests/reader_conformance/cases/*.test must give the expected outcome, with
// Go's validator checks on every event, as Go's TestReaderGolden demands.
// When the Go reference tool is available (GENTRACE_GOTOOL), our event
// dump must also be one Go's gives (CompareWithGo). Go's fuzz corpus for its reader must not crash
// ours, and must succeed or fail where Go's does.
//
// Expectations (first line of the "expect" file):
//   SUCCESS              the reader reads it all and the validator agrees
//   FAILURE "regexp"     the reader fails with a matching error
//   INVALID "regexp"     (ours only) the reader reads it all but the
//                        validator rejects an event with a matching error
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "format/byte_sink.h"
#include "format/go_quote.h"
#include "format/text.h"
#include "gtest/gtest.h"
#include "reader/dump.h"
#include "reader/reader.h"
#include "reader/validator.h"
#include "tests/interop/go_tool.h"
#include "tests/reader_conformance/conformance_util.h"

namespace gentrace::conformance {
namespace {

struct Outcome {
  std::string reader_error;     // empty if the reader read everything
  std::string validator_error;  // the first validator complaint, if any
};

Outcome ReadAndValidate(const std::string& bin) {
  Outcome o;
  absl::StatusOr<std::unique_ptr<reader::Reader>> r =
      reader::Reader::FromBuffer(absl::MakeConstSpan(
          reinterpret_cast<const uint8_t*>(bin.data()), bin.size()));
  if (!r.ok()) {
    o.reader_error = std::string(r.status().message());
    return o;
  }
  reader::Validator v;
  reader::Event ev;
  while ((*r)->ReadEvent(&ev)) {
    absl::Status s = v.Event(ev);
    if (!s.ok() && o.validator_error.empty()) {
      o.validator_error = std::string(s.message());
    }
  }
  if (!(*r)->status().ok()) {
    o.reader_error = std::string((*r)->status().message());
  }
  return o;
}

// Checks one archive, and, if `with_go`, compares our dump with Go's;
// returns a failure description or "".
std::string CheckCase(const std::string& name, const std::string& archive,
                      bool with_go) {
  absl::StatusOr<GoTestCase> c = ParseGoTest(archive);
  if (!c.ok()) return absl::StrCat("malformed test: ", c.status().message());
  std::string bin;
  format::StringSink sink(&bin);
  absl::Status conv =
      format::TextToBinary(c->trace_text, &sink, c->trace_first_line);
  if (!conv.ok()) return absl::StrCat("bad trace text: ", conv.message());
  Outcome o = ReadAndValidate(bin);
  switch (c->expect) {
    case GoTestCase::kSuccess:
      if (!o.reader_error.empty()) {
        return absl::StrCat("unexpected reader error: ", o.reader_error);
      }
      if (!o.validator_error.empty()) {
        return absl::StrCat("unexpected validator error: ", o.validator_error);
      }
      break;
    case GoTestCase::kFailure:
      if (o.reader_error.empty()) {
        return absl::StrCat("expected an error matching \"", c->pattern,
                            "\", got none");
      }
      if (!GoRegexpMatch(c->pattern, o.reader_error)) {
        return absl::StrCat("error \"", o.reader_error, "\" does not match \"",
                            c->pattern, "\"");
      }
      break;
    case GoTestCase::kInvalid:
      if (!o.reader_error.empty()) {
        return absl::StrCat("unexpected reader error: ", o.reader_error);
      }
      if (!GoRegexpMatch(c->pattern, o.validator_error)) {
        return absl::StrCat("validator error \"", o.validator_error,
                            "\" does not match \"", c->pattern, "\"");
      }
      break;
  }
  if (with_go) {
    const std::string path = TempDir("case") + "/" + name + ".trace";
    WriteFile(path, bin);
    std::string diff = MatchGo(path, ReadOurEvents(bin));
    if (!diff.empty()) return absl::StrCat("dump differs from Go's: ", diff);
  }
  return "";
}

void CheckDirectory(const std::string& dir, size_t min_cases) {
  std::vector<std::string> names = ListDir(dir, ".test");
  EXPECT_GE(names.size(), min_cases) << dir;
  const bool with_go = interop::GoCheckEnabled("Go's dumps of the cases");
  for (const std::string& n : names) {
    std::string failure = CheckCase(n, ReadFile(dir + "/" + n), with_go);
    EXPECT_EQ(failure, "") << n;
  }
}

TEST(GoTestdataTest, GoReaderGoldenCases) {
  const std::string goroot = GoRoot();
  if (goroot.empty()) {
    GENTRACE_SKIP_GO_CHECK("no Go installation (GENTRACE_GOROOT)");
  }
  CheckDirectory(goroot + "/src/internal/trace/testdata/tests", 20);
}

TEST(GoTestdataTest, OurCases) {
  CheckDirectory("tests/reader_conformance/cases", 50);
}

// Go's fuzz corpus entries are "go test fuzz v1" files holding one
// []byte("...") literal.
TEST(GoTestdataTest, GoFuzzCorpus) {
  const std::string goroot = GoRoot();
  if (goroot.empty()) {
    GENTRACE_SKIP_GO_CHECK("no Go installation (GENTRACE_GOROOT)");
  }
  const bool with_go = interop::GoCheckEnabled("Go's dumps of the corpus");
  const std::string dir =
      goroot + "/src/internal/trace/testdata/fuzz/FuzzReader";
  std::vector<std::string> names = ListDir(dir, "");
  int seen = 0;
  for (const std::string& n : names) {
    if (n == "." || n == "..") continue;
    std::string text = ReadFile(dir + "/" + n);
    size_t open = text.find("[]byte(");
    size_t close = text.rfind(')');
    ASSERT_NE(open, std::string::npos) << n;
    absl::StatusOr<std::string> data =
        format::GoUnquote(text.substr(open + 7, close - open - 7));
    ASSERT_TRUE(data.ok()) << n << ": " << data.status();
    ++seen;
    const OurEvents ours = ReadOurEvents(*data);  // must not crash
    if (!with_go) continue;
    const std::string path = TempDir("fuzz") + "/" + n;
    WriteFile(path, *data);
    if (absl::StartsWith(ours.end, "END error: trace is from go 1.")) continue;
    EXPECT_EQ(MatchGo(path, ours), "") << n;
  }
  EXPECT_GE(seen, 10);
}

// Every input of a fuzz corpus through both readers: the committed seeds,
// and the directory named by GENTRACE_READER_DIFF_DIR if set (for example
// .fuzz/reader_fuzz/corpus after ./dev fuzz). Ours reads them all first;
// then, with Go, ours must be one of the dumps Go gives.
void Differential(const std::string& dir, bool with_go) {
  std::vector<std::string> names = ListDir(dir, "");
  int compared = 0;
  for (const std::string& n : names) {
    if (n == "." || n == ".." || n == "BUILD.bazel") continue;
    const std::string path = dir + "/" + n;
    const std::string data = ReadFile(path);
    const OurEvents ours = ReadOurEvents(data);  // must not crash
    ++compared;
    // gotool refuses zstd input.
    if (!with_go || absl::StartsWith(data, "\x28\xb5\x2f\xfd")) continue;
    // Go reads go 1.11-1.21 traces with another parser; we do not.
    if (absl::StartsWith(ours.end, "END error: trace is from go 1.")) continue;
    // Fuzzed inputs are full of equal timestamps, which Go orders at
    // random.
    EXPECT_EQ(MatchGo(path, ours), "") << path;
  }
  EXPECT_GT(compared, 0);
}

TEST(GoTestdataTest, FuzzCorpusDifferential) {
  const bool with_go = interop::GoCheckEnabled("Go's dumps of the corpus");
  Differential("tests/fuzz_corpus/reader_fuzz", with_go);
  if (const char* d = std::getenv("GENTRACE_READER_DIFF_DIR")) {
    Differential(d, with_go);
  }
}

}  // namespace
}  // namespace gentrace::conformance
