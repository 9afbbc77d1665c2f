// Tests of LEB128 varints against Go's encoding/binary behaviour.
#include "format/leb128.h"

#include <gtest/gtest.h>

#include <vector>

namespace gentrace::format {
namespace {

std::vector<uint8_t> Encode(uint64_t v) {
  uint8_t buf[kMaxVarintLen];
  return std::vector<uint8_t>(buf, PutUvarint(buf, v));
}

TEST(Leb128Test, KnownEncodings) {
  EXPECT_EQ(Encode(0), (std::vector<uint8_t>{0x00}));
  EXPECT_EQ(Encode(127), (std::vector<uint8_t>{0x7f}));
  EXPECT_EQ(Encode(128), (std::vector<uint8_t>{0x80, 0x01}));
  EXPECT_EQ(Encode(300), (std::vector<uint8_t>{0xac, 0x02}));
  std::vector<uint8_t> max(9, 0xff);
  max.push_back(0x01);
  EXPECT_EQ(Encode(~uint64_t{0}), max);
}

TEST(Leb128Test, RoundTripAndLength) {
  for (int shift = 0; shift < 64; ++shift) {
    for (uint64_t delta : {uint64_t{0}, uint64_t{1}}) {
      uint64_t v = (uint64_t{1} << shift) - delta;
      std::vector<uint8_t> e = Encode(v);
      EXPECT_EQ(e.size(), UvarintLen(v));
      uint64_t got = 0;
      size_t used = 0;
      ASSERT_EQ(GetUvarint(e.data(), e.data() + e.size(), &got, &used),
                VarintStatus::kOk);
      EXPECT_EQ(got, v);
      EXPECT_EQ(used, e.size());
    }
  }
}

TEST(Leb128Test, PaddedDecodesToSameValue) {
  for (uint64_t v : {uint64_t{0}, uint64_t{5}, uint64_t{65536},
                     ~uint64_t{0}}) {
    uint8_t buf[kMaxVarintLen];
    PutUvarintPadded(buf, v);
    uint64_t got = 0;
    size_t used = 0;
    ASSERT_EQ(GetUvarint(buf, buf + kMaxVarintLen, &got, &used),
              VarintStatus::kOk);
    EXPECT_EQ(got, v);
    EXPECT_EQ(used, kMaxVarintLen);
  }
}

TEST(Leb128Test, TruncatedAndOverflow) {
  uint8_t two[] = {0x80, 0x80};
  uint64_t v = 0;
  size_t used = 0;
  EXPECT_EQ(GetUvarint(two, two + 2, &v, &used), VarintStatus::kTruncated);
  EXPECT_EQ(GetUvarint(two, two, &v, &used), VarintStatus::kTruncated);
  // Tenth byte above 1: overflows 64 bits (Go rejects it too).
  uint8_t ten[10] = {0xff, 0xff, 0xff, 0xff, 0xff,
                     0xff, 0xff, 0xff, 0xff, 0x02};
  EXPECT_EQ(GetUvarint(ten, ten + 10, &v, &used), VarintStatus::kOverflow);
  // Eleven bytes.
  uint8_t eleven[11] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                        0x80, 0x80, 0x80, 0x80, 0x00};
  EXPECT_EQ(GetUvarint(eleven, eleven + 11, &v, &used),
            VarintStatus::kOverflow);
}

}  // namespace
}  // namespace gentrace::format
