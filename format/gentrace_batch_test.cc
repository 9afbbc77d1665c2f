// gentrace's info-batch codec: the encoder against bytes written by hand,
// round trips through the decoder, the table's shape, and batches from
// older and newer writers.
#include "format/gentrace_batch.h"

#include <gtest/gtest.h>

#include <iterator>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"

namespace gentrace::format {
namespace {

absl::Span<const uint8_t> Bytes(const std::string& s) {
  return absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(s.data()),
                             s.size());
}

void Varint(std::string* out, uint64_t v) {
  uint8_t buf[kMaxVarintLen];
  out->append(reinterpret_cast<char*>(buf), PutUvarint(buf, v) - buf);
}

void Str(std::string* out, const std::string& s) {
  Varint(out, s.size());
  *out += s;
}

ThreadRecord Thread() { return {4242, kNoProc, 7, "worker-1"}; }
SamplerRecord Sampler() {
  return {kSamplerPerfEvent, 0, 1000000, 120, 3, "cpu-clock"};
}
FiberRecord Fiber() { return {99, std::string(300, 'f')}; }
GenerationRecord Span() { return {1000, uint64_t{1} << 63}; }
ModuleRecord Module() {
  return {"/usr/lib/libfoo.so", 0x7f0000000000, 0x7f0000001000, 0x7f0000009000,
          std::string("\x01\xab\x00\xff", 4)};
}

// A module record spelled out by hand: kind 66, its length, then path,
// bias, lo, hi, build-id.
std::string HandWrittenModule() {
  std::string body;
  Str(&body, "/usr/lib/libfoo.so");
  Varint(&body, 0x7f0000000000);
  Varint(&body, 0x7f0000001000);
  Varint(&body, 0x7f0000009000);
  Str(&body, std::string("\x01\xab\x00\xff", 4));
  std::string p;
  Varint(&p, 66);
  Varint(&p, body.size());
  return p + body;
}

// The layout the tracer has always written and the reader always read,
// spelled out field by field, independently of the table.
std::string HandWritten() {
  std::string p;
  Varint(&p, 1);  // thread: tid, proc, goroutine, name
  Varint(&p, 4242);
  Varint(&p, kNoProc);
  Varint(&p, 7);
  Str(&p, "worker-1");
  Varint(&p, 2);  // sampler: source, hz, period, taken, lost, event
  Varint(&p, 3);
  Varint(&p, 0);
  Varint(&p, 1000000);
  Varint(&p, 120);
  Varint(&p, 3);
  Str(&p, "cpu-clock");
  Varint(&p, 3);  // fiber: goroutine, name
  Varint(&p, 99);
  Str(&p, std::string(300, 'f'));
  Varint(&p, 4);  // generation: start, end
  Varint(&p, 1000);
  Varint(&p, uint64_t{1} << 63);
  return p;
}

TEST(InfoCodecTest, EncodesTheLayoutReadersKnow) {
  std::string p;
  AppendInfoRecord(Thread(), &p);
  AppendInfoRecord(Sampler(), &p);
  AppendInfoRecord(Fiber(), &p);
  AppendInfoRecord(Span(), &p);
  EXPECT_EQ(p, HandWritten());
}

TEST(InfoCodecTest, SizeIsWhatEncodeWrites) {
  // Into a buffer as the tracer does: ask the size, write at a pointer.
  uint8_t buf[512];
  auto check = [&](const auto& r) {
    const size_t n = InfoRecordSize(r);
    std::fill(buf, buf + sizeof(buf), 0xee);
    uint8_t* end = EncodeInfoRecord(r, buf);
    EXPECT_EQ(static_cast<size_t>(end - buf), n);
    EXPECT_EQ(buf[n], 0xee);  // nothing past it
  };
  check(Thread());
  check(Sampler());
  check(Fiber());
  check(Span());
  check(Module());
  check(ModuleRecord{});
  check(ThreadRecord{});
  check(GenerationRecord{~uint64_t{0}, ~uint64_t{0}});
}

TEST(InfoCodecTest, RoundTrips) {
  InfoRecords got;
  ASSERT_TRUE(DecodeInfoBatch(Bytes(HandWritten()), &got).ok());
  ASSERT_EQ(got.threads.size(), 1u);
  EXPECT_EQ(got.threads[0].thread, 4242u);
  EXPECT_EQ(got.threads[0].proc, kNoProc);
  EXPECT_EQ(got.threads[0].goroutine, 7u);
  EXPECT_EQ(got.threads[0].name, "worker-1");
  ASSERT_EQ(got.samplers.size(), 1u);
  EXPECT_EQ(got.samplers[0].source, kSamplerPerfEvent);
  EXPECT_EQ(got.samplers[0].hz, 0u);
  EXPECT_EQ(got.samplers[0].period, 1000000u);
  EXPECT_EQ(got.samplers[0].samples_taken, 120u);
  EXPECT_EQ(got.samplers[0].samples_lost, 3u);
  EXPECT_EQ(got.samplers[0].event, "cpu-clock");
  ASSERT_EQ(got.fibers.size(), 1u);
  EXPECT_EQ(got.fibers[0].goroutine, 99u);
  EXPECT_EQ(got.fibers[0].name, std::string(300, 'f'));
  ASSERT_EQ(got.spans.size(), 1u);
  EXPECT_EQ(got.spans[0].start, 1000u);
  EXPECT_EQ(got.spans[0].end, uint64_t{1} << 63);
  EXPECT_EQ(got.skipped, 0u);

  // Decoding appends, in batch order per kind.
  std::string more;
  AppendInfoRecord(ThreadRecord{1, 2, 3, ""}, &more);
  ASSERT_TRUE(DecodeInfoBatch(Bytes(more), &got).ok());
  ASSERT_EQ(got.threads.size(), 2u);
  EXPECT_EQ(got.threads[1].thread, 1u);
  EXPECT_EQ(got.threads[1].name, "");
  ASSERT_TRUE(DecodeInfoBatch({}, &got).ok());
  EXPECT_EQ(got.threads.size(), 2u);
}

TEST(InfoCodecTest, ModuleRecordCarriesItsLengthAndRoundTrips) {
  std::string p;
  AppendInfoRecord(Module(), &p);
  EXPECT_EQ(p, HandWrittenModule());
  AppendInfoRecord(Thread(), &p);
  InfoRecords got;
  ASSERT_TRUE(DecodeInfoBatch(Bytes(p), &got).ok());
  ASSERT_EQ(got.modules.size(), 1u);
  EXPECT_EQ(got.modules[0].path, "/usr/lib/libfoo.so");
  EXPECT_EQ(got.modules[0].bias, 0x7f0000000000u);
  EXPECT_EQ(got.modules[0].lo, 0x7f0000001000u);
  EXPECT_EQ(got.modules[0].hi, 0x7f0000009000u);
  EXPECT_EQ(got.modules[0].build_id, std::string("\x01\xab\x00\xff", 4));
  EXPECT_EQ(got.threads.size(), 1u);
  EXPECT_EQ(got.skipped, 0u);

  // A newer writer's extra field at the record's end is stepped over.
  std::string longer;
  {
    std::string body = HandWrittenModule().substr(2);  // kind, length: 1 each
    body += "\x07\x08";
    Varint(&longer, 66);
    Varint(&longer, body.size());
    longer += body;
    AppendInfoRecord(Span(), &longer);
  }
  InfoRecords got2;
  ASSERT_TRUE(DecodeInfoBatch(Bytes(longer), &got2).ok());
  ASSERT_EQ(got2.modules.size(), 1u);
  EXPECT_EQ(got2.modules[0].build_id, std::string("\x01\xab\x00\xff", 4));
  EXPECT_EQ(got2.spans.size(), 1u);

  // Fields running past the record's length: cut short, even with bytes
  // after the record.
  std::string shorter;
  {
    std::string body = HandWrittenModule().substr(2);
    Varint(&shorter, 66);
    Varint(&shorter, body.size() - 1);
    shorter += body;
  }
  InfoRecords got3;
  EXPECT_EQ(DecodeInfoBatch(Bytes(shorter), &got3).message(),
            "gentrace info batch: record of kind 66 at offset 0 is cut short");
  EXPECT_TRUE(got3.modules.empty());
}

TEST(InfoCodecTest, TableShape) {
  // Distinct kinds below the skippable range, every field named, and the
  // decoder takes back exactly what the encoder wrote for each kind.
  std::set<uint8_t> kinds = {InfoRecordSpec<ThreadRecord>::kKind,
                             InfoRecordSpec<SamplerRecord>::kKind,
                             InfoRecordSpec<FiberRecord>::kKind,
                             InfoRecordSpec<GenerationRecord>::kKind};
  EXPECT_EQ(kinds, (std::set<uint8_t>{1, 2, 3, 4}));
  EXPECT_LT(*kinds.rbegin(), kFirstSkippableInfoRecord);
  for (const auto& f : InfoRecordSpec<SamplerRecord>::kFields) {
    EXPECT_FALSE(f.name.empty());
    EXPECT_EQ(f.kind == InfoFieldKind::kUvarint, f.number != nullptr);
    EXPECT_EQ(f.kind == InfoFieldKind::kBytes, f.bytes != nullptr);
  }
  EXPECT_EQ(std::size(InfoRecordSpec<ThreadRecord>::kFields), 4u);
  EXPECT_EQ(std::size(InfoRecordSpec<SamplerRecord>::kFields), 6u);
  EXPECT_EQ(std::size(InfoRecordSpec<FiberRecord>::kFields), 2u);
  EXPECT_EQ(std::size(InfoRecordSpec<GenerationRecord>::kFields), 2u);
  EXPECT_EQ(InfoRecordSpec<ModuleRecord>::kKind, 66);
  EXPECT_EQ(std::size(InfoRecordSpec<ModuleRecord>::kFields), 5u);
}

TEST(InfoCodecTest, NewerWritersKindsFrom64AreSkippedByLength) {
  std::string p;
  AppendInfoRecord(Thread(), &p);
  Varint(&p, 100);  // a kind this reader does not know, 5 bytes long
  Varint(&p, 5);
  p += "\x01\x02\x03\x04\x05";
  Varint(&p, 200);  // and another, empty
  Varint(&p, 0);
  AppendInfoRecord(Span(), &p);
  InfoRecords got;
  ASSERT_TRUE(DecodeInfoBatch(Bytes(p), &got).ok());
  EXPECT_EQ(got.threads.size(), 1u);
  EXPECT_EQ(got.spans.size(), 1u);
  EXPECT_EQ(got.skipped, 2u);

  // A length past the payload is an error.
  std::string bad;
  Varint(&bad, 65);
  Varint(&bad, 6);
  bad += "12345";
  EXPECT_EQ(DecodeInfoBatch(Bytes(bad), &got).message(),
            "gentrace info batch: record of kind 65 at offset 0 is cut short");
}

EventSamplerRecord EventSampler() { return {1, "page-faults", 1, 0, 4000, 17}; }
EventSampleRecord EventSample() {
  return {2, uint64_t{1} << 40, 4242, kNoProc, 0, 300};
}

// The two skippable kinds, spelled out: kind, the fields' length, fields.
std::string HandWrittenEventRecords() {
  std::string p;
  std::string f;
  Varint(&f, 1);  // event sampler: event, name, period, hz, taken, lost
  Str(&f, "page-faults");
  Varint(&f, 1);
  Varint(&f, 0);
  Varint(&f, 4000);
  Varint(&f, 17);
  Varint(&p, 64);
  Varint(&p, f.size());
  p += f;
  f.clear();
  Varint(&f, 2);  // event sample: event, time, thread, proc, g, stack
  Varint(&f, uint64_t{1} << 40);
  Varint(&f, 4242);
  Varint(&f, kNoProc);
  Varint(&f, 0);
  Varint(&f, 300);
  Varint(&p, 65);
  Varint(&p, f.size());
  p += f;
  return p;
}

TEST(InfoCodecTest, EventRecordsCarryTheirLengthAndRoundTrip) {
  std::string p;
  AppendInfoRecord(EventSampler(), &p);
  AppendInfoRecord(EventSample(), &p);
  EXPECT_EQ(p, HandWrittenEventRecords());
  uint8_t buf[128];
  EXPECT_EQ(static_cast<size_t>(EncodeInfoRecord(EventSample(), buf) - buf),
            InfoRecordSize(EventSample()));

  InfoRecords got;
  ASSERT_TRUE(DecodeInfoBatch(Bytes(p), &got).ok());
  ASSERT_EQ(got.event_samplers.size(), 1u);
  EXPECT_EQ(got.event_samplers[0].event, 1u);
  EXPECT_EQ(got.event_samplers[0].name, "page-faults");
  EXPECT_EQ(got.event_samplers[0].period, 1u);
  EXPECT_EQ(got.event_samplers[0].hz, 0u);
  EXPECT_EQ(got.event_samplers[0].samples_taken, 4000u);
  EXPECT_EQ(got.event_samplers[0].samples_lost, 17u);
  ASSERT_EQ(got.event_samples.size(), 1u);
  EXPECT_EQ(got.event_samples[0].event, 2u);
  EXPECT_EQ(got.event_samples[0].time, uint64_t{1} << 40);
  EXPECT_EQ(got.event_samples[0].thread, 4242u);
  EXPECT_EQ(got.event_samples[0].proc, kNoProc);
  EXPECT_EQ(got.event_samples[0].goroutine, 0u);
  EXPECT_EQ(got.event_samples[0].stack, 300u);
  EXPECT_EQ(got.skipped, 0u);

  // A newer writer's extra field after the known ones is stepped over.
  std::string newer;
  Varint(&newer, 65);
  Varint(&newer, 8);
  for (uint64_t v : {3, 10, 11, 12, 13, 14, 99}) Varint(&newer, v);
  Varint(&newer, 2);  // 7 fields of one byte, plus a second extra byte
  AppendInfoRecord(Span(), &newer);
  ASSERT_TRUE(DecodeInfoBatch(Bytes(newer), &got).ok());
  ASSERT_EQ(got.event_samples.size(), 2u);
  EXPECT_EQ(got.event_samples[1].event, 3u);
  EXPECT_EQ(got.event_samples[1].stack, 14u);
  EXPECT_EQ(got.spans.size(), 1u);

  // A length shorter than the fields is an error, not a record made up of
  // the next record's bytes.
  std::string shorter;
  Varint(&shorter, 65);
  Varint(&shorter, 3);
  for (uint64_t v : {1, 2, 3, 4, 5, 6}) Varint(&shorter, v);
  InfoRecords r;
  EXPECT_EQ(DecodeInfoBatch(Bytes(shorter), &r).message(),
            "gentrace info batch: record of kind 65 at offset 0 is cut short");
  EXPECT_TRUE(r.event_samples.empty());
}

TEST(InfoCodecTest, UnknownKindsBelow64AndCutRecordsAreErrors) {
  std::string p;
  AppendInfoRecord(Fiber(), &p);
  const size_t second = p.size();
  Varint(&p, 5);  // no length to skip it by
  Varint(&p, 1);
  InfoRecords got;
  absl::Status s = DecodeInfoBatch(Bytes(p), &got);
  EXPECT_EQ(
      s.message(),
      absl::StrCat("gentrace info batch: record of kind 5 at offset ", second,
                   ": unknown kind, and kinds below 64 carry no length "
                   "to skip them by (written by a newer gentrace?)"));
  EXPECT_EQ(got.fibers.size(), 1u);  // what came before stays

  // Every cut of a valid batch inside a record is an error, never a crash
  // or a record made up of what is left.
  const std::string full = HandWritten();
  std::set<size_t> record_ends;
  {
    std::string acc;
    AppendInfoRecord(Thread(), &acc);
    record_ends.insert(acc.size());
    AppendInfoRecord(Sampler(), &acc);
    record_ends.insert(acc.size());
    AppendInfoRecord(Fiber(), &acc);
    record_ends.insert(acc.size());
    AppendInfoRecord(Span(), &acc);
    record_ends.insert(acc.size());
  }
  for (size_t cut = 1; cut < full.size(); ++cut) {
    InfoRecords r;
    const bool ok = DecodeInfoBatch(Bytes(full.substr(0, cut)), &r).ok();
    EXPECT_EQ(ok, record_ends.count(cut) == 1) << cut;
    // Exactly the records that end before the cut.
    const size_t whole = static_cast<size_t>(
        std::distance(record_ends.begin(), record_ends.upper_bound(cut)));
    EXPECT_EQ(
        r.threads.size() + r.samplers.size() + r.fibers.size() + r.spans.size(),
        whole)
        << cut;
  }
  // A kind that is not even a varint.
  std::string overlong(11, '\xff');
  EXPECT_EQ(DecodeInfoBatch(Bytes(overlong), &got).message(),
            "gentrace info batch: bad record kind at offset 0");
}

}  // namespace
}  // namespace gentrace::format
