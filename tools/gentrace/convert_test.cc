// Tests of format detection and conversion behind `gentrace convert`.
#include "tools/gentrace/convert.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "format/batch.h"
#include "format/byte_sink.h"
#include "format/byte_source.h"
#include "format/chunked_source.h"
#include "format/header.h"
#include "format/leb128.h"
#include "format/raw_event.h"
#include "format/text.h"
#include "format/zstd.h"

namespace gentrace::tools {
namespace {

using format::RawEvent;

absl::StatusOr<std::string> ConvertBytes(const std::string& input,
                                         TraceFormat to,
                                         size_t step = 1 << 20) {
  format::ChunkedSource in(input, step);
  std::string out;
  format::StringSink sink(&out);
  absl::Status st = Convert(&in, &sink, to);
  if (!st.ok()) return st;
  return out;
}

constexpr char kText[] =
    "Trace Go1.22\n"
    "EventBatch gen=1 m=18446744073709551615 time=0 size=0\n"
    "Frequency freq=15625000\n"
    "EventBatch gen=1 m=5 time=10 size=0\n"
    "ProcStatus dt=1 p=0 pstatus=1\n"
    "ProcStop dt=2\n"
    "EventBatch gen=1 m=18446744073709551615 time=0 size=0\n"
    "Strings\n"
    "String id=1\n"
    "\tdata=\"h\\u00e9\\n\"\n";

// kText with the sizes filled in, as Go's writer prints it.
constexpr char kTextSized[] =
    "Trace Go1.22\n"
    "EventBatch gen=1 m=18446744073709551615 time=0 size=5\n"
    "Frequency freq=15625000\n"
    "EventBatch gen=1 m=5 time=10 size=6\n"
    "ProcStatus dt=1 p=0 pstatus=1\n"
    "ProcStop dt=2\n"
    "EventBatch gen=1 m=18446744073709551615 time=0 size=8\n"
    "Strings\n"
    "String id=1\n"
    "\tdata=\"h\xc3\xa9\\n\"\n";

TEST(ConvertTest, TextToBinaryToText) {
  absl::StatusOr<std::string> bin = ConvertBytes(kText, TraceFormat::kBinary);
  ASSERT_TRUE(bin.ok()) << bin.status();
  EXPECT_EQ(bin->substr(0, 16), format::EncodeHeader(format::Version::kGo122));
  for (size_t step : {size_t{1}, size_t{7}, size_t{1} << 20}) {
    absl::StatusOr<std::string> text =
        ConvertBytes(*bin, TraceFormat::kText, step);
    ASSERT_TRUE(text.ok()) << text.status();
    EXPECT_EQ(*text, kTextSized) << "step " << step;
  }
}

TEST(ConvertTest, SameFormatNormalizes) {
  // text -> text: canonical layout, sizes untouched.
  absl::StatusOr<std::string> text = ConvertBytes(
      "# c\n  Trace  Go1.22\nEventBatch gen=1 m=1  time=0 size=0\n"
      "\n ProcStop\tdt=2   \n",
      TraceFormat::kText);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text,
            "Trace Go1.22\nEventBatch gen=1 m=1 time=0 size=0\n"
            "ProcStop dt=2\n");

  // binary -> binary: the runtime pads batch sizes to 10 bytes; the output
  // has minimal varints. A non-minimal varint inside a payload shrinks the
  // payload, and the size follows.
  std::string bin = format::EncodeHeader(format::Version::kGo123);
  uint8_t hdr[format::kMaxBatchHeaderSize];
  size_t n = format::WriteBatchHeader(hdr, 1, 5, 10);
  const std::string payload("\x0b\x82\x00", 3);  // ProcStop dt=2, padded
  format::PatchBatchSize(hdr, n, payload.size());
  bin.append(reinterpret_cast<char*>(hdr), n);
  bin += payload;
  // An experimental batch stays as it is.
  ASSERT_TRUE(format::AppendRawEvent(
                  {format::kEvExperimentalBatch, {9, 1, 5, 11}, "opaque"}, &bin)
                  .ok());
  // A batch whose size is wrong keeps it: here 5, for 3 bytes of events.
  n = format::WriteBatchHeader(hdr, 1, 6, 12);
  format::PatchBatchSize(hdr, n, 5);
  bin.append(reinterpret_cast<char*>(hdr), n);
  bin += payload;
  // So does a batch cut off by the end of the file.
  ASSERT_TRUE(
      format::AppendRawEvent({format::kEvEventBatch, {2, 0, 0, 50}, ""}, &bin)
          .ok());

  std::string want = format::EncodeHeader(format::Version::kGo123);
  ASSERT_TRUE(
      format::AppendRawEvent({format::kEvEventBatch, {1, 5, 10, 2}, ""}, &want)
          .ok());
  ASSERT_TRUE(
      format::AppendRawEvent({format::kEvProcStop, {2}, ""}, &want).ok());
  ASSERT_TRUE(
      format::AppendRawEvent(
          {format::kEvExperimentalBatch, {9, 1, 5, 11}, "opaque"}, &want)
          .ok());
  ASSERT_TRUE(
      format::AppendRawEvent({format::kEvEventBatch, {1, 6, 12, 5}, ""}, &want)
          .ok());
  ASSERT_TRUE(
      format::AppendRawEvent({format::kEvProcStop, {2}, ""}, &want).ok());
  ASSERT_TRUE(
      format::AppendRawEvent({format::kEvEventBatch, {2, 0, 0, 50}, ""}, &want)
          .ok());
  for (size_t step : {size_t{1}, size_t{1} << 20}) {
    absl::StatusOr<std::string> got =
        ConvertBytes(bin, TraceFormat::kBinary, step);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, want);
  }
}

TEST(ConvertTest, TxtarUsesTheTraceFile) {
  const std::string archive =
      std::string("-- expect --\nSUCCESS\n-- trace --\n") + kText +
      "-- other --\nignored\n";
  absl::StatusOr<std::string> from_archive =
      ConvertBytes(archive, TraceFormat::kBinary);
  ASSERT_TRUE(from_archive.ok()) << from_archive.status();
  EXPECT_EQ(*from_archive, *ConvertBytes(kText, TraceFormat::kBinary));
  // Errors give the line in the archive.
  absl::StatusOr<std::string> bad =
      ConvertBytes("-- expect --\nFAILURE\n-- trace --\nTrace Go1.22\nNope\n",
                   TraceFormat::kBinary);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "line 5: unknown event \"Nope\"");
}

// `data` compressed in `frames` zstd frames.
std::string Zstd(const std::string& data, int frames = 1) {
  std::string out;
  absl::StatusOr<std::unique_ptr<format::ZstdSink>> z =
      format::ZstdSink::Create(std::make_unique<format::StringSink>(&out), 3);
  EXPECT_TRUE(z.ok()) << z.status();
  const size_t step = (data.size() + frames - 1) / frames;
  for (size_t off = 0; off < data.size(); off += step) {
    EXPECT_TRUE((*z)->WriteString(data.substr(off, step)).ok());
    EXPECT_TRUE((*z)->EndGeneration().ok());
  }
  EXPECT_TRUE((*z)->Close().ok());
  return out;
}

TEST(ConvertTest, ReadsZstdInputOfEitherFormat) {
  const std::string bin = *format::TextToBinary(kText);
  const std::string text = *ConvertBytes(bin, TraceFormat::kText);
  for (int frames : {1, 3}) {
    const std::string zbin = Zstd(bin, frames);
    const std::string ztext = Zstd(text, frames);
    ASSERT_TRUE(format::LooksLikeZstd(absl::MakeConstSpan(
        reinterpret_cast<const uint8_t*>(zbin.data()), zbin.size())));
    for (size_t step : {size_t{1}, size_t{5}, size_t{1} << 20}) {
      EXPECT_EQ(*ConvertBytes(zbin, TraceFormat::kText, step), text);
      EXPECT_EQ(*ConvertBytes(zbin, TraceFormat::kBinary, step), bin);
      EXPECT_EQ(*ConvertBytes(ztext, TraceFormat::kBinary, step), bin);
      EXPECT_EQ(*ConvertBytes(ztext, TraceFormat::kText, step), text);
    }
    EXPECT_EQ(*DetectFormat(zbin), TraceFormat::kBinary);
    EXPECT_EQ(*DetectFormat(ztext), TraceFormat::kText);
  }
  // A cut stream converts what it holds, then fails.
  const std::string zbin = Zstd(bin);
  absl::StatusOr<std::string> cut =
      ConvertBytes(zbin.substr(0, zbin.size() - 3), TraceFormat::kText);
  ASSERT_FALSE(cut.ok());
  EXPECT_EQ(std::string(cut.status().message()),
            "offset 68: zstd: compressed input ends inside a frame "
            "(truncated) (argument size of EventBatch at offset 46) (after 5 "
            "events)");
}

TEST(ConvertTest, DetectsFormats) {
  EXPECT_EQ(*DetectFormat(format::EncodeHeader(format::Version::kGo122)),
            TraceFormat::kBinary);
  EXPECT_EQ(*DetectFormat(kText), TraceFormat::kText);
  EXPECT_EQ(*DetectFormat("\n# comment\n\t Trace Go1.23\n"),
            TraceFormat::kText);
  EXPECT_EQ(*DetectFormat("-- trace --\nTrace Go1.23\n"), TraceFormat::kText);
  EXPECT_FALSE(DetectFormat("hello\n").ok());
  EXPECT_FALSE(DetectFormat("-- other --\nTrace Go1.23\n").ok());
}

TEST(ConvertTest, RejectsWhatItCannotRead) {
  struct Case {
    std::string input;
    std::string want;
  };
  const Case cases[] = {
      {"", "empty input"},
      {"\x28\xb5\x2f\xfd\x00\x01", "zstd: "},
      {"hello world\n", "unrecognized input"},
      {std::string("\x7f"
                   "ELF\x02\x01\x01\x00",
                   8),
       "unrecognized input"},
      {"Trace Go1.21\n", "line 1: unsupported trace version Go1.21"},
      {std::string("go 1.21 trace\0\0\0", 16), "trace is from go 1.21"},
      {std::string("go 1.22 trace\0\0\0\x63", 17), "offset 16"},
  };
  for (const Case& c : cases) {
    for (TraceFormat to : {TraceFormat::kBinary, TraceFormat::kText}) {
      absl::StatusOr<std::string> got = ConvertBytes(c.input, to);
      ASSERT_FALSE(got.ok()) << c.want;
      EXPECT_NE(got.status().message().find(c.want), std::string::npos)
          << "want " << c.want << ", got " << got.status();
    }
  }
  // Compressed input that holds nothing is empty input.
  EXPECT_EQ(ConvertBytes(Zstd(""), TraceFormat::kText).status().message(),
            "empty input: no trace to convert");
}

TEST(ConvertTest, ParsesFormatNames) {
  EXPECT_EQ(*ParseTraceFormat("text"), TraceFormat::kText);
  EXPECT_EQ(*ParseTraceFormat("binary"), TraceFormat::kBinary);
  EXPECT_FALSE(ParseTraceFormat("json").ok());
  EXPECT_EQ(TraceFormatName(TraceFormat::kText), "text");
}

}  // namespace
}  // namespace gentrace::tools
