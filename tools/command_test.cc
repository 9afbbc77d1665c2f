// Tests of the flag parser the gentrace subcommands share.
#include "tools/command.h"

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

}  // namespace
}  // namespace gentrace::tools
