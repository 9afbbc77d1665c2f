// The writer (Go's trace.full[gen%2] and the trace reader goroutine,
// runtime/trace.go): the buffer pool, the queue of full buffers of each of
// the two generations in flight, and the writer thread, which hands every
// generation's batches to the trace's consumers (Sinks) and then tells
// them the generation is complete. Invariant numbered as in runtime.h:
//
//  I3. Generation N is complete on every consumer (Frequency, events,
//      statuses, stacks, strings, thread info) before any byte of N+1:
//      the writer drains N's queue and is told N is complete
//      (CompleteGeneration) before it starts on N+1; the advancer does not
//      start advancing N+1 before that.
//
// Consumers. A trace has one or more: the first is given to Begin, which
// writes the header to it on the calling thread; others are added during
// the trace with AddConsumer (gentrace::Start's destination and a flight
// recorder's ring, in either order). Each receives the header and then
// whole generations, from the first one the writer had not begun when it
// was added, until the generation after which it is detached (Detach), or
// the end of the trace. Each receives the same bytes in the same order;
// consumers marked `first` receive each batch before the others. A
// consumer that fails receives nothing more. Tracing stops (failed())
// when a consumer marked `stops_tracing` fails, or when no consumer is left
// that has not failed or been detached.

#ifndef GENTRACE_TRACER_INTERNAL_WRITER_H_
#define GENTRACE_TRACER_INTERNAL_WRITER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tracer/internal/sink.h"
#include "tracer/internal/trace_buf.h"

namespace gentrace::internal {

// What a consumer has received.
struct ConsumerStats {
  uint64_t first_gen = 0;    // the first generation it received (0: none)
  uint64_t last_gen = 0;     // the last one it will receive (0: not detached)
  uint64_t generations = 0;  // ended on it (EndGeneration succeeded)
  uint64_t bytes = 0;        // Sink::bytes_written()
  absl::Status status;       // its first failure
};

// How a consumer takes part in the trace.
struct ConsumerOptions {
  // Its failure stops tracing (otherwise only it stops receiving).
  bool stops_tracing = false;
  // Receives each batch before the consumers that are not `first` (a
  // flight recorder's ring: a slow destination does not hold it back).
  bool first = false;
  // The caller has written the header to it already (AddConsumer).
  bool header_written = false;
};

class Writer {
 public:
  Writer() = default;
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Buffers, from any thread. NewBuf starts a batch of generation `gen`
  // for thread `m` (an experimental batch if exp != 0); FlushBuf hands a
  // finished one over to be written (or returns an empty one to the pool).
  TraceBuf* NewBuf(uint64_t gen, uint64_t m, uint8_t exp = 0);
  void FlushBuf(TraceBuf* b);

  // Starts a trace whose first generation is `first_gen`: writes `header`
  // to `first` on the calling thread (a pipe with no reader gives an
  // error, not SIGPIPE), and if that succeeds makes it the trace's only
  // consumer, with id 0. On error nothing changes. Not while the writer
  // thread runs.
  absl::Status Begin(uint64_t first_gen, std::string header,
                     std::unique_ptr<Sink> first,
                     const ConsumerOptions& options = {});
  // Starts the writer thread, which runs `setup` first. `on_failure` runs
  // (under the writer's lock) when tracing must stop (failed()).
  void StartThread(std::function<void()> setup,
                   std::function<void()> on_failure);
  // The trace's header, for a caller that writes it to a consumer itself
  // (ConsumerOptions::header_written) before adding it.
  std::string header();
  // Writes bytes to sink on the calling thread, with SIGPIPE blocked.
  static absl::Status WriteNow(Sink* sink, absl::Span<const uint8_t> bytes);

  // Adds a consumer to the running trace (between Begin and Finish); see
  // the file comment.
  struct Added {
    int id;
    // The first generation it will receive: the writer's current one if
    // the writer has not begun it, else the next.
    uint64_t first_gen;
  };
  absl::StatusOr<Added> AddConsumer(std::unique_ptr<Sink> sink,
                                    const ConsumerOptions& options = {});
  // Consumer `id` receives no generation after `last_gen`, or after the
  // generation the writer is on if it has begun it for this consumer
  // (generations reach a consumer whole). Returns the last generation it
  // will receive. Detaching does not stop tracing, even if no other
  // consumer is left: the caller stops the trace instead.
  uint64_t Detach(int id, uint64_t last_gen);
  // Waits until consumer `id` has received its last generation (or the
  // writer thread has ended), then closes it. Returns its first failure,
  // else the status of its Close. A consumer is closed once; later calls
  // return the same status.
  absl::Status CloseConsumer(int id);
  // Whether consumer `id` still receives (or will): not failed, not
  // detached.
  bool Live(int id);

  // The advancer's (I3): all of gen's buffers are flushed; returns once
  // gen is complete on every consumer.
  void CompleteGeneration(uint64_t gen);
  // After the last generation: the writer thread ends; Join waits for it.
  void Finish();
  void Join();
  // Once joined: closes every consumer not closed yet (CloseConsumer).
  void CloseAll();
  // Frees the pooled buffers (between traces).
  void ReleaseBuffers() { pool_.Clear(); }

  // Whether tracing must stop (see the file comment), and the failure
  // that made it so.
  bool failed() const { return failed_.load(std::memory_order_acquire); }
  absl::Status error();
  // What consumer `id` received (zeros for an unknown id). Kept after the
  // trace, until the next Begin.
  ConsumerStats consumer_stats(int id);
  size_t buffers_allocated() const { return pool_.allocated(); }

  // The crash path's (crash_completion.h). CrashTryLock takes the
  // writer's lock if it is free, without waiting; while the crash path
  // holds it, the writer thread takes no more batches and no thread
  // queues one (a batch the writer took before stays in_flight and whole:
  // the writer gives it back to the pool only under the lock).
  // Async-signal-safe (a try-lock never blocks).
  bool CrashTryLock() { return mu_.try_lock(); }
  void CrashUnlock() { mu_.unlock(); }
  struct CrashView {
    uint64_t gen = 0;    // the generation the writer is on
    uint64_t taken = 0;  // its batches the writer has taken off the queue
    // The last of them while it is being delivered to the consumers
    // (`first` ones first), else null.
    const TraceBuf* in_flight = nullptr;
    // Its batches still queued, in order (linked by TraceBuf::link).
    const TraceBuf* queued = nullptr;
  };
  // With CrashTryLock held.
  CrashView CrashViewLocked() const {
    CrashView v;
    v.gen = writer_gen_;
    v.taken = taken_;
    v.in_flight = in_flight_;
    v.queued = full_[writer_gen_ & 1].head;
    return v;
  }

 private:
  static constexpr uint64_t kNoLast = ~uint64_t{0};
  struct Consumer {
    std::unique_ptr<Sink> sink;
    ConsumerOptions options;
    // Under mu_ (the writer thread reads `failed` and `last_gen` without
    // it: only it, and Fail and Detach under mu_, write them, and a stale
    // read only delays the effect by one batch).
    bool active = false;  // receiving; false while pending
    bool gone = false;    // received its last generation (or never will)
    bool failed = false;
    bool closed = false;
    uint64_t first_gen = 0;
    uint64_t last_gen = kNoLast;
    uint64_t generations = 0;
    absl::Status status;
    absl::Status close_status;
  };

  void Loop();
  // Writer thread, under mu_: consumers added since the writer began a
  // generation start with this one (header first).
  void ActivatePending(std::unique_lock<std::mutex>& l);
  // Runs op(sink) on active consumers [from, to), without mu_; records
  // failures.
  template <typename Op>
  void Deliver(std::unique_lock<std::mutex>& l, Op op, size_t from, size_t to);
  size_t NumConsumers();
  void Fail(Consumer* c, absl::Status s);  // under mu_
  bool AnyLive() const;                    // under mu_
  // Writer thread: consumers whose last generation was writer_gen_ leave.
  void RetireDetached();

  BufPool pool_;
  std::thread thread_;
  std::function<void()> on_failure_;

  std::mutex mu_;
  std::condition_variable cv_;
  BufQueue full_[2];            // by generation parity
  uint64_t writer_gen_ = 0;     // generation the writer is draining
  bool gen_begun_ = false;      // a byte of writer_gen_ went to the consumers
  uint64_t completed_gen_ = 0;  // last generation whose buffers are all queued
  uint64_t written_gen_ = 0;    // last generation fully written
  uint64_t taken_ = 0;          // batches of writer_gen_ taken off full_
  TraceBuf* in_flight_ = nullptr;  // the one being delivered, if any
  bool exit_ = false;
  bool thread_running_ = false;  // between StartThread and Join
  bool open_ = false;            // between Begin and Finish
  std::string header_;
  std::vector<std::unique_ptr<Consumer>> consumers_;
  bool pending_ = false;  // some consumer is not active yet
  absl::Status error_;    // first failure of a consumer that stops tracing
  std::atomic<bool> failed_{false};
  // The consumers receiving, `first` ones first, for the writer thread
  // (no lock needed); how many are `first`.
  std::vector<Consumer*> active_;
  size_t first_count_ = 0;
};

}  // namespace gentrace::internal

#endif  // GENTRACE_TRACER_INTERNAL_WRITER_H_
