// The event specification table for Go's execution trace wire format v2
// ("go 1.22 trace" and "go 1.23 trace"), as Go's
// internal/trace/event/go122/event.go defines it.
//
// This is the single place in gentrace that knows event numbers, names,
// argument layouts and format limits. The tracer's writer, the reader, the
// text format and the tests all read this table; nothing else may keep its
// own list of event numbers or argument counts.
#ifndef GENTRACE_FORMAT_SPEC_H_
#define GENTRACE_FORMAT_SPEC_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace gentrace::format {

// Trace format versions. The header names them "go 1.22 trace" and
// "go 1.23 trace". Go 1.23's parser reads both with one table; 1.23 adds
// events 45-49 and the experimental events 128-136.
enum class Version : uint8_t {
  kGo122 = 22,
  kGo123 = 23,
};

// Limits Go's parser enforces (internal/trace/event/go122, MaxBatchSize and
// friends) and the runtime keeps. One place for each.
inline constexpr size_t kMaxBatchPayload = 64 << 10;  // bytes of batch data
inline constexpr size_t kMaxFramesPerStack = 128;
inline constexpr size_t kMaxStringSize = 1 << 10;  // bytes
inline constexpr size_t kMaxVarintLen = 10;
inline constexpr size_t kMaxEventArgs = 5;  // GoStatusStack has the most

// "None" for thread (M), proc (P) and goroutine (G) ids, and "no task".
inline constexpr uint64_t kNoThread = ~uint64_t{0};
inline constexpr uint64_t kNoProc = ~uint64_t{0};
inline constexpr uint64_t kNoGoroutine = ~uint64_t{0};
inline constexpr uint64_t kNoTask = ~uint64_t{0};

// Event type numbers (the first byte of every event). The numbering is Go's.
enum EventType : uint8_t {
  kEvNone = 0,

  // Structural events.
  kEvEventBatch = 1,  // batch header: gen, m, time, size
  kEvStacks = 2,      // start of a stack table batch
  kEvStack = 3,       // stack table entry: id, nframes, frames...
  kEvStrings = 4,     // start of a string table batch
  kEvString = 5,      // string table entry: id, then length-prefixed data
  kEvCPUSamples = 6,  // start of a CPU samples batch
  kEvCPUSample = 7,   // time (absolute), m, p, g, stack
  kEvFrequency = 8,   // ticks per second

  // Procs.
  kEvProcsChange = 9,
  kEvProcStart = 10,
  kEvProcStop = 11,
  kEvProcSteal = 12,
  kEvProcStatus = 13,

  // Goroutines.
  kEvGoCreate = 14,
  kEvGoCreateSyscall = 15,
  kEvGoStart = 16,
  kEvGoDestroy = 17,
  kEvGoDestroySyscall = 18,
  kEvGoStop = 19,
  kEvGoBlock = 20,
  kEvGoUnblock = 21,
  kEvGoSyscallBegin = 22,
  kEvGoSyscallEnd = 23,
  kEvGoSyscallEndBlocked = 24,
  kEvGoStatus = 25,

  // Stop-the-world.
  kEvSTWBegin = 26,
  kEvSTWEnd = 27,

  // GC.
  kEvGCActive = 28,
  kEvGCBegin = 29,
  kEvGCEnd = 30,
  kEvGCSweepActive = 31,
  kEvGCSweepBegin = 32,
  kEvGCSweepEnd = 33,
  kEvGCMarkAssistActive = 34,
  kEvGCMarkAssistBegin = 35,
  kEvGCMarkAssistEnd = 36,
  kEvHeapAlloc = 37,
  kEvHeapGoal = 38,

  // Annotations.
  kEvGoLabel = 39,
  kEvUserTaskBegin = 40,
  kEvUserTaskEnd = 41,
  kEvUserRegionBegin = 42,
  kEvUserRegionEnd = 43,
  kEvUserLog = 44,

  // Go 1.23: coroutines, statuses with stacks, experimental batches.
  kEvGoSwitch = 45,
  kEvGoSwitchDestroy = 46,
  kEvGoCreateBlocked = 47,
  kEvGoStatusStack = 48,
  kEvExperimentalBatch = 49,

  // Go 1.23, experiment AllocFree (1).
  kEvSpan = 128,
  kEvSpanAlloc = 129,
  kEvSpanFree = 130,
  kEvHeapObject = 131,
  kEvHeapObjectAlloc = 132,
  kEvHeapObjectFree = 133,
  kEvGoroutineStack = 134,
  kEvGoroutineStackAlloc = 135,
  kEvGoroutineStackFree = 136,
};

inline constexpr int kNumEventTypes = 137;  // one past the largest type

// Experiment ids. Experimental batches carry one as a raw byte.
inline constexpr uint8_t kNoExperiment = 0;
inline constexpr uint8_t kExperimentAllocFree = 1;

// Go's parser reads an experiment id as one raw byte, but Go's raw reader
// (internal/trace/raw, behind Go's raw text dumps and tools) reads it as a
// uvarint, and from an id of 128 or more on it misreads every byte after
// it. Only ids below 128 read the same both ways; write no others.
inline constexpr bool ExperimentReadsAlikeInGo(uint8_t experiment) {
  return experiment < 0x80;
}

// What an argument means; derived from its name the way Go's tests derive it
// (an optional "name_" prefix, then a type), see ArgKindFromName.
enum class ArgKind : uint8_t {
  kValue,           // a plain number
  kTimestampDelta,  // "dt": ticks since the previous event of the batch
  kTimestamp,       // "time": absolute ticks
  kStringID,        // "*_string": an id in the generation's string table
  kStackID,         // "stack", "new_stack": an id in the stack table
  kGoID,            // "g", "new_g"
  kThreadID,        // "m"
  kProcID,          // "p"
  kTaskID,          // "task", "parent_task"
  kSeq,             // "*_seq"
  kGoStatus,        // "gstatus"
  kProcStatus,      // "pstatus"
};

// Goroutine and proc statuses as the wire encodes them.
enum GoStatus : uint8_t {
  kGoBad = 0,
  kGoRunnable = 1,
  kGoRunning = 2,
  kGoSyscall = 3,
  kGoWaiting = 4,
};
enum ProcStatus : uint8_t {
  kProcBad = 0,
  kProcRunning = 1,
  kProcIdle = 2,
  kProcSyscall = 3,
  kProcSyscallAbandoned = 4,
};

struct EventSpec {
  absl::string_view name;  // Go's name, also used by the text format
  uint8_t num_args = 0;
  // Argument names exactly as Go's text format spells them.
  std::array<absl::string_view, kMaxEventArgs> arg_names{};
  // Timed events start with "dt" and belong to a thread's event stream.
  bool timed = false;
  // Followed by a uvarint length and that many raw bytes.
  bool has_data = false;
  // Followed by nframes groups of (pc, func string, file string, line).
  bool is_stack = false;
  // For the end of a range (e.g. GoSyscallEnd), the event that began it.
  uint8_t start_type = kEvNone;
  uint8_t experiment = kNoExperiment;
  // The first format version with this event (22 or 23).
  uint8_t since = 22;
  // Indices of args that are string ids and stack ids, -1 terminated. The
  // first stack index is the event's own stack (Go's StackIDs[0]).
  std::array<int8_t, 3> string_args{-1, -1, -1};
  std::array<int8_t, 3> stack_args{-1, -1, -1};

  bool valid() const { return !name.empty(); }
  // The kind of argument i, derived from its name.
  ArgKind arg_kind(int i) const;
  // The event's own stack argument index, or -1.
  int own_stack_arg() const { return stack_args[0]; }
};

// The spec of an event type, or nullptr for a type Go does not define
// (0, 50-127, >= 137).
const EventSpec* LookupSpec(uint8_t type);

// Whether `type` is a legal event in a trace whose header says `v`
// (defined, and not newer than v). Go 1.23's parser does not make this
// distinction (it reads 1.22 headers with the 1.23 table), newer Go does.
bool EventAllowedIn(uint8_t type, Version v);

// The type with Go's name `name`, if any.
std::optional<uint8_t> LookupEventByName(absl::string_view name);

// Go's name of a type, or "Invalid(N)".
std::string EventName(uint8_t type);

// Go's go122.EventString, which Go's error messages use: the name for types
// below 137, the empty string for the holes 0 and 50-127, "Invalid(N)"
// above.
std::string GoEventString(uint8_t type);

// Derives an argument kind from a Go argument name: "dt", "time",
// "x_string", "stack"/"new_stack", "g"/"new_g", "m", "p", "task",
// "parent_task", "x_seq", "gstatus", "pstatus"; everything else is a value.
ArgKind ArgKindFromName(absl::string_view name);

// Name of a format version as the text format writes it ("Go1.22").
absl::string_view VersionTextName(Version v);

}  // namespace gentrace::format

#endif  // GENTRACE_FORMAT_SPEC_H_
