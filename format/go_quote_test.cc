// Tests of the Go-compatible quoting in go_quote.h, against hand-picked cases
// and against testdata/go_quote_golden.txt, which records what Go's own
// strconv and unicode packages return (tools/dev/gen_go_quote_golden.go).
#include "format/go_quote.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace gentrace::format {
namespace {

TEST(GoQuoteTest, KeepsPrintableAndEscapesTheRest) {
  EXPECT_EQ(GoQuote(""), "\"\"");
  EXPECT_EQ(GoQuote("hello world"), "\"hello world\"");
  EXPECT_EQ(GoQuote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(GoQuote("\a\b\f\n\r\t\v"), "\"\\a\\b\\f\\n\\r\\t\\v\"");
  EXPECT_EQ(GoQuote(std::string("\0\x1f\x7f", 3)), "\"\\x00\\x1f\\x7f\"");
  EXPECT_EQ(GoQuote("'`"), "\"'`\"");
  // Printable non-ASCII stays UTF-8; the soft hyphen, C1 controls and
  // format characters do not.
  EXPECT_EQ(GoQuote("h\xc3\xa9 \xe4\xb8\x96"), "\"h\xc3\xa9 \xe4\xb8\x96\"");
  EXPECT_EQ(GoQuote("\xc2\xad"), "\"\\u00ad\"");
  EXPECT_EQ(GoQuote("\xc2\x85"), "\"\\u0085\"");
  EXPECT_EQ(GoQuote("\xe2\x80\x8b"), "\"\\u200b\"");
  EXPECT_EQ(GoQuote("\xf3\xa0\x80\x81"), "\"\\U000e0001\"");
  EXPECT_EQ(GoQuote("\xf0\x9f\x98\x80"), "\"\xf0\x9f\x98\x80\"");
  // Bytes that are not UTF-8 (a lone lead byte, a surrogate, an overlong
  // form, beyond U+10FFFF) are escaped byte by byte.
  EXPECT_EQ(GoQuote("\xff"), "\"\\xff\"");
  EXPECT_EQ(GoQuote("\xc2"
                    "a"),
            "\"\\xc2a\"");
  EXPECT_EQ(GoQuote("\xed\xa0\x80"), "\"\\xed\\xa0\\x80\"");
  EXPECT_EQ(GoQuote("\xe0\x80\x80"), "\"\\xe0\\x80\\x80\"");
  EXPECT_EQ(GoQuote("\xf4\x90\x80\x80"), "\"\\xf4\\x90\\x80\\x80\"");
  // U+FFFD itself is printable.
  EXPECT_EQ(GoQuote("\xef\xbf\xbd"), "\"\xef\xbf\xbd\"");
}

TEST(GoQuoteTest, UnquoteAcceptsGoLiterals) {
  EXPECT_EQ(*GoUnquote("\"\""), "");
  EXPECT_EQ(*GoUnquote("\"a b\""), "a b");
  EXPECT_EQ(*GoUnquote("\"\\a\\b\\f\\n\\r\\t\\v\\\\\\\"\""),
            "\a\b\f\n\r\t\v\\\"");
  EXPECT_EQ(*GoUnquote("\"\\x00\\xfF\""), std::string("\0\xff", 2));
  EXPECT_EQ(*GoUnquote("\"\\000\\101\\377\""), std::string("\0A\xff", 3));
  EXPECT_EQ(*GoUnquote("\"\\u00e9\\U0001F600\""), "\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_EQ(*GoUnquote("\"\\u0041\""), "A");
  EXPECT_EQ(*GoUnquote("`a\\n\"b`"), "a\\n\"b");
  EXPECT_EQ(*GoUnquote("`a\rb\r`"), "ab");
  EXPECT_EQ(*GoUnquote("'x'"), "x");
  EXPECT_EQ(*GoUnquote("'\\''"), "'");
  EXPECT_EQ(*GoUnquote("'\"'"), "\"");
  EXPECT_EQ(*GoUnquote("''"), "");  // Go accepts this too
  // Raw bytes that are not UTF-8 become U+FFFD, as in Go.
  EXPECT_EQ(*GoUnquote("\"\xff\""), "\xef\xbf\xbd");
  // A literal tab is fine.
  EXPECT_EQ(*GoUnquote("\"a\tb\""), "a\tb");
}

TEST(GoQuoteTest, UnquoteErrorsSayWhatAndWhere) {
  struct Case {
    const char* in;
    const char* want;
  };
  const Case cases[] = {
      {"", "empty"},
      {"abc", "does not start with"},
      {"\"abc", "missing closing \" at byte 4"},
      {"\"a\"b", "text after the closing \" at byte 3"},
      {"\"a\nb\"", "literal newline at byte 2"},
      {"\"\\q\"", "unknown escape \\q at byte 1"},
      {"\"\\x4\"", "\\x escape needs 2 hex digits at byte 1"},
      {"\"\\u12\"", "\\u escape needs 4 hex digits"},
      {"\"\\ud800\"", "\\ud800 is not a valid Unicode code point"},
      {"\"\\U00110000\"", "\\U00110000 is not a valid Unicode code point"},
      {"\"\\400\"", "octal escape \\400 is above \\377"},
      {"\"\\08\"", "octal escape needs 3 octal digits"},
      {"\"\\'\"", "\\' is not an escape inside \"...\""},
      {"'\\\"'", "\\\" is not an escape inside '...'"},
      {"'ab'", "more than one character in a rune literal at byte 2"},
      {"`ab", "missing closing `"},
      {"`a`b", "text after the closing ` at byte 3"},
      {"\"\\", "backslash at the end"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::string> got = GoUnquote(c.in);
    ASSERT_FALSE(got.ok()) << c.in;
    EXPECT_NE(got.status().message().find(c.want), std::string::npos)
        << "input " << absl::CEscape(c.in) << ": " << got.status().message();
  }
}

TEST(GoQuoteTest, DecodeRuneFollowsGo) {
  EXPECT_EQ(DecodeRune("").width, 0u);
  EXPECT_EQ(DecodeRune("A").rune, U'A');
  DecodedRune d = DecodeRune("\xe4\xb8\x96!");
  EXPECT_EQ(d.rune, 0x4e16u);
  EXPECT_EQ(d.width, 3u);
  for (absl::string_view bad :
       {"\x80", "\xc0\x80", "\xc1\xbf", "\xe0\x9f\xbf", "\xed\xa0\x80",
        "\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xe4\xb8",
        "\xff"}) {
    DecodedRune r = DecodeRune(bad);
    EXPECT_EQ(r.rune, kRuneError) << absl::CEscape(bad);
    EXPECT_EQ(r.width, 1u) << absl::CEscape(bad);
  }
}

TEST(GoQuoteTest, TrimSpaceUsesUnicodeSpaces) {
  EXPECT_EQ(GoTrimSpace("  a b \t"), "a b");
  EXPECT_EQ(GoTrimSpace("\xc2\xa0x\xe2\x80\xa8"), "x");
  EXPECT_EQ(GoTrimSpace(" \xff "), "\xff");
  EXPECT_EQ(GoTrimSpace(" \t "), "");
  EXPECT_EQ(GoTrimSpace(""), "");
}

// The golden file: Go's answers for IsPrint/IsSpace over all runes and for
// Quote/Unquote over a few thousand generated strings.
class GoldenTest : public ::testing::Test {
 protected:
  static std::vector<std::string> Lines() {
    std::ifstream f("format/testdata/go_quote_golden.txt", std::ios::binary);
    EXPECT_TRUE(f.good()) << "cannot open format/testdata/go_quote_golden.txt";
    std::vector<std::string> lines;
    std::string line;
    while (std::getline(f, line)) {
      if (!line.empty() && line[0] != '#') lines.push_back(line);
    }
    return lines;
  }
  static std::string Unhex(absl::string_view h) {
    return h == "-" ? std::string() : absl::HexStringToBytes(h);
  }
};

TEST_F(GoldenTest, IsPrintAndIsSpaceMatchGoForEveryRune) {
  std::vector<bool> print(0x110000), space(0x110000);
  int ranges = 0;
  for (const std::string& line : Lines()) {
    std::vector<std::string> f = absl::StrSplit(line, ' ');
    if (f[0] != "print" && f[0] != "space") continue;
    ++ranges;
    const unsigned long lo = std::stoul(f[1], nullptr, 16);
    const unsigned long hi = std::stoul(f[2], nullptr, 16);
    for (unsigned long r = lo; r <= hi; ++r) {
      (f[0] == "print" ? print : space)[r] = true;
    }
  }
  ASSERT_GT(ranges, 500);
  int mismatches = 0;
  for (char32_t r = 0; r < 0x110000; ++r) {
    if (GoIsPrint(r) != print[r] && ++mismatches < 20) {
      ADD_FAILURE() << "IsPrint(U+" << std::hex << r << ") differs from Go";
    }
    if (GoIsSpace(r) != space[r] && ++mismatches < 20) {
      ADD_FAILURE() << "IsSpace(U+" << std::hex << r << ") differs from Go";
    }
  }
  EXPECT_EQ(mismatches, 0);
  EXPECT_FALSE(GoIsPrint(0x110000));
  EXPECT_FALSE(GoIsSpace(0x110000));
}

TEST_F(GoldenTest, QuoteAndUnquoteMatchGo) {
  int quotes = 0, unquotes = 0;
  for (const std::string& line : Lines()) {
    if (absl::StartsWith(line, "quote ")) {
      // quote HEX QUOTED (QUOTED may contain spaces)
      const size_t sp = line.find(' ', 6);
      ASSERT_NE(sp, std::string::npos) << line;
      const std::string in = Unhex(line.substr(6, sp - 6));
      const std::string want = line.substr(sp + 1);
      EXPECT_EQ(GoQuote(in), want) << "input " << absl::CEscape(in);
      // And what Go quoted, Go and we unquote back to the input.
      absl::StatusOr<std::string> back = GoUnquote(want);
      ASSERT_TRUE(back.ok()) << want << ": " << back.status();
      EXPECT_EQ(*back, in);
      ++quotes;
    } else if (absl::StartsWith(line, "unquote ")) {
      std::vector<std::string> f = absl::StrSplit(line, ' ');
      ASSERT_GE(f.size(), 3u) << line;
      const std::string in = Unhex(f[1]);
      absl::StatusOr<std::string> got = GoUnquote(in);
      if (f[2] == "ok") {
        ASSERT_EQ(f.size(), 4u) << line;
        ASSERT_TRUE(got.ok()) << absl::CEscape(in) << ": " << got.status();
        EXPECT_EQ(*got, Unhex(f[3])) << "input " << absl::CEscape(in);
      } else {
        EXPECT_FALSE(got.ok()) << "Go rejects " << absl::CEscape(in)
                               << ", we returned " << absl::CEscape(*got);
      }
      ++unquotes;
    }
  }
  EXPECT_GT(quotes, 1000);
  EXPECT_GT(unquotes, 1000);
}

}  // namespace
}  // namespace gentrace::format
