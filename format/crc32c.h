// CRC-32C (Castagnoli polynomial, reflected), the checksum of iSCSI, ext4
// and LevelDB: the flight recorder's ring records carry one each, so torn or
// damaged records are never trusted.
//
// Uses the SSE4.2 crc32 instruction when the CPU has it (x86-64), else a
// byte table. Everything here is async-signal-safe: no allocation, no
// locks, no errno.
#ifndef GENTRACE_FORMAT_CRC32C_H_
#define GENTRACE_FORMAT_CRC32C_H_

#include <cstddef>
#include <cstdint>

namespace gentrace::format {

// The CRC-32C of `crc`'s data followed by data[0, n): Crc32cExtend(0, ...)
// starts a new checksum, and extending in pieces gives the same value as
// one call over the concatenation.
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n);

inline uint32_t Crc32c(const void* data, size_t n) {
  return Crc32cExtend(0, data, n);
}

// True if Crc32cExtend uses the CPU's crc32 instruction.
bool Crc32cIsHardware();

// The table version, whatever the CPU (tests compare the two).
uint32_t Crc32cExtendPortable(uint32_t crc, const void* data, size_t n);

}  // namespace gentrace::format

#endif  // GENTRACE_FORMAT_CRC32C_H_
