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
// Consumers. A trace has one or more: the destination of Options (given
// to Begin, which writes the header to it on the calling thread), and any
// added during the trace with AddConsumer (for example a flight
// recorder's ring), which receive the header and then whole generations,
// from the first one the writer had not begun when they were added. Each
// receives the same bytes in the same order. A consumer that fails
// receives nothing more; if it is one that stops tracing (the
// destination), the writer reports the failure and the advancer stops
// tracing.
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
  uint64_t generations = 0;  // ended on it (EndGeneration succeeded)
  uint64_t bytes = 0;        // Sink::bytes_written()
  absl::Status status;       // its first failure
};

class Writer {
 public:
  // The destination's id in ConsumerStats queries.
  static constexpr int kDestination = 0;

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
  // to `destination` on the calling thread (a pipe with no reader gives
  // an error, not SIGPIPE), and if that succeeds makes it the trace's only
  // consumer. On error nothing changes. Not while the writer thread runs.
  absl::Status Begin(uint64_t first_gen, std::string header,
                     std::unique_ptr<Sink> destination);
  // Starts the writer thread, which runs `setup` first. `on_failure` runs
  // (under the writer's lock) when a consumer that stops tracing fails.
  void StartThread(std::function<void()> setup,
                   std::function<void()> on_failure);
  // Adds a consumer to the running trace (between Begin and Finish); see
  // the file comment. `stops_tracing`: its failure stops tracing. Returns
  // its id.
  absl::StatusOr<int> AddConsumer(std::unique_ptr<Sink> sink,
                                  bool stops_tracing);

  // The advancer's (I3): all of gen's buffers are flushed; returns once
  // gen is complete on every consumer.
  void CompleteGeneration(uint64_t gen);
  // After the last generation: the writer thread ends; Join waits for it.
  void Finish();
  void Join();
  // Once joined: closes every consumer. Returns the failure that stopped
  // tracing, if any, else the destination's Close status.
  absl::Status Close();
  // Frees the pooled buffers (between traces).
  void ReleaseBuffers() { pool_.Clear(); }

  // Whether a consumer that stops tracing has failed, and its error.
  bool failed() const { return failed_.load(std::memory_order_acquire); }
  absl::Status error();
  // What consumer `id` received (zeros for an unknown id). Kept after the
  // trace, until the next Begin.
  ConsumerStats consumer_stats(int id);
  size_t buffers_allocated() const { return pool_.allocated(); }

 private:
  struct Consumer {
    std::unique_ptr<Sink> sink;
    bool stops_tracing = false;
    // Under mu_ (the writer thread reads `failed` without it: only it and
    // Begin write it).
    bool active = false;  // receiving; false while pending
    bool failed = false;
    uint64_t first_gen = 0;
    uint64_t generations = 0;
    absl::Status status;
  };

  void Loop();
  // Writer thread, under mu_: consumers added since the writer began a
  // generation start with this one (header first).
  void ActivatePending(std::unique_lock<std::mutex>& l);
  // Runs op(sink) on every active consumer, without mu_; records failures.
  template <typename Op>
  void Deliver(std::unique_lock<std::mutex>& l, Op op);
  void Fail(Consumer* c, absl::Status s);  // under mu_

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
  bool exit_ = false;
  bool open_ = false;  // between Begin and Finish
  std::string header_;
  std::vector<std::unique_ptr<Consumer>> consumers_;
  bool pending_ = false;  // some consumer is not active yet
  absl::Status error_;    // first failure of a consumer that stops tracing
  std::atomic<bool> failed_{false};
  // The consumers receiving, for the writer thread (no lock needed).
  std::vector<Consumer*> active_;
};

}  // namespace gentrace::internal

#endif  // GENTRACE_TRACER_INTERNAL_WRITER_H_
