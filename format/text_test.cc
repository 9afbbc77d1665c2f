// Tests of the raw text trace format: parsing, Go-identical printing,
// conversion both ways, and the error messages.
#include "format/text.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "format/header.h"
#include "format/raw_writer.h"

namespace gentrace::format {
namespace {

absl::Span<const uint8_t> Bytes(const std::string& s) {
  return absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(s.data()),
                             s.size());
}

// Text as Go's TextWriter prints it.
constexpr char kCanonical[] =
    "Trace Go1.23\n"
    "EventBatch gen=1 m=18446744073709551615 time=0 size=5\n"
    "Frequency freq=15625000\n"
    "EventBatch gen=1 m=3 time=100 size=10\n"
    "ProcStatus dt=1 p=0 pstatus=1\n"
    "UserLog dt=2 task=0 key_string=1 value_string=2 stack=1\n"
    "EventBatch gen=1 m=18446744073709551615 time=0 size=14\n"
    "Stacks\n"
    "Stack id=1 nframes=2\n"
    "\tpc=4096 func=3 file=4 line=10\n"
    "\tpc=8192 func=5 file=4 line=20\n"
    "EventBatch gen=1 m=18446744073709551615 time=0 size=56\n"
    "Strings\n"
    "String id=1\n"
    "\tdata=\"key\"\n"
    "String id=2\n"
    "\tdata=\"tab\\there \\\"q\\\" \\xff h\xc3\xa9\"\n"
    "String id=3\n"
    "\tdata=\"main.f\"\n"
    "String id=4\n"
    "\tdata=\"f.go\"\n"
    "String id=5\n"
    "\tdata=\"main.main\"\n"
    "ExperimentalBatch exp=7 gen=1 m=3 time=5\n"
    "\tdata=\"\\x00\\x01\"\n";

std::vector<RawEvent> ReadAllEvents(absl::string_view text, Version* v) {
  TextReader r(text);
  absl::StatusOr<Version> got = r.ReadHeader();
  EXPECT_TRUE(got.ok()) << got.status();
  if (v != nullptr && got.ok()) *v = *got;
  std::vector<RawEvent> evs;
  RawEvent ev;
  for (;;) {
    absl::StatusOr<bool> more = r.Next(&ev);
    EXPECT_TRUE(more.ok()) << more.status();
    if (!more.ok() || !*more) break;
    evs.push_back(ev);
  }
  return evs;
}

std::string WriteText(Version v, const std::vector<RawEvent>& evs) {
  std::string out;
  TextWriter w(v, &out);
  for (const RawEvent& ev : evs) {
    absl::Status st = w.Write(ev);
    EXPECT_TRUE(st.ok()) << st;
  }
  return out;
}

TEST(TextTest, ReadsEventsFramesAndData) {
  Version v;
  std::vector<RawEvent> evs = ReadAllEvents(kCanonical, &v);
  EXPECT_EQ(v, Version::kGo123);
  ASSERT_EQ(evs.size(), 16u);
  EXPECT_EQ(evs[0].type, kEvEventBatch);
  EXPECT_EQ(evs[0].args, (std::vector<uint64_t>{1, kNoThread, 0, 5}));
  EXPECT_EQ(evs[4].type, kEvUserLog);
  EXPECT_EQ(evs[4].args, (std::vector<uint64_t>{2, 0, 1, 2, 1}));
  EXPECT_EQ(evs[7].type, kEvStack);
  EXPECT_EQ(evs[7].args,
            (std::vector<uint64_t>{1, 2, 4096, 3, 4, 10, 8192, 5, 4, 20}));
  EXPECT_EQ(evs[11].data, "tab\there \"q\" \xff h\xc3\xa9");
  EXPECT_EQ(evs[15].type, kEvExperimentalBatch);
  EXPECT_EQ(evs[15].args, (std::vector<uint64_t>{7, 1, 3, 5}));
  EXPECT_EQ(evs[15].data, std::string("\0\1", 2));
}

TEST(TextTest, WriterReproducesGoText) {
  Version v;
  std::vector<RawEvent> evs = ReadAllEvents(kCanonical, &v);
  EXPECT_EQ(WriteText(v, evs), kCanonical);
}

TEST(TextTest, TextBinaryTextRoundTrip) {
  absl::StatusOr<std::string> bin = TextToBinary(kCanonical);
  ASSERT_TRUE(bin.ok()) << bin.status();
  EXPECT_EQ(bin->substr(0, 16), EncodeHeader(Version::kGo123));
  SpanSource src(Bytes(*bin));
  std::string text;
  ASSERT_TRUE(BinaryToText(&src, &text).ok());
  EXPECT_EQ(text, kCanonical);
  // The sizes in kCanonical are right, so nothing changes on the way back.
  absl::StatusOr<std::string> bin2 = TextToBinary(text);
  ASSERT_TRUE(bin2.ok());
  EXPECT_EQ(*bin2, *bin);
}

TEST(TextTest, ToleratesLayoutGoTolerates) {
  // Comments, blank lines, CRLF, Unicode spaces (U+00A0, U+2003) as
  // separators, data lines with spaces around '=' and raw strings, a missing
  // final newline, leading zeros.
  const std::string text =
      "# leading comment\n"
      "\n"
      "  Trace   Go1.22  \r\n"
      "EventBatch\xc2\xa0gen=1 m=2\xe2\x80\x83time=003 size=0\n"
      "   # indented comment\n"
      "\tProcStop dt=1\t\n"
      "EventBatch gen=1 m=18446744073709551615 time=0 size=0\n"
      "Strings\n"
      "String id=1\n"
      "\n"
      "  data = `raw\\n`  \n"
      "String id=2\n"
      "data='x'";
  Version v;
  std::vector<RawEvent> evs = ReadAllEvents(text, &v);
  EXPECT_EQ(v, Version::kGo122);
  ASSERT_EQ(evs.size(), 6u);
  EXPECT_EQ(evs[0].args, (std::vector<uint64_t>{1, 2, 3, 0}));
  EXPECT_EQ(evs[4].data, "raw\\n");
  EXPECT_EQ(evs[5].data, "x");
  // Sizes are filled in: ProcStop is 2 bytes, Strings + 2 Strings are
  // 1 + 8 + 4.
  absl::StatusOr<std::string> bin = TextToBinary(text);
  ASSERT_TRUE(bin.ok()) << bin.status();
  SpanSource src(Bytes(*bin));
  std::string back;
  ASSERT_TRUE(BinaryToText(&src, &back).ok());
  EXPECT_EQ(back,
            "Trace Go1.22\n"
            "EventBatch gen=1 m=2 time=3 size=2\n"
            "ProcStop dt=1\n"
            "EventBatch gen=1 m=18446744073709551615 time=0 size=13\n"
            "Strings\n"
            "String id=1\n"
            "\tdata=\"raw\\\\n\"\n"
            "String id=2\n"
            "\tdata=\"x\"\n");
}

TEST(TextTest, EmptyDataHasNoDataLine) {
  // Go's bin2text prints no data line for empty data; we print the same and
  // read it back.
  std::string bin = EncodeHeader(Version::kGo122);
  ASSERT_TRUE(AppendRawEvent({kEvString, {1}, ""}, &bin).ok());
  ASSERT_TRUE(AppendRawEvent({kEvString, {2}, "x"}, &bin).ok());
  ASSERT_TRUE(AppendRawEvent({kEvString, {3}, ""}, &bin).ok());
  SpanSource src(Bytes(bin));
  std::string text;
  ASSERT_TRUE(BinaryToText(&src, &text).ok());
  EXPECT_EQ(text,
            "Trace Go1.22\nString id=1\nString id=2\n\tdata=\"x\"\n"
            "String id=3\n");
  absl::StatusOr<std::string> again = TextToBinary(text);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, bin);
  // An explicit data="" is the same thing.
  EXPECT_EQ(*TextToBinary("Trace Go1.22\nString id=1\ndata=\"\"\n"
                          "String id=2\ndata=\"x\"\nString id=3\n"),
            bin);
}

TEST(TextTest, ErrorsNameLineAndProblem) {
  struct Case {
    std::string text;
    std::string want;
  };
  const std::string h = "Trace Go1.23\n";
  const Case cases[] = {
      {"", "empty text trace"},
      {"# only a comment\n", "empty text trace"},
      {"Trace Go1.21\n", "line 1: unsupported trace version Go1.21"},
      {"\nTrace Go1.x\n", "line 2: expected the header line"},
      {"Trace Go1.23 extra\n", "line 1: unexpected text after the header"},
      {"EventBatch gen=1 m=0 time=0 size=0\n", "line 1: expected the header"},
      {h + "Bogus a=1\n", "line 2: unknown event \"Bogus\""},
      {h + "\n\n# c\n\n\nUserLog dt=1 tsk=0 key_string=1 value_string=2 "
           "stack=0\n",
       "line 7: UserLog: expected argument \"task\", got \"tsk\""},
      {h + "ProcStop\n", "line 2: ProcStop: missing argument \"dt\""},
      {h + "ProcStart dt=1 p=2\n",
       "line 2: ProcStart: missing argument \"p_seq\" after \"p\""},
      {h + "ProcStop dt=-1\n",
       "line 2: ProcStop: argument dt: invalid value \"-1\""},
      {h + "ProcStop dt=18446744073709551616\n", "invalid value"},
      {h + "ProcStop dt=0x10\n", "invalid value"},
      {h + "ProcStop dt=\n", "invalid value \"\""},
      {h + "ProcStop dt\n", "malformed argument \"dt\": expected dt=<value>"},
      {h + "ProcStop dt=1 extra=2\n",
       "line 2: ProcStop: unexpected text after the last argument: "
       "\"extra=2\""},
      {h + "ProcStop dt=1 # no trailing comments\n",
       "unexpected text after the last argument"},
      {h + "Stack id=1 nframes=2\n\tpc=1 func=2 file=3 line=4\n",
       "line 2: Stack: the text ends after 1 of its nframes=2 frame lines"},
      {h + "Stack id=1 nframes=1\n\tpc=1 fn=2 file=3 line=4\n",
       "line 3: Stack frame 0: expected argument \"func\", got \"fn\""},
      {h + "String id=1\n\tdata=\"abc\n",
       "line 3: String data: invalid quoted string: missing closing \""},
      {h + "String id=1\n\tdata=\"\\q\"\n",
       "line 3: String data: invalid quoted string: unknown escape \\q at "
       "byte 1"},
      {h + "String id=1\n\tdata=abc\n", "line 3: String data:"},
      {h + "String id=1\n\tdta=\"abc\"\n", "line 3: unknown event \"dta"},
      {h + "ExperimentalBatch exp=256 gen=1 m=2 time=3\n\tdata=\"\"\n",
       "line 2: ExperimentalBatch experiment id 256 does not fit in a byte"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::string> got = TextToBinary(c.text);
    ASSERT_FALSE(got.ok()) << absl::CEscape(c.text);
    EXPECT_NE(got.status().message().find(c.want), std::string::npos)
        << "text:\n"
        << c.text << "\nwant: " << c.want
        << "\ngot:  " << got.status().message();
  }
}

TEST(TextTest, BinaryErrorsKeepWhatCameBefore) {
  std::string bin = EncodeHeader(Version::kGo122);
  ASSERT_TRUE(AppendRawEvent({kEvEventBatch, {1, 2, 3, 2}, ""}, &bin).ok());
  ASSERT_TRUE(AppendRawEvent({kEvProcStop, {1}, ""}, &bin).ok());
  bin.push_back(static_cast<char>(99));  // no such event
  SpanSource src(Bytes(bin));
  std::string text;
  absl::Status st = BinaryToText(&src, &text);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("invalid event type 99"), std::string::npos)
      << st;
  EXPECT_NE(st.message().find("after 2 events"), std::string::npos) << st;
  EXPECT_EQ(text,
            "Trace Go1.22\nEventBatch gen=1 m=2 time=3 size=2\n"
            "ProcStop dt=1\n");
  // A bad header gives no text at all, and Go's words.
  const std::string zstd = "\x28\xb5\x2f\xfd rest";
  SpanSource zsrc(Bytes(zstd));
  text.clear();
  st = BinaryToText(&zsrc, &text);
  EXPECT_EQ(st.message(), "bad file format: not a Go execution trace?");
  EXPECT_EQ(text, "");
}

TEST(TextTest, LargeBinaryStreamsThroughSink) {
  // More than one flush worth of text.
  std::string bin = EncodeHeader(Version::kGo122);
  std::string expect = "Trace Go1.22\n";
  for (int i = 0; i < 20000; ++i) {
    ASSERT_TRUE(AppendRawEvent({kEvProcStop, {uint64_t(i)}, ""}, &bin).ok());
    absl::StrAppend(&expect, "ProcStop dt=", i, "\n");
  }
  SpanSource src(Bytes(bin));
  std::string text;
  ASSERT_TRUE(BinaryToText(&src, &text).ok());
  EXPECT_EQ(text, expect);
}

TEST(TextTest, WriterChecksShapes) {
  std::string out;
  TextWriter w(Version::kGo122, &out);
  EXPECT_FALSE(w.Write({kEvUserLog, {1}, ""}).ok());
  EXPECT_FALSE(w.Write({kEvProcStop, {1, 2}, ""}).ok());
  EXPECT_FALSE(w.Write({kEvStack, {1, 2, 1, 2, 3, 4}, ""}).ok());
  EXPECT_FALSE(w.Write({kEvProcStop, {1}, "data"}).ok());
  EXPECT_FALSE(w.Write({77, {}, ""}).ok());
  EXPECT_EQ(out, "Trace Go1.22\n");
}

TEST(TextTest, ErrorLineNumbersCanStartLater) {
  TextReader r("Trace Go1.22\nNope\n", 41);
  ASSERT_TRUE(r.ReadHeader().ok());
  RawEvent ev;
  absl::StatusOr<bool> got = r.Next(&ev);
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.status().message().find("line 42: unknown event"),
            std::string::npos)
      << got.status();
}

TEST(TextTest, TxtarFileFindsTheSection) {
  const std::string archive =
      "comment\n"
      "-- expect --\n"
      "SUCCESS\n"
      "-- trace --\n"
      "Trace Go1.22\n"
      "ProcStop dt=1\n"
      "--  not a marker\n"
      "-- other --\n"
      "x\n";
  int line = 0;
  std::optional<absl::string_view> trace = TxtarFile(archive, "trace", &line);
  ASSERT_TRUE(trace.has_value());
  EXPECT_EQ(*trace, "Trace Go1.22\nProcStop dt=1\n--  not a marker\n");
  EXPECT_EQ(line, 5);
  EXPECT_EQ(*TxtarFile(archive, "other"), "x\n");
  EXPECT_EQ(*TxtarFile(archive, "expect"), "SUCCESS\n");
  EXPECT_FALSE(TxtarFile(archive, "nope").has_value());
  EXPECT_FALSE(TxtarFile("-- trace --x\n", "trace").has_value());
  EXPECT_EQ(*TxtarFile("-- trace --", "trace"), "");
  EXPECT_EQ(*TxtarFile("--  trace  --\nT\n", "trace"), "T\n");
}

}  // namespace
}  // namespace gentrace::format
