// The synthetic traces are valid (reader and validator agree) and as large
// as promised; and reading one from a stream keeps memory near the size of
// its largest generation.
#include "reader/synthetic_trace.h"

#include <memory>

#include "format/byte_source.h"
#include "gtest/gtest.h"
#include "reader/reader.h"
#include "reader/validator.h"

namespace gentrace::reader {
namespace {

TEST(SyntheticTraceTest, IsValidAndHasTheEventsPromised) {
  SyntheticTraceOptions o;
  o.threads = 3;
  o.generations = 3;
  o.rounds_per_generation = 5000;  // several batches per thread
  const std::string trace = SyntheticTrace(o);
  absl::StatusOr<std::unique_ptr<Reader>> r =
      Reader::FromBuffer(absl::MakeConstSpan(
          reinterpret_cast<const uint8_t*>(trace.data()), trace.size()));
  ASSERT_TRUE(r.ok()) << r.status();
  Validator v;
  Event ev;
  uint64_t n = 0;
  while ((*r)->ReadEvent(&ev)) {
    ++n;
    absl::Status s = v.Event(ev);
    ASSERT_TRUE(s.ok()) << "event " << n << ": " << s;
  }
  ASSERT_TRUE((*r)->status().ok()) << (*r)->status();
  EXPECT_EQ(n, SyntheticTraceEvents(o));
  EXPECT_EQ((*r)->complete_generations(), 3u);
}

// Memory follows the generation, not the trace: reading 8 generations from
// a stream never holds much more than one.
TEST(SyntheticTraceTest, StreamingMemoryIsBoundedByTheLargestGeneration) {
  SyntheticTraceOptions o;
  o.threads = 4;
  o.generations = 8;
  o.rounds_per_generation = 20000;
  const std::string trace = SyntheticTrace(o);
  absl::StatusOr<std::unique_ptr<Reader>> r = Reader::FromSource(
      std::make_unique<format::SpanSource>(absl::MakeConstSpan(
          reinterpret_cast<const uint8_t*>(trace.data()), trace.size())));
  ASSERT_TRUE(r.ok()) << r.status();
  Event ev;
  size_t peak = 0, largest = 0;
  while ((*r)->ReadEvent(&ev)) {
    if (ev.kind() == EventKind::kSync) {
      peak = std::max(peak, (*r)->MemoryUsage());
      largest = std::max<size_t>(largest, (*r)->generation()->size_bytes());
    }
  }
  ASSERT_TRUE((*r)->status().ok()) << (*r)->status();
  EXPECT_GT(largest * 8, trace.size() * 9 / 10);
  EXPECT_LE(peak, 2 * largest) << "largest generation " << largest;
}

}  // namespace
}  // namespace gentrace::reader
