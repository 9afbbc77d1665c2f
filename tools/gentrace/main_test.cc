// Tests of the gentrace binary as a user runs it: subcommand dispatch, help,
// usage errors (exit 2), conversion errors (exit 1), files and stdin/stdout.
#include <dirent.h>
#include <errno.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "format/header.h"
#include "format/text.h"
#include "format/zstd.h"
#include "tools/gentrace/test_process.h"

namespace gentrace::tools {
namespace {

constexpr char kText[] =
    "Trace Go1.23\n"
    "EventBatch gen=1 m=18446744073709551615 time=0 size=5\n"
    "Frequency freq=15625000\n"
    "EventBatch gen=1 m=5 time=10 size=2\n"
    "ProcStop dt=2\n";

TEST(GentraceMainTest, HelpAndUsage) {
  ProcessResult r = RunGentrace({});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(r.stderr_data, "usage: gentrace COMMAND"));
  EXPECT_TRUE(absl::StrContains(r.stderr_data, "convert"));

  r = RunGentrace({"help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(r.stdout_data, "usage: gentrace COMMAND"));

  r = RunGentrace({"help", "convert"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(absl::StartsWith(r.stdout_data,
                               "usage: gentrace convert --to=text|binary"));
  EXPECT_EQ(RunGentrace({"convert", "--help"}).stdout_data, r.stdout_data);

  r = RunGentrace({"help", "nope"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(r.stderr_data, "unknown command \"nope\""));

  r = RunGentrace({"frobnicate", "x"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(absl::StartsWith(r.stderr_data,
                               "gentrace: unknown command \"frobnicate\""));
}

// `gentrace help` lists every command, each has its help, and docs/CLI.md
// documents exactly the commands help lists.
TEST(GentraceMainTest, HelpListsEveryDocumentedCommand) {
  const std::string list = RunGentrace({"help"}).stdout_data;
  const std::string doc = ReadFileOrEmpty("docs/CLI.md");
  ASSERT_FALSE(doc.empty());
  std::vector<std::string> listed;
  bool in_commands = false;
  for (absl::string_view line : absl::StrSplit(list, '\n')) {
    if (line == "Commands:") {
      in_commands = true;
      continue;
    }
    if (!in_commands || !absl::StartsWith(line, "  ")) continue;
    line.remove_prefix(2);
    const std::string name(line.substr(0, line.find(' ')));
    if (name != "help") listed.push_back(name);
  }
  EXPECT_EQ(listed,
            (std::vector<std::string>{
                "convert", "cut", "diff", "dump", "perfetto", "pprof",
                "recover", "report", "run", "stats", "symbolize", "validate"}));
  size_t documented = 0;
  for (size_t p = 0; (p = doc.find("\n## gentrace ", p)) != std::string::npos;
       ++p) {
    ++documented;
  }
  EXPECT_EQ(documented, listed.size());
  for (const std::string& name : listed) {
    EXPECT_TRUE(
        absl::StrContains(doc, absl::StrCat("\n## gentrace ", name, "\n")))
        << name;
    ProcessResult r = RunGentrace({"help", name});
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_TRUE(
        absl::StartsWith(r.stdout_data, absl::StrCat("usage: gentrace ", name)))
        << r.stdout_data;
    EXPECT_EQ(RunGentrace({name, "--help"}).stdout_data, r.stdout_data);
    // Every command refuses a flag it does not know before it reads or
    // runs anything: exit 2, the flag named, its usage line.
    r = RunGentrace({name, "--no-such-flag", "a", "b"});
    EXPECT_EQ(r.exit_code, 2) << name;
    EXPECT_TRUE(absl::StartsWith(
        r.stderr_data,
        absl::StrCat("gentrace ", name, ": unknown flag --no-such-flag\n",
                     "usage: gentrace ", name)))
        << r.stderr_data;
  }
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
    ProcessResult r = RunGentrace(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.want;
    EXPECT_TRUE(absl::StartsWith(r.stderr_data, "gentrace convert: " + c.want))
        << r.stderr_data;
    EXPECT_TRUE(absl::StrContains(r.stderr_data, "usage: gentrace convert"))
        << r.stderr_data;
  }
  const std::string same = TestTempPath("same.txt");
  ASSERT_TRUE(WriteFile(same, kText));
  ProcessResult r = RunGentrace({"convert", "--to=text", same, same});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(r.stderr_data, "IN and OUT are the same file"));
  EXPECT_EQ(ReadFileOrEmpty(same), kText);  // not truncated
}

TEST(GentraceMainTest, ConvertsFilesAndPipes) {
  const std::string text_path = TestTempPath("in.txt");
  const std::string bin_path = TestTempPath("out.trace");
  const std::string back_path = TestTempPath("back.txt");
  ASSERT_TRUE(WriteFile(text_path, kText));
  ProcessResult r =
      RunGentrace({"convert", "--to=binary", text_path, bin_path});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_EQ(r.stderr_data, "");
  const std::string bin = ReadFileOrEmpty(bin_path);
  EXPECT_EQ(bin, *format::TextToBinary(kText));

  r = RunGentrace({"convert", "--to", "text", bin_path, back_path});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_EQ(ReadFileOrEmpty(back_path), kText);

  // stdin to stdout, flags after the files.
  r = RunGentrace({"convert", "-", "-", "--to=text"}, bin);
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_EQ(r.stdout_data, kText);
  r = RunGentrace({"convert", "--to=binary", "-", "-"}, kText);
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_EQ(r.stdout_data, bin);
}

TEST(GentraceMainTest, ConvertsZstdInput) {
  // What the tracer writes with Compression::kZstd: one frame per
  // generation (here two frames).
  const std::string bin = *format::TextToBinary(kText);
  std::string z;
  {
    absl::StatusOr<std::unique_ptr<format::ZstdSink>> s =
        format::ZstdSink::Create(std::make_unique<format::StringSink>(&z), 3);
    ASSERT_TRUE(s.ok()) << s.status();
    ASSERT_TRUE((*s)->WriteString(bin.substr(0, 20)).ok());
    ASSERT_TRUE((*s)->EndGeneration().ok());
    ASSERT_TRUE((*s)->WriteString(bin.substr(20)).ok());
    ASSERT_TRUE((*s)->Close().ok());
  }
  const std::string zpath = TestTempPath("in.trace.zst");
  const std::string text_path = TestTempPath("from-zstd.txt");
  ASSERT_TRUE(WriteFile(zpath, z));
  ProcessResult r = RunGentrace({"convert", "--to=text", zpath, text_path});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_EQ(ReadFileOrEmpty(text_path), kText);
  r = RunGentrace({"convert", "--to=binary", "-", "-"}, z);
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_EQ(r.stdout_data, bin);
}

TEST(GentraceMainTest, ConversionErrorsExitOne) {
  ProcessResult r = RunGentrace({"convert", "--to=binary", "-", "-"},
                                "Trace Go1.23\nProcStop dt=x\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.stderr_data,
            "gentrace convert: line 2: ProcStop: argument dt: invalid value "
            "\"x\" (expected an unsigned decimal integer below 2^64)\n");

  r = RunGentrace(
      {"convert", "--to=text", TestTempPath("does-not-exist"), "-"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(absl::StartsWith(r.stderr_data, "gentrace convert: cannot open"))
      << r.stderr_data;

  // zstd's magic with garbage behind it.
  r = RunGentrace({"convert", "--to=text", "-", "-"}, "\x28\xb5\x2f\xfd....");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.stderr_data,
            "gentrace convert: zstd: Unsupported frame parameter\n");
}

// Names in `dir` that contain `part`.
std::vector<std::string> FilesContaining(const std::string& dir,
                                         const std::string& part) {
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      if (absl::StrContains(e->d_name, part)) names.push_back(e->d_name);
    }
    closedir(d);
  }
  return names;
}

// A conversion that fails writes nothing: no output file appears, an output
// file that was there stays as it was, and no temporary file is left.
TEST(GentraceMainTest, FailedConversionLeavesNoOutput) {
  const std::string dir = TestTempPath("failed-conversion");
  ASSERT_TRUE(mkdir(dir.c_str(), 0755) == 0 || errno == EEXIST) << dir;
  std::string broken_bin = *format::TextToBinary(kText);
  broken_bin.push_back('\x63');  // event type 99: fails after the rest
  const std::string broken_text = std::string(kText) + "Bogus\n";
  const struct {
    std::string to, input, error;
  } cases[] = {
      {"text", broken_bin, "invalid event type 99"},
      {"binary", broken_text, "Bogus"},
      {"binary", broken_bin, "invalid event type 99"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE("to " + c.to + ": " + c.error);
    const std::string out = dir + "/out." + c.to;
    ProcessResult r =
        RunGentrace({"convert", "--to=" + c.to, "-", out}, c.input);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_TRUE(absl::StrContains(r.stderr_data, c.error)) << r.stderr_data;
    EXPECT_EQ(access(out.c_str(), F_OK), -1) << "a partial " << out;

    ASSERT_TRUE(WriteFile(out, "precious\n"));
    ASSERT_EQ(chmod(out.c_str(), 0640), 0);
    r = RunGentrace({"convert", "--to=" + c.to, "-", out}, c.input);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(ReadFileOrEmpty(out), "precious\n");
    unlink(out.c_str());
  }
  EXPECT_EQ(FilesContaining(dir, "out"), std::vector<std::string>{});
  // To standard output, what converted before the error is still shown.
  ProcessResult r = RunGentrace({"convert", "--to=text", "-", "-"}, broken_bin);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.stdout_data, kText);
}

// A conversion that succeeds replaces the output whole, keeping the
// permissions of the file it replaces; a new file gets the usual ones.
TEST(GentraceMainTest, ConversionReplacesOutputWhole) {
  const std::string dir = TestTempPath("replaced");
  ASSERT_TRUE(mkdir(dir.c_str(), 0755) == 0 || errno == EEXIST) << dir;
  const std::string out = dir + "/out.trace";
  ASSERT_TRUE(WriteFile(out, "old contents, longer than the new ones......"));
  ASSERT_EQ(chmod(out.c_str(), 0604), 0);
  ProcessResult r = RunGentrace({"convert", "--to=binary", "-", out}, kText);
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_EQ(ReadFileOrEmpty(out), *format::TextToBinary(kText));
  struct stat st;
  ASSERT_EQ(stat(out.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0604u);

  const mode_t old_umask = umask(027);  // the child inherits it
  const std::string fresh = dir + "/fresh.trace";
  r = RunGentrace({"convert", "--to=binary", "-", fresh}, kText);
  umask(old_umask);
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  ASSERT_EQ(stat(fresh.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(FilesContaining(dir, ".tmp-"), std::vector<std::string>{});
}

}  // namespace
}  // namespace gentrace::tools
