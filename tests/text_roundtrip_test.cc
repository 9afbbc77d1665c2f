// The hand-written text traces in tests/data/text: text -> binary -> text ->
// binary is stable, and, when Go's tool is available (GENTRACE_GOTOOL), both
// directions give exactly what Go's internal/trace/raw gives.
#include <dirent.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "format/byte_source.h"
#include "format/raw_event.h"
#include "format/text.h"
#include "tests/interop/go_tool.h"
#include "tools/gentrace/test_process.h"

namespace gentrace {
namespace {

constexpr char kDataDir[] = "tests/data/text";

std::vector<std::string> TextFiles() {
  std::vector<std::string> files;
  DIR* d = opendir(kDataDir);
  if (d == nullptr) return files;
  while (dirent* e = readdir(d)) {
    if (absl::EndsWith(e->d_name, ".txt")) {
      files.push_back(std::string(kDataDir) + "/" + e->d_name);
    }
  }
  closedir(d);
  std::sort(files.begin(), files.end());
  return files;
}

std::string BinaryToText(const std::string& bin) {
  format::SpanSource src(absl::MakeConstSpan(
      reinterpret_cast<const uint8_t*>(bin.data()), bin.size()));
  std::string text;
  absl::Status st = format::BinaryToText(&src, &text);
  EXPECT_TRUE(st.ok()) << st;
  return text;
}

// text -> text through the reader and writer alone.
std::string Reprint(const std::string& text) {
  format::TextReader r(text);
  absl::StatusOr<format::Version> v = r.ReadHeader();
  EXPECT_TRUE(v.ok()) << v.status();
  if (!v.ok()) return "";
  std::string out;
  format::TextWriter w(*v, &out);
  format::RawEvent ev;
  for (;;) {
    absl::StatusOr<bool> more = r.Next(&ev);
    EXPECT_TRUE(more.ok()) << more.status();
    if (!more.ok() || !*more) break;
    EXPECT_TRUE(w.Write(ev).ok());
  }
  return out;
}

TEST(TextRoundTripTest, TextBinaryTextBinaryIsStable) {
  const std::vector<std::string> files = TextFiles();
  ASSERT_GE(files.size(), 10u) << "test data missing from " << kDataDir;
  for (const std::string& file : files) {
    SCOPED_TRACE(file);
    const std::string text = tools::ReadFileOrEmpty(file);
    absl::StatusOr<std::string> bin = format::TextToBinary(text);
    ASSERT_TRUE(bin.ok()) << bin.status();
    const std::string text2 = BinaryToText(*bin);
    absl::StatusOr<std::string> bin2 = format::TextToBinary(text2);
    ASSERT_TRUE(bin2.ok()) << bin2.status();
    EXPECT_EQ(*bin2, *bin);
    EXPECT_EQ(BinaryToText(*bin2), text2);
    // Canonical text reprints as itself.
    EXPECT_EQ(Reprint(text2), text2);
  }
}

TEST(TextRoundTripTest, ConvertsLikeGo) {
  GENTRACE_REQUIRE_GO_TOOL();
  for (const std::string& file : TextFiles()) {
    SCOPED_TRACE(file);
    const std::string text = tools::ReadFileOrEmpty(file);
    absl::StatusOr<interop::GoRunResult> go_bin =
        interop::RunGoTool({"text2bin", "-auto-sizes", "-", "-"}, text);
    ASSERT_TRUE(go_bin.ok()) << go_bin.status();
    ASSERT_EQ(go_bin->exit_code, 0) << go_bin->stderr_data;
    absl::StatusOr<std::string> bin = format::TextToBinary(text);
    ASSERT_TRUE(bin.ok()) << bin.status();
    EXPECT_TRUE(*bin == go_bin->stdout_data) << "binary differs from Go's";

    absl::StatusOr<interop::GoRunResult> go_text =
        interop::RunGoTool({"bin2text", "-", "-"}, go_bin->stdout_data);
    ASSERT_TRUE(go_text.ok()) << go_text.status();
    ASSERT_EQ(go_text->exit_code, 0) << go_text->stderr_data;
    EXPECT_EQ(BinaryToText(go_bin->stdout_data), go_text->stdout_data);
  }
}

}  // namespace
}  // namespace gentrace
