// Events as the reader hands them out: Go's trace.Event in C++.
//
// An Event is a small value (no heap memory). Its strings and stacks are
// views into the generation it came from; they stay valid until the reader
// loads the next generation, that is, until the ReadEvent() call after the
// generation's Sync event. Copy what must live longer.
//
// Kinds and accessors mirror Go's internal/trace Event: Kind(), Time(),
// Thread(), Proc(), Goroutine(), Stack(), and Metric(), Label(), Range(),
// RangeAttributes(), Task(), Region(), Log(), StateTransition(),
// Experimental() for the matching kinds. Thread, proc and goroutine ids are
// signed like Go's (-1 = none). Calling a kind-specific accessor on an
// event of another kind returns an empty value (Go panics).
#ifndef GENTRACE_READER_EVENT_H_
#define GENTRACE_READER_EVENT_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "format/spec.h"
#include "reader/generation.h"

namespace gentrace::reader {

// Go's EventKind, same order.
enum class EventKind : uint8_t {
  kBad = 0,
  kSync,
  kMetric,
  kLabel,
  kStackSample,
  kRangeBegin,
  kRangeActive,
  kRangeEnd,
  kTaskBegin,
  kTaskEnd,
  kRegionBegin,
  kRegionEnd,
  kLog,
  kStateTransition,
  kExperimental,
};
inline constexpr int kNumEventKinds = 15;

// Go's name of a kind ("Sync", "StateTransition", ...; "Bad").
absl::string_view EventKindName(EventKind kind);

// Ids as Go's reader types them: signed, -1 meaning none.
using ThreadId = int64_t;
using ProcId = int64_t;
using GoId = int64_t;
using TaskId = uint64_t;
inline constexpr int64_t kNone = -1;
inline constexpr TaskId kNoTaskId = ~uint64_t{0};
inline constexpr TaskId kBackgroundTask = 0;

// The type of the synthetic Sync event (not a wire type).
inline constexpr uint8_t kEvSync = 0xff;

enum class GoState : uint8_t {
  kUndetermined = 0,
  kNotExist,
  kRunnable,
  kRunning,
  kWaiting,
  kSyscall,
};
enum class ProcState : uint8_t {
  kUndetermined = 0,
  kNotExist,
  kRunning,
  kIdle,
};
absl::string_view GoStateName(GoState s);
absl::string_view ProcStateName(ProcState s);
inline bool Executing(GoState s) {
  return s == GoState::kRunning || s == GoState::kSyscall;
}
inline bool Executing(ProcState s) { return s == ProcState::kRunning; }

enum class ResourceKind : uint8_t { kNone = 0, kGoroutine, kProc, kThread };

struct ResourceId {
  ResourceKind kind = ResourceKind::kNone;
  int64_t id = 0;
  bool operator==(const ResourceId& o) const {
    return kind == o.kind && id == o.id;
  }
  template <typename H>
  friend H AbslHashValue(H h, const ResourceId& r) {
    return H::combine(std::move(h), r.kind, r.id);
  }
};
// "None", "Goroutine:<id>", "Proc:<id>", "Thread:<id>".
std::string ResourceString(const ResourceId& r);

struct Metric {
  absl::string_view name;  // runtime/metrics style, e.g. "/gc/heap/goal:bytes"
  uint64_t value = 0;
};

struct Label {
  absl::string_view label;
  ResourceId resource;
};

struct Range {
  // The name, e.g. "GC concurrent mark phase". Stop-the-world ranges are
  // named "stop-the-world (<kind>)": `name` is then "stop-the-world" and
  // `kind` the kind; FullName() joins them.
  absl::string_view name;
  absl::string_view kind;
  bool has_kind = false;
  ResourceId scope;
  std::string FullName() const;
};

struct RangeAttribute {
  absl::string_view name;
  uint64_t value = 0;
};

// At most two attributes (a sweep's "bytes swept" and "bytes reclaimed").
struct RangeAttributes {
  std::array<RangeAttribute, 2> items;
  int count = 0;
  const RangeAttribute* begin() const { return items.data(); }
  const RangeAttribute* end() const { return items.data() + count; }
  int size() const { return count; }
};

struct Task {
  TaskId id = 0;
  TaskId parent = kNoTaskId;
  absl::string_view type;
};

struct Region {
  TaskId task = 0;
  absl::string_view type;
};

struct Log {
  TaskId task = 0;
  absl::string_view category;
  absl::string_view message;
};

struct StateTransition {
  ResourceId resource;
  absl::string_view reason;
  // The stack of the resource making the transition (for goroutine
  // creation: the new goroutine's); may differ from the event's stack.
  StackView stack;
  uint8_t from = 0;
  uint8_t to = 0;
  GoState go_from() const { return static_cast<GoState>(from); }
  GoState go_to() const { return static_cast<GoState>(to); }
  ProcState proc_from() const { return static_cast<ProcState>(from); }
  ProcState proc_to() const { return static_cast<ProcState>(to); }
};

struct ExperimentalEvent {
  absl::string_view name;
  uint8_t experiment = 0;
  // Argument names (without "dt") and values.
  absl::Span<const absl::string_view> arg_names;
  absl::Span<const uint64_t> args;
  // The generation's batches of this experiment (Go's Data); empty when
  // there are none.
  const Generation* generation = nullptr;
};

namespace internal {
// Kinds by wire type (built at compile time in event.cc).
extern const std::array<EventKind, 256> kKindOfType;
}  // namespace internal

// Go's kind for a wire type (kBad for types that are never events).
inline EventKind KindOfType(uint8_t type) {
  return internal::kKindOfType[type];
}

class Event {
 public:
  Event() = default;
  // Copies field by field: a plain struct copy of an Event may compile to
  // `rep movs`, whose start-up cost shows in the reader's innermost loop.
  Event(const Event& from) { CopyFrom(from); }
  Event& operator=(const Event& from) {
    CopyFrom(from);
    return *this;
  }

  EventKind kind() const { return KindOfType(type_); }
  // Nanoseconds; strictly increasing over a reader's events.
  int64_t time() const { return time_; }
  ThreadId thread() const { return static_cast<int64_t>(m_); }
  ProcId proc() const { return static_cast<int64_t>(p_); }
  GoId goroutine() const { return static_cast<int64_t>(g_); }
  // The stack of the executing context; empty if none.
  StackView stack() const;

  Metric metric() const;
  Label label() const;
  Range range() const;
  // Attributes of a completed range (a sweep's RangeEnd has two).
  RangeAttributes range_attributes() const;
  Task task() const;
  Region region() const;
  Log log() const;
  StateTransition state_transition() const;
  ExperimentalEvent experimental() const;

  // Low-level access: the wire event type (kEvSync for Sync), its
  // arguments after the timestamp, and the generation it belongs to.
  uint8_t type() const { return type_; }

  // The same as assignment.
  void CopyFrom(const Event& from) {
    gen_ = from.gen_;
    time_ = from.time_;
    m_ = from.m_;
    p_ = from.p_;
    g_ = from.g_;
    for (size_t i = 0; i < args_.size(); ++i) args_[i] = from.args_[i];
    type_ = from.type_;
    aux_ = from.aux_;
  }
  uint64_t arg(int i) const { return args_[i]; }
  const Generation* generation() const { return gen_; }

 private:
  friend class Ordering;
  friend class Reader;
  friend class BatchCursor;

  const Generation* gen_ = nullptr;
  int64_t time_ = 0;
  uint64_t m_ = format::kNoThread;
  uint64_t p_ = format::kNoProc;
  uint64_t g_ = format::kNoGoroutine;
  // Arguments after dt, plus room the ordering uses to pass facts along
  // (the old state of a status event, a TaskEnd's parent). Go's extra().
  std::array<uint64_t, format::kMaxEventArgs> args_{};
  uint8_t type_ = 0;
  // TaskEnd: the type of the task, from its TaskBegin.
  absl::string_view aux_;
};

}  // namespace gentrace::reader

#endif  // GENTRACE_READER_EVENT_H_
