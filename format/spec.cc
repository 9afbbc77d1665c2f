// The event specification table; see spec.h. Entries follow Go 1.23's
// internal/trace/event/go122 specs argument for argument.
#include "format/spec.h"

#include <initializer_list>

#include "absl/strings/str_cat.h"

namespace gentrace::format {
namespace {

// Flags for Def().
enum : unsigned {
  kTimed = 1u << 0,
  kData = 1u << 1,
  kStack = 1u << 2,
  kGo123 = 1u << 3,
};

struct SpecTable {
  std::array<EventSpec, kNumEventTypes> specs{};
};

constexpr void Def(SpecTable& t, uint8_t type, absl::string_view name,
                   std::initializer_list<absl::string_view> args,
                   unsigned flags = 0, uint8_t start_type = kEvNone,
                   uint8_t experiment = kNoExperiment) {
  EventSpec& s = t.specs[type];
  s.name = name;
  s.num_args = 0;
  for (absl::string_view a : args) s.arg_names[s.num_args++] = a;
  s.timed = (flags & kTimed) != 0;
  s.has_data = (flags & kData) != 0;
  s.is_stack = (flags & kStack) != 0;
  s.since = (flags & kGo123) != 0 ? 23 : 22;
  s.start_type = start_type;
  s.experiment = experiment;
}

// Go lists stack args with the event's own stack first (GoCreate: stack,
// then new_stack); string args in argument order.
constexpr void Ids(SpecTable& t, uint8_t type,
                   std::initializer_list<int> strings,
                   std::initializer_list<int> stacks) {
  EventSpec& s = t.specs[type];
  int i = 0;
  for (int v : strings) s.string_args[i++] = static_cast<int8_t>(v);
  i = 0;
  for (int v : stacks) s.stack_args[i++] = static_cast<int8_t>(v);
}

constexpr SpecTable BuildTable() {
  SpecTable t;
  // Structural events.
  Def(t, kEvEventBatch, "EventBatch", {"gen", "m", "time", "size"});
  Def(t, kEvStacks, "Stacks", {});
  Def(t, kEvStack, "Stack", {"id", "nframes"}, kStack);
  Def(t, kEvStrings, "Strings", {});
  Def(t, kEvString, "String", {"id"}, kData);
  Def(t, kEvCPUSamples, "CPUSamples", {});
  Def(t, kEvCPUSample, "CPUSample", {"time", "m", "p", "g", "stack"});
  Def(t, kEvFrequency, "Frequency", {"freq"});
  Def(t, kEvExperimentalBatch, "ExperimentalBatch", {"exp", "gen", "m", "time"},
      kData | kGo123);

  // Procs.
  Def(t, kEvProcsChange, "ProcsChange", {"dt", "procs_value", "stack"}, kTimed);
  Ids(t, kEvProcsChange, {}, {2});
  Def(t, kEvProcStart, "ProcStart", {"dt", "p", "p_seq"}, kTimed);
  Def(t, kEvProcStop, "ProcStop", {"dt"}, kTimed);
  Def(t, kEvProcSteal, "ProcSteal", {"dt", "p", "p_seq", "m"}, kTimed);
  Def(t, kEvProcStatus, "ProcStatus", {"dt", "p", "pstatus"}, kTimed);

  // Goroutines.
  Def(t, kEvGoCreate, "GoCreate", {"dt", "new_g", "new_stack", "stack"},
      kTimed);
  Ids(t, kEvGoCreate, {}, {3, 2});
  Def(t, kEvGoCreateSyscall, "GoCreateSyscall", {"dt", "new_g"}, kTimed);
  Def(t, kEvGoStart, "GoStart", {"dt", "g", "g_seq"}, kTimed);
  Def(t, kEvGoDestroy, "GoDestroy", {"dt"}, kTimed);
  Def(t, kEvGoDestroySyscall, "GoDestroySyscall", {"dt"}, kTimed);
  Def(t, kEvGoStop, "GoStop", {"dt", "reason_string", "stack"}, kTimed);
  Ids(t, kEvGoStop, {1}, {2});
  Def(t, kEvGoBlock, "GoBlock", {"dt", "reason_string", "stack"}, kTimed);
  Ids(t, kEvGoBlock, {1}, {2});
  Def(t, kEvGoUnblock, "GoUnblock", {"dt", "g", "g_seq", "stack"}, kTimed);
  Ids(t, kEvGoUnblock, {}, {3});
  Def(t, kEvGoSyscallBegin, "GoSyscallBegin", {"dt", "p_seq", "stack"}, kTimed);
  Ids(t, kEvGoSyscallBegin, {}, {2});
  Def(t, kEvGoSyscallEnd, "GoSyscallEnd", {"dt"}, kTimed, kEvGoSyscallBegin);
  Def(t, kEvGoSyscallEndBlocked, "GoSyscallEndBlocked", {"dt"}, kTimed,
      kEvGoSyscallBegin);
  Def(t, kEvGoStatus, "GoStatus", {"dt", "g", "m", "gstatus"}, kTimed);

  // Stop-the-world.
  Def(t, kEvSTWBegin, "STWBegin", {"dt", "kind_string", "stack"}, kTimed);
  Ids(t, kEvSTWBegin, {1}, {2});
  Def(t, kEvSTWEnd, "STWEnd", {"dt"}, kTimed, kEvSTWBegin);

  // GC.
  Def(t, kEvGCActive, "GCActive", {"dt", "gc_seq"}, kTimed, kEvGCBegin);
  Def(t, kEvGCBegin, "GCBegin", {"dt", "gc_seq", "stack"}, kTimed);
  Ids(t, kEvGCBegin, {}, {2});
  Def(t, kEvGCEnd, "GCEnd", {"dt", "gc_seq"}, kTimed, kEvGCBegin);
  Def(t, kEvGCSweepActive, "GCSweepActive", {"dt", "p"}, kTimed,
      kEvGCSweepBegin);
  Def(t, kEvGCSweepBegin, "GCSweepBegin", {"dt", "stack"}, kTimed);
  Ids(t, kEvGCSweepBegin, {}, {1});
  Def(t, kEvGCSweepEnd, "GCSweepEnd", {"dt", "swept_value", "reclaimed_value"},
      kTimed, kEvGCSweepBegin);
  Def(t, kEvGCMarkAssistActive, "GCMarkAssistActive", {"dt", "g"}, kTimed,
      kEvGCMarkAssistBegin);
  Def(t, kEvGCMarkAssistBegin, "GCMarkAssistBegin", {"dt", "stack"}, kTimed);
  Ids(t, kEvGCMarkAssistBegin, {}, {1});
  Def(t, kEvGCMarkAssistEnd, "GCMarkAssistEnd", {"dt"}, kTimed,
      kEvGCMarkAssistBegin);
  Def(t, kEvHeapAlloc, "HeapAlloc", {"dt", "heapalloc_value"}, kTimed);
  Def(t, kEvHeapGoal, "HeapGoal", {"dt", "heapgoal_value"}, kTimed);

  // Annotations.
  Def(t, kEvGoLabel, "GoLabel", {"dt", "label_string"}, kTimed);
  Ids(t, kEvGoLabel, {1}, {});
  Def(t, kEvUserTaskBegin, "UserTaskBegin",
      {"dt", "task", "parent_task", "name_string", "stack"}, kTimed);
  Ids(t, kEvUserTaskBegin, {3}, {4});
  Def(t, kEvUserTaskEnd, "UserTaskEnd", {"dt", "task", "stack"}, kTimed);
  Ids(t, kEvUserTaskEnd, {}, {2});
  Def(t, kEvUserRegionBegin, "UserRegionBegin",
      {"dt", "task", "name_string", "stack"}, kTimed);
  Ids(t, kEvUserRegionBegin, {2}, {3});
  Def(t, kEvUserRegionEnd, "UserRegionEnd",
      {"dt", "task", "name_string", "stack"}, kTimed, kEvUserRegionBegin);
  Ids(t, kEvUserRegionEnd, {2}, {3});
  Def(t, kEvUserLog, "UserLog",
      {"dt", "task", "key_string", "value_string", "stack"}, kTimed);
  Ids(t, kEvUserLog, {2, 3}, {4});

  // Go 1.23.
  Def(t, kEvGoSwitch, "GoSwitch", {"dt", "g", "g_seq"}, kTimed | kGo123);
  Def(t, kEvGoSwitchDestroy, "GoSwitchDestroy", {"dt", "g", "g_seq"},
      kTimed | kGo123);
  Def(t, kEvGoCreateBlocked, "GoCreateBlocked",
      {"dt", "new_g", "new_stack", "stack"}, kTimed | kGo123);
  Ids(t, kEvGoCreateBlocked, {}, {3, 2});
  Def(t, kEvGoStatusStack, "GoStatusStack",
      {"dt", "g", "m", "gstatus", "stack"}, kTimed | kGo123);
  Ids(t, kEvGoStatusStack, {}, {4});

  // Go 1.23 experiment AllocFree.
  const unsigned x = kTimed | kGo123;
  Def(t, kEvSpan, "Span", {"dt", "id", "npages_value", "kindclass"}, x, kEvNone,
      kExperimentAllocFree);
  Def(t, kEvSpanAlloc, "SpanAlloc", {"dt", "id", "npages_value", "kindclass"},
      x, kEvNone, kExperimentAllocFree);
  Def(t, kEvSpanFree, "SpanFree", {"dt", "id"}, x, kEvNone,
      kExperimentAllocFree);
  Def(t, kEvHeapObject, "HeapObject", {"dt", "id", "type"}, x, kEvNone,
      kExperimentAllocFree);
  Def(t, kEvHeapObjectAlloc, "HeapObjectAlloc", {"dt", "id", "type"}, x,
      kEvNone, kExperimentAllocFree);
  Def(t, kEvHeapObjectFree, "HeapObjectFree", {"dt", "id"}, x, kEvNone,
      kExperimentAllocFree);
  Def(t, kEvGoroutineStack, "GoroutineStack", {"dt", "id", "order"}, x, kEvNone,
      kExperimentAllocFree);
  Def(t, kEvGoroutineStackAlloc, "GoroutineStackAlloc", {"dt", "id", "order"},
      x, kEvNone, kExperimentAllocFree);
  Def(t, kEvGoroutineStackFree, "GoroutineStackFree", {"dt", "id"}, x, kEvNone,
      kExperimentAllocFree);
  return t;
}

constexpr SpecTable kTable = BuildTable();

}  // namespace

ArgKind ArgKindFromName(absl::string_view name) {
  // Go's convention: an optional "name_" prefix, then the type.
  size_t us = name.rfind('_');
  absl::string_view type =
      us == absl::string_view::npos ? name : name.substr(us + 1);
  if (name == "dt") return ArgKind::kTimestampDelta;
  if (name == "time") return ArgKind::kTimestamp;
  if (type == "string") return ArgKind::kStringID;
  if (type == "stack") return ArgKind::kStackID;
  if (type == "g") return ArgKind::kGoID;
  if (type == "m") return ArgKind::kThreadID;
  if (type == "p") return ArgKind::kProcID;
  if (type == "task") return ArgKind::kTaskID;
  if (type == "seq") return ArgKind::kSeq;
  if (type == "gstatus") return ArgKind::kGoStatus;
  if (type == "pstatus") return ArgKind::kProcStatus;
  return ArgKind::kValue;
}

ArgKind EventSpec::arg_kind(int i) const {
  return ArgKindFromName(arg_names[i]);
}

const EventSpec* LookupSpec(uint8_t type) {
  const EventSpec& s = kTable.specs[type < kNumEventTypes ? type : 0];
  return s.valid() && type < kNumEventTypes ? &s : nullptr;
}

bool EventAllowedIn(uint8_t type, Version v) {
  const EventSpec* s = LookupSpec(type);
  return s != nullptr && s->since <= static_cast<uint8_t>(v);
}

std::optional<uint8_t> LookupEventByName(absl::string_view name) {
  for (int i = 1; i < kNumEventTypes; ++i) {
    if (kTable.specs[i].valid() && kTable.specs[i].name == name) {
      return static_cast<uint8_t>(i);
    }
  }
  return std::nullopt;
}

std::string EventName(uint8_t type) {
  const EventSpec* s = LookupSpec(type);
  if (s != nullptr) return std::string(s->name);
  return absl::StrCat("Invalid(", type, ")");
}

std::string GoEventString(uint8_t type) {
  if (type < kNumEventTypes) {
    const EventSpec* spec = LookupSpec(type);
    return spec == nullptr ? std::string() : std::string(spec->name);
  }
  return absl::StrCat("Invalid(", type, ")");
}

absl::string_view VersionTextName(Version v) {
  return v == Version::kGo122 ? "Go1.22" : "Go1.23";
}

}  // namespace gentrace::format
