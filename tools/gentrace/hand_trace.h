// For tests that build a trace by hand in Go's raw text format with known
// event times.
#ifndef GENTRACE_TOOLS_GENTRACE_HAND_TRACE_H_
#define GENTRACE_TOOLS_GENTRACE_HAND_TRACE_H_

#include <string>

#include "absl/strings/string_view.h"
#include "format/gentrace_batch.h"

namespace gentrace::tools {

// Text trace lines where an event line may start with "@T": T is the
// event's absolute time, turned into dt= from the batch's time or the
// previous event of the batch. Other lines are kept as they are.
std::string ExpandEventTimes(absl::string_view text);

// Go's text trace "Trace Go1.23", then ExpandEventTimes(events), then
// `tables`, then one gentrace info batch holding info's threads, fibers
// and samplers, converted to the binary format (a test failure and "" if
// it does not convert).
std::string HandBuiltBinary(absl::string_view events, absl::string_view tables,
                            const format::InfoRecords& info);

// Writes `bytes` to TestTempPath(name) and, when Go's checks run, expects
// Go's parser to accept it. Returns the path.
std::string WriteCheckedTrace(const std::string& name,
                              const std::string& bytes);

// A two-thread trace with known times, for the exporters' tests (perfetto,
// report).
//
// Strings: 1 req, 2 parse, 3 step, 4 main.main, 5 main.work, 6 main.leaf,
// 7 f.go, 8 sync, 9 yield, 10 `log_category`, 11 hit. Stack 1 is work, main;
// stack 2 leaf, work, main. Thread 10 ("main") runs G1 from 1020 in task req
// (1050-3050): region parse 1200-2000 with step 1300-1500 inside and a log
// `log_category`/"hit" at 1250. Thread 11 (no name) runs G2, the fiber "fib",
// from 1040: step 1100-1400, no task. A region begun before the trace (ended at
// 1600 on G2) has no begin and is left out; one never ended (G1 from 2600) ends
// at the trace's end: its last event, the Sync the reader gives at 3501
// (as Go's reader does). G1 blocks on sync at 2800, G2 unblocks it at
// 2900, it runs at 3000, is in a syscall 3100-3400, runs again and stops
// at 3500 (runnable: no slice). Eight CPU samples: one on G2, five on
// G1, one on thread 10 with no goroutine (its thread's track) and one on
// thread 12, which has no events: a track "thread 12" of its own, with no
// state track.
//
// Thread 10 is named "main" and G2 is the fiber "fib" (info records).
std::string TwoThreadTrace(absl::string_view log_category);

}  // namespace gentrace::tools

#endif  // GENTRACE_TOOLS_GENTRACE_HAND_TRACE_H_
