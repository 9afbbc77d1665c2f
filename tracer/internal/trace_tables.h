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
  // the thread's string buffer of the generation.
  __attribute__((always_inline)) uint64_t UniqueStringId(TraceLocker& tl,
                                                         absl::string_view s) {
    s = StringTable::Truncate(s);
    const uint64_t gen = tl.gen();
    TraceBuf* b = tl.thread()->sbuf[gen & 1];
    if (__builtin_expect(b == nullptr || b->available() < StringEntrySize(s),
                         0)) {
      b = NewStringBuf(tl);
    }
    const uint64_t id = strings_[gen & 1].NextId();
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
  // Flushes the thread's full string buffer of tl's generation, if any,
  // and gives it a new, empty one (any string fits: Truncate).
  TraceBuf* NewStringBuf(TraceLocker& tl);
  uint64_t CaptureStackId(TraceLocker& tl, void* fp);

  Writer* const writer_;
  int max_stack_depth_ = 0;
  StringTable strings_[2];
  StackTable stacks_[2];
  StackSymbolizer symbolizer_;
};

}  // namespace gentrace::internal

#endif  // GENTRACE_TRACER_INTERNAL_TRACE_TABLES_H_
