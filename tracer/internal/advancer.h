// The advancer (Go's traceAdvance, runtime/trace.go): a thread that ends
// the current generation every generation_period, or when asked
// (AdvanceNow), and writes everything of it that threads do not write
// themselves. Advance takes Go's steps in Go's order; each is a function
// of its own (the flight recorder's crash path will reuse the flush
// sequence). Invariant numbered as in runtime.h:
//
//  I2. After the advancer switches the global generation from N to N+1,
//      it waits until every thread's seqlock is even or has changed since
//      the switch (FlushThreads); from then on no thread can write to
//      generation N, and the advancer may flush the threads' generation-N
//      buffers and finish N.
//
// The advancer also writes the statuses of whatever stayed silent in a
// generation (I4, goroutines.h; relying on I5), frees fibers and threads
// nothing refers to any more (I7, I8), and ends a generation only once the
// writer has the previous one complete (I3, writer.h).
#ifndef GENTRACE_TRACER_INTERNAL_ADVANCER_H_
#define GENTRACE_TRACER_INTERNAL_ADVANCER_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "format/spec.h"
#include "tracer/gentrace.h"

namespace gentrace::internal {

class CpuProfiler;
struct CpuGenerationInfo;
class Goroutines;
class ModuleList;
struct GState;
class ThreadRegistry;
struct ThreadState;
class TraceTables;
class Writer;

class Advancer {
 public:
  // The parts an advance reads and writes.
  struct Parts {
    ThreadRegistry* threads;
    Goroutines* goroutines;
    TraceTables* tables;
    Writer* writer;
    CpuProfiler* cpu;
    // Refreshed at each advance; its records go into the info batch.
    ModuleList* modules;
    // Held around each Advance (Start and Stop hold it too).
    std::mutex* control_mu;
  };
  explicit Advancer(const Parts& parts) : parts_(parts) {}
  Advancer(const Advancer&) = delete;
  Advancer& operator=(const Advancer&) = delete;

  // Start: publishes `first_gen` (stamping its start, tracecpu.h C5) and
  // takes the options the advancer needs. Under the control lock.
  void BeginSession(uint64_t first_gen, const Options& options);
  // Starts the advancer thread, which runs `setup` first.
  void StartThread(std::function<void()> setup);
  // Stop: asks for the final advance (which turns tracing off) and waits
  // for the thread to end. Without the control lock (the advance takes it).
  void StopAndJoin();
  // Wakes the advancer to look at the writer again (it failed).
  void Wake();

  // Ends the current generation now, as the advancer does every
  // generation_period, and returns once the generation that was current
  // at the call is complete on the destination (later generations may be
  // complete too: requests that meet are served by one advance). Fails
  // with FailedPrecondition if tracing is off or stops before the advance
  // (the final advance of Stop also completes the generation: that is
  // success). If the destination failed, returns its error once tracing
  // has stopped. The caller checks it may wait here (Runtime::AdvanceNow).
  absl::Status AdvanceNow();

  // When the current generation began (ticks). Under the control lock
  // (the crash path holds it to complete that generation).
  uint64_t gen_start_time() const { return gen_start_time_; }

 private:
  // What stayed silent in a generation so far, noted before the switch.
  struct SilentProc {
    ThreadState* ts;
    uint8_t state;
  };
  struct SilentG {
    GState* g;
    format::GoStatus state;
    uint64_t m;
  };
  struct Silent {
    std::vector<SilentProc> procs;
    std::vector<SilentG> gs;
  };
  // Times of a switch (tracecpu.h C5): the next generation starts just
  // before it, this one ends just after it.
  struct Switch {
    uint64_t next_start;
    uint64_t end;
  };

  void Loop();
  void Advance(bool stop);
  // The steps of Advance, in order.
  Silent NoteSilent(uint64_t gen);
  Switch SwitchGeneration(uint64_t gen, bool stop);
  void WriteFrequency(uint64_t gen);
  void FlushThreads(uint64_t gen);
  void SweepStatuses(uint64_t gen, const Silent& silent);
  void WriteInfoBatch(uint64_t gen, uint64_t end_time,
                      const CpuGenerationInfo* cpu);
  void Reclaim(uint64_t gen, bool stop);

  const Parts parts_;
  // Set by BeginSession, under the control lock.
  absl::Duration period_;
  bool cpu_on_ = false;
  uint64_t session_ = 0;
  // Under the control lock: when the current generation began.
  uint64_t gen_start_time_ = 0;

  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable done_cv_;
  // Under mu_: Stop asks the advancer to finish; AdvanceNow's requests
  // (tickets) and the last one an advance has served; whether the
  // advancer has returned (or not been started).
  bool stop_ = false;
  uint64_t requested_ = 0;
  uint64_t served_ = 0;
  bool exited_ = true;
};

}  // namespace gentrace::internal

#endif  // GENTRACE_TRACER_INTERNAL_ADVANCER_H_
