// Tests of the flat raw event reader and writer.
#include "format/raw_event.h"

#include <gtest/gtest.h>

#include "format/header.h"

namespace gentrace::format {
namespace {

absl::Span<const uint8_t> Bytes(const std::string& s) {
  return absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(s.data()),
                             s.size());
}

std::vector<RawEvent> SampleEvents() {
  std::vector<RawEvent> evs;
  evs.push_back({kEvEventBatch, {1, 101, 1000, 0}, ""});
  evs.push_back({kEvProcStatus, {1, 0, 1}, ""});
  evs.push_back({kEvUserLog, {10, 0, 1, 2, 0}, ""});
  evs.push_back({kEvEventBatch, {1, kNoThread, 0, 0}, ""});
  evs.push_back({kEvStacks, {}, ""});
  evs.push_back({kEvStack, {1, 2, 0x1000, 1, 2, 10, 0x2000, 3, 2, 20}, ""});
  evs.push_back({kEvStrings, {}, ""});
  evs.push_back({kEvString, {1}, std::string("k\0y", 3)});
  evs.push_back({kEvExperimentalBatch, {7, 1, kNoThread, 0}, "opaque"});
  // Patch the first two batch sizes.
  evs[0].args[3] = EncodedSize(evs[1]) + EncodedSize(evs[2]);
  evs[3].args[3] = EncodedSize(evs[4]) + EncodedSize(evs[5]) +
                   EncodedSize(evs[6]) + EncodedSize(evs[7]);
  return evs;
}

TEST(RawEventTest, WriteThenReadIsIdentity) {
  std::string bin = EncodeHeader(Version::kGo123);
  size_t expected = bin.size();
  for (const RawEvent& ev : SampleEvents()) {
    ASSERT_TRUE(AppendRawEvent(ev, &bin).ok());
    expected += EncodedSize(ev);
    EXPECT_EQ(bin.size(), expected) << EventName(ev.type);
  }
  RawReader r(Bytes(bin));
  ASSERT_EQ(*r.ReadHeader(), Version::kGo123);
  std::vector<RawEvent> want = SampleEvents();
  for (const RawEvent& w : want) {
    RawEvent got;
    ASSERT_TRUE(*r.Next(&got));
    EXPECT_EQ(got.type, w.type);
    EXPECT_EQ(got.args, w.args) << EventName(w.type);
    EXPECT_EQ(got.data, w.data);
  }
  RawEvent end;
  EXPECT_FALSE(*r.Next(&end));
}

TEST(RawEventTest, WriterRejectsWrongShapes) {
  std::string out;
  EXPECT_FALSE(AppendRawEvent({kEvUserLog, {1, 2}, ""}, &out).ok());
  EXPECT_FALSE(AppendRawEvent({kEvStack, {1, 2, 0, 0, 0, 0}, ""}, &out).ok());
  EXPECT_FALSE(AppendRawEvent({99, {}, ""}, &out).ok());
  EXPECT_FALSE(AppendRawEvent({kEvProcStop, {1}, "x"}, &out).ok());
  EXPECT_FALSE(
      AppendRawEvent({kEvExperimentalBatch, {300, 1, 2, 3}, ""}, &out).ok());
}

TEST(RawEventTest, TruncationErrorsNameTheEvent) {
  std::string bin = EncodeHeader(Version::kGo123);
  ASSERT_TRUE(AppendRawEvent({kEvString, {1}, "hello"}, &bin).ok());
  for (size_t cut = 17; cut < bin.size(); ++cut) {
    const std::string prefix = bin.substr(0, cut);
    RawReader r(Bytes(prefix));
    ASSERT_TRUE(r.ReadHeader().ok());
    RawEvent ev;
    absl::StatusOr<bool> got = r.Next(&ev);
    ASSERT_FALSE(got.ok()) << cut;
    EXPECT_NE(got.status().message().find("String at offset 16"),
              std::string::npos)
        << got.status().message();
  }
  const std::string bad = EncodeHeader(Version::kGo122) + "\x40";
  RawReader r(Bytes(bad));
  ASSERT_TRUE(r.ReadHeader().ok());
  RawEvent ev;
  EXPECT_EQ(r.Next(&ev).status().message(), "offset 16: invalid event type 64");
}

TEST(RawEventTest, HugeDeclaredLengthsDoNotAllocate) {
  // A Stack claiming 2^60 frames and a String claiming 2^60 bytes fail at
  // the end of input instead of reserving memory.
  std::string bin = EncodeHeader(Version::kGo122);
  bin += "\x03\x01\x80\x80\x80\x80\x80\x80\x80\x80\x10";
  RawReader r(Bytes(bin));
  ASSERT_TRUE(r.ReadHeader().ok());
  RawEvent ev;
  EXPECT_FALSE(r.Next(&ev).ok());
  bin = EncodeHeader(Version::kGo122) + "\x05\x01\x80\x80\x80\x80\x80\x80\x80\x80\x10"
        "ab";
  RawReader r2(Bytes(bin));
  ASSERT_TRUE(r2.ReadHeader().ok());
  absl::StatusOr<bool> got = r2.Next(&ev);
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.status().message().find("input ends inside the data of String"),
            std::string::npos)
      << got.status().message();
}

}  // namespace
}  // namespace gentrace::format
