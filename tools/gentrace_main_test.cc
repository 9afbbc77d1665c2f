// Tests of the gentrace binary as a user runs it: subcommand dispatch, help,
// usage errors (exit 2), conversion errors (exit 1), files and stdin/stdout.
#include <gtest/gtest.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "format/header.h"
#include "format/text.h"
#include "tools/test_process.h"

namespace gentrace::tools {
namespace {

constexpr char kBinary[] = "tools/gentrace";

constexpr char kText[] =
    "Trace Go1.23\n"
    "EventBatch gen=1 m=18446744073709551615 time=0 size=5\n"
    "Frequency freq=15625000\n"
    "EventBatch gen=1 m=5 time=10 size=2\n"
    "ProcStop dt=2\n";

std::string Tmp(const std::string& name) {
  const char* d = getenv("TEST_TMPDIR");
  return absl::StrCat(d != nullptr ? d : "/tmp", "/", name);
}

ProcessResult Gentrace(const std::vector<std::string>& args,
                       const std::string& stdin_data = "") {
  absl::StatusOr<ProcessResult> r = RunProcess(kBinary, args, stdin_data);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : ProcessResult{};
}

TEST(GentraceMainTest, HelpAndUsage) {
  ProcessResult r = Gentrace({});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(r.stderr_data, "usage: gentrace COMMAND"));
  EXPECT_TRUE(absl::StrContains(r.stderr_data, "convert"));

  r = Gentrace({"help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(r.stdout_data, "usage: gentrace COMMAND"));

  r = Gentrace({"help", "convert"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(absl::StartsWith(r.stdout_data,
                               "usage: gentrace convert --to=text|binary"));
  EXPECT_EQ(Gentrace({"convert", "--help"}).stdout_data, r.stdout_data);

  r = Gentrace({"help", "nope"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(r.stderr_data, "unknown command \"nope\""));

  r = Gentrace({"frobnicate", "x"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(absl::StartsWith(r.stderr_data,
                               "gentrace: unknown command \"frobnicate\""));
}

TEST(GentraceMainTest, ConvertUsageErrors) {
  struct Case {
    std::vector<std::string> args;
    std::string want;
  };
  const Case cases[] = {
      {{"convert", "a", "b"}, "missing --to=text or --to=binary"},
      {{"convert", "--to=json", "a", "b"}, "unknown format \"json\""},
      {{"convert", "--to=text", "a"}, "need IN and OUT, got 1 file argument"},
      {{"convert", "--to=text", "a", "b", "c"},
       "need IN and OUT, got 3 file arguments"},
      {{"convert", "--from=text", "a", "b"}, "unknown flag --from=text"},
      {{"convert", "--to"}, "flag --to needs a value"},
  };
  for (const Case& c : cases) {
    ProcessResult r = Gentrace(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.want;
    EXPECT_TRUE(absl::StartsWith(r.stderr_data, "gentrace convert: " + c.want))
        << r.stderr_data;
    EXPECT_TRUE(absl::StrContains(r.stderr_data, "usage: gentrace convert"))
        << r.stderr_data;
  }
  const std::string same = Tmp("same.txt");
  ASSERT_TRUE(WriteFile(same, kText));
  ProcessResult r = Gentrace({"convert", "--to=text", same, same});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(r.stderr_data, "IN and OUT are the same file"));
  EXPECT_EQ(ReadFileOrEmpty(same), kText);  // not truncated
}

TEST(GentraceMainTest, ConvertsFilesAndPipes) {
  const std::string text_path = Tmp("in.txt");
  const std::string bin_path = Tmp("out.trace");
  const std::string back_path = Tmp("back.txt");
  ASSERT_TRUE(WriteFile(text_path, kText));
  ProcessResult r = Gentrace({"convert", "--to=binary", text_path, bin_path});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_EQ(r.stderr_data, "");
  const std::string bin = ReadFileOrEmpty(bin_path);
  EXPECT_EQ(bin, *format::TextToBinary(kText));

  r = Gentrace({"convert", "--to", "text", bin_path, back_path});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_EQ(ReadFileOrEmpty(back_path), kText);

  // stdin to stdout, flags after the files.
  r = Gentrace({"convert", "-", "-", "--to=text"}, bin);
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_EQ(r.stdout_data, kText);
  r = Gentrace({"convert", "--to=binary", "-", "-"}, kText);
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_EQ(r.stdout_data, bin);
}

TEST(GentraceMainTest, ConversionErrorsExitOne) {
  ProcessResult r = Gentrace({"convert", "--to=binary", "-", "-"},
                             "Trace Go1.23\nProcStop dt=x\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.stderr_data,
            "gentrace convert: line 2: ProcStop: argument dt: invalid value "
            "\"x\" (expected an unsigned decimal integer below 2^64)\n");

  r = Gentrace({"convert", "--to=text", Tmp("does-not-exist"), "-"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(absl::StartsWith(r.stderr_data, "gentrace convert: cannot open"))
      << r.stderr_data;

  r = Gentrace({"convert", "--to=text", "-", "-"}, "\x28\xb5\x2f\xfd....");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(r.stderr_data, "zstd -d")) << r.stderr_data;

  // A broken binary trace: the text before the error is kept.
  std::string bin = *format::TextToBinary(kText);
  bin.push_back('\x63');
  const std::string out = Tmp("partial.txt");
  r = Gentrace({"convert", "--to=text", "-", out}, bin);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(r.stderr_data, "invalid event type 99"))
      << r.stderr_data;
  EXPECT_EQ(ReadFileOrEmpty(out), kText);

  // A broken text trace going to binary leaves no file behind.
  const std::string bad_bin = Tmp("partial.trace");
  r = Gentrace({"convert", "--to=binary", "-", bad_bin},
               std::string(kText) + "Bogus\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(access(bad_bin.c_str(), F_OK), -1);
}

}  // namespace
}  // namespace gentrace::tools
