// The flight recorder's store: the most recent whole generations of a trace,
// in a bounded ring of memory or of a shared file mapping.
//
// Semantics follow Go 1.25's runtime/trace.FlightRecorder:
//  * MinAge: generations are let go once the newer ones already cover
//    min_age of history (measured on the generations' own time spans);
//  * MaxBytes wins over MinAge. Unlike Go, where it is a hint, max_bytes is
//    a hard bound here: the region is allocated once, max_bytes rounded
//    down to 4 KiB, and everything held, the generation being written and
//    the 48-byte framing of each record included, lives in it (plus one
//    4 KiB header page). Older generations are evicted to make room; a
//    generation that does not fit at all is dropped whole and counted,
//    never kept in part.
//  * What is held is always consecutive whole generations (Go's parser
//    refuses a gap: "generations out of order"), so a snapshot is a valid
//    trace on its own.
//  * Only one WriteTo at a time: a second concurrent call fails at once
//    with kAborted, as Go's WriteTo does; the caller should use the other
//    call's result.
//
// Capacity: a snapshot holds at least one whole generation as long as
// max_bytes holds the two largest consecutive generations. Otherwise the
// previous generation is evicted while the next one is being written, and
// a snapshot taken then finds none (Go's WriteTo avoids this by first
// ending the current generation; the runtime's FlightRecorder will do the
// same).
//
// Threads. One writer (SetHeader, Append, EndGeneration; the tracer's
// writer thread through RingSink). Any thread may call WriteTo and
// stats(). WriteTo pins the bytes it still has to write; if the writer
// needs exactly those bytes back it waits for the snapshot to move on, at
// most writer_wait, and then drops its current generation instead.
//
// Crash path (WriteCrashSnapshot, async-signal-safe): freezes the ring (the
// writer's next Append fails without writing anything), waits a bounded
// time for a write in progress, and writes the generations it can verify
// record by record. The invariants that make this safe without locks:
//
//   R1. The writer never overwrites a byte of a held generation: before it
//       overwrites, it evicts (publishes a larger head_, seq_cst) and then
//       checks frozen_ (seq_cst). A crash reader sets frozen_ before it
//       loads head_, so it either sees the new head or the writer sees the
//       freeze and stops.
//   R2. A record becomes valid only with its commit word, stored last
//       (release); readers check it (acquire) and the checksum.
//   R3. committed_end_ is published after head_ (release), so a reader
//       that loads committed_end_ first sees a head_ at least as new.
//   R4. Appends are published whole: active_end_ moves past an Append only
//       once all its records are committed.
//   R5. Held generations (between head_ and committed_end_) are
//       consecutive whole generations; a dropped generation's records lie
//       outside that range (the next commit evicts everything before it).
#ifndef GENTRACE_TRACER_INTERNAL_GENERATION_RING_H_
#define GENTRACE_TRACER_INTERNAL_GENERATION_RING_H_

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "format/ring_file.h"
#include "tracer/internal/sink.h"

namespace gentrace::internal {

struct GenerationRingOptions {
  // Hard bound on the bytes held, rounded down to a multiple of 4 KiB; at
  // least 64 KiB. 0 means Go's default, 10 MiB.
  uint64_t max_bytes = 10 << 20;
  // Keep at least this much recent history when max_bytes allows. Zero or
  // less means Go's default, 10 s.
  absl::Duration min_age = absl::Seconds(10);
  // Empty: anonymous memory. Otherwise the ring lives in this file, created
  // or truncated, fully allocated up front (so a full disk fails here and
  // never as SIGBUS later) and mapped shared, in format/ring_file.h's
  // layout: after kill -9 or an OOM kill, `gentrace recover` gets every
  // whole generation back from it. The file stays when the ring is
  // destroyed.
  std::string file_path;
  // How long the writer waits for a WriteTo to release bytes it must
  // overwrite before dropping its current generation.
  absl::Duration writer_wait = absl::Milliseconds(100);
  // Most generations held at once (older ones are evicted first).
  size_t max_generations = 4096;
};

struct GenerationRingStats {
  uint64_t generations_held = 0;
  uint64_t first_gen = 0;   // oldest held (0 if none)
  uint64_t last_gen = 0;    // newest held (0 if none)
  uint64_t bytes_held = 0;  // trace bytes of the held generations
  uint64_t generations_committed = 0;
  uint64_t generations_evicted = 0;
  // Dropped whole: bigger than the ring, or blocked by a WriteTo for
  // longer than writer_wait.
  uint64_t generations_dropped_too_big = 0;
  uint64_t generations_dropped_pinned = 0;
  uint64_t bytes_dropped = 0;
  uint64_t snapshots = 0;  // WriteTo calls that wrote a trace
};

struct SnapshotInfo {
  uint64_t bytes = 0;  // header included
  uint64_t generations = 0;
  uint64_t first_gen = 0;
  uint64_t last_gen = 0;
  // Held generations left out: a record failed its checks (memory damage),
  // or they were cut off from the newest run by such a generation.
  uint64_t generations_skipped = 0;
};

struct CrashSnapshotOptions {
  // Also write the generation being written, as far as its Appends are
  // complete and intact, when it directly follows the last generation
  // written. For a caller that then writes the rest of that generation.
  bool include_active = false;
  // How long to wait for an Append or EndGeneration in progress on the
  // writer thread (not waited for if the caller is that thread).
  uint64_t wait_ns = 50'000'000;
};

struct CrashSnapshotResult {
  int error = 0;       // errno of a failed write(2), else 0
  uint64_t bytes = 0;  // written, header included
  uint64_t generations = 0;
  uint64_t first_gen = 0;
  uint64_t last_gen = 0;
  // Held generations left out: a record failed its checks, or they were
  // cut off from the newest run by such a generation.
  uint64_t generations_skipped = 0;
  // The writer was still inside a write when the wait ended; that write
  // was left out.
  bool writer_busy = false;
  bool active_included = false;
  uint64_t active_appends = 0;  // whole Appends of it written
  uint64_t active_bytes = 0;
};

class GenerationRing {
 public:
  static absl::StatusOr<std::unique_ptr<GenerationRing>> Create(
      const GenerationRingOptions& options);
  ~GenerationRing();
  GenerationRing(const GenerationRing&) = delete;
  GenerationRing& operator=(const GenerationRing&) = delete;

  // ---- Writer (one thread at a time)

  // The trace header (16 bytes for Go's traces). Call before the first
  // Append. Calling it again starts a new trace: everything held is let go
  // (generations of two traces never form one window).
  absl::Status SetHeader(absl::Span<const uint8_t> header);
  // Adds bytes to the generation being written. A generation that stops
  // fitting is dropped (counted in stats); the remaining Appends of it
  // return OK and store nothing. Fails only once the ring is frozen.
  absl::Status Append(absl::Span<const uint8_t> bytes);
  // Commits the generation being written as number `gen`, spanning
  // [start_ns, end_ns] of the writer's clock. Numbers must increase; a
  // generation that does not follow the newest held one lets all held ones
  // go.
  absl::Status EndGeneration(uint64_t gen, uint64_t start_ns, uint64_t end_ns);

  // ---- Readers (any thread)

  // Writes the trace header and the held generations to sink (Write per
  // record, EndGeneration after each generation; sink is not closed): a
  // valid trace. Every record is checked first; if some fail (memory
  // damage), the snapshot is the newest run of consecutive generations
  // that pass. Fails with kAborted if another WriteTo is in progress,
  // kFailedPrecondition if no whole generation is held, kDataLoss if none
  // passes its checks.
  absl::StatusOr<SnapshotInfo> WriteTo(Sink* sink);

  GenerationRingStats stats() const;

  // ---- Crash path

  // Stops the writer for good: its next Append or EndGeneration fails
  // without writing. Async-signal-safe; idempotent.
  void Freeze();
  bool frozen() const { return frozen_.load(std::memory_order_acquire); }
  // Freezes the ring and writes the trace header and the newest run of
  // held generations that pass their checks to fd. No locks, no
  // allocation. Async-signal-safe.
  CrashSnapshotResult WriteCrashSnapshot(int fd,
                                         const CrashSnapshotOptions& options);

  // The whole mapping, file header and region: what a ring file holds.
  absl::Span<const uint8_t> image() const {
    return absl::MakeConstSpan(map_, map_size_);
  }
  uint64_t region_size() const { return size_; }

  // Called on the writer thread after each record's bytes are stored and
  // before its commit word is (tests use it to stop a writer mid-record).
  void SetBeforeCommitHookForTesting(void (*hook)(uint64_t seq, void* arg),
                                     void* arg) {
    before_commit_arg_.store(arg, std::memory_order_relaxed);
    before_commit_hook_.store(hook, std::memory_order_release);
  }

 private:
  struct Held {
    uint64_t gen;
    uint64_t first_pos;  // of its first record
    uint64_t end_pos;    // after its end record
    uint64_t start_ns;
    uint64_t end_ns;
    uint64_t bytes;
    uint64_t end_seq;  // seq of its end record
  };
  enum class Room { kOk, kTooBig, kPinned, kFrozen };
  class BusyScope;

  GenerationRing() = default;
  // Makes sure logical positions below `need_end - size_` may be
  // overwritten: evicts held generations, waits for a pinning WriteTo.
  Room MakeRoom(uint64_t need_end);
  // The position held data starts at (under ring_mu_ or on the writer).
  uint64_t HeadPos() const;
  void DropActive(Room why);
  void ResetActive();
  // Writes one record at the tail and commits it.
  void WriteRecord(uint64_t pos, uint64_t gen, format::RingRecordKind kind,
                   absl::Span<const uint8_t> payload);

  // Mapping.
  uint8_t* map_ = nullptr;
  size_t map_size_ = 0;
  uint8_t* region_ = nullptr;
  uint64_t size_ = 0;
  int fd_ = -1;
  GenerationRingOptions options_;
  std::atomic<void (*)(uint64_t, void*)> before_commit_hook_{nullptr};
  std::atomic<void*> before_commit_arg_{nullptr};
  uint64_t min_age_ns_ = 0;

  // Trace header: bytes first, then the size (release).
  uint8_t header_[format::kRingMaxTraceHeader] = {};
  std::atomic<uint32_t> header_size_{0};
  std::atomic<uint32_t> seed_{0};

  // Writer-only state.
  uint64_t tail_ = 0;           // next free logical position
  uint64_t next_seq_ = 1;       // seq of the next record
  uint64_t write_limit_ = 0;    // positions below this may be overwritten
  uint64_t last_gen_ = 0;       // newest generation committed in this trace
  bool window_broken_ = false;  // a generation was dropped since
  struct Active {
    bool started = false;
    bool dropped = false;
    uint64_t first_pos = 0;
    uint64_t first_seq = 0;
    uint64_t records = 0;
    uint64_t bytes = 0;
    uint64_t appends = 0;
  } active_;

  // Shared with readers.
  mutable std::mutex ring_mu_;  // held_ and pin_ (writer + WriteTo)
  std::condition_variable pin_cv_;
  std::deque<Held> held_;  // oldest first; modified under ring_mu_
  static constexpr uint64_t kNoPin = ~uint64_t{0};
  uint64_t pin_ = kNoPin;  // WriteTo needs positions >= pin_
  std::mutex writing_;     // one WriteTo at a time

  std::atomic<uint64_t> head_{0};            // R1, R3
  std::atomic<uint64_t> committed_end_{0};   // R3
  std::atomic<uint64_t> active_start_{0};    // R4
  std::atomic<uint64_t> active_end_{0};      // R4
  std::atomic<uint64_t> active_appends_{0};  // R4
  std::atomic<bool> active_follows_{false};  // active gen = newest held + 1
  std::atomic<bool> frozen_{false};
  std::atomic<bool> busy_{false};
  std::atomic<int> busy_tid_{0};

  // Counters.
  std::atomic<uint64_t> committed_{0};
  std::atomic<uint64_t> evicted_{0};
  std::atomic<uint64_t> dropped_too_big_{0};
  std::atomic<uint64_t> dropped_pinned_{0};
  std::atomic<uint64_t> bytes_dropped_{0};
  std::atomic<uint64_t> snapshots_{0};
};

}  // namespace gentrace::internal

#endif  // GENTRACE_TRACER_INTERNAL_GENERATION_RING_H_
