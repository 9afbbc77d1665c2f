// CopyBytes and WriteStringEntry: every length from 0 to past the inline
// path's end copies exactly its bytes, and writes nothing beyond them.
#include "tracer/internal/trace_buf.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "format/spec.h"
#include "tracer/internal/string_table.h"

namespace gentrace::internal {
namespace {

TEST(CopyBytesTest, EveryLengthCopiesExactlyItsBytes) {
  constexpr size_t kMax = 80;
  uint8_t src[kMax];
  for (size_t i = 0; i < kMax; ++i) src[i] = static_cast<uint8_t>(i * 7 + 1);
  for (size_t n = 0; n <= kMax; ++n) {
    for (size_t offset = 0; offset < 8; ++offset) {
      std::vector<uint8_t> dst(kMax + 32, 0xee);
      uint8_t* end = CopyBytes(dst.data() + offset, src, n);
      ASSERT_EQ(end, dst.data() + offset + n) << n;
      for (size_t i = 0; i < dst.size(); ++i) {
        const bool inside = i >= offset && i < offset + n;
        ASSERT_EQ(dst[i], inside ? src[i - offset] : 0xee)
            << "n " << n << " offset " << offset << " byte " << i;
      }
    }
  }
}

TEST(CopyBytesTest, StringEntryIsTypeIdLengthBytes) {
  auto b = std::make_unique<TraceBuf>();
  for (size_t n : {0, 1, 3, 7, 15, 16, 31, 32, 33, 200}) {
    const std::string s(n, 'a' + static_cast<char>(n % 26));
    b->pos = 0;
    std::memset(b->data, 0xee, 300);
    WriteStringEntry(b.get(), 300 + n, s);
    std::vector<uint8_t> want = {format::kEvString};
    uint8_t v[format::kMaxVarintLen];
    want.insert(want.end(), v, format::PutUvarint(v, 300 + n));
    want.insert(want.end(), v, format::PutUvarint(v, n));
    want.insert(want.end(), s.begin(), s.end());
    ASSERT_EQ(b->pos, want.size()) << n;
    EXPECT_EQ(std::vector<uint8_t>(b->data, b->data + b->pos), want) << n;
    EXPECT_EQ(b->data[b->pos], 0xee) << n;
  }
}

}  // namespace
}  // namespace gentrace::internal
