// Unsigned LEB128 varints, as Go's encoding/binary Uvarint writes and reads
// them: 7 bits a byte, least significant group first, at most 10 bytes.
//
// Writers emit minimal varints, except the batch length field, which is
// padded to exactly kMaxVarintLen bytes so it can be patched when the batch
// is flushed (Go's varintReserve/varintAt). Readers accept padded varints.
//
// Everything here is async-signal-safe: no allocation, no locks.
#ifndef GENTRACE_FORMAT_LEB128_H_
#define GENTRACE_FORMAT_LEB128_H_

#include <cstddef>
#include <cstdint>

#include "format/spec.h"

namespace gentrace::format {

// Number of bytes the minimal encoding of v takes (1-10).
inline constexpr size_t UvarintLen(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// Writes the minimal encoding of v at p; returns the byte after it. p must
// have room for kMaxVarintLen bytes.
inline uint8_t* PutUvarint(uint8_t* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<uint8_t>(v) | 0x80;
    v >>= 7;
  }
  *p++ = static_cast<uint8_t>(v);
  return p;
}

// Writes v in exactly kMaxVarintLen bytes (non-minimal, continuation bits on
// the first nine). Any uint64 fits.
inline void PutUvarintPadded(uint8_t* p, uint64_t v) {
  for (size_t i = 0; i + 1 < kMaxVarintLen; ++i) {
    p[i] = static_cast<uint8_t>(v) | 0x80;
    v >>= 7;
  }
  p[kMaxVarintLen - 1] = static_cast<uint8_t>(v);
}

// Result of decoding a varint from a bounded buffer.
enum class VarintStatus : uint8_t {
  kOk,
  kTruncated,  // the buffer ended before the last byte
  kOverflow,   // more than 10 bytes, or the value exceeds 64 bits
};

// Decodes a varint from [p, end). On kOk stores the value and the number of
// bytes used. Never reads at or past end.
inline VarintStatus GetUvarint(const uint8_t* p, const uint8_t* end,
                               uint64_t* value, size_t* used) {
  if (p < end && *p < 0x80) {  // the common one-byte case
    *value = *p;
    *used = 1;
    return VarintStatus::kOk;
  }
  uint64_t v = 0;
  unsigned shift = 0;
  for (size_t i = 0; i < kMaxVarintLen; ++i) {
    if (p + i >= end) return VarintStatus::kTruncated;
    uint8_t b = p[i];
    if (b < 0x80) {
      // Go's rule: the tenth byte may only carry the top bit of 64.
      if (i == kMaxVarintLen - 1 && b > 1) return VarintStatus::kOverflow;
      *value = v | (static_cast<uint64_t>(b) << shift);
      *used = i + 1;
      return VarintStatus::kOk;
    }
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    shift += 7;
  }
  return VarintStatus::kOverflow;
}

}  // namespace gentrace::format

#endif  // GENTRACE_FORMAT_LEB128_H_
