// The scheduler model that validates events and decides their order (Go's
// internal/trace order.go).
//
// The ordering tracks, across generations, each thread's bound goroutine and
// proc, each goroutine's and proc's status and sequence number, goroutine
// regions and special ranges (GC, sweep, mark assist, stop-the-world),
// active tasks and the GC state. Advance() is offered a thread's next event:
// it either accepts it (queueing one or more finished events for Next()),
// reports "not yet" (the event depends on another thread's event that has
// not been accepted yet: the reader then offers other threads' events), or
// fails because the trace is inconsistent.
//
// Invariants kept here, as in Go:
//  1. A thread's state changes only when one of its events is accepted,
//     except that ProcSteal takes the P from the thread it names and a
//     GoStatus(Syscall) naming another thread may create that thread.
//  2. Sequence numbers are per generation: a status event resets them to 0,
//     and an event with a sequence number is accepted only as the
//     immediate successor, in the same generation.
//  3. Thread states are created the first time one of their events is
//     offered (not when their batches are seen), and never removed.
//  4. Nothing is mutated when an event is "not yet" advanceable.
#ifndef GENTRACE_READER_ORDERING_H_
#define GENTRACE_READER_ORDERING_H_

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/base/optimization.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "format/spec.h"
#include "reader/event.h"
#include "reader/type_info.h"

namespace gentrace::reader {

class Ordering {
 public:
  static constexpr uint32_t kNoState = ~uint32_t{0};

  Ordering();

  // Offers *ev, an event of thread m in generation gen. *mstate caches the
  // thread's state index (start with kNoState). Returns true if ev was
  // accepted; false if it cannot be yet, or on error (*error set). ev may
  // be modified (facts passed to accessors).
  //
  // The first finished event goes straight to *out when the queue is empty
  // (the common case: no copy through the queue); any others are queued
  // for Next(). Returns true with *out filled, or false.
  bool Advance(Event* ev, uint64_t m, uint32_t* mstate, uint64_t gen,
               Event* out, absl::Status* error);

  // True if no finished event is waiting.
  bool empty() const { return head_ == tail_; }

  // Takes the next finished event; false if there is none.
  bool Next(Event* ev) {
    if (head_ == tail_) return false;
    *ev = queue_[head_ & mask_];
    ++head_;
    return true;
  }

  // Copies names the ordering keeps across generations (active task
  // types, open region types) out of the current generation's storage.
  // Call before that storage is reused.
  void CarryNames();

  // A description of the whole state, for "failed to advance" errors
  // (Go's dumpOrdering). At most `limit` goroutines are listed.
  std::string Dump(size_t limit) const;

  size_t num_goroutines() const { return gs_.size(); }
  size_t MemoryUsage() const;

 private:
  struct Ctx {
    uint64_t m, p, g;
  };
  struct Seq {
    uint64_t gen = 0;
    uint64_t seq = 0;
  };
  static bool Succeeds(Seq a, Seq b) {
    return a.gen == b.gen && a.seq == b.seq + 1;
  }
  // A special range in progress: the type of its begin event and, for
  // stop-the-world, the string id of its kind.
  struct RangeType {
    uint8_t type = 0;
    uint64_t desc = 0;
    bool operator==(const RangeType& o) const {
      return type == o.type && desc == o.desc;
    }
  };
  struct Region {
    uint64_t task;
    absl::string_view name;
  };
  // Kept small: there may be many goroutines and every event looks one
  // up. The rare regions and ranges live in gx_.
  struct GState {
    Seq seq;
    uint8_t status = 0;
    bool has_extra = false;  // gx_ has an entry for this goroutine
  };
  struct GExtra {
    std::vector<Region> regions;
    std::vector<RangeType> ranges;
  };
  struct PState {
    uint8_t status = 0;
    Seq seq;
    std::vector<RangeType> ranges;
  };
  struct MState {
    uint64_t id;
    uint64_t g;
    uint64_t p;
    // The state of goroutine g, remembered when g started running here;
    // valid while gs_epoch_ equals gs_epoch (no insertion or removal in
    // gs_ since), which saves a lookup on most events of a running g.
    GState* gs = nullptr;
    uint64_t gs_epoch = 0;
  };
  struct TaskState {
    absl::string_view name;
    uint64_t parent;
  };
  enum class GcState : uint8_t { kUndetermined, kNotRunning, kRunning };
  enum Req : uint8_t { kMustNot, kMay, kMust };
  // The result of a handler.
  enum Result : uint8_t { kOk, kNotYet, kFail };

  // Advance for any event (the fast path in Advance handles the common
  // cases and defers everything else here).
  bool AdvanceSlow(Event* ev, uint64_t m, uint32_t* mstate, uint64_t gen,
                   Event* out, absl::Status* error);
  uint32_t FindOrAddM(uint64_t m);
  // The state of the goroutine thread ms runs (ms.g), through its cache.
  GState* RunningG(MState& ms);
  void Push(const Event& ev, const Ctx& ctx);
  Result Fail(absl::Status* error, std::string msg);
  bool CheckCtx(const Ctx& c, Req thread, Req proc, Req go,
                absl::Status* error);
  static RangeType MakeRangeType(uint8_t type, uint64_t desc);
  Result BeginRange(std::vector<RangeType>* r, RangeType t,
                    absl::Status* error);
  Result ActiveRange(std::vector<RangeType>* r, RangeType t, bool initial,
                     absl::Status* error);
  Result EndRange(std::vector<RangeType>* r, uint8_t type, uint64_t* desc,
                  absl::Status* error);

  // Handlers, one per group of event types (Go's advance* methods).
  Result ProcStatusEv(Event* ev, uint64_t gen, Ctx* cur, Ctx* next,
                      absl::Status* error);
  Result ProcStart(Event* ev, uint64_t gen, Ctx* cur, Ctx* next,
                   absl::Status* error);
  Result ProcStop(Event* ev, Ctx* cur, Ctx* next, absl::Status* error);
  Result ProcSteal(Event* ev, uint64_t gen, Ctx* cur, Ctx* next,
                   absl::Status* error);
  Result GoStatusEv(Event* ev, uint64_t gen, Ctx* cur, Ctx* next,
                    absl::Status* error);
  Result GoCreate(Event* ev, uint64_t gen, Ctx* cur, absl::Status* error);
  Result GoStopExec(Event* ev, Ctx* cur, Ctx* next, absl::Status* error);
  Result GoStart(Event* ev, uint64_t gen, Ctx* cur, Ctx* next,
                 absl::Status* error);
  Result GoUnblock(Event* ev, uint64_t gen, Ctx* cur);
  Result GoSwitch(Event* ev, uint64_t gen, Ctx* cur, Ctx* next,
                  absl::Status* error);
  Result GoSyscallBegin(Event* ev, uint64_t gen, Ctx* cur, absl::Status* error);
  Result GoSyscallEnd(Event* ev, Ctx* cur, absl::Status* error);
  Result GoSyscallEndBlocked(Event* ev, Ctx* cur, Ctx* next,
                             absl::Status* error);
  Result GoCreateSyscall(Event* ev, uint64_t gen, Ctx* cur, Ctx* next,
                         absl::Status* error);
  Result GoDestroySyscall(Event* ev, Ctx* cur, Ctx* next, absl::Status* error);
  Result UserTaskBegin(Event* ev, Ctx* cur, absl::Status* error);
  Result UserTaskEnd(Event* ev, Ctx* cur, absl::Status* error);
  Result UserRegion(Event* ev, Ctx* cur, absl::Status* error);
  Result GCActive(Event* ev, uint64_t gen, Ctx* cur, absl::Status* error);
  Result GCBegin(Event* ev, Ctx* cur, absl::Status* error);
  Result GCEnd(Event* ev, Ctx* cur, absl::Status* error);
  Result GCSweep(Event* ev, uint64_t gen, Ctx* cur, absl::Status* error);
  Result GoRange(Event* ev, uint64_t gen, Ctx* cur, absl::Status* error);

  using GMap = absl::flat_hash_map<uint64_t, GState>;
  // The goroutine's regions and ranges (created on first use).
  GExtra& Extra(GMap::iterator it);
  // Removes a goroutine and its extras.
  void EraseG(GMap::iterator it);

  GMap gs_;
  uint64_t gs_epoch_ = 1;  // bumped whenever gs_ may move its elements
  absl::flat_hash_map<uint64_t, GExtra> gx_;
  absl::flat_hash_map<uint64_t, PState> ps_;
  absl::flat_hash_map<uint64_t, uint32_t> m_index_;
  std::vector<MState> ms_;
  absl::flat_hash_map<uint64_t, TaskState> tasks_;
  uint64_t gc_seq_ = 0;
  GcState gc_state_ = GcState::kUndetermined;
  uint64_t initial_gen_ = 0;

  // Where the next finished event goes if not to the queue.
  Event* direct_ = nullptr;
  // Finished events: a ring buffer (capacity a power of two).
  std::vector<Event> queue_;
  uint64_t head_ = 0, tail_ = 0, mask_ = 0;

  // Names carried over from earlier generations (see CarryNames).
  std::deque<std::string> carried_;
};

// ------------------------------------------------------------------------
// Inline parts: Advance's fast path runs for nearly every event.

inline Ordering::GState* Ordering::RunningG(MState& ms) {
  if (ms.gs != nullptr && ms.gs_epoch == gs_epoch_) return ms.gs;
  auto it = gs_.find(ms.g);
  if (it == gs_.end()) return nullptr;
  ms.gs = &it->second;
  ms.gs_epoch = gs_epoch_;
  return ms.gs;
}

// The fast path: the most common events, when they advance without any
// complication, are handled here directly. Each case checks every
// condition of its handler's success path before changing anything, so that
// whenever it declines, AdvanceSlow sees the untouched state and reaches
// Go's verdict (not yet, or which error) on its own.
inline bool Ordering::Advance(Event* ev, uint64_t m, uint32_t* mstate,
                              uint64_t gen, Event* out, absl::Status* error) {
  if (ABSL_PREDICT_FALSE(initial_gen_ == 0) || m == format::kNoThread ||
      head_ != tail_ || *mstate == kNoState) {
    return AdvanceSlow(ev, m, mstate, gen, out, error);
  }
  MState& ms = ms_[*mstate];
  const uint64_t p = ms.p, g = ms.g;
  uint64_t new_p = p, new_g = g;
  GState* new_gs = nullptr;  // the state of new_g, when known
  switch (ev->type_) {
    case format::kEvGoStart: {
      if (p == format::kNoProc || g != format::kNoGoroutine) break;
      auto it = gs_.find(ev->args_[0]);
      if (it == gs_.end() || it->second.status != format::kGoRunnable ||
          !Succeeds(Seq{gen, ev->args_[1]}, it->second.seq)) {
        break;
      }
      it->second.status = format::kGoRunning;
      it->second.seq = Seq{gen, ev->args_[1]};
      new_g = ev->args_[0];
      new_gs = &it->second;
      goto accepted;
    }
    case format::kEvGoStop:
    case format::kEvGoBlock: {
      if (p == format::kNoProc || g == format::kNoGoroutine) break;
      GState* gs = RunningG(ms);
      if (gs == nullptr || gs->status != format::kGoRunning) break;
      gs->status = ev->type_ == format::kEvGoStop ? format::kGoRunnable
                                                  : format::kGoWaiting;
      new_g = format::kNoGoroutine;
      goto accepted;
    }
    case format::kEvGoDestroy: {
      if (p == format::kNoProc || g == format::kNoGoroutine) break;
      auto it = gs_.find(g);
      if (it == gs_.end() || it->second.status != format::kGoRunning) break;
      EraseG(it);
      new_g = format::kNoGoroutine;
      goto accepted;
    }
    case format::kEvGoUnblock: {
      auto it = gs_.find(ev->args_[0]);
      if (it == gs_.end() || it->second.status != format::kGoWaiting ||
          !Succeeds(Seq{gen, ev->args_[1]}, it->second.seq)) {
        break;
      }
      it->second.status = format::kGoRunnable;
      it->second.seq = Seq{gen, ev->args_[1]};
      goto accepted;
    }
    case format::kEvGoSyscallBegin: {
      if (p == format::kNoProc || g == format::kNoGoroutine) break;
      GState* gs = RunningG(ms);
      if (gs == nullptr || gs->status != format::kGoRunning) break;
      auto pit = ps_.find(p);
      if (pit == ps_.end() ||
          !Succeeds(Seq{gen, ev->args_[0]}, pit->second.seq)) {
        break;
      }
      gs->status = format::kGoSyscall;
      pit->second.status = format::kProcSyscall;
      pit->second.seq = Seq{gen, ev->args_[0]};
      goto accepted;
    }
    case format::kEvGoSyscallEnd: {
      if (p == format::kNoProc || g == format::kNoGoroutine) break;
      GState* gs = RunningG(ms);
      if (gs == nullptr || gs->status != format::kGoSyscall) break;
      auto pit = ps_.find(p);
      if (pit == ps_.end() || pit->second.status != format::kProcSyscall) break;
      gs->status = format::kGoRunning;
      pit->second.status = format::kProcRunning;
      goto accepted;
    }
    case format::kEvProcStart: {
      if (p != format::kNoProc) break;
      auto it = ps_.find(ev->args_[0]);
      if (it == ps_.end() || it->second.status != format::kProcIdle ||
          !Succeeds(Seq{gen, ev->args_[1]}, it->second.seq)) {
        break;
      }
      it->second.status = format::kProcRunning;
      it->second.seq = Seq{gen, ev->args_[1]};
      new_p = ev->args_[0];
      goto accepted;
    }
    case format::kEvProcStop: {
      if (p == format::kNoProc) break;
      auto it = ps_.find(p);
      if (it == ps_.end() || (it->second.status != format::kProcRunning &&
                              it->second.status != format::kProcSyscall)) {
        break;
      }
      it->second.status = format::kProcIdle;
      new_p = format::kNoProc;
      goto accepted;
    }
    case format::kEvGoStatus:
    case format::kEvGoStatusStack: {
      // A status repeated in a later generation. Syscall statuses involve
      // other threads: those take the slow path.
      const uint64_t status = ev->args_[2];
      if (status == 0 || status > format::kGoWaiting ||
          status == format::kGoSyscall)
        break;
      auto it = gs_.find(ev->args_[0]);
      if (it == gs_.end() || it->second.status != status) break;
      it->second.seq = Seq{gen, 0};
      static constexpr GoState kSame[5] = {
          GoState::kUndetermined, GoState::kRunnable, GoState::kRunning,
          GoState::kSyscall, GoState::kWaiting};
      ev->args_[GetTypeInfo(ev->type_).num_args] =
          static_cast<uint64_t>(kSame[status]);
      if (status == format::kGoRunning) {
        new_g = ev->args_[0];
        new_gs = &it->second;
      }
      goto accepted;
    }
    case format::kEvProcStatus: {
      const uint64_t status = ev->args_[1];
      if (status == 0 || status >= format::kProcSyscallAbandoned) break;
      auto it = ps_.find(ev->args_[0]);
      if (it == ps_.end() || it->second.status != status) break;
      it->second.seq = Seq{gen, 0};
      ev->args_[2] = static_cast<uint64_t>(
          status == format::kProcIdle ? ProcState::kIdle : ProcState::kRunning);
      if (status != format::kProcIdle) new_p = ev->args_[0];
      goto accepted;
    }
    case format::kEvProcsChange:
    case format::kEvGoLabel:
    case format::kEvUserLog:
      if (p == format::kNoProc || g == format::kNoGoroutine) break;
      goto accepted;
    case format::kEvHeapAlloc:
    case format::kEvHeapGoal:
      if (p == format::kNoProc) break;
      goto accepted;
    default:
      break;
  }
  return AdvanceSlow(ev, m, mstate, gen, out, error);

accepted:
  out->CopyFrom(*ev);
  out->m_ = m;
  out->p_ = p;
  out->g_ = g;
  ms.p = new_p;
  if (new_g != g) {
    ms.g = new_g;
    ms.gs = new_gs;
    ms.gs_epoch = gs_epoch_;
  }
  return true;
}

}  // namespace gentrace::reader

#endif  // GENTRACE_READER_ORDERING_H_
