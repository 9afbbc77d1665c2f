// The per-generation string table (Go's runtime traceStringTable).
//
// Strings are deduplicated through a lock-free TraceMap; log messages are
// written as unique strings without the map. At the end of a generation
// the table is written out as Strings batches and reset. Strings longer
// than format::kMaxStringSize are truncated to their first
// kMaxStringSize bytes, as Go's runtime does.
#ifndef GENTRACE_TRACER_INTERNAL_STRING_TABLE_H_
#define GENTRACE_TRACER_INTERNAL_STRING_TABLE_H_

#include <cstdint>

#include "absl/strings/string_view.h"
#include "format/spec.h"
#include "tracer/internal/trace_buf.h"
#include "tracer/internal/trace_map.h"

namespace gentrace::internal {

// Per-thread cache of string ids.
using StringCache = IdCache<64>;

class StringTable {
 public:
  // The id of s (truncated), adding it if new. Thread-safe.
  uint64_t Put(absl::string_view s) {
    s = Truncate(s);
    return map_.Put(s.data(), s.size());
  }
  // The same through a thread's cache.
  uint64_t Put(absl::string_view s, uint64_t gen, StringCache* cache);
  // The first of n fresh, consecutive ids for strings the caller writes
  // itself (WriteStringEntry).
  uint64_t NextIds(uint64_t n) { return map_.NextIds(n); }

  // Writes all entries; then Reset() may be called.
  void Dump(TableWriter& w) const;
  void Reset() { map_.Reset(); }
  size_t size() const { return map_.size(); }
  // f(id, data, size) for every entry; lock-free, allocates nothing
  // (TraceMap::ForEach; the crash path's).
  template <typename F>
  bool ForEach(F&& f) const {
    return map_.ForEach(f);
  }

  static absl::string_view Truncate(absl::string_view s) {
    return s.size() > format::kMaxStringSize
               ? s.substr(0, format::kMaxStringSize)
               : s;
  }

 private:
  TraceMap map_;
};

// Appends a String entry (id, length, bytes) to b, which must have room for
// StringEntrySize(s) bytes.
__attribute__((always_inline)) inline void WriteStringEntry(
    TraceBuf* b, uint64_t id, absl::string_view s) {
  // A local cursor, stored once (as EmitAt).
  uint8_t* p = b->cursor();
  *p++ = format::kEvString;
  p = format::PutUvarint(p, id);
  p = format::PutUvarint(p, s.size());
  b->SetCursor(CopyBytes(p, s.data(), s.size()));
}
inline size_t StringEntrySize(absl::string_view s) {
  return 1 + 2 * format::kMaxVarintLen + s.size();
}

}  // namespace gentrace::internal

#endif  // GENTRACE_TRACER_INTERNAL_STRING_TABLE_H_
