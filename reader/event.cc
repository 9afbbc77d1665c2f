// Event accessors; see event.h. Each accessor reads the event the way Go's
// (trace.Event) method of the same name does, including the facts the
// ordering passed along in the spare argument slots.
#include "reader/event.h"

#include "absl/strings/str_cat.h"
#include "reader/go_compat.h"
#include "reader/type_info.h"

namespace gentrace::reader {
namespace {

using namespace format;  // event type constants

constexpr absl::string_view kKindNames[kNumEventKinds] = {
    "Bad",         "Sync",        "Metric",   "Label",           "StackSample",
    "RangeBegin",  "RangeActive", "RangeEnd", "TaskBegin",       "TaskEnd",
    "RegionBegin", "RegionEnd",   "Log",      "StateTransition", "Experimental",
};

constexpr EventKind ComputeKind(uint8_t type) {
  switch (type) {
    case kEvSync:
      return EventKind::kSync;
    case kEvCPUSample:
      return EventKind::kStackSample;
    case kEvProcsChange:
    case kEvHeapAlloc:
    case kEvHeapGoal:
      return EventKind::kMetric;
    case kEvProcStart:
    case kEvProcStop:
    case kEvProcSteal:
    case kEvProcStatus:
    case kEvGoCreate:
    case kEvGoCreateSyscall:
    case kEvGoStart:
    case kEvGoDestroy:
    case kEvGoDestroySyscall:
    case kEvGoStop:
    case kEvGoBlock:
    case kEvGoUnblock:
    case kEvGoSyscallBegin:
    case kEvGoSyscallEnd:
    case kEvGoSyscallEndBlocked:
    case kEvGoStatus:
    case kEvGoSwitch:
    case kEvGoSwitchDestroy:
    case kEvGoCreateBlocked:
    case kEvGoStatusStack:
      return EventKind::kStateTransition;
    case kEvSTWBegin:
    case kEvGCBegin:
    case kEvGCSweepBegin:
    case kEvGCMarkAssistBegin:
      return EventKind::kRangeBegin;
    case kEvGCActive:
    case kEvGCSweepActive:
    case kEvGCMarkAssistActive:
      return EventKind::kRangeActive;
    case kEvSTWEnd:
    case kEvGCEnd:
    case kEvGCSweepEnd:
    case kEvGCMarkAssistEnd:
      return EventKind::kRangeEnd;
    case kEvGoLabel:
      return EventKind::kLabel;
    case kEvUserTaskBegin:
      return EventKind::kTaskBegin;
    case kEvUserTaskEnd:
      return EventKind::kTaskEnd;
    case kEvUserRegionBegin:
      return EventKind::kRegionBegin;
    case kEvUserRegionEnd:
      return EventKind::kRegionEnd;
    case kEvUserLog:
      return EventKind::kLog;
    case kEvSpan:
    case kEvSpanAlloc:
    case kEvSpanFree:
    case kEvHeapObject:
    case kEvHeapObjectAlloc:
    case kEvHeapObjectFree:
    case kEvGoroutineStack:
    case kEvGoroutineStackAlloc:
    case kEvGoroutineStackFree:
      return EventKind::kExperimental;
    default:
      break;
  }
  return EventKind::kBad;
}

constexpr std::array<EventKind, 256> MakeKinds() {
  std::array<EventKind, 256> k{};
  for (int t = 0; t < 256; ++t) k[t] = ComputeKind(static_cast<uint8_t>(t));
  return k;
}

struct TypeTable {
  std::array<TypeInfo, 256> info;
  TypeTable() {
    for (int t = 0; t < 256; ++t) {
      TypeInfo& ti = info[t];
      ti.kind = ComputeKind(static_cast<uint8_t>(t));
      const EventSpec* spec =
          t == kEvSync ? nullptr : LookupSpec(static_cast<uint8_t>(t));
      ti.spec = spec;
      if (spec == nullptr) continue;
      ti.timed = spec->timed && spec->num_args > 0;
      ti.num_args = spec->num_args > 0 ? spec->num_args - 1 : 0;
      for (int i = 1; i < spec->num_args; ++i) {
        ti.arg_names[i - 1] = spec->arg_names[i];
      }
      for (int i = 0; i < 3; ++i) {
        ti.stacks[i] = spec->stack_args[i] < 0 ? -1 : spec->stack_args[i] - 1;
        ti.strings[i] =
            spec->string_args[i] < 0 ? -1 : spec->string_args[i] - 1;
      }
      ti.own_stack = ti.stacks[0];
      ti.check_ids = ti.stacks[0] >= 0 || ti.strings[0] >= 0 ||
                     t == kEvCPUSample || t == kEvSTWEnd || t == kEvGoStatus ||
                     t == kEvGoStatusStack || t == kEvProcStatus;
    }
  }
};

const TypeTable& Types() {
  static const TypeTable* t = new TypeTable();
  return *t;
}

// Go's go122GoStatus2GoState and go122ProcStatus2ProcState. Statuses past
// the end are rejected by the ordering.
GoState GoStatusToState(uint64_t s) {
  switch (s) {
    case kGoRunnable:
      return GoState::kRunnable;
    case kGoRunning:
      return GoState::kRunning;
    case kGoWaiting:
      return GoState::kWaiting;
    case kGoSyscall:
      return GoState::kSyscall;
    default:
      return GoState::kUndetermined;
  }
}
ProcState ProcStatusToState(uint64_t s) {
  switch (s) {
    case kProcRunning:
    case kProcSyscall:
      return ProcState::kRunning;
    case kProcIdle:
    case kProcSyscallAbandoned:
      return ProcState::kIdle;
    default:
      return ProcState::kUndetermined;
  }
}

StateTransition GoTransition(uint64_t id, GoState from, GoState to) {
  StateTransition s;
  s.resource = {ResourceKind::kGoroutine, static_cast<int64_t>(id)};
  s.from = static_cast<uint8_t>(from);
  s.to = static_cast<uint8_t>(to);
  return s;
}
StateTransition ProcTransition(uint64_t id, ProcState from, ProcState to) {
  StateTransition s;
  s.resource = {ResourceKind::kProc, static_cast<int64_t>(id)};
  s.from = static_cast<uint8_t>(from);
  s.to = static_cast<uint8_t>(to);
  return s;
}

}  // namespace

namespace internal {
const TypeInfo* const kTypeInfoTable = Types().info.data();
}  // namespace internal

namespace internal {
constexpr std::array<EventKind, 256> kKindOfType = MakeKinds();
}  // namespace internal

absl::string_view EventKindName(EventKind kind) {
  const int k = static_cast<int>(kind);
  return k < kNumEventKinds ? kKindNames[k] : kKindNames[0];
}

absl::string_view GoStateName(GoState s) {
  switch (s) {
    case GoState::kUndetermined:
      return "Undetermined";
    case GoState::kNotExist:
      return "NotExist";
    case GoState::kRunnable:
      return "Runnable";
    case GoState::kRunning:
      return "Running";
    case GoState::kWaiting:
      return "Waiting";
    case GoState::kSyscall:
      return "Syscall";
  }
  return "Bad";
}

absl::string_view ProcStateName(ProcState s) {
  switch (s) {
    case ProcState::kUndetermined:
      return "Undetermined";
    case ProcState::kNotExist:
      return "NotExist";
    case ProcState::kRunning:
      return "Running";
    case ProcState::kIdle:
      return "Idle";
  }
  return "Bad";
}

std::string ResourceString(const ResourceId& r) {
  switch (r.kind) {
    case ResourceKind::kNone:
      return "None";
    case ResourceKind::kGoroutine:
      return absl::StrCat("Goroutine:", r.id);
    case ResourceKind::kProc:
      return absl::StrCat("Proc:", r.id);
    case ResourceKind::kThread:
      return absl::StrCat("Thread:", r.id);
  }
  return absl::StrCat("Bad", static_cast<int>(r.kind));
}

std::string Range::FullName() const {
  if (!has_kind) return std::string(name);
  return absl::StrCat(name, " (", kind, ")");
}

StackView Event::stack() const {
  StackView v;
  if (type_ == kEvSync || gen_ == nullptr) return v;
  uint64_t id;
  if (type_ == kEvCPUSample) {
    id = args_[0];
  } else {
    const int8_t i = Types().info[type_].own_stack;
    if (i < 0) return v;
    id = args_[i];
  }
  if (id != 0) gen_->FindStack(id, &v);
  return v;
}

namespace {
absl::string_view Str(const Generation* gen, uint64_t id) {
  if (gen == nullptr) return {};
  const absl::string_view* s = gen->FindString(id);
  return s == nullptr ? absl::string_view() : *s;
}
}  // namespace

Metric Event::metric() const {
  Metric m;
  switch (type_) {
    case kEvProcsChange:
      m.name = "/sched/gomaxprocs:threads";
      break;
    case kEvHeapAlloc:
      m.name = "/memory/classes/heap/objects:bytes";
      break;
    case kEvHeapGoal:
      m.name = "/gc/heap/goal:bytes";
      break;
    default:
      return m;
  }
  m.value = args_[0];
  return m;
}

Label Event::label() const {
  Label l;
  if (type_ != kEvGoLabel) return l;
  l.label = Str(gen_, args_[0]);
  l.resource = {ResourceKind::kGoroutine, goroutine()};
  return l;
}

Range Event::range() const {
  Range r;
  switch (type_) {
    case kEvSTWBegin:
    case kEvSTWEnd:
      // For STWEnd the ordering put the kind of the matching STWBegin in
      // args_[0]; like Go, it is looked up in this event's generation.
      r.name = "stop-the-world";
      r.kind = Str(gen_, args_[0]);
      r.has_kind = true;
      r.scope = {ResourceKind::kGoroutine, goroutine()};
      break;
    case kEvGCBegin:
    case kEvGCActive:
    case kEvGCEnd:
      r.name = "GC concurrent mark phase";
      r.scope = {ResourceKind::kNone, 0};
      break;
    case kEvGCSweepBegin:
    case kEvGCSweepActive:
    case kEvGCSweepEnd:
      // Go scopes every sweep range to the event's proc, GCSweepActive's
      // p argument notwithstanding.
      r.name = "GC incremental sweep";
      r.scope = {ResourceKind::kProc, proc()};
      break;
    case kEvGCMarkAssistBegin:
    case kEvGCMarkAssistActive:
    case kEvGCMarkAssistEnd:
      r.name = "GC mark assist";
      r.scope = {ResourceKind::kGoroutine, type_ == kEvGCMarkAssistActive
                                               ? static_cast<int64_t>(args_[0])
                                               : goroutine()};
      break;
    default:
      break;
  }
  return r;
}

RangeAttributes Event::range_attributes() const {
  RangeAttributes a;
  if (type_ != kEvGCSweepEnd) return a;
  a.items[0] = {"bytes swept", args_[0]};
  a.items[1] = {"bytes reclaimed", args_[1]};
  a.count = 2;
  return a;
}

Task Event::task() const {
  Task t;
  switch (type_) {
    case kEvUserTaskBegin:
      t.parent = args_[1];
      t.type = Str(gen_, args_[2]);
      break;
    case kEvUserTaskEnd:
      t.parent = args_[2];
      t.type = aux_;
      break;
    default:
      return t;
  }
  t.id = args_[0];
  return t;
}

Region Event::region() const {
  Region r;
  if (type_ != kEvUserRegionBegin && type_ != kEvUserRegionEnd) return r;
  r.task = args_[0];
  r.type = Str(gen_, args_[1]);
  return r;
}

Log Event::log() const {
  Log l;
  if (type_ != kEvUserLog) return l;
  l.task = args_[0];
  l.category = Str(gen_, args_[1]);
  l.message = Str(gen_, args_[2]);
  return l;
}

StateTransition Event::state_transition() const {
  StateTransition s;
  switch (type_) {
    case kEvProcStart:
      s = ProcTransition(args_[0], ProcState::kIdle, ProcState::kRunning);
      break;
    case kEvProcStop:
      s = ProcTransition(p_, ProcState::kRunning, ProcState::kIdle);
      break;
    case kEvProcSteal:
      // args_[3]: the proc status the steal advanced from. Stealing an
      // abandoned syscall P shows as Idle -> Idle, as ProcStatus shows it.
      s = ProcTransition(args_[0],
                         args_[3] == kProcSyscallAbandoned
                             ? ProcState::kIdle
                             : ProcState::kRunning,
                         ProcState::kIdle);
      break;
    case kEvProcStatus:
      // args_[2]: the old state, from the ordering.
      s = ProcTransition(args_[0], static_cast<ProcState>(args_[2]),
                         ProcStatusToState(args_[1]));
      break;
    case kEvGoCreate:
    case kEvGoCreateBlocked:
      s = GoTransition(
          args_[0], GoState::kNotExist,
          type_ == kEvGoCreateBlocked ? GoState::kWaiting : GoState::kRunnable);
      if (gen_ != nullptr && args_[1] != 0) gen_->FindStack(args_[1], &s.stack);
      break;
    case kEvGoCreateSyscall:
      s = GoTransition(args_[0], GoState::kNotExist, GoState::kSyscall);
      break;
    case kEvGoStart:
      s = GoTransition(args_[0], GoState::kRunnable, GoState::kRunning);
      break;
    case kEvGoDestroy:
      s = GoTransition(g_, GoState::kRunning, GoState::kNotExist);
      s.stack = stack();
      break;
    case kEvGoDestroySyscall:
      s = GoTransition(g_, GoState::kSyscall, GoState::kNotExist);
      break;
    case kEvGoStop:
      s = GoTransition(g_, GoState::kRunning, GoState::kRunnable);
      s.reason = Str(gen_, args_[0]);
      s.stack = stack();
      break;
    case kEvGoBlock:
      s = GoTransition(g_, GoState::kRunning, GoState::kWaiting);
      s.reason = Str(gen_, args_[0]);
      s.stack = stack();
      break;
    case kEvGoUnblock:
    case kEvGoSwitch:
    case kEvGoSwitchDestroy:
      // A switch first of all unblocks the goroutine it names.
      s = GoTransition(args_[0], GoState::kWaiting, GoState::kRunnable);
      break;
    case kEvGoSyscallBegin:
      s = GoTransition(g_, GoState::kRunning, GoState::kSyscall);
      s.stack = stack();
      break;
    case kEvGoSyscallEnd:
      s = GoTransition(g_, GoState::kSyscall, GoState::kRunning);
      s.stack = stack();
      break;
    case kEvGoSyscallEndBlocked:
      s = GoTransition(g_, GoState::kSyscall, GoState::kRunnable);
      s.stack = stack();
      break;
    case kEvGoStatus:
    case kEvGoStatusStack:
      // args_[3] (GoStatus) or args_[4] (GoStatusStack): the old state.
      s = GoTransition(
          args_[0],
          static_cast<GoState>(type_ == kEvGoStatus ? args_[3] : args_[4]),
          GoStatusToState(args_[2]));
      break;
    default:
      break;
  }
  return s;
}

ExperimentalEvent Event::experimental() const {
  ExperimentalEvent x;
  const TypeInfo& ti = Types().info[type_];
  if (ti.kind != EventKind::kExperimental) return x;
  x.name = ti.spec->name;
  x.experiment = ti.spec->experiment;
  x.arg_names = absl::MakeConstSpan(ti.arg_names.data(), ti.num_args);
  x.args = absl::MakeConstSpan(args_.data(), ti.num_args);
  x.generation = gen_;
  return x;
}

}  // namespace gentrace::reader
