// Tests of the binary raw event writer, in particular the filling in of
// "size=0" batch sizes.
#include "format/raw_writer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "format/byte_sink.h"
#include "format/header.h"

namespace gentrace::format {
namespace {

std::string Encode(const std::vector<RawEvent>& evs) {
  std::string out;
  for (const RawEvent& ev : evs) {
    absl::Status st = AppendRawEvent(ev, &out);
    EXPECT_TRUE(st.ok()) << st;
  }
  return out;
}

std::string WriteAll(const std::vector<RawEvent>& evs,
                     RawWriterOptions options = {}) {
  std::string out;
  StringSink sink(&out);
  RawWriter w(&sink, options);
  EXPECT_TRUE(w.WriteHeader(Version::kGo123).ok());
  for (const RawEvent& ev : evs) {
    absl::Status st = w.Write(ev);
    EXPECT_TRUE(st.ok()) << st;
  }
  EXPECT_TRUE(w.Finish().ok());
  return out;
}

TEST(RawWriterTest, FillsZeroSizesUpToTheNextBatch) {
  const RawEvent freq_batch{kEvEventBatch, {1, kNoThread, 0, 0}, ""};
  const RawEvent freq{kEvFrequency, {15625000}, ""};
  const RawEvent m_batch{kEvEventBatch, {1, 7, 100, 0}, ""};
  const RawEvent status{kEvProcStatus, {1, 0, 1}, ""};
  const RawEvent start{kEvGoStart, {300, 1000, 1}, ""};
  const RawEvent exp{kEvExperimentalBatch, {1, 1, 7, 5}, "xyz"};
  const RawEvent empty_batch{kEvEventBatch, {1, 9, 0, 0}, ""};
  const RawEvent tail_batch{kEvEventBatch, {1, 8, 0, 0}, ""};
  const RawEvent stop{kEvProcStop, {3}, ""};

  const std::string got = WriteAll({freq_batch, freq, m_batch, status, start,
                                    exp, empty_batch, tail_batch, stop});

  RawEvent freq_sized = freq_batch;
  freq_sized.args[3] = EncodedSize(freq);
  RawEvent m_sized = m_batch;
  m_sized.args[3] = EncodedSize(status) + EncodedSize(start);
  RawEvent tail_sized = tail_batch;
  tail_sized.args[3] = EncodedSize(stop);
  const std::string want = EncodeHeader(Version::kGo123) +
                           Encode({freq_sized, freq, m_sized, status, start,
                                   exp, empty_batch, tail_sized, stop});
  EXPECT_EQ(got, want);
  // Sanity: the frequency event is the type byte and a 4-byte varint.
  EXPECT_EQ(freq_sized.args[3], 5u);
}

TEST(RawWriterTest, KeepsNonzeroSizesAndCanKeepZeros) {
  const RawEvent wrong{kEvEventBatch, {1, 7, 0, 99}, ""};
  const RawEvent zero{kEvEventBatch, {1, 8, 0, 0}, ""};
  const RawEvent stop{kEvProcStop, {3}, ""};
  EXPECT_EQ(WriteAll({wrong, stop, zero, stop}),
            EncodeHeader(Version::kGo123) +
                Encode({wrong, stop, {kEvEventBatch, {1, 8, 0, 2}, ""}, stop}));
  RawWriterOptions keep;
  keep.fill_zero_batch_sizes = false;
  EXPECT_EQ(WriteAll({zero, stop}, keep),
            EncodeHeader(Version::kGo123) + Encode({zero, stop}));
}

TEST(RawWriterTest, BadEventLeavesNothingBehind) {
  std::string out;
  StringSink sink(&out);
  RawWriter w(&sink);
  ASSERT_TRUE(w.WriteHeader(Version::kGo122).ok());
  EXPECT_FALSE(w.Write({kEvUserLog, {1, 2}, ""}).ok());
  EXPECT_FALSE(w.Write({kEvExperimentalBatch, {256, 1, 2, 3}, ""}).ok());
  ASSERT_TRUE(w.Write({kEvEventBatch, {1, 2, 3, 0}, ""}).ok());
  EXPECT_FALSE(w.Write({kEvProcStop, {1, 2}, ""}).ok());
  ASSERT_TRUE(w.Write({kEvProcStop, {1}, ""}).ok());
  ASSERT_TRUE(w.Finish().ok());
  EXPECT_EQ(out, EncodeHeader(Version::kGo122) +
                     Encode({{kEvEventBatch, {1, 2, 3, 2}, ""},
                             {kEvProcStop, {1}, ""}}));
}

TEST(RawWriterTest, StackShapeIsChecked) {
  std::string out;
  // nframes = 2^62: 4 * nframes wraps to 0, which must not pass for "no
  // frames".
  EXPECT_FALSE(
      AppendRawEvent({kEvStack, {1, uint64_t{1} << 62}, ""}, &out).ok());
  EXPECT_FALSE(AppendRawEvent({kEvStack, {1, 1, 1, 2, 3}, ""}, &out).ok());
  EXPECT_TRUE(AppendRawEvent({kEvStack, {1, 1, 1, 2, 3, 4}, ""}, &out).ok());
  EXPECT_TRUE(AppendRawEvent({kEvStack, {1, 0}, ""}, &out).ok());
}

}  // namespace
}  // namespace gentrace::format
