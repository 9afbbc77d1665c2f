// Tests of the flag parser and the preamble (RunCommand) the gentrace
// subcommands share.
#include "tools/gentrace/command.h"

#include <gtest/gtest.h>

namespace gentrace::tools {
namespace {

const std::vector<FlagSpec> kFlags = {{"to", true}, {"quiet", false}};

TEST(CommandTest, ParsesFlagForms) {
  absl::StatusOr<ParsedArgs> p =
      ParseArgs({"in", "--to=text", "-", "-quiet"}, kFlags);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->flags.at("to"), "text");
  EXPECT_EQ(p->flags.count("quiet"), 1u);
  EXPECT_EQ(p->positional, (std::vector<std::string>{"in", "-"}));
  EXPECT_FALSE(p->help);

  p = ParseArgs({"-to", "binary", "--", "--to=x"}, kFlags);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->flags.at("to"), "binary");
  EXPECT_EQ(p->positional, (std::vector<std::string>{"--to=x"}));

  for (const char* h : {"-h", "--help", "-help"}) {
    p = ParseArgs({h}, kFlags);
    ASSERT_TRUE(p.ok());
    EXPECT_TRUE(p->help) << h;
  }
}

TEST(CommandTest, RejectsBadFlags) {
  EXPECT_EQ(ParseArgs({"--from=text"}, kFlags).status().message(),
            "unknown flag --from=text");
  EXPECT_EQ(ParseArgs({"--to"}, kFlags).status().message(),
            "flag --to needs a value");
  EXPECT_EQ(ParseArgs({"--quiet=1"}, kFlags).status().message(),
            "flag --quiet takes no value");
}

// A command whose run function records what it was given.
ParsedArgs g_seen;
int g_runs = 0;
int RecordRun(const ParsedArgs& args) {
  g_seen = args;
  ++g_runs;
  return 7;
}

const Command kTestCommand = {
    "test",
    "a test command",
    "usage: gentrace test [--to=X] IN OUT\n\nMore help.\n",
    {{"to", true}},
    {"IN", "OUT"},
    &RecordRun,
};

TEST(RunCommandTest, RunsWithCheckedArguments) {
  g_runs = 0;
  EXPECT_EQ(RunCommand(kTestCommand, {"a", "--to=x", "b"}), 7);
  EXPECT_EQ(g_runs, 1);
  EXPECT_EQ(g_seen.positional, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(g_seen.has("to"));
  EXPECT_FALSE(g_seen.has("from"));
  EXPECT_EQ(g_seen.flags.at("to"), "x");
}

TEST(RunCommandTest, HelpAndUsageErrorsDoNotRun) {
  g_runs = 0;
  testing::internal::CaptureStdout();
  EXPECT_EQ(RunCommand(kTestCommand, {"--help", "a"}), kExitOk);
  EXPECT_EQ(testing::internal::GetCapturedStdout(), kTestCommand.help);
  const struct {
    std::vector<std::string> args;
    std::string error;
  } cases[] = {
      {{"a"}, "need IN and OUT, got 1 file argument"},
      {{}, "need IN and OUT, got 0 file arguments"},
      {{"a", "b", "c"}, "need IN and OUT, got 3 file arguments"},
      {{"a", "b", "--from=x"}, "unknown flag --from=x"},
  };
  for (const auto& c : cases) {
    testing::internal::CaptureStderr();
    EXPECT_EQ(RunCommand(kTestCommand, c.args), kExitUsage);
    EXPECT_EQ(testing::internal::GetCapturedStderr(),
              "gentrace test: " + c.error +
                  "\nusage: gentrace test [--to=X] IN OUT\nRun 'gentrace "
                  "test --help' for details.\n");
  }
  EXPECT_EQ(g_runs, 0);
  testing::internal::CaptureStderr();
  EXPECT_EQ(Failure(kTestCommand, "it broke"), kExitFailure);
  EXPECT_EQ(testing::internal::GetCapturedStderr(),
            "gentrace test: it broke\n");
}

}  // namespace
}  // namespace gentrace::tools
