// CPU-profile samples in the trace: the bridge between cpusample's SIGPROF
// sampler and the tracer (a port of Go's runtime/tracecpu.go, after the
// change that gave it two CPU-profile buffers chosen by generation).
//
// Invariants:
//  C1. A sample is written into profile buffer gen%2, where gen is the
//      generation the SIGPROF handler read. On a traced thread the handler
//      holds the thread's trace seqlock while it reads gen and writes (it
//      takes the seqlock if it is even, or elides it when the thread was
//      interrupted inside the tracer, whose own hold covers it); on any
//      other thread it holds the global in-flight count. The advancer,
//      after switching to gen+1, waits for all seqlocks to be even and the
//      in-flight count to be zero: from then on nothing writes into buffer
//      gen%2, and draining it yields exactly the samples of gen.
//  C2. The reader thread drains the current generation's buffer about every
//      100 ms, holding its own seqlock-like word, which the advancer waits
//      on too; so reader and advancer never drain the same buffer at once.
//  C3. In traceAdvance the order is: drain the old generation's profile
//      buffer, flush the CPU-sample trace buffers, then (advancer.cc)
//      dump the stack table, then the string table. Symbolizing CPU-sample
//      stacks needs the stack table; dumping stacks adds strings.
//  C4. Nothing is dropped silently: a sample stands for `weight` sampling
//      periods; those that do not reach the trace (the profile buffer was
//      full, or more than kMaxCopiesPerSample copies) are counted as lost
//      per generation and written to the trace (gentrace's sampler record)
//      and to Stats. Per generation, CPUSample events + lost = the sum of
//      the weights of the samples the handler put into that generation.
//  C5. A sample's time lies within its generation's span. The handler
//      reads the generation, takes the time, and reads the generation
//      again, until both reads agree (at most twice: a second switch waits
//      for the handler's hold, C1); OrderedNow() keeps the clock read
//      between the two loads. The advancer takes a generation's start just
//      before the switch into it and its end just after the switch out of
//      it (advancer.cc, SwitchGeneration). A sample of gen was stamped after
//      the switch into gen and before the switch out, so within the span.
//      Consecutive spans overlap by the length of a switch (a store and
//      two clock reads).
//  C6. A profiling signal never goes to a thread that is not running
//      because of gentrace. The process itimer's SIGPROF goes to the thread
//      that used the CPU unless that thread blocks SIGPROF; then the kernel
//      picks any other thread, a sleeping one included, and interrupts its
//      sleep. So gentrace's own threads (advancer, writer, this reader)
//      never block SIGPROF: they take their samples (m = their tid, no P,
//      no G; named in the sampler record's thread list, see
//      NoteInternalThread) and their system calls cope with EINTR. Thread
//      timers and perf counters signal their own thread, which is running
//      when they expire. docs/CPU_SAMPLES.md lists what remains.
//  C7. Signal-free mode (CpuProfileOptions::signal_free): no handler runs;
//      each traced thread's perf counter writes samples into its own perf
//      mmap ring, stamped with CLOCK_MONOTONIC, which Drain converts to
//      ticks. A sample is filed by its time: the reader thread, holding
//      ring_mu_, takes `limit` = now and then reads the generation g; it
//      writes into g the samples with time <= limit (g cannot have ended
//      before `limit`: its end is taken after the switch, which came after
//      the read) and keeps later ones pending. FinishGeneration(gen,
//      next_start), under ring_mu_, drains every ring and writes into gen
//      the samples with time <= next_start, keeping later ones pending for
//      gen+1. A sample older than the start of the generation it is
//      written into (its own had ended before it was drained: a ring read
//      late) is written at that start and counted (Stats::
//      cpu_samples_clamped); none is dropped. Losses are the rings' LOST
//      records, counted in the generation being drained when they are
//      read, and, when a ring is closed (its thread exited, or the trace
//      ended), the kernel's per-event count of lost samples that no LOST
//      record reported (Linux 6.0+), counted in that generation (C4).
//  C8. Several perf events (CpuProfileOptions::events, signal-free only):
//      all share each thread's ring, and DrainRings files every sample by
//      C7's time rule, whatever its event. The primary's (event 0) become
//      CPUSample events; another event's become EventSample records in an
//      info batch of the same generation (info_buf_, written by whoever
//      drains, under ring_mu_), with their stacks in that generation's
//      table; FinishGeneration flushes those batches with the CPU-sample
//      buffers (C3), before the stack table. Losses are per event: each
//      drain reads every ring's per-event lost counts after its records
//      (PERF_FORMAT_LOST, Linux 6.0+; before, the LOST records by event
//      id) and counts the increase in the generation being drained; what
//      is still pending after the final generation is lost for its event.
//      So per trace and event, with a period of 1: the event's samples in
//      the trace + its lost = the kernel's count of the event. Each
//      generation's EventSampler records give, per event, the samples
//      written into it and the lost counted in it.
#ifndef GENTRACE_TRACER_INTERNAL_TRACECPU_H_
#define GENTRACE_TRACER_INTERNAL_TRACECPU_H_

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "cpusample/perf_ring.h"
#include "cpusample/sample_ring.h"
#include "cpusample/sampler.h"
#include "format/gentrace_batch.h"
#include "tracer/gentrace.h"
#include "tracer/internal/clock.h"
#include "tracer/internal/trace_buf.h"
#include "tracer/internal/trace_state.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace gentrace::internal {

// A sample above the tick rate stands for `weight` periods (a thread timer
// that overran); it is written as that many CPUSample events, at most this
// many, all with the sample's time (C4).
inline constexpr uint64_t kMaxCopiesPerSample = 64;

// Now(), ordered with the loads and stores around it (C5): rdtsc alone may
// execute before earlier loads have completed or after later ones; lfence
// waits for every earlier instruction, and keeps later ones from starting,
// on both sides of the read. Async-signal-safe.
inline uint64_t OrderedNow() {
#if defined(__x86_64__)
  _mm_lfence();
  const uint64_t t = Now();
  _mm_lfence();
  return t;
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const uint64_t t = Now();
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return t;
#endif
}

// Test hooks on the SIGPROF path (tests/tracer/cpu_samples_test.cc). Both
// run inside the handler and must be async-signal-safe.
struct CpuSampleHooksForTesting {
  // After the handler read generation `gen` and before it takes the time
  // (a test stalls here until the generation switches, to force C5's
  // retry).
  void (*before_stamp)(uint64_t gen) = nullptr;
  // Once the sample is placed: its generation (0: tracing not on yet, the
  // sample is dropped), thread, time and weight.
  void (*placed)(uint64_t gen, pid_t tid, uint64_t time,
                 uint64_t weight) = nullptr;
};
// Signal-free mode: while paused, the CPU reader thread leaves the rings
// alone (only generation ends drain them), so a test can overrun a ring.
void PauseRingReaderForTesting(bool paused);
// Installs `hooks` (null: none). They must stay valid until replaced.
void SetCpuSampleHooksForTesting(const CpuSampleHooksForTesting* hooks);

// The signal-free mode's ring size in pages when CpuProfileOptions::
// ring_pages is 0: room for 100 ms of every event's samples at ~300 bytes
// each, a power of two from 8 to 64.
size_t RingPagesForRate(const std::vector<cpusample::PerfRingEvent>& events);

// Per-generation figures of the sampler, for gentrace's info batch.
struct CpuGenerationInfo {
  uint8_t source = 0;  // format::SamplerSource
  uint64_t hz = 0;
  uint64_t period = 0;
  uint64_t taken = 0;  // CPUSample events written for the generation
  uint64_t lost = 0;   // sampling periods that did not reach the trace (C4)
  std::string event;   // perf event name, if any
  // Signal-free mode: every event's figures, the primary first (C8).
  std::vector<format::EventSamplerRecord> events;
};

// What the bridge may do to the trace, and nothing more: put a stack into
// a generation's stack table, and take and hand over a buffer of a
// generation (a batch on no thread), each for a generation it may write
// to (C1, C2). The generation and the session it reads from TraceState.
class CpuSampleHost {
 public:
  virtual uint64_t PutSampleStack(uint64_t gen, const uintptr_t* pcs,
                                  int n) = 0;
  // A batch of gen on no thread; an experimental batch if exp != 0.
  virtual TraceBuf* NewSampleBuf(uint64_t gen, uint8_t exp = 0) = 0;
  virtual void FlushSampleBuf(TraceBuf* b) = 0;

 protected:
  ~CpuSampleHost() = default;
};

class CpuProfiler {
 public:
  CpuProfiler(const TraceState* trace, CpuSampleHost* host)
      : trace_(trace), host_(host) {}
  ~CpuProfiler();
  CpuProfiler(const CpuProfiler&) = delete;
  CpuProfiler& operator=(const CpuProfiler&) = delete;

  // Starts sampling (the tracer is already running). On error nothing is
  // left running; the message says why the kernel refused.
  absl::Status Start(const CpuProfileOptions& options);
  // Stops the sampler (no sample is taken after it returns) and the reader
  // thread. The buffers keep what was taken, for the final Advance.
  void Stop();
  bool running() const { return running_; }

  // The advancer's part for generation `gen`, after the switch to gen+1
  // at `next_start` (C1, C3, C7): waits out writers of gen, drains profile
  // buffer gen%2 (signal-free: the threads' rings) into CPUSample events,
  // flushes them. `last`: the trace's final generation (after Stop).
  // Returns the generation's figures.
  CpuGenerationInfo FinishGeneration(uint64_t gen, uint64_t next_start,
                                     bool last);

  // Writes gentrace's records for `info`: the sampler record, then one
  // thread record per gentrace thread (C6: tid, no P, goroutine 0, name).
  void WriteInfoRecords(const CpuGenerationInfo& info, TableWriter* w);

  // Called by each of gentrace's own threads when it starts: unblocks
  // SIGPROF in it (C6) and remembers its tid and name for the thread
  // records. Only while sampling runs (threads started after Start).
  void NoteInternalThread(const char* name);

  // Totals since Start.
  uint64_t samples() const { return total_taken_.load(); }
  uint64_t lost() const { return total_lost_.load(); }
  uint64_t clamped() const { return total_clamped_.load(); }
  // Signal-free mode: per event, the primary first (C8).
  std::vector<Stats::CpuEventStats> event_totals() const;
  // For a trace without CPU samples: the totals above and the source
  // become those of no sampling (they are otherwise reset by Start).
  void ClearTotals();
  std::string source_description() const;

  // The SIGPROF callback (async-signal-safe).
  static void OnSample(const cpusample::Sample& sample, void* arg);

 private:
  void ReaderLoop();
  void RingReaderLoop();  // signal-free mode (C7)
  // Drains profile buffer gen%2 into the CPU-sample trace buffer of gen.
  // Caller holds the right to (reader seq odd, or the advancer after C1).
  void Drain(uint64_t gen);
  void FlushCpuBuf(uint64_t gen);
  // Writes `copies` CPUSample events of gen (reader or advancer, C2/C7).
  void WriteSample(uint64_t gen, uint64_t time, uint64_t tid, uint64_t p,
                   uint64_t g, uint64_t stack, uint64_t copies);
  // Writes an EventSample record of a secondary event into gen's info
  // batch (C8). ring_mu_ held.
  void WriteEventSample(uint64_t gen, const format::EventSampleRecord& r);
  absl::Status StartSignals(const CpuProfileOptions& options);
  absl::Status StartSignalFree(const CpuProfileOptions& options);
  // C7: drains every thread's ring, writing into gen the samples with time
  // <= limit (at least gen's start) and keeping the rest pending; `last`
  // closes the rings too. ring_mu_ held.
  void DrainRings(uint64_t gen, uint64_t limit, bool last);

  const TraceState* const trace_;
  CpuSampleHost* const host_;
  CpuProfileOptions options_;
  bool running_ = false;
  std::atomic<bool> accepting_threads_{false};  // NoteInternalThread
  std::mutex internal_mu_;
  std::vector<std::pair<pid_t, std::string>> internal_threads_;
  std::unique_ptr<cpusample::SampleRing> rings_[2];
  // Handlers writing on threads without a trace seqlock (C1).
  std::atomic<int64_t> in_flight_{0};
  // Odd while the reader thread drains (C2).
  std::atomic<uint64_t> reader_seq_{0};
  // CPU-sample trace buffers by parity (reader and advancer, C2).
  TraceBuf* cpu_buf_[2] = {nullptr, nullptr};
  uint64_t taken_[2] = {0, 0};   // events written for the generation
  uint64_t excess_[2] = {0, 0};  // periods beyond kMaxCopiesPerSample
  // Periods of samples the full ring dropped, by parity (handlers, C4).
  std::atomic<uint64_t> dropped_[2] = {{0}, {0}};
  std::atomic<uint64_t> total_taken_{0};
  std::atomic<uint64_t> total_lost_{0};
  uint8_t source_ = 0;
  std::string event_name_;
  uint64_t hz_ = 0;  // as Start found them
  uint64_t period_ = 0;

  // Signal-free mode (C7).
  bool signal_free_ = false;
  int wake_fd_ = -1;        // eventfd: Stop wakes the ring reader
  std::mutex ring_mu_;      // the reader's and the advancer's drains
  uint64_t gen_start_ = 0;  // start of the current generation (ticks)
  // The generation gen_start_ is the start of (0: none yet). The reader
  // drains only into it: between a switch and the advancer's
  // FinishGeneration of the old generation, gen_start_ is still the old
  // one's.
  uint64_t started_gen_ = 0;
  struct PendingSample {
    uint64_t time;
    uint64_t tid;
    size_t event;
    std::vector<uintptr_t> pcs;
  };
  std::vector<PendingSample> pending_;  // drained, not yet due
  // Per event (C8), the primary first: what Start resolved, and, by
  // parity, samples written and lost (ring_mu_).
  std::vector<format::EventSamplerRecord> ring_events_;
  uint64_t event_taken_[2][CpuProfileOptions::kMaxEvents] = {};
  uint64_t event_lost_[2][CpuProfileOptions::kMaxEvents] = {};
  TraceBuf* info_buf_[2] = {nullptr, nullptr};  // EventSample records
  // Totals since Start, per event (read by GetStats from any thread).
  mutable std::mutex event_totals_mu_;
  std::vector<Stats::CpuEventStats> event_totals_;
  std::atomic<uint64_t> total_clamped_{0};

  std::thread reader_;
  std::mutex reader_mu_;
  std::condition_variable reader_cv_;
  bool reader_stop_ = false;
};

}  // namespace gentrace::internal

#endif  // GENTRACE_TRACER_INTERNAL_TRACECPU_H_
