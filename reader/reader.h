// The trace reader: Go's internal/trace Reader in C++.
//
// Reads a Go execution trace (format "go 1.22 trace" or "go 1.23 trace",
// written by the Go runtime or by gentrace) from a file, a stream or a
// buffer, zstd-compressed or not, one generation at a time, validates it
// the way Go's parser does and hands out its events in Go's order:
//
//   absl::StatusOr<std::unique_ptr<Reader>> r = Reader::Open("x.trace");
//   if (!r.ok()) ...;
//   Event ev;
//   while ((*r)->ReadEvent(&ev)) {
//     ... ev.kind(), ev.time(), ev.state_transition() ...
//   }
//   if (!(*r)->status().ok()) ...;  // after the complete generations
//
// Like Go 1.23's reader, a trace whose tail is broken (a crashed or killed
// tracer) still delivers every complete generation, each ending with a Sync
// event, before the error.
//
// Memory: the reader holds the generation being read (its batches, decoded
// tables, CPU samples) and the scheduler state, never more than one
// generation. Over a buffer, batches are not copied.
//
// Events and the views they hand out are valid until the reader moves on
// to the next generation: that is, until the ReadEvent() call that follows
// the generation's Sync event.
//
// Where gentrace differs from Go 1.23's reader (tests/reader_conformance
// checks the rest against Go itself):
//  * go 1.11-1.21 traces (Go's older format) are refused, not converted;
//  * a CPU sample whose stack id is not in its generation, a STWEnd whose
//    STWBegin's kind string is not in the STWEnd's generation, and a status
//    argument of 256 or more (Go's ordering looks at its low byte only) are
//    errors when the event would be handed out; Go hands such events out
//    and its accessors then panic;
//  * ordering errors end with " (at EVENT on thread M, generation G)";
//  * events with equal timestamps on different threads come in a fixed
//    order, and a bad frame in a sparse stack table is reported for the
//    lowest stack id; in Go both depend on map iteration order.
// One Go quirk is kept: a table batch that ends exactly where a varint
// should start ends the trace without an error, as Go's reader does.
//
// A Reader is not thread-safe; use one per thread.
#ifndef GENTRACE_READER_READER_H_
#define GENTRACE_READER_READER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "format/batch.h"
#include "format/byte_source.h"
#include "format/spec.h"
#include "reader/batch_cursor.h"
#include "reader/event.h"
#include "reader/generation.h"
#include "reader/go_compat.h"
#include "reader/ordering.h"
#include "reader/type_info.h"

namespace gentrace::reader {

class Reader {
 public:
  // Reads the file at `path` ("-" for standard input).
  static absl::StatusOr<std::unique_ptr<Reader>> Open(const std::string& path);
  // Reads `data`, which must outlive the reader. Uncompressed data is not
  // copied.
  static absl::StatusOr<std::unique_ptr<Reader>> FromBuffer(
      absl::Span<const uint8_t> data);
  // Reads from a stream.
  static absl::StatusOr<std::unique_ptr<Reader>> FromSource(
      std::unique_ptr<format::ByteSource> source);

  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // Reads the next event into *ev. Returns false at the end of the trace
  // or on an error; status() tells which. Errors are final.
  bool ReadEvent(Event* ev);

  // OK, or why reading stopped early.
  const absl::Status& status() const { return status_; }
  // True once ReadEvent() returned false.
  bool done() const { return done_; }

  format::Version version() const { return version_; }
  // Generations delivered completely (Sync events returned).
  uint64_t complete_generations() const { return syncs_; }
  // The generation being read (nullptr before the first event).
  const Generation* generation() const { return have_gen_ ? &gen_ : nullptr; }
  // The time of the event ReadEvent() returned last as the trace gave it,
  // before the reader moved it forward to keep times strictly increasing
  // (an event not after its predecessor gets the predecessor's time plus
  // 1 ns, as in Go's reader). Comparisons with Go's reader need it: Go
  // delivers events of different threads with equal times in a random
  // order, and which of them gets moved depends on that order.
  int64_t last_raw_time() const { return last_raw_ts_; }
  // Input bytes consumed so far (after decompression).
  uint64_t bytes_read() const { return batches_ ? batches_->offset() : 0; }
  // Approximate heap bytes the reader holds now.
  size_t MemoryUsage() const;

 private:
  Reader() = default;
  absl::Status Init(std::unique_ptr<format::ByteSource> source,
                    absl::Span<const uint8_t> buffer, bool zero_copy);
  bool Fail(absl::Status s);
  // Checks and finishes an event about to be returned (Go's deferred
  // block in ReadEvent): table ids, strictly increasing time.
  ABSL_ATTRIBUTE_ALWAYS_INLINE bool Deliver(Event* ev) {
    const TypeInfo& ti = GetTypeInfo(ev->type_);
    if (ti.check_ids && !IdsPresent(ti, *ev) && !CheckIds(ev)) return false;
    last_raw_ts_ = ev->time_;
    if (ev->time_ <= last_ts_) ev->time_ = WrapAdd(last_ts_, 1);
    last_ts_ = ev->time_;
    return true;
  }
  // The fast check: true if every id is in the tables (false sends the
  // event through CheckIds, which also covers the special cases).
  ABSL_ATTRIBUTE_ALWAYS_INLINE bool IdsPresent(const TypeInfo& ti,
                                               const Event& ev) const {
    if (ti.stacks[0] >= 0) {
      if (!gen_.HasStack(ev.args_[ti.stacks[0]])) return false;
      if (ti.stacks[1] >= 0 && !gen_.HasStack(ev.args_[ti.stacks[1]])) {
        return false;
      }
    }
    if (ti.strings[0] >= 0) {
      if (gen_.FindString(ev.args_[ti.strings[0]]) == nullptr) return false;
      if (ti.strings[1] >= 0 &&
          gen_.FindString(ev.args_[ti.strings[1]]) == nullptr) {
        return false;
      }
    }
    return ev.type_ != format::kEvCPUSample && ev.type_ != format::kEvSTWEnd &&
           !((ev.type_ == format::kEvGoStatus ||
              ev.type_ == format::kEvGoStatusStack) &&
             ev.args_[2] > format::kGoWaiting) &&
           !(ev.type_ == format::kEvProcStatus &&
             ev.args_[1] > format::kProcSyscallAbandoned);
  }
  // The full id check, with Go's error messages; false (and status_ set)
  // when an id is missing.
  bool CheckIds(Event* ev);
  // Loads the next generation and sets up the frontier. False at the end
  // or on error.
  bool LoadGeneration();
  // Offers frontier_[i]'s event to the ordering. Returns true if it
  // advanced (then *out holds the first finished event); false if not (or
  // on error: then status_ is set).
  bool TryAdvance(size_t i, Event* out);
  // ReadEvent beyond its fast path.
  bool ReadEventSlow(Event* ev);
  // After the earliest event could not advance: try the others.
  bool AdvanceOthers(Event* ev);
  // Fails with the ordering's error (scratch_), naming the event.
  bool FailAdvance(const BatchCursor* bc);
  std::string FrontierDump() const;

  format::Version version_ = format::Version::kGo123;
  std::unique_ptr<format::ByteSource> source_;
  std::unique_ptr<format::BatchReader> batches_;
  std::unique_ptr<GenerationReader> gens_;
  Generation gen_;
  bool have_gen_ = false;
  Ordering order_;
  std::vector<BatchCursor> cursors_;
  std::vector<BatchCursor*> frontier_;
  size_t next_sample_ = 0;
  size_t num_samples_ = 0;
  int64_t last_ts_ = 0;
  int64_t last_raw_ts_ = 0;
  bool emitted_sync_ = true;  // no Sync before the first generation
  uint64_t syncs_ = 0;
  absl::Status status_;
  absl::Status scratch_;  // errors from the ordering and cursors
  bool done_ = false;
};

}  // namespace gentrace::reader

#endif  // GENTRACE_READER_READER_H_
