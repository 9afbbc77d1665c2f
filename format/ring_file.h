// The flight recorder's ring: its byte layout, and recovery of the whole
// generations it holds after the process that wrote it died.
//
// The same layout is used in memory and in a file (a shared mapping), so a
// file-backed ring survives kill -9 and the OOM killer: the page cache keeps
// every byte the process stored, and `gentrace recover` reads it back.
//
//   [0, 4096)            file header
//   [4096, 4096 + size)  region: records, each at an 8-aligned offset
//
// File header (little-endian):
//
//    0  char[8]  magic "GTRING\r\n"
//    8  u32      version (1)
//   12  u32      header size (4096; the region starts here)
//   16  u64      region size (a multiple of 4096)
//   24  u64      session: nonzero, new each time the ring is (re)started;
//                it seeds every record's checksum, so records of an
//                earlier session are never mistaken for current ones
//   32  u32      CRC-32C of bytes [0, 32)
//   36  u32      trace header size (0 until the trace header is known)
//   40  u32      CRC-32C of bytes [36, 40) and the trace header
//   44  u32      0
//   48  u8[64]   the trace header ("go 1.23 trace\0\0\0")
//
// The region is used as a ring of logical byte positions that only grow;
// position p lives at region offset p % size. A record never straddles the
// region's end: where fewer than kRingMinRecord (96) bytes are left before
// it, the next record starts at the next lap (RingRecordStart). Record:
//
//    0  u64  commit: seq ^ kRingCommitKey once the record is complete; the
//            writer stores 0 here first and this word last
//    8  u64  seq: record number, +1 per record, from 1
//   16  u64  pos: the record's logical position
//   24  u64  gen: the generation number (generation-end records; 0 in data
//            records, which belong to the generation whose end record
//            names their seq range)
//   32  u32  length of the payload
//   36  u16  kind (RingRecordKind)
//   38  u16  0
//   40  u32  magic "GTRC"
//   44  u32  CRC-32C, seeded with the session, of bytes [8, 44) and the
//            payload
//   48  payload, padded with zeros to a multiple of 8
//
// A generation is its data records (its trace bytes, in seq order) and a
// generation-end record whose payload (RingGenerationEnd) gives its time
// span, first record and size. A generation is whole when its end record
// and all its data records are present, committed and verified; torn
// writes (a kill between the first and last store of a record) and
// overwritten records are detected and never trusted.
//
// Everything above RecoverRingFile is async-signal-safe.
#ifndef GENTRACE_FORMAT_RING_FILE_H_
#define GENTRACE_FORMAT_RING_FILE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "format/byte_sink.h"

namespace gentrace::format {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the ring layout is written with little-endian stores");

inline constexpr char kRingFileMagic[8] = {'G', 'T', 'R',  'I',
                                           'N', 'G', '\r', '\n'};
inline constexpr uint32_t kRingFileVersion = 1;
inline constexpr size_t kRingFileHeaderSize = 4096;
inline constexpr size_t kRingMaxTraceHeader = 64;
// Region sizes are multiples of this.
inline constexpr uint64_t kRingRegionAlign = 4096;

inline constexpr size_t kRingRecordHeaderSize = 48;
inline constexpr size_t kRingRecordAlign = 8;
inline constexpr size_t kRingGenerationEndSize = 48;
// Where fewer bytes than this are left before the region's end, the next
// record starts at the next lap: room for a record header and either a
// generation-end payload or at least 48 bytes of data (data records are
// split to fit; generation-end records cannot be).
inline constexpr size_t kRingMinRecord =
    kRingRecordHeaderSize + kRingGenerationEndSize;
inline constexpr uint32_t kRingRecordMagic = 0x43525447;  // "GTRC"
inline constexpr uint64_t kRingCommitKey = 0x9E3779B97F4A7C15ull;

enum class RingRecordKind : uint16_t {
  kData = 1,           // a piece of a generation's trace bytes
  kGenerationEnd = 2,  // the generation is complete (RingGenerationEnd)
};

// Payload of a generation-end record (six u64, little-endian).
struct RingGenerationEnd {
  uint64_t start_ns = 0;   // the generation's time span, in nanoseconds
  uint64_t end_ns = 0;     // of the writer's clock
  uint64_t first_seq = 0;  // seq of its first data record
  uint64_t first_pos = 0;  // logical position of its first data record
  uint64_t records = 0;    // data records (they are seq first_seq ...)
  uint64_t bytes = 0;      // trace bytes in them
};

// What the file header says.
struct RingFileHeader {
  uint64_t region_size = 0;
  uint64_t session = 0;
  uint32_t trace_header_size = 0;
  uint8_t trace_header[kRingMaxTraceHeader] = {};
};

// One record, as read from the region. `payload` points into the region.
struct RingRecord {
  uint64_t pos = 0;
  uint64_t seq = 0;
  uint64_t gen = 0;
  RingRecordKind kind = RingRecordKind::kData;
  uint32_t length = 0;
  const uint8_t* payload = nullptr;
};

// Bytes a record with `payload` bytes takes in the region.
inline constexpr uint64_t RingRecordSize(uint64_t payload) {
  return kRingRecordHeaderSize +
         ((payload + kRingRecordAlign - 1) & ~uint64_t{kRingRecordAlign - 1});
}

// Where a record that would start at logical position `pos` (8-aligned)
// really starts: pos, or the start of the next lap when fewer than
// kRingMinRecord bytes are left before the region's end.
inline constexpr uint64_t RingRecordStart(uint64_t pos, uint64_t region_size) {
  const uint64_t left = region_size - pos % region_size;
  return left < kRingMinRecord ? pos + left : pos;
}

// The most payload a record starting at `pos` (a RingRecordStart value)
// can hold before the region's end.
inline constexpr uint64_t RingRecordRoom(uint64_t pos, uint64_t region_size) {
  return region_size - pos % region_size - kRingRecordHeaderSize;
}

// The checksum seed of a session's records.
uint32_t RingSessionSeed(uint64_t session);

// Writes the file header (region size and session; no trace header yet)
// into dst[0, kRingFileHeaderSize).
void EncodeRingFileHeader(uint8_t* dst, uint64_t region_size, uint64_t session);
// Stores the trace header (at most kRingMaxTraceHeader bytes) into a file
// header written by EncodeRingFileHeader.
void SetRingTraceHeader(uint8_t* dst, absl::Span<const uint8_t> trace_header);
// Reads and checks a file header. Errors name the offset and the problem.
absl::StatusOr<RingFileHeader> DecodeRingFileHeader(
    absl::Span<const uint8_t> bytes);

// Writes a record's header (commit word 0) and payload at region offset
// pos % region_size; CommitRingRecord then makes it valid. The caller
// makes sure that the record fits (pos from RingRecordStart, length at most
// RingRecordRoom) and that no reader trusts these bytes meanwhile.
void WriteRingRecord(uint8_t* region, uint64_t region_size, uint32_t seed,
                     uint64_t pos, uint64_t seq, uint64_t gen,
                     RingRecordKind kind, absl::Span<const uint8_t> payload);
// Stores the record's commit word (a release store: a reader that sees it
// sees the whole record).
void CommitRingRecord(uint8_t* region, uint64_t region_size, uint64_t pos,
                      uint64_t seq);

// Why a record could not be read.
enum class RingRecordError : uint8_t {
  kOk,
  kNoRecord,     // no record header here (magic or position differ)
  kUncommitted,  // a header, but its commit word is missing: a torn write
  kBadHeader,    // committed, but a field is out of range
  kBadChecksum,  // committed, but its bytes do not match the checksum
};
const char* RingRecordErrorName(RingRecordError e);

// Reads the record at logical position `pos` (a RingRecordStart value).
// With `verify`, also checks the checksum over header and payload.
RingRecordError ReadRingRecord(const uint8_t* region, uint64_t region_size,
                               uint32_t seed, uint64_t pos, bool verify,
                               RingRecord* rec);

// Encodes / decodes a generation-end payload (kRingGenerationEndSize bytes).
void EncodeGenerationEnd(const RingGenerationEnd& end, uint8_t* dst);
bool DecodeGenerationEnd(const RingRecord& rec, RingGenerationEnd* end);

// ---- Recovery (not async-signal-safe)

// A run of bytes of the ring file.
struct RingPiece {
  uint64_t offset = 0;  // in the file
  uint64_t length = 0;
};

struct RecoveredGeneration {
  uint64_t gen = 0;
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
  uint64_t bytes = 0;
  uint64_t first_seq = 0;
  uint64_t records = 0;
  uint64_t file_offset = 0;       // of its first data record
  std::vector<RingPiece> pieces;  // its trace bytes, in order
};

struct RingRecovery {
  RingFileHeader header;
  // The newest run of consecutive whole generations, oldest first.
  std::vector<RecoveredGeneration> generations;
  uint64_t records_valid = 0;  // committed, verified records found
  // What was skipped and why, each with its file offset: torn and
  // damaged records, incomplete generations, older runs cut off by a gap.
  std::vector<std::string> notes;

  uint64_t trace_bytes() const;  // trace header + generations
};

// Scans a whole ring file. Fails (naming the offset) if the file header is
// damaged, the file is shorter than the header says, the trace header was
// never written, or no whole generation is found.
absl::StatusOr<RingRecovery> RecoverRingFile(absl::Span<const uint8_t> file);

// Writes the trace header and the recovered generations of `file` to out:
// a trace that Go's parser reads on its own.
absl::Status WriteRecoveredTrace(const RingRecovery& recovery,
                                 absl::Span<const uint8_t> file, ByteSink* out);

}  // namespace gentrace::format

#endif  // GENTRACE_FORMAT_RING_FILE_H_
