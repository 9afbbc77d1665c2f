// The tracer runtime: a port of Go's runtime tracer (runtime/trace.go,
// traceruntime.go, tracebuf.go, traceevent.go, tracestatus.go,
// tracestack.go, tracestring.go, tracecpu.go) to C++ threads, with the
// G/P/M mapping docs/TRACER.md describes: every registered thread is an M
// with its own P and its own G.
//
// Runtime owns the parts, one per concern, and does what concerns them
// all: Start, Stop, statistics, and the process's fork and exit. Each part
// keeps its own invariants, written next to it; the numbers are shared:
//
// Attachments. A trace runs while something is attached to it: the
// destination of gentrace::Start, a FlightRecorder's ring, or both. The
// first attachment starts the trace with its settings (TraceSettings);
// the second joins it (it must ask for the same settings) as a writer
// consumer from a generation boundary on; detaching one of two leaves the
// trace running for the other, again at a generation boundary; detaching
// the last one stops the trace.
//
//  I1. Events are written only under the thread's seqlock, and into the
//      generation read under it. TraceLocker (trace_locker.h).
//  I2. After switching from generation N to N+1, the advancer waits for
//      every thread to leave N before it flushes N's buffers and finishes
//      N. Advancer (advancer.h).
//  I3. Generation N is complete on every consumer before any byte of N+1.
//      Writer (writer.h), with the advancer waiting for it.
//  I4. One status per G and P per generation, before any event with a
//      sequence number for it. Goroutines (goroutines.h), lazily; the
//      advancer's sweep for what stayed silent.
//  I5. A G's state, status marks and sequence numbers change only under
//      its lock. Goroutines (goroutines.h).
//  I6. A thread's P is touched only by that thread (and by the advancer
//      for a generation the thread has left). ThreadRegistry
//      (thread_registry.h).
//  I7. Thread states are freed only by the advancer, Start and Stop, once
//      the thread has exited and nothing refers to it. ThreadRegistry
//      (thread_registry.h).
//  I8. A fiber's GState is freed only by the advancer, once nothing
//      outside the fiber list refers to it (counted references).
//      Goroutines (goroutines.h).
//  I9. A thread writes only into the trace session it is registered in.
//      TraceLocker (trace_locker.h), registering again through
//      ThreadRegistry.
//  I10. A fiber whose handle is destroyed while it is on a thread is ended
//      by that thread. Goroutines (goroutines.h).
//  C1-C6. CPU samples. CpuProfiler (tracecpu.h).
//
// The parts, and what each may call: the API (tracer/api.cc) reaches them
// through Runtime::Get(), and so do TraceLocker's slow paths (registering
// again, a fresh buffer with the thread's statuses) and the thread exit
// hook; ThreadRegistry uses Goroutines (ids, a thread's last events) and
// Writer; Goroutines uses ThreadRegistry (FiberRelease) and TraceTables;
// TraceTables uses Writer; the Advancer uses them all; CpuProfiler sees
// only CpuSampleHost and TraceState; Writer sees only its Sinks.
#ifndef GENTRACE_TRACER_INTERNAL_RUNTIME_H_
#define GENTRACE_TRACER_INTERNAL_RUNTIME_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tracer/gentrace.h"
#include "tracer/internal/advancer.h"
#include "tracer/internal/goroutines.h"
#include "tracer/internal/module_list.h"
#include "tracer/internal/sink.h"
#include "tracer/internal/thread_registry.h"
#include "tracer/internal/trace_locker.h"
#include "tracer/internal/trace_state.h"
#include "tracer/internal/trace_tables.h"
#include "tracer/internal/tracecpu.h"
#include "tracer/internal/writer.h"

namespace gentrace::internal {

// What a trace runs with, whoever attached first: every attachment to a
// running trace must ask for the same.
struct TraceSettings {
  absl::Duration generation_period = absl::Seconds(1);
  StackOptions stacks;
  int max_stack_depth = 64;
  CpuProfileOptions cpu;
  TraceClock clock = TraceClock::kAuto;
};
TraceSettings SettingsOf(const Options& options);
// "" if `wanted` equals `running`, else the first setting that differs,
// with both values.
std::string SettingsDifference(const TraceSettings& running,
                               const TraceSettings& wanted);

// The global runtime (Go's `trace` variable). One per process; replaced
// in a forked child.
class Runtime final : private CpuSampleHost {
 public:
  static Runtime& Get() { return *instance_; }

  // gentrace::Start and Stop: the destination's attachment.
  absl::Status Start(const Options& options);
  absl::Status Stop();
  // Whether the destination receives the trace (gentrace::IsTracing):
  // attached, not failed, and the trace running.
  bool DestinationActive();
  Stats GetStats();

  // A flight recorder's attachment: `sink` (its ring) is a `first`
  // consumer (writer.h). StartRecorder fails if a recorder is attached,
  // or if a trace runs with other settings.
  absl::Status StartRecorder(const TraceSettings& settings,
                             std::unique_ptr<Sink> sink);
  // Returns the ring's first failure, if any.
  absl::Status StopRecorder();
  // Stops the trace, whatever is attached (the process exits).
  void StopAll();

  // Ends the current generation now (Advancer::AdvanceNow). May be called
  // from any thread except gentrace's own (the writer, which runs
  // Options::callback, and the advancer), and not where Stop may not
  // (gentrace.h): it then fails with FailedPrecondition.
  absl::Status AdvanceNow();
  // The same for FlightRecorder::WriteTo (its refusals name it).
  absl::Status AdvanceForSnapshot();

  // The current generation (0 = off).
  uint64_t gen() const { return g_trace.gen(); }
  const Options& options() const { return options_; }

  ThreadRegistry& threads() { return threads_; }
  Goroutines& goroutines() { return goroutines_; }
  TraceTables& tables() { return tables_; }
  Writer& writer() { return writer_; }

  // Fork handling: the child starts with tracing off and fresh state.
  static void AtForkChild();

 private:
  // Completes the current generation at a crash, holding control_mu_
  // without waiting for it (crash_completion.h).
  friend class CrashCompletion;

  Runtime();

  // CpuSampleHost, for cpu_.
  uint64_t PutSampleStack(uint64_t gen, const uintptr_t* pcs, int n) override {
    return tables_.PutStack(gen, pcs, n, /*exact_first=*/true);
  }
  TraceBuf* NewSampleBuf(uint64_t gen, uint8_t exp) override {
    return writer_.NewBuf(gen, format::kNoThread, exp);
  }
  void FlushSampleBuf(TraceBuf* b) override { writer_.FlushBuf(b); }

  // What each of gentrace's own threads does first.
  void SetUpInternalThread(const char* name);

  enum Which { kDestination, kRecorder, kNumAttachments };
  struct Attachment {
    int id = -1;  // writer consumer id; -1: not attached
    // The trace it was attached to stopped (a failure, or the process
    // exits) before it was detached: its status, for its Stop.
    bool ended = false;
    absl::Status final_status;
  };
  using SinkFactory = std::function<absl::StatusOr<std::unique_ptr<Sink>>()>;
  // Attaches `which` (checked by the caller: not attached), starting the
  // trace or joining the running one.
  absl::Status Attach(Which which, const TraceSettings& settings,
                      const SinkFactory& make_sink,
                      const ConsumerOptions& consumer);
  absl::Status Detach(Which which);
  // Starts a trace with `settings` and the first consumer.
  absl::Status StartTrace(const TraceSettings& settings,
                          const SinkFactory& make_sink,
                          const ConsumerOptions& consumer, int* id);
  // Stops the running trace; attachments still attached end (their
  // final_status set). Returns the failure that stopped tracing, if any.
  absl::Status StopTrace();

  static Runtime* instance_;

  // Serializes the attachments' changes (Start, Stop, StartRecorder,
  // StopRecorder), which may wait for an advance; taken before
  // control_mu_, never by the advancer.
  std::mutex attach_mu_;
  Attachment attached_[kNumAttachments];
  // The destination of the current (or last) trace, for GetStats; and the
  // attached one, for DestinationActive (-1: none).
  int stats_destination_ = -1;
  std::atomic<int> destination_id_{-1};
  // Serializes Start, Stop and Advance.
  std::mutex control_mu_;
  Options options_;  // the running trace's settings, as Options
  TraceSettings settings_;
  bool running_ = false;

  Writer writer_;
  TraceTables tables_{&writer_};
  Goroutines goroutines_{&threads_, &tables_};
  ThreadRegistry threads_{&goroutines_, &writer_};
  // CPU samples (tracecpu.h), when Options::cpu.enabled.
  CpuProfiler cpu_{&g_trace, this};
  // The loaded modules (module_list.h M1: refreshed under control_mu_).
  ModuleList modules_;
  Advancer advancer_;
};

// Runtime::AdvanceNow for tests: makes a generation boundary fall exactly
// where a test needs it, instead of sleeping for one.
absl::Status AdvanceGenerationForTesting();

}  // namespace gentrace::internal

#endif  // GENTRACE_TRACER_INTERNAL_RUNTIME_H_
