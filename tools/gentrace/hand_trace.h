// For tests that build a trace by hand in Go's raw text format with known
// event times.
#ifndef GENTRACE_TOOLS_GENTRACE_HAND_TRACE_H_
#define GENTRACE_TOOLS_GENTRACE_HAND_TRACE_H_

#include <string>

#include "absl/strings/string_view.h"

namespace gentrace::tools {

// Text trace lines where an event line may start with "@T": T is the
// event's absolute time, turned into dt= from the batch's time or the
// previous event of the batch. Other lines are kept as they are.
std::string ExpandEventTimes(absl::string_view text);

}  // namespace gentrace::tools

#endif  // GENTRACE_TOOLS_GENTRACE_HAND_TRACE_H_
