// Tests of batch framing: writing headers, reading batches, and precise
// errors for malformed or truncated input.
#include "format/batch.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "format/chunked_source.h"
#include "format/header.h"
#include "format/leb128.h"

namespace gentrace::format {
namespace {

// A trace with one event batch (payload "abc") and one experimental batch.
std::string TwoBatchTrace() {
  std::string t = EncodeHeader(Version::kGo123);
  uint8_t h[kMaxBatchHeaderSize];
  size_t n = WriteBatchHeader(h, 7, 101, 5000);
  PatchBatchSize(h, n, 3);
  t.append(reinterpret_cast<char*>(h), n);
  t += "abc";
  n = WriteExperimentalBatchHeader(h, 9, 7, kNoThread, 0);
  PatchBatchSize(h, n, 2);
  t.append(reinterpret_cast<char*>(h), n);
  t += "xy";
  return t;
}

absl::Span<const uint8_t> Bytes(const std::string& s) {
  return absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(s.data()),
                             s.size());
}

TEST(BatchTest, HeaderLayout) {
  uint8_t h[kMaxBatchHeaderSize];
  size_t n = WriteBatchHeader(h, 1, 2, 3);
  EXPECT_EQ(n, 1 + 3 + kMaxVarintLen);
  EXPECT_EQ(h[0], kEvEventBatch);
  PatchBatchSize(h, n, 65536);
  uint64_t v = 0;
  size_t used = 0;
  ASSERT_EQ(GetUvarint(h + n - kMaxVarintLen, h + n, &v, &used),
            VarintStatus::kOk);
  EXPECT_EQ(v, 65536u);
  EXPECT_EQ(used, kMaxVarintLen);
  n = WriteExperimentalBatchHeader(h, 200, 1, kNoThread, 0);
  EXPECT_EQ(h[1], 200);  // raw byte, not a varint
  EXPECT_EQ(n, 2 + 1 + 10 + 1 + kMaxVarintLen);
}

void ExpectTwoBatches(BatchReader& r) {
  ASSERT_EQ(*r.ReadHeader(), Version::kGo123);
  Batch b;
  ASSERT_TRUE(*r.Next(&b));
  EXPECT_FALSE(b.experimental);
  EXPECT_EQ(b.offset, 16u);
  EXPECT_EQ(b.gen, 7u);
  EXPECT_EQ(b.m, 101u);
  EXPECT_EQ(b.time, 5000u);
  EXPECT_EQ(std::string(b.payload.begin(), b.payload.end()), "abc");
  EXPECT_EQ(std::string(b.raw.begin(), b.raw.end()),
            TwoBatchTrace().substr(16, b.raw.size()));
  EXPECT_EQ(b.raw.size(), 1 + 1 + 1 + 2 + 10 + 3u);
  EXPECT_EQ(b.kind(), BatchKind::kEvents);
  ASSERT_TRUE(*r.Next(&b));
  EXPECT_TRUE(b.experimental);
  EXPECT_EQ(b.experiment, 9);
  EXPECT_EQ(b.m, kNoThread);
  EXPECT_EQ(b.kind(), BatchKind::kExperimental);
  EXPECT_EQ(std::string(b.payload.begin(), b.payload.end()), "xy");
  EXPECT_FALSE(*r.Next(&b));
}

TEST(BatchTest, ReadsFromBufferAndStream) {
  std::string t = TwoBatchTrace();
  BatchReader span_reader(Bytes(t));
  ExpectTwoBatches(span_reader);
  SpanSource src(Bytes(t));
  BatchReader stream_reader(&src);
  ExpectTwoBatches(stream_reader);
}

TEST(BatchTest, KindsFromFirstPayloadByte) {
  Batch b;
  const uint8_t strings[] = {kEvStrings}, stacks[] = {kEvStacks},
                samples[] = {kEvCPUSamples}, freq[] = {kEvFrequency, 1};
  b.payload = strings;
  EXPECT_EQ(b.kind(), BatchKind::kStrings);
  b.payload = stacks;
  EXPECT_EQ(b.kind(), BatchKind::kStacks);
  b.payload = samples;
  EXPECT_EQ(b.kind(), BatchKind::kCPUSamples);
  b.payload = freq;
  EXPECT_EQ(b.kind(), BatchKind::kFrequency);
  // As in Go: an empty batch is an event batch; only a non-zero
  // experiment id makes a batch experimental.
  b.payload = {};
  EXPECT_EQ(b.kind(), BatchKind::kEvents);
  b.payload = strings;
  b.experimental = true;
  EXPECT_EQ(b.kind(), BatchKind::kStrings);
  b.experiment = 9;
  EXPECT_EQ(b.kind(), BatchKind::kExperimental);
}

std::string ErrorOf(const std::string& t) {
  BatchReader r(Bytes(t));
  absl::StatusOr<Version> v = r.ReadHeader();
  if (!v.ok()) return std::string(v.status().message());
  Batch b;
  for (;;) {
    absl::StatusOr<bool> more = r.Next(&b);
    if (!more.ok()) return std::string(more.status().message());
    if (!*more) return "";
  }
}

TEST(BatchTest, EveryTruncationIsAnErrorInGosWords) {
  std::string t = TwoBatchTrace();
  // Cutting anywhere except between batches must fail, never crash; Go's
  // reader also ends cleanly right after an ExperimentalBatch byte.
  const size_t first_end = 16 + 1 + 1 + 1 + 2 + 10 + 3;
  for (size_t cut = 0; cut < t.size(); ++cut) {
    std::string e = ErrorOf(t.substr(0, cut));
    if (cut == 16 || cut == first_end || cut == first_end + 1) {
      EXPECT_EQ(e, "") << cut;
    } else {
      EXPECT_NE(e, "") << cut;
    }
  }
  // The ExperimentalBatch byte alone is read, then the input ends.
  {
    const std::string lone = t.substr(0, first_end + 1);
    BatchReader r(Bytes(lone));
    ASSERT_TRUE(r.ReadHeader().ok());
    Batch b;
    ASSERT_TRUE(*r.Next(&b));
    EXPECT_FALSE(*r.Next(&b));
    EXPECT_EQ(r.offset(), first_end + 1);
  }
  EXPECT_EQ(ErrorOf(t.substr(0, 17)), "error reading batch gen: EOF");
  EXPECT_EQ(ErrorOf(t.substr(0, 19)), "error reading batch timestamp: EOF");
  EXPECT_EQ(ErrorOf(t.substr(0, 20)),
            "error reading batch timestamp: unexpected EOF");
  EXPECT_EQ(ErrorOf(t.substr(0, 21)), "error reading batch size: EOF");
  EXPECT_EQ(ErrorOf(t.substr(0, 25)),
            "error reading batch size: unexpected EOF");
  EXPECT_EQ(ErrorOf(t.substr(0, first_end - 1)),
            "failed to read full batch: read 2 but wanted 3");
  EXPECT_EQ(ErrorOf(t.substr(0, 10)),
            "bad file format: not a Go execution trace?");
}

TEST(BatchTest, RejectsBadBytes) {
  std::string t = EncodeHeader(Version::kGo122) + "\x07";
  EXPECT_EQ(ErrorOf(t), "expected batch event, got CPUSample");
  t = EncodeHeader(Version::kGo122) + "\x63";  // a hole in Go's table
  EXPECT_EQ(ErrorOf(t), "expected batch event, got ");
  t = EncodeHeader(Version::kGo122) + "\xc8";
  EXPECT_EQ(ErrorOf(t), "expected batch event, got Invalid(200)");
  // Oversized batch: 65537.
  t = EncodeHeader(Version::kGo122) + std::string("\x01\x01\x01\x01", 4) +
      "\x81\x80\x04";
  EXPECT_EQ(ErrorOf(t), "invalid batch size 65537, maximum is 65536");
  // Overlong varint in the generation.
  t = EncodeHeader(Version::kGo122) + "\x01" + std::string(10, '\xff') + "\x01";
  EXPECT_EQ(ErrorOf(t),
            "error reading batch gen: binary: varint overflows a 64-bit "
            "integer");
}

TEST(BatchTest, HeaderByGosRules) {
  EXPECT_EQ(ErrorOf("hello, world, this is not a trace"),
            "bad file format: not a Go execution trace?");
  EXPECT_EQ(ErrorOf(std::string("go 1.21 trace\0\0\0", 16)),
            "trace is from go 1.21, which used the old trace format; gentrace "
            "reads only the go 1.22 and go 1.23 formats");
  EXPECT_EQ(ErrorOf(std::string("go 1.99 trace\0\0\0", 16)),
            "unknown or unsupported trace version go 1.99");
  EXPECT_EQ(ErrorOf("\x28\xb5\x2f\xfd rest"),
            "bad file format: not a Go execution trace?");
  EXPECT_EQ(ErrorOf(""), "bad file format: not a Go execution trace?");
  // Go's Fscanf: runs of spaces and leading zeros are fine, so a header
  // Go accepts can be longer than 16 bytes; the batches follow it.
  std::string loose = std::string("go \t 1. 023 trace\0\0\0", 20);
  uint8_t h[kMaxBatchHeaderSize];
  const size_t n = WriteBatchHeader(h, 1, 2, 3);
  PatchBatchSize(h, n, 0);
  loose.append(reinterpret_cast<char*>(h), n);
  BatchReader r(Bytes(loose));
  ASSERT_EQ(*r.ReadHeader(), Version::kGo123);
  EXPECT_EQ(r.offset(), 20u);
  Batch b;
  ASSERT_TRUE(*r.Next(&b));
  EXPECT_EQ(b.offset, 20u);
  EXPECT_EQ(b.m, 2u);
  EXPECT_EQ(ParseHeader(Bytes(loose)).value(), Version::kGo123);
  EXPECT_EQ(ParseHeader(Bytes(EncodeHeader(Version::kGo122))).value(),
            Version::kGo122);
}

TEST(BatchTest, MaxSizeBatchThroughSmallStreamReads) {
  // A full 64 KiB payload read through a source that returns 7 bytes a call.
  std::string t = EncodeHeader(Version::kGo122);
  uint8_t h[kMaxBatchHeaderSize];
  for (int i = 0; i < 3; ++i) {
    size_t n = WriteBatchHeader(h, 1, i, 0);
    PatchBatchSize(h, n, kMaxBatchPayload);
    t.append(reinterpret_cast<char*>(h), n);
    t.append(kMaxBatchPayload, static_cast<char>('a' + i));
  }
  ChunkedSource src(t, 7);
  BatchReader r(&src);
  ASSERT_TRUE(r.ReadHeader().ok());
  Batch b;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(*r.Next(&b));
    EXPECT_EQ(b.m, static_cast<uint64_t>(i));
    ASSERT_EQ(b.payload.size(), kMaxBatchPayload);
    EXPECT_EQ(b.payload[0], 'a' + i);
    EXPECT_EQ(b.payload[kMaxBatchPayload - 1], 'a' + i);
  }
  EXPECT_FALSE(*r.Next(&b));
  EXPECT_EQ(r.offset(), t.size());
}

}  // namespace
}  // namespace gentrace::format
