// The string and stack tables of the two generations in flight, by parity
// (Go's trace.stringTab and trace.stackTab, runtime/tracestring.go and
// tracestack.go): the ids events refer to, taken under a TraceLocker, and
// the tables' dump at the end of their generation, on the advancer.
//
// A generation's tables are written to only by threads holding a seqlock
// with that generation (I1), by the CPU-sample bridge (tracecpu.h C1, C2),
// and by the advancer; the advancer dumps and resets them once nothing
// else can (I2; trace_map.h's invariant 2).
#ifndef GENTRACE_TRACER_INTERNAL_TRACE_TABLES_H_
#define GENTRACE_TRACER_INTERNAL_TRACE_TABLES_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "tracer/gentrace.h"
#include "tracer/internal/stack_table.h"
#include "tracer/internal/string_table.h"
#include "tracer/internal/trace_locker.h"

namespace gentrace::internal {

class Writer;

class TraceTables {
 public:
  // `writer` gives and takes the buffers of unique strings.
  explicit TraceTables(Writer* writer) : writer_(writer) {}
  TraceTables(const TraceTables&) = delete;
  TraceTables& operator=(const TraceTables&) = delete;

  // Start: empty tables and symbol caches; stacks keep at most
  // `max_stack_depth` frames.
  void BeginSession(int max_stack_depth);
  // Stop: empty tables.
  void EndSession();

  // Ids in the current generation's tables.
  uint64_t StringId(TraceLocker& tl, absl::string_view s) {
    return strings_[tl.gen() & 1].Put(s, tl.gen(), &tl.thread()->string_cache);
  }
  // A literal's id, cached in the StaticName for the generation (its low
  // 40 bits, above a 24-bit id).
  uint64_t StaticStringId(TraceLocker& tl, const StaticName& name) {
    const uint64_t c = name.cache().load(std::memory_order_relaxed);
    if (__builtin_expect(c != 0 && (c >> 24) == (tl.gen() & kGenMask), 1)) {
      return c & (kIdLimit - 1);
    }
    return StaticStringIdSlow(tl, name);
  }
  // Writes s as a new string (never deduplicated; for log messages), into
  // the thread's string buffer of the generation, under an id from the
  // thread's block of the generation's ids (an atomic add on the shared
  // counter for every message was about half of what a log cost above a
  // region).
  __attribute__((always_inline)) uint64_t UniqueStringId(TraceLocker& tl,
                                                         absl::string_view s) {
    s = StringTable::Truncate(s);
    const uint64_t p = tl.gen() & 1;
    ThreadState* ts = tl.thread();
    TraceBuf* b = ts->sbuf[p];
    if (__builtin_expect(b == nullptr || b->available() < StringEntrySize(s) ||
                             ts->sid_next[p] == ts->sid_end[p],
                         0)) {
      b = RefillUniqueStrings(tl, StringEntrySize(s));
    }
    const uint64_t id = ts->sid_next[p]++;
    WriteStringEntry(b, id, s);
    return id;
  }
  // If `want`, walks the stack from frame pointer `fp` (the API entry
  // function's frame, so the first PC is the caller's) and returns its id;
  // otherwise 0.
  uint64_t StackId(TraceLocker& tl, bool want, void* fp) {
    return want ? CaptureStackId(tl, fp) : 0;
  }
  // A stack of generation `gen` (one the caller may write to: I1, or
  // tracecpu.h C1, C2).
  uint64_t PutStack(uint64_t gen, const uintptr_t* pcs, int n,
                    bool exact_first) {
    return stacks_[gen & 1].Put(pcs, n, exact_first);
  }

  // The advancer's, once no thread can write to `gen` any more (I2).
  // Loads debug information now, so that the first generation's dump is
  // not slow.
  void WarmUp() { symbolizer_.WarmUp(); }
  // Writes gen's stacks (symbolizing them adds strings), then its strings
  // (Go's order), and empties both tables.
  void WriteAndReset(uint64_t gen);

  // The crash path's (crash_completion.h): gen's tables, read without
  // locks while they may still grow (never while they are reset: the
  // control lock is held).
  const StringTable& strings(uint64_t gen) const { return strings_[gen & 1]; }
  const StackTable& stacks(uint64_t gen) const { return stacks_[gen & 1]; }

 private:
  static constexpr uint64_t kGenMask = (uint64_t{1} << 40) - 1;
  static constexpr uint64_t kIdLimit = uint64_t{1} << 24;

  uint64_t StaticStringIdSlow(TraceLocker& tl, const StaticName& name);
  // Makes room for one unique string entry of `entry_size` bytes in tl's
  // generation: a string buffer that fits it (flushing a full one; any
  // string fits an empty one: Truncate) and an unused id (a new block,
  // twice the last one up to kMaxStringIdBlock ids). Returns the buffer.
  TraceBuf* RefillUniqueStrings(TraceLocker& tl, size_t entry_size);
  // Blocks start at one id, so that a thread that logs a few messages a
  // generation wastes few ids (the reader keeps a table whose ids are
  // mostly used as an array), and double up to 256, so that the shared
  // counter is touched once per 256 messages of a busy thread.
  static constexpr uint64_t kFirstStringIdBlock = 1;
  static constexpr uint64_t kMaxStringIdBlock = 256;
  uint64_t CaptureStackId(TraceLocker& tl, void* fp);

  Writer* const writer_;
  int max_stack_depth_ = 0;
  StringTable strings_[2];
  StackTable stacks_[2];
  StackSymbolizer symbolizer_;
};

}  // namespace gentrace::internal

#endif  // GENTRACE_TRACER_INTERNAL_TRACE_TABLES_H_
