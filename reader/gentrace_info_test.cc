// gentrace's info batches come back out of a trace with their records.
#include "reader/gentrace_info.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "format/gentrace_batch.h"
#include "format/leb128.h"
#include "format/text.h"
#include "gtest/gtest.h"
#include "reader/reader.h"

namespace gentrace::reader {
namespace {

void Varint(std::string* out, uint64_t v) {
  uint8_t buf[format::kMaxVarintLen];
  out->append(reinterpret_cast<char*>(buf), format::PutUvarint(buf, v) - buf);
}
void Str(std::string* out, const std::string& s) {
  Varint(out, s.size());
  *out += s;
}

// Go string literal of arbitrary bytes for the text format.
std::string Quote(const std::string& s) {
  std::string q = "\"";
  for (unsigned char c : s)
    absl::StrAppend(&q, "\\x", absl::Hex(c, absl::kZeroPad2));
  return q + "\"";
}

TEST(GentraceInfoTest, DecodesRecordsFromTheTrace) {
  std::string payload;
  Varint(&payload, format::kRecordThread);
  Varint(&payload, 4242);
  Varint(&payload, 1);
  Varint(&payload, 7);
  Str(&payload, "worker-1");
  Varint(&payload, format::kRecordSampler);
  Varint(&payload, format::kSamplerPerfEvent);
  Varint(&payload, 0);
  Varint(&payload, 1000000);
  Varint(&payload, 120);
  Varint(&payload, 3);
  Str(&payload, "cpu-clock");
  Varint(&payload, format::kRecordFiber);
  Varint(&payload, 99);
  Str(&payload, "fiber");
  Varint(&payload, format::kRecordGeneration);
  Varint(&payload, 1000);
  Varint(&payload, 2000);
  const std::string text = absl::StrCat(
      "Trace Go1.23\n", "EventBatch gen=1 m=1 time=1 size=0\n",
      "ProcStatus dt=1 p=0 pstatus=2\n",
      "EventBatch gen=1 m=18446744073709551615 time=0 size=0\n",
      "Frequency freq=1000000000\n",
      "ExperimentalBatch exp=", int{format::kExperimentGentraceInfo},
      " gen=1 m=0 time=0\n\tdata=", Quote(payload), "\n");
  absl::StatusOr<std::string> bin = format::TextToBinary(text);
  ASSERT_TRUE(bin.ok()) << bin.status();
  absl::StatusOr<std::unique_ptr<Reader>> r =
      Reader::FromBuffer(absl::MakeConstSpan(
          reinterpret_cast<const uint8_t*>(bin->data()), bin->size()));
  ASSERT_TRUE(r.ok()) << r.status();
  Event ev;
  ASSERT_TRUE((*r)->ReadEvent(&ev));
  GentraceInfo info;
  ASSERT_TRUE(DecodeGentraceInfo(*(*r)->generation(), &info).ok());
  ASSERT_EQ(info.threads.size(), 1u);
  EXPECT_EQ(info.threads[0].thread, 4242u);
  EXPECT_EQ(info.threads[0].goroutine, 7u);
  EXPECT_EQ(info.threads[0].name, "worker-1");
  ASSERT_EQ(info.samplers.size(), 1u);
  EXPECT_EQ(info.samplers[0].source, format::kSamplerPerfEvent);
  EXPECT_EQ(info.samplers[0].hz, 0u);
  EXPECT_EQ(info.samplers[0].period, 1000000u);
  EXPECT_EQ(info.samplers[0].samples_taken, 120u);
  EXPECT_EQ(info.samplers[0].samples_lost, 3u);
  EXPECT_EQ(info.samplers[0].event, "cpu-clock");
  ASSERT_EQ(info.fibers.size(), 1u);
  EXPECT_EQ(info.fibers[0].name, "fiber");
  ASSERT_EQ(info.spans.size(), 1u);
  EXPECT_EQ(info.spans[0].start, 1000u);
  EXPECT_EQ(info.spans[0].end, 2000u);
}

// Traces written before the info batches moved to an id below 128 carry
// 199 (format::kExperimentGentraceInfoV0): they still decode, and batches
// of both ids in one generation both count. Other ids are not ours.
TEST(GentraceInfoTest, ReadsTheOldExperimentIdToo) {
  auto thread = [](uint64_t tid, const std::string& name) {
    std::string payload;
    Varint(&payload, format::kRecordThread);
    Varint(&payload, tid);
    Varint(&payload, 1);
    Varint(&payload, tid + 1);
    Str(&payload, name);
    return payload;
  };
  std::string text =
      absl::StrCat("Trace Go1.23\n", "EventBatch gen=1 m=1 time=1 size=0\n",
                   "ProcStatus dt=1 p=0 pstatus=2\n",
                   "EventBatch gen=1 m=18446744073709551615 time=0 size=0\n",
                   "Frequency freq=1000000000\n");
  const struct {
    int exp;
    const char* name;
  } batches[] = {{format::kExperimentGentraceInfoV0, "old"},
                 {format::kExperimentGentraceInfo, "new"},
                 {format::kExperimentAllocFree, "alloc"},
                 {0x46, "other"}};
  for (const auto& b : batches) {
    absl::StrAppend(&text, "ExperimentalBatch exp=", b.exp,
                    " gen=1 m=0 time=0\n\tdata=", Quote(thread(b.exp, b.name)),
                    "\n");
  }
  absl::StatusOr<std::string> bin = format::TextToBinary(text);
  ASSERT_TRUE(bin.ok()) << bin.status();
  absl::StatusOr<std::unique_ptr<Reader>> r =
      Reader::FromBuffer(absl::MakeConstSpan(
          reinterpret_cast<const uint8_t*>(bin->data()), bin->size()));
  ASSERT_TRUE(r.ok()) << r.status();
  Event ev;
  ASSERT_TRUE((*r)->ReadEvent(&ev));
  GentraceInfo info;
  ASSERT_TRUE(DecodeGentraceInfo(*(*r)->generation(), &info).ok());
  ASSERT_EQ(info.threads.size(), 2u);
  EXPECT_EQ(info.threads[0].thread, 199u);
  EXPECT_EQ(info.threads[0].name, "old");
  EXPECT_EQ(info.threads[1].thread, 0x47u);
  EXPECT_EQ(info.threads[1].name, "new");
}

TEST(GentraceInfoTest, ExperimentIdReadsAlikeInGosParserAndRawReader) {
  EXPECT_TRUE(
      format::ExperimentReadsAlikeInGo(format::kExperimentGentraceInfo));
  EXPECT_FALSE(
      format::ExperimentReadsAlikeInGo(format::kExperimentGentraceInfoV0));
  EXPECT_NE(format::kExperimentGentraceInfo, format::kExperimentAllocFree);
}

TEST(GentraceInfoTest, ABadBatchIsReportedAndTheOthersStillDecode) {
  std::string cut;
  Varint(&cut, format::kRecordFiber);
  Varint(&cut, 5);
  Varint(&cut, 10);  // a 10-byte name, absent
  std::string good;
  Varint(&good, format::kRecordFiber);
  Varint(&good, 6);
  Str(&good, "good");
  const std::string text = absl::StrCat(
      "Trace Go1.23\n", "EventBatch gen=1 m=1 time=1 size=0\n",
      "ProcStatus dt=1 p=0 pstatus=2\n",
      "EventBatch gen=1 m=18446744073709551615 time=0 size=0\n",
      "Frequency freq=1000000000\n",
      "ExperimentalBatch exp=", int{format::kExperimentGentraceInfo},
      " gen=1 m=0 time=0\n\tdata=", Quote(cut), "\n",
      "ExperimentalBatch exp=", int{format::kExperimentGentraceInfo},
      " gen=1 m=0 time=0\n\tdata=", Quote(good), "\n");
  absl::StatusOr<std::string> bin = format::TextToBinary(text);
  ASSERT_TRUE(bin.ok()) << bin.status();
  absl::StatusOr<std::unique_ptr<Reader>> r =
      Reader::FromBuffer(absl::MakeConstSpan(
          reinterpret_cast<const uint8_t*>(bin->data()), bin->size()));
  ASSERT_TRUE(r.ok()) << r.status();
  Event ev;
  ASSERT_TRUE((*r)->ReadEvent(&ev));
  GentraceInfo info;
  EXPECT_EQ(DecodeGentraceInfo(*(*r)->generation(), &info).message(),
            "gentrace info batch: record of kind 3 at offset 0 is cut short");
  ASSERT_EQ(info.fibers.size(), 1u);
  EXPECT_EQ(info.fibers[0].goroutine, 6u);
  EXPECT_EQ(info.fibers[0].name, "good");
}

}  // namespace
}  // namespace gentrace::reader
