// Trace buffers: the 64 KiB units in which events are written, and the
// pool and queues that move them from writing threads to the sink.
//
// A buffer holds exactly one batch: its header (gen, M, start time, and a
// length padded to 10 bytes) is written when the buffer is taken, and the
// length is patched when the buffer is flushed. A buffer belongs to one
// thread (or to the advancer) while it is being written; after Flush it
// belongs to the writer thread until returned to the pool.
#ifndef GENTRACE_TRACER_INTERNAL_TRACE_BUF_H_
#define GENTRACE_TRACER_INTERNAL_TRACE_BUF_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <mutex>

#include "format/batch.h"
#include "format/leb128.h"
#include "format/spec.h"

namespace gentrace::internal {

// Whole buffer, header included: the payload stays below Go's 64 KiB batch
// limit whatever the header size.
inline constexpr size_t kTraceBufBytes = 64 << 10;
// Room one event needs at most: type byte and five 10-byte varints.
inline constexpr size_t kMaxEventBytes = 1 + 5 * format::kMaxVarintLen;

struct TraceBuf {
  TraceBuf* link = nullptr;
  uint64_t gen = 0;
  uint64_t last_time = 0;  // time of the last event, for deltas
  uint32_t pos = 0;        // bytes used, header included
  uint32_t header_size = 0;
  bool experimental = false;
  alignas(64) uint8_t data[kTraceBufBytes];

  size_t available() const { return kTraceBufBytes - pos; }
  bool empty_payload() const { return pos == header_size; }
  uint8_t* cursor() { return data + pos; }
  // After writing through cursor(): `end` is the byte after the last one
  // written.
  void SetCursor(const uint8_t* end) {
    pos = static_cast<uint32_t>(end - data);
  }

  // Starts an EventBatch (exp == 0) or ExperimentalBatch for thread m.
  void Begin(uint64_t gen_, uint64_t m, uint64_t time, uint8_t exp = 0);
  // Patches the length; the buffer then holds one complete batch.
  void Finish();

  void Byte(uint8_t b) { data[pos++] = b; }
  void Varint(uint64_t v) {
    pos = static_cast<uint32_t>(format::PutUvarint(data + pos, v) - data);
  }
};

// Copies n bytes from src to dst; returns dst + n. Up to 32 bytes as two
// overlapping fixed-size moves, no call and no `rep movsb` (what a memcpy
// of a runtime size inlined into the log path became, 4-5 ns dearer a log:
// tests/tracer_benchmark BM_Log, interleaved runs); longer ones through
// memcpy, out of line.
uint8_t* CopyBytesLong(uint8_t* dst, const uint8_t* src, size_t n);
inline uint8_t* CopyBytes(uint8_t* dst, const void* src, size_t n) {
  const uint8_t* s = static_cast<const uint8_t*>(src);
  if (n > 32) return CopyBytesLong(dst, s, n);
  if (n >= 16) {
    std::memcpy(dst, s, 16);
    std::memcpy(dst + n - 16, s + n - 16, 16);
  } else if (n >= 8) {
    std::memcpy(dst, s, 8);
    std::memcpy(dst + n - 8, s + n - 8, 8);
  } else if (n >= 4) {
    std::memcpy(dst, s, 4);
    std::memcpy(dst + n - 4, s + n - 4, 4);
  } else if (n > 0) {
    dst[0] = s[0];
    dst[n / 2] = s[n / 2];
    dst[n - 1] = s[n - 1];
  }
  return dst + n;
}

// A FIFO of buffers (not thread-safe by itself).
struct BufQueue {
  TraceBuf* head = nullptr;
  TraceBuf* tail = nullptr;
  void Push(TraceBuf* b);
  TraceBuf* Pop();
  bool empty() const { return head == nullptr; }
};

// Free buffers. Allocates on demand, keeps what is returned for reuse, and
// frees it all on Clear().
class BufPool {
 public:
  ~BufPool();
  TraceBuf* Get();
  void Put(TraceBuf* b);
  void Clear();
  size_t allocated() const;

 private:
  mutable std::mutex mu_;
  BufQueue free_;
  size_t allocated_ = 0;
};

// Writes the entries of one generation's table (strings, stacks, CPU
// samples, gentrace's info records) into as many batches as needed, each
// starting with the table's lead byte (e.g. kEvStrings; none if kEvNone).
// Used by the advancer only.
class TableWriter {
 public:
  TableWriter(uint8_t lead, std::function<TraceBuf*()> new_buf,
              std::function<void(TraceBuf*)> flush)
      : lead_(lead), new_buf_(std::move(new_buf)), flush_(std::move(flush)) {}
  ~TableWriter() { Finish(); }
  // A buffer with room for n more bytes (n <= 60 KiB).
  TraceBuf* Ensure(size_t n);
  // Hands the last batch over; further Ensure calls start a new one.
  void Finish();
  // Whether any batch was started.
  bool wrote() const { return wrote_; }

 private:
  uint8_t lead_;
  std::function<TraceBuf*()> new_buf_;
  std::function<void(TraceBuf*)> flush_;
  TraceBuf* cur_ = nullptr;
  bool wrote_ = false;
};

}  // namespace gentrace::internal

#endif  // GENTRACE_TRACER_INTERNAL_TRACE_BUF_H_
