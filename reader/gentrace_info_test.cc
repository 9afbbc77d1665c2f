// gentrace's info batches come back out of a trace with their records. (The
// codec's byte layout is checked against hand-written bytes in
// format/gentrace_batch_test.cc.)
#include "reader/gentrace_info.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "format/gentrace_batch.h"
#include "format/text.h"
#include "gtest/gtest.h"
#include "reader/reader.h"

namespace gentrace::reader {
namespace {

// Go string literal of arbitrary bytes for the text format.
std::string Quote(const std::string& s) {
  std::string q = "\"";
  for (unsigned char c : s)
    absl::StrAppend(&q, "\\x", absl::Hex(c, absl::kZeroPad2));
  return q + "\"";
}

// A one-generation trace with an experimental batch of each (experiment,
// payload), read up to its first event: the reader then holds the
// generation.
std::unique_ptr<Reader> ReaderOver(
    const std::vector<std::pair<int, std::string>>& batches,
    std::string* storage) {
  std::string text =
      absl::StrCat("Trace Go1.23\n", "EventBatch gen=1 m=1 time=1 size=0\n",
                   "ProcStatus dt=1 p=0 pstatus=2\n",
                   "EventBatch gen=1 m=18446744073709551615 time=0 size=0\n",
                   "Frequency freq=1000000000\n");
  for (const auto& [exp, payload] : batches) {
    absl::StrAppend(&text, "ExperimentalBatch exp=", exp,
                    " gen=1 m=0 time=0\n\tdata=", Quote(payload), "\n");
  }
  absl::StatusOr<std::string> bin = format::TextToBinary(text);
  EXPECT_TRUE(bin.ok()) << bin.status();
  *storage = bin.ok() ? *bin : "";
  absl::StatusOr<std::unique_ptr<Reader>> r =
      Reader::FromBuffer(absl::MakeConstSpan(
          reinterpret_cast<const uint8_t*>(storage->data()), storage->size()));
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return nullptr;
  Event ev;
  EXPECT_TRUE((*r)->ReadEvent(&ev));
  return *std::move(r);
}

TEST(GentraceInfoTest, DecodesRecordsFromTheTrace) {
  std::string payload;
  format::AppendInfoRecord(format::ThreadRecord{4242, 1, 7, "worker-1"},
                           &payload);
  format::AppendInfoRecord(format::SamplerRecord{format::kSamplerPerfEvent, 0,
                                                 1000000, 120, 3, "cpu-clock"},
                           &payload);
  format::AppendInfoRecord(format::FiberRecord{99, "fiber"}, &payload);
  format::AppendInfoRecord(format::GenerationRecord{1000, 2000}, &payload);
  std::string bin;
  std::unique_ptr<Reader> r =
      ReaderOver({{format::kExperimentGentraceInfo, payload}}, &bin);
  ASSERT_NE(r, nullptr);
  GentraceInfo info;
  ASSERT_TRUE(DecodeGentraceInfo(*r->generation(), &info).ok());
  ASSERT_EQ(info.threads.size(), 1u);
  EXPECT_EQ(info.threads[0].thread, 4242u);
  EXPECT_EQ(info.threads[0].goroutine, 7u);
  EXPECT_EQ(info.threads[0].name, "worker-1");
  ASSERT_EQ(info.samplers.size(), 1u);
  EXPECT_EQ(info.samplers[0].source, format::kSamplerPerfEvent);
  EXPECT_EQ(info.samplers[0].samples_taken, 120u);
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
    format::AppendInfoRecord(format::ThreadRecord{tid, 1, tid + 1, name},
                             &payload);
    return payload;
  };
  std::vector<std::pair<int, std::string>> batches;
  for (const auto& [exp, name] : std::vector<std::pair<int, std::string>>{
           {format::kExperimentGentraceInfoV0, "old"},
           {format::kExperimentGentraceInfo, "new"},
           {format::kExperimentAllocFree, "alloc"},
           {0x46, "other"}}) {
    batches.emplace_back(exp, thread(exp, name));
  }
  std::string bin;
  std::unique_ptr<Reader> r = ReaderOver(batches, &bin);
  ASSERT_NE(r, nullptr);
  GentraceInfo info;
  ASSERT_TRUE(DecodeGentraceInfo(*r->generation(), &info).ok());
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
  std::string good;
  format::AppendInfoRecord(format::FiberRecord{6, "good"}, &good);
  // A fiber record whose 10-byte name is missing.
  std::string cut;
  format::AppendInfoRecord(format::FiberRecord{5, "0123456789"}, &cut);
  cut.resize(cut.size() - 10);
  std::string bin;
  std::unique_ptr<Reader> r =
      ReaderOver({{format::kExperimentGentraceInfo, cut},
                  {format::kExperimentGentraceInfo, good}},
                 &bin);
  ASSERT_NE(r, nullptr);
  GentraceInfo info;
  EXPECT_EQ(DecodeGentraceInfo(*r->generation(), &info).message(),
            "gentrace info batch: record of kind 3 at offset 0 is cut short");
  ASSERT_EQ(info.fibers.size(), 1u);
  EXPECT_EQ(info.fibers[0].goroutine, 6u);
  EXPECT_EQ(info.fibers[0].name, "good");
}

}  // namespace
}  // namespace gentrace::reader
