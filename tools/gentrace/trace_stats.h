// Where a trace's time went: the core of `gentrace stats`.
//
// TraceStats takes a trace's events one at a time, as the reader delivers
// them, and keeps only aggregates: per thread, per goroutine, per task and
// region name (DurationSketch), per log category, per function with CPU
// samples, plus the open intervals (a goroutine's current state, open tasks
// and regions). Nothing grows with the number of events, so `stats` runs
// in the reader's memory (one generation) plus these.
//
// Time in a state is measured between the goroutine's transitions: a
// goroutine's time counts from its first transition (or status) in the
// trace, and its last state runs to the trace's last event. Blocked time
// is split by the reason of the transition into Waiting ("sync",
// "chan receive", ...). A thread is credited with the time goroutines ran
// and spent in syscalls on it. For gentrace traces, the info batches name
// threads and fibers and say how CPU samples were taken.
//
// go_pprof repeats what `go tool trace -pprof=TYPE` measures, which is not
// quite time in state: Go's tool follows only transitions that carry a
// stack, so an interval runs from a stacked transition into the state to
// the next stacked transition out of it (GoStart and GoSyscallEnd carry
// none: Go's "sched" time then includes the running time that follows, and
// "syscall" time the time after the syscall up to the next block or stop),
// intervals still open at the end are not counted, and each goroutine's
// intervals are clipped to its life from the first time it ran (a
// goroutine that never ran keeps them whole).
#ifndef GENTRACE_TOOLS_GENTRACE_TRACE_STATS_H_
#define GENTRACE_TOOLS_GENTRACE_TRACE_STATS_H_

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "reader/event.h"
#include "reader/generation.h"
#include "tools/gentrace/duration_sketch.h"

namespace gentrace::tools {

// Time of one goroutine (or the sum of many) by state.
struct StateTimes {
  int64_t running_ns = 0;
  int64_t runnable_ns = 0;  // waiting to run
  int64_t syscall_ns = 0;
  int64_t blocked_ns = 0;
  std::map<std::string, int64_t> blocked_by_reason;

  void AddTo(StateTimes* sum) const;
};

struct GoroutineStats {
  int64_t id = 0;
  // "thread" (a gentrace thread's own goroutine), "fiber" (named by a
  // gentrace fiber record) or "goroutine".
  std::string kind = "goroutine";
  // The thread or fiber name; for Go goroutines the function at the root
  // of its first stack.
  std::string name;
  int64_t thread = reader::kNone;  // for kind "thread"
  StateTimes times;
};

struct ThreadStats {
  int64_t id = 0;
  std::string name;
  int64_t goroutine = reader::kNone;  // its own goroutine (gentrace)
  int64_t running_ns = 0;             // goroutines running on it
  int64_t syscall_ns = 0;             // goroutines in syscalls on it
  uint64_t cpu_samples = 0;
};

struct NamedDurations {
  std::string name;
  DurationSummary durations;  // of the ones that began and ended
  // Begun in the trace but not ended by its end.
  uint64_t unfinished = 0;
  // Ended in the trace, begun before it.
  uint64_t ended_only = 0;
};

struct FunctionSamples {
  std::string function;
  uint64_t samples = 0;
};

struct CpuStats {
  uint64_t samples = 0;  // CPU sample events in the trace
  // From gentrace's sampler records (all 0/empty for Go traces).
  uint64_t samples_recorded = 0;  // samples_taken summed over generations
  uint64_t samples_lost = 0;
  std::vector<std::string> sources;  // distinct, in order of appearance
  uint64_t hz = 0;                   // the last generation's
  uint64_t period = 0;
  std::string event;
  // Samples recorded by event (the perf event's name, else the source's:
  // "thread-timer", ...), in order of appearance.
  std::vector<std::pair<std::string, uint64_t>> samples_by_event;
  // Several perf events at once (gentrace's EventSampler records): each
  // event's samples and lost over the trace, by event index (the primary
  // first). Empty without such records.
  struct Event {
    std::string name;
    uint64_t samples = 0;
    uint64_t lost = 0;
  };
  std::vector<Event> events;
  std::vector<FunctionSamples> top_flat;        // leaf function
  std::vector<FunctionSamples> top_cumulative;  // anywhere on the stack
};

// Go's `go tool trace -pprof=TYPE` totals (see the file comment).
struct GoPprofTotals {
  int64_t net_ns = 0;      // -pprof=net: Waiting, reason "network"
  int64_t sync_ns = 0;     // -pprof=sync: Waiting, reason has chan/sync/select
  int64_t syscall_ns = 0;  // -pprof=syscall
  int64_t sched_ns = 0;    // -pprof=sched: Runnable
};

struct StatsReport {
  uint64_t events = 0;
  uint64_t events_by_kind[reader::kNumEventKinds] = {};
  uint64_t generations_complete = 0;
  uint64_t largest_generation_bytes = 0;
  int64_t start_ns = 0;  // first event's time
  int64_t end_ns = 0;    // last event's time
  int64_t duration_ns() const { return end_ns - start_ns; }
  bool gentrace_info = false;  // the trace has gentrace info batches
  // The first info batch that did not decode, if any.
  std::string info_error;

  std::vector<ThreadStats> threads;        // by id
  std::vector<GoroutineStats> goroutines;  // by id
  StateTimes totals;                       // over all goroutines
  uint64_t fibers = 0;
  GoPprofTotals go_pprof;
  std::vector<NamedDurations> tasks;                   // by name
  std::vector<NamedDurations> regions;                 // by name
  std::vector<std::pair<std::string, uint64_t>> logs;  // category -> count
  CpuStats cpu;

  // The goroutines that are not a thread's own (fibers, Go goroutines),
  // busiest first (running + runnable + syscall + blocked; ties keep id
  // order).
  std::vector<const GoroutineStats*> BusiestNonThreadGoroutines() const;
};

// Sees each interval that go_pprof counts, for `gentrace pprof`, which
// lays out by stack the same time go_pprof totals.
class PprofIntervalSink {
 public:
  virtual ~PprofIntervalSink() = default;
  // An interval of `mode` (0 net, 1 sync, 2 syscall, 3 sched, as in
  // GoPprofTotals) begins at the stacked transition `ev`; Go's tool
  // credits it to ev's stack. Returns a handle for Counted.
  virtual uint64_t Begin(int mode, const reader::Event& ev) = 0;
  // The interval `handle` of `mode` added `ns` (> 0) to its go_pprof
  // total. Called at most once per interval; not for the ones that add 0
  // (Go's tool does not count those either).
  virtual void Counted(int mode, uint64_t handle, int64_t ns) = 0;
};

class TraceStats {
 public:
  // `top` is how many functions top_flat and top_cumulative keep.
  explicit TraceStats(size_t top = 20) : top_(top) {}

  // Reports go_pprof's intervals to `sink` (which outlives this), the
  // last ones from Finish().
  void set_pprof_sink(PprofIntervalSink* sink) { pprof_sink_ = sink; }

  // Takes the next event; `gen` is the generation it belongs to (the
  // reader's generation() at the time).
  void Add(const reader::Event& ev, const reader::Generation* gen);

  // The report, with open intervals closed at the last event's time.
  StatsReport Finish() const;

 private:
  struct Tracker {  // one go tool trace -pprof interval
    bool active = false;
    int64_t start = 0;
    uint64_t handle = 0;  // from pprof_sink_
  };
  struct Goroutine {
    reader::GoState state = reader::GoState::kUndetermined;
    int64_t since = 0;
    std::string reason;              // of the current Waiting
    int64_t thread = reader::kNone;  // where it runs or is in a syscall
    StateTimes times;
    std::string name;
    std::vector<std::pair<std::string, int64_t>> regions;  // open, by begin
    Tracker pprof[4];  // net, sync, syscall, sched
    // Go's tool clips each interval to the goroutine's life from its
    // first start on (or counts it whole if it never starts).
    bool started = false;
    int64_t first_start = 0;
    int64_t unstarted[4] = {};  // counted only if it never starts
    // For pprof_sink_: the intervals in unstarted (mode, handle, ns).
    std::vector<std::tuple<int, uint64_t, int64_t>> unstarted_intervals;
  };
  struct Thread {
    std::string name;
    int64_t goroutine = reader::kNone;
    int64_t running_ns = 0;
    int64_t syscall_ns = 0;
    uint64_t cpu_samples = 0;
  };
  struct Named {
    DurationSketch sketch;
    uint64_t unfinished = 0;
    uint64_t ended_only = 0;
  };
  struct OpenTask {
    std::string name;
    int64_t start = 0;
  };
  struct FnCount {
    uint64_t flat = 0;
    uint64_t cum = 0;
  };

  void NewGeneration(const reader::Generation& gen);
  void Transition(const reader::Event& ev);
  void PprofTransition(const reader::Event& ev,
                       const reader::StateTransition& st, Goroutine* g);
  // Closes g's current state at `t` into its times and its thread's.
  void CloseState(Goroutine* g, int64_t t,
                  absl::flat_hash_map<int64_t, Thread>* threads) const;
  void Sample(const reader::Event& ev);

  size_t top_;
  PprofIntervalSink* pprof_sink_ = nullptr;
  bool new_generation_ = true;
  StatsReport base_;  // counters that need no closing
  absl::flat_hash_map<int64_t, Goroutine> goroutines_;
  absl::flat_hash_map<int64_t, Thread> threads_;
  absl::flat_hash_map<int64_t, std::string> fibers_;  // goroutine -> name
  absl::flat_hash_map<reader::TaskId, OpenTask> open_tasks_;
  std::map<std::string, Named> tasks_;
  std::map<std::string, Named> regions_;
  std::map<std::string, uint64_t> logs_;
  absl::flat_hash_map<std::string, FnCount> functions_;
  std::vector<absl::string_view> scratch_;  // a sample's distinct functions
};

}  // namespace gentrace::tools

#endif  // GENTRACE_TOOLS_GENTRACE_TRACE_STATS_H_
