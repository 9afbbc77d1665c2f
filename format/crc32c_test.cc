#include "format/crc32c.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>

namespace gentrace::format {
namespace {

// Check values of CRC-32C (RFC 3720 B.4 and the usual "123456789").
TEST(Crc32cTest, KnownValues) {
  EXPECT_EQ(Crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(Crc32c("", 0), 0u);
  std::string zeros(32, '\0');
  EXPECT_EQ(Crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);
  std::string ones(32, '\xff');
  EXPECT_EQ(Crc32c(ones.data(), ones.size()), 0x62A8AB43u);
  std::string inc(32, 0);
  for (int i = 0; i < 32; ++i) inc[i] = static_cast<char>(i);
  EXPECT_EQ(Crc32c(inc.data(), inc.size()), 0x46DD794Eu);
}

TEST(Crc32cTest, HardwareMatchesTableAtEveryAlignmentAndLength) {
  std::mt19937 rng(7);
  std::string buf(300, 0);
  for (char& c : buf) c = static_cast<char>(rng());
  for (size_t start = 0; start < 16; ++start) {
    for (size_t n = 0; n + start <= buf.size(); n += 7) {
      ASSERT_EQ(Crc32c(buf.data() + start, n),
                Crc32cExtendPortable(0, buf.data() + start, n))
          << start << " " << n;
    }
  }
}

TEST(Crc32cTest, ExtendInPiecesEqualsWhole) {
  const std::string s = "the quick brown fox jumps over the lazy dog, twice";
  const uint32_t whole = Crc32c(s.data(), s.size());
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    uint32_t c = Crc32c(s.data(), cut);
    c = Crc32cExtend(c, s.data() + cut, s.size() - cut);
    EXPECT_EQ(c, whole) << cut;
  }
}

}  // namespace
}  // namespace gentrace::format
