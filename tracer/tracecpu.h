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
//      buffer, flush the CPU-sample trace buffers, then (runtime.cc) dump
//      the stack table, then the string table. Symbolizing CPU-sample
//      stacks needs the stack table; dumping stacks adds strings.
//  C4. Nothing is dropped silently: samples lost to a full profile buffer
//      are counted per generation and written to the trace (gentrace's
//      sampler record) and to Stats.
#ifndef GENTRACE_TRACER_TRACECPU_H_
#define GENTRACE_TRACER_TRACECPU_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "cpusample/sample_ring.h"
#include "cpusample/sampler.h"
#include "tracer/gentrace.h"
#include "tracer/trace_buf.h"

namespace gentrace::internal {

class Runtime;

// Per-generation figures of the sampler, for gentrace's info batch.
struct CpuGenerationInfo {
  uint8_t source = 0;  // format::SamplerSource
  uint64_t hz = 0;
  uint64_t period = 0;
  uint64_t taken = 0;  // samples written into the trace for the generation
  uint64_t lost = 0;   // samples the full profile buffer had to drop
  std::string event;   // perf event name, if any
};

class CpuProfiler {
 public:
  explicit CpuProfiler(Runtime* rt) : rt_(rt) {}
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
  // (C1, C3): waits out writers of gen, drains profile buffer gen%2 into
  // CPUSample events, flushes them. Returns the generation's figures.
  CpuGenerationInfo FinishGeneration(uint64_t gen);

  // Totals since Start.
  uint64_t samples() const { return total_taken_.load(); }
  uint64_t lost() const { return total_lost_.load(); }
  std::string source_description() const;

  // The SIGPROF callback (async-signal-safe).
  static void OnSample(const cpusample::Sample& sample, void* arg);

 private:
  void ReaderLoop();
  // Drains profile buffer gen%2 into the CPU-sample trace buffer of gen.
  // Caller holds the right to (reader seq odd, or the advancer after C1).
  void Drain(uint64_t gen);
  void FlushCpuBuf(uint64_t gen);

  Runtime* const rt_;
  CpuProfileOptions options_;
  bool running_ = false;
  std::unique_ptr<cpusample::SampleRing> rings_[2];
  // Handlers writing on threads without a trace seqlock (C1).
  std::atomic<int64_t> in_flight_{0};
  // Odd while the reader thread drains (C2).
  std::atomic<uint64_t> reader_seq_{0};
  // CPU-sample trace buffers by parity (reader and advancer, C2).
  TraceBuf* cpu_buf_[2] = {nullptr, nullptr};
  uint64_t taken_[2] = {0, 0};      // samples drained for the generation
  uint64_t lost_seen_[2] = {0, 0};  // ring lost() already reported
  std::atomic<uint64_t> total_taken_{0};
  std::atomic<uint64_t> total_lost_{0};
  uint8_t source_ = 0;
  std::string event_name_;
  uint64_t hz_ = 0;  // as Start found them
  uint64_t period_ = 0;

  std::thread reader_;
  std::mutex reader_mu_;
  std::condition_variable reader_cv_;
  bool reader_stop_ = false;
};

}  // namespace gentrace::internal

#endif  // GENTRACE_TRACER_TRACECPU_H_
