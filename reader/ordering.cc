// The ordering state machine; see ordering.h. Each handler mirrors the Go
// method of the same purpose in internal/trace/order.go; where the Go
// code's order of checks decides which error is reported, this code keeps
// that order. Error texts are Go's.
#include "reader/ordering.h"

#include <algorithm>
#include <utility>

#include "absl/base/optimization.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "format/spec.h"
#include "reader/go_compat.h"
#include "reader/type_info.h"

namespace gentrace::reader {
namespace {

using namespace format;  // event types, statuses, kNo*

constexpr uint64_t kNoG = kNoGoroutine;
constexpr uint64_t kNoP = kNoProc;
constexpr uint64_t kNoM = kNoThread;

// Go prints thread, proc and goroutine ids as signed integers.
int64_t S(uint64_t id) { return static_cast<int64_t>(id); }

std::string SeqString(uint64_t seq, uint64_t gen) {
  return absl::StrCat(seq, " (gen=", gen, ")");
}

absl::string_view SpecName(uint8_t type) {
  const EventSpec* s = LookupSpec(type);
  return s == nullptr ? absl::string_view() : s->name;
}

}  // namespace

Ordering::Ordering() {
  queue_.resize(8);
  mask_ = 7;
}

Ordering::GExtra& Ordering::Extra(GMap::iterator it) {
  it->second.has_extra = true;
  return gx_[it->first];
}

void Ordering::EraseG(GMap::iterator it) {
  if (it->second.has_extra) gx_.erase(it->first);
  gs_.erase(it);
  ++gs_epoch_;
}

uint32_t Ordering::FindOrAddM(uint64_t m) {
  auto [it, inserted] =
      m_index_.try_emplace(m, static_cast<uint32_t>(ms_.size()));
  if (inserted) ms_.push_back(MState{m, kNoG, kNoP});
  return it->second;
}

void Ordering::Push(const Event& ev, const Ctx& ctx) {
  if (direct_ != nullptr) {
    Event* out = direct_;
    direct_ = nullptr;
    *out = ev;
    out->m_ = ctx.m;
    out->p_ = ctx.p;
    out->g_ = ctx.g;
    return;
  }
  if (tail_ - head_ == queue_.size()) {
    // Grow, keeping the order.
    std::vector<Event> bigger(queue_.size() * 2);
    for (uint64_t i = head_; i < tail_; ++i) {
      bigger[i - head_] = queue_[i & mask_];
    }
    tail_ -= head_;
    head_ = 0;
    queue_.swap(bigger);
    mask_ = queue_.size() - 1;
  }
  Event& slot = queue_[tail_ & mask_];
  slot = ev;
  slot.m_ = ctx.m;
  slot.p_ = ctx.p;
  slot.g_ = ctx.g;
  ++tail_;
}

Ordering::Result Ordering::Fail(absl::Status* error, std::string msg) {
  *error = absl::InvalidArgumentError(std::move(msg));
  return kFail;
}

bool Ordering::CheckCtx(const Ctx& c, Req thread, Req proc, Req go,
                        absl::Status* error) {
  const char* msg = nullptr;
  if (thread == kMust && c.m == kNoM) {
    msg = "expected a thread but didn't have one";
  } else if (thread == kMustNot && c.m != kNoM) {
    msg = "expected no thread but had one";
  } else if (proc == kMust && c.p == kNoP) {
    msg = "expected a proc but didn't have one";
  } else if (proc == kMustNot && c.p != kNoP) {
    msg = "expected no proc but had one";
  } else if (go == kMust && c.g == kNoG) {
    msg = "expected a goroutine but didn't have one";
  } else if (go == kMustNot && c.g != kNoG) {
    msg = "expected no goroutine but had one";
  }
  if (msg == nullptr) return true;
  *error = absl::InvalidArgumentError(msg);
  return false;
}

bool Ordering::AdvanceSlow(Event* ev, uint64_t m, uint32_t* mstate,
                           uint64_t gen, Event* out, absl::Status* error) {
  if (initial_gen_ == 0) initial_gen_ = gen;
  // Finished events go to *out first, if nothing is waiting in the queue.
  direct_ = head_ == tail_ ? out : nullptr;
  // The thread's context before (cur) and after (next) the event. Built
  // field by field from scalars: copying a half-written Ctx as a whole
  // stalls store forwarding on this hot path.
  uint64_t p = kNoP, g = kNoG;
  if (m != kNoM) {
    if (*mstate == kNoState) *mstate = FindOrAddM(m);
    const MState& ms = ms_[*mstate];
    p = ms.p;
    g = ms.g;
  }
  Ctx cur, next;
  cur.m = next.m = m;
  cur.p = next.p = p;
  cur.g = next.g = g;
  Result r;
  switch (ev->type_) {
    case kEvProcStatus:
      r = ProcStatusEv(ev, gen, &cur, &next, error);
      break;
    case kEvProcStart:
      r = ProcStart(ev, gen, &cur, &next, error);
      break;
    case kEvProcStop:
      r = ProcStop(ev, &cur, &next, error);
      break;
    case kEvProcSteal:
      r = ProcSteal(ev, gen, &cur, &next, error);
      break;
    case kEvGoStatus:
    case kEvGoStatusStack:
      r = GoStatusEv(ev, gen, &cur, &next, error);
      break;
    case kEvGoCreate:
    case kEvGoCreateBlocked:
      r = GoCreate(ev, gen, &cur, error);
      break;
    case kEvGoDestroy:
    case kEvGoStop:
    case kEvGoBlock:
      r = GoStopExec(ev, &cur, &next, error);
      break;
    case kEvGoStart:
      r = GoStart(ev, gen, &cur, &next, error);
      break;
    case kEvGoUnblock:
      r = GoUnblock(ev, gen, &cur);
      break;
    case kEvGoSwitch:
    case kEvGoSwitchDestroy:
      r = GoSwitch(ev, gen, &cur, &next, error);
      break;
    case kEvGoSyscallBegin:
      r = GoSyscallBegin(ev, gen, &cur, error);
      break;
    case kEvGoSyscallEnd:
      r = GoSyscallEnd(ev, &cur, error);
      break;
    case kEvGoSyscallEndBlocked:
      r = GoSyscallEndBlocked(ev, &cur, &next, error);
      break;
    case kEvGoCreateSyscall:
      r = GoCreateSyscall(ev, gen, &cur, &next, error);
      break;
    case kEvGoDestroySyscall:
      r = GoDestroySyscall(ev, &cur, &next, error);
      break;
    case kEvUserTaskBegin:
      r = UserTaskBegin(ev, &cur, error);
      break;
    case kEvUserTaskEnd:
      r = UserTaskEnd(ev, &cur, error);
      break;
    case kEvUserRegionBegin:
    case kEvUserRegionEnd:
      r = UserRegion(ev, &cur, error);
      break;
    case kEvGCActive:
      r = GCActive(ev, gen, &cur, error);
      break;
    case kEvGCBegin:
      r = GCBegin(ev, &cur, error);
      break;
    case kEvGCEnd:
      r = GCEnd(ev, &cur, error);
      break;
    case kEvGCSweepBegin:
    case kEvGCSweepActive:
    case kEvGCSweepEnd:
      r = GCSweep(ev, gen, &cur, error);
      break;
    case kEvSTWBegin:
    case kEvSTWEnd:
    case kEvGCMarkAssistBegin:
    case kEvGCMarkAssistActive:
    case kEvGCMarkAssistEnd:
      r = GoRange(ev, gen, &cur, error);
      break;
    case kEvProcsChange:
    case kEvGoLabel:
    case kEvUserLog:
      // Instantaneous events of a running goroutine.
      if (!CheckCtx(cur, kMust, kMust, kMust, error)) return false;
      Push(*ev, cur);
      r = kOk;
      break;
    case kEvHeapAlloc:
    case kEvHeapGoal:
      // Allocation metrics need a P but no goroutine.
      if (!CheckCtx(cur, kMust, kMust, kMay, error)) return false;
      Push(*ev, cur);
      r = kOk;
      break;
    default:
      if (GetTypeInfo(ev->type_).kind == EventKind::kExperimental) {
        if (!CheckCtx(cur, kMust, kMay, kMay, error)) return false;
        Push(*ev, cur);
        r = kOk;
        break;
      }
      *error = absl::InvalidArgumentError(
          absl::StrCat("bad event type found while ordering: ", ev->type_));
      return false;
  }
  if (r != kOk) {
    direct_ = nullptr;
    return false;
  }
  if (direct_ != nullptr) {
    // Every accepted event finishes at least one.
    direct_ = nullptr;
    *error = absl::InternalError("ordering accepted an event but queued none");
    return false;
  }
  if (m != kNoM) {
    // Handlers may have added thread states: index again.
    MState& ms = ms_[*mstate];
    ms.p = next.p;
    if (ms.g != next.g) {
      ms.g = next.g;
      ms.gs = nullptr;
    }
  }
  return true;
}

// ------------------------------------------------------------------ procs

Ordering::Result Ordering::ProcStatusEv(Event* ev, uint64_t gen, Ctx* cur,
                                        Ctx* next, absl::Status* error) {
  const uint64_t pid = ev->args_[0];
  const uint64_t raw = ev->args_[1];
  const uint8_t status = static_cast<uint8_t>(raw);
  if (status > kProcSyscallAbandoned) {
    return Fail(error,
                absl::StrCat("invalid status for proc ", S(pid), ": ", status));
  }
  // Like Go, only the low byte counts here; the reader rejects larger
  // values when it hands the event out (Reader::CheckIds).
  static constexpr ProcState kOld[5] = {ProcState::kUndetermined,
                                        ProcState::kRunning, ProcState::kIdle,
                                        ProcState::kRunning, ProcState::kIdle};
  ProcState old = kOld[status];
  auto it = ps_.find(pid);
  if (it != ps_.end()) {
    PState& s = it->second;
    if (status == kProcSyscallAbandoned && s.status == kProcSyscall) {
      // Abandoned stands in for Syscall: nothing was lost yet.
      old = ProcState::kRunning;
      ev->args_[1] = kProcSyscall;
    } else if (status == kProcSyscallAbandoned &&
               s.status == kProcSyscallAbandoned) {
      old = ProcState::kIdle;
      ev->args_[1] = kProcSyscallAbandoned;
    } else if (s.status != status) {
      return Fail(error, absl::StrCat("inconsistent status for proc ", S(pid),
                                      ": old ", ProcStatusString(s.status),
                                      " vs. new ", ProcStatusString(status)));
    }
    s.seq = Seq{gen, 0};
  } else {
    PState s;
    s.status = status;
    s.seq = Seq{gen, 0};
    ps_.emplace(pid, std::move(s));
    old = gen == initial_gen_ ? ProcState::kUndetermined : ProcState::kNotExist;
  }
  ev->args_[2] = static_cast<uint64_t>(old);

  // A running (or syscall) P is bound to the thread of this batch.
  if (status == kProcRunning || status == kProcSyscall) next->p = pid;
  // An abandoned-syscall P that we still saw in a syscall is about to be
  // stolen; its status is usually written by another thread, so report it
  // in the context of the thread it is bound to.
  if (status == kProcSyscallAbandoned && old == ProcState::kRunning) {
    bool found = false;
    for (const MState& ms : ms_) {
      if (ms.p == pid) {
        cur->m = ms.id;
        cur->p = pid;
        cur->g = ms.g;
        found = true;
      }
    }
    if (!found) {
      return Fail(error, absl::StrCat("failed to find sched context for proc ",
                                      S(pid), " that's about to be stolen"));
    }
  }
  Push(*ev, *cur);
  return kOk;
}

Ordering::Result Ordering::ProcStart(Event* ev, uint64_t gen, Ctx* cur,
                                     Ctx* next, absl::Status* error) {
  const uint64_t pid = ev->args_[0];
  const Seq seq{gen, ev->args_[1]};
  auto it = ps_.find(pid);
  // Not yet: the P's status may come later in another thread's batch, or
  // this thread still holds a P in a syscall that has not been stolen.
  if (it == ps_.end() || it->second.status != kProcIdle ||
      !Succeeds(seq, it->second.seq) || cur->p != kNoP) {
    return kNotYet;
  }
  if (!CheckCtx(*cur, kMust, kMustNot, kMay, error)) return kFail;
  it->second.status = kProcRunning;
  it->second.seq = seq;
  next->p = pid;
  Push(*ev, *cur);
  return kOk;
}

Ordering::Result Ordering::ProcStop(Event* ev, Ctx* cur, Ctx* next,
                                    absl::Status* error) {
  // A P stops on the thread that runs it, so this is always advanceable.
  auto it = ps_.find(cur->p);
  if (it == ps_.end()) {
    return Fail(error,
                absl::StrCat("event ", format::GoEventString(ev->type_),
                             " for proc (", S(cur->p), ") that doesn't exist"));
  }
  if (it->second.status != kProcRunning && it->second.status != kProcSyscall) {
    return Fail(error, absl::StrCat(format::GoEventString(ev->type_),
                                    " event for proc that's not Running or "
                                    "Syscall"));
  }
  if (!CheckCtx(*cur, kMust, kMust, kMay, error)) return kFail;
  it->second.status = kProcIdle;
  next->p = kNoP;
  Push(*ev, *cur);
  return kOk;
}

Ordering::Result Ordering::ProcSteal(Event* ev, uint64_t gen, Ctx* cur,
                                     Ctx* next, absl::Status* error) {
  const uint64_t pid = ev->args_[0];
  const Seq seq{gen, ev->args_[1]};
  auto it = ps_.find(pid);
  if (it == ps_.end() ||
      (it->second.status != kProcSyscall &&
       it->second.status != kProcSyscallAbandoned) ||
      !Succeeds(seq, it->second.seq)) {
    return kNotYet;
  }
  if (!CheckCtx(*cur, kMust, kMay, kMay, error)) return kFail;
  // Remember what the P was stolen from, for the state transition.
  const uint8_t old = it->second.status;
  ev->args_[3] = old;
  it->second.status = kProcIdle;
  it->second.seq = seq;
  if (old == kProcSyscallAbandoned) {
    // The thread that held it is unknown by now: leave threads alone.
    Push(*ev, *cur);
    return kOk;
  }
  const uint64_t mid = ev->args_[2];
  if (mid == cur->m) {
    // Stealing from ourselves is a ProcStop.
    if (cur->p != pid) {
      return Fail(error, absl::StrCat("tried to self-steal proc ", S(pid),
                                      " (thread ", S(mid), "), but got proc ",
                                      S(cur->p), " instead"));
    }
    next->p = kNoP;
    Push(*ev, *cur);
    return kOk;
  }
  auto victim = m_index_.find(mid);
  if (victim == m_index_.end()) {
    return Fail(error,
                absl::StrCat("stole proc from non-existent thread ", S(mid)));
  }
  MState& vm = ms_[victim->second];
  if (vm.p != pid) {
    return Fail(error,
                absl::StrCat("tried to steal proc ", S(pid), " from thread ",
                             S(mid), ", but got proc ", S(vm.p), " instead"));
  }
  // The victim is in a syscall and will notice (GoSyscallEndBlocked waits
  // for exactly this).
  vm.p = kNoP;
  Push(*ev, *cur);
  return kOk;
}

// ------------------------------------------------------------- goroutines

Ordering::Result Ordering::GoStatusEv(Event* ev, uint64_t gen, Ctx* cur,
                                      Ctx* next, absl::Status* error) {
  const uint64_t gid = ev->args_[0];
  const uint64_t mid = ev->args_[1];
  const uint64_t raw = ev->args_[2];
  const uint8_t status = static_cast<uint8_t>(raw);
  if (status > kGoWaiting) {
    return Fail(error, absl::StrCat("invalid status for goroutine ", S(gid),
                                    ": ", status));
  }
  // Like Go, only the low byte counts here (see ProcStatusEv).
  static constexpr GoState kOld[5] = {GoState::kUndetermined,
                                      GoState::kRunnable, GoState::kRunning,
                                      GoState::kSyscall, GoState::kWaiting};
  GoState old = kOld[status];
  auto it = gs_.find(gid);
  if (it != gs_.end()) {
    if (it->second.status != status) {
      return Fail(error,
                  absl::StrCat("inconsistent status for goroutine ", S(gid),
                               ": old ", GoStatusString(it->second.status),
                               " vs. new ", GoStatusString(status)));
    }
    it->second.seq = Seq{gen, 0};
  } else if (gen == initial_gen_) {
    GState s;
    s.status = status;
    s.seq = Seq{gen, 0};
    gs_.emplace(gid, std::move(s));
    ++gs_epoch_;
    old = GoState::kUndetermined;
  } else {
    return Fail(error,
                absl::StrCat("found goroutine status for new goroutine after "
                             "the first generation: id=",
                             S(gid), " status=", GoStatusString(status)));
  }
  // The old state goes after the event's own arguments.
  ev->args_[GetTypeInfo(ev->type_).num_args] = static_cast<uint64_t>(old);

  if (status == kGoRunning) {
    next->g = gid;
  } else if (status == kGoSyscall) {
    if (mid == kNoM) {
      return Fail(error, absl::StrCat("found goroutine ", S(gid),
                                      " in syscall without a thread"));
    }
    if (mid == cur->m) {
      // In a syscall on this very thread. After the first generation we
      // must have seen it bind here already.
      if (gen != initial_gen_ && cur->g != gid) {
        return Fail(error,
                    absl::StrCat("inconsistent thread for syscalling "
                                 "goroutine ",
                                 S(gid), ": thread has goroutine ", S(cur->g)));
      }
      next->g = gid;
    } else {
      // A goroutine that has sat in a syscall on another thread all
      // generation long (that thread has no P).
      auto mi = m_index_.find(mid);
      if (mi != m_index_.end()) {
        const MState& ms = ms_[mi->second];
        if (ms.g != gid) {
          return Fail(error,
                      absl::StrCat("inconsistent thread for syscalling "
                                   "goroutine ",
                                   S(gid), ": thread has goroutine ", S(ms.g)));
        }
        cur->g = ms.g;
      } else {
        // First sight of that thread: this event binds the goroutine to it.
        uint32_t idx = FindOrAddM(mid);
        ms_[idx].g = gid;
      }
      cur->m = mid;
    }
  }
  Push(*ev, *cur);
  return kOk;
}

Ordering::Result Ordering::GoCreate(Event* ev, uint64_t gen, Ctx* cur,
                                    absl::Status* error) {
  // Created on a running P, by a running goroutine or by none.
  if (!CheckCtx(*cur, kMust, kMust, kMay, error)) return kFail;
  auto self = gs_.find(cur->g);
  if (self != gs_.end() && self->second.status != kGoRunning) {
    return Fail(error, absl::StrCat(format::GoEventString(ev->type_),
                                    " event for goroutine that's not Running"));
  }
  const uint64_t gid = ev->args_[0];
  GState s;
  s.status = ev->type_ == kEvGoCreateBlocked ? kGoWaiting : kGoRunnable;
  s.seq = Seq{gen, 0};
  ++gs_epoch_;
  if (!gs_.emplace(gid, std::move(s)).second) {
    return Fail(error, absl::StrCat("tried to create goroutine (", S(gid),
                                    ") that already exists"));
  }
  Push(*ev, *cur);
  return kOk;
}

Ordering::Result Ordering::GoStopExec(Event* ev, Ctx* cur, Ctx* next,
                                      absl::Status* error) {
  // The running goroutine of this thread stops: always advanceable.
  if (!CheckCtx(*cur, kMust, kMust, kMust, error)) return kFail;
  auto it = gs_.find(cur->g);
  if (it == gs_.end()) {
    return Fail(error, absl::StrCat("event ", format::GoEventString(ev->type_),
                                    " for goroutine (", S(cur->g),
                                    ") that doesn't exist"));
  }
  if (it->second.status != kGoRunning) {
    return Fail(error, absl::StrCat(format::GoEventString(ev->type_),
                                    " event for goroutine that's not Running"));
  }
  switch (ev->type_) {
    case kEvGoDestroy:
      EraseG(it);
      break;
    case kEvGoStop:
      it->second.status = kGoRunnable;
      break;
    default:  // GoBlock
      it->second.status = kGoWaiting;
      break;
  }
  next->g = kNoG;
  Push(*ev, *cur);
  return kOk;
}

Ordering::Result Ordering::GoStart(Event* ev, uint64_t gen, Ctx* cur, Ctx* next,
                                   absl::Status* error) {
  const uint64_t gid = ev->args_[0];
  const Seq seq{gen, ev->args_[1]};
  auto it = gs_.find(gid);
  if (it == gs_.end() || it->second.status != kGoRunnable ||
      !Succeeds(seq, it->second.seq)) {
    return kNotYet;
  }
  if (!CheckCtx(*cur, kMust, kMust, kMustNot, error)) return kFail;
  it->second.status = kGoRunning;
  it->second.seq = seq;
  next->g = gid;
  Push(*ev, *cur);
  return kOk;
}

Ordering::Result Ordering::GoUnblock(Event* ev, uint64_t gen, Ctx* cur) {
  // Anything may unblock a goroutine (even a thread-less batch): no
  // context to check.
  const uint64_t gid = ev->args_[0];
  const Seq seq{gen, ev->args_[1]};
  auto it = gs_.find(gid);
  if (it == gs_.end() || it->second.status != kGoWaiting ||
      !Succeeds(seq, it->second.seq)) {
    return kNotYet;
  }
  it->second.status = kGoRunnable;
  it->second.seq = seq;
  Push(*ev, *cur);
  return kOk;
}

Ordering::Result Ordering::GoSwitch(Event* ev, uint64_t gen, Ctx* cur,
                                    Ctx* next, absl::Status* error) {
  // A switch is three events: unblock the target, block (or destroy) the
  // current goroutine, start the target. It acts as a GoStart of the
  // target, so it waits for the target's sequence number.
  if (!CheckCtx(*cur, kMust, kMust, kMust, error)) return kFail;
  auto self = gs_.find(cur->g);
  if (self == gs_.end()) {
    return Fail(error, absl::StrCat("event ", format::GoEventString(ev->type_),
                                    " for goroutine (", S(cur->g),
                                    ") that doesn't exist"));
  }
  if (self->second.status != kGoRunning) {
    return Fail(error, absl::StrCat(format::GoEventString(ev->type_),
                                    " event for goroutine that's not Running"));
  }
  const uint64_t target = ev->args_[0];
  const Seq seq{gen, ev->args_[1]};
  auto tit = gs_.find(target);
  if (tit == gs_.end() || tit->second.status != kGoWaiting ||
      !Succeeds(seq, tit->second.seq)) {
    return kNotYet;
  }
  Push(*ev, *cur);
  Event extra = *ev;
  extra.args_ = {};
  if (ev->type_ == kEvGoSwitch) {
    self->second.status = kGoWaiting;
    extra.type_ = kEvGoBlock;  // no reason, no stack
  } else {
    // Erasing does not move other elements: tit stays valid.
    EraseG(self);
    extra.type_ = kEvGoDestroy;
  }
  Push(extra, *cur);
  tit->second.status = kGoRunning;
  tit->second.seq = seq;
  next->g = target;
  Event start = *ev;
  start.args_ = {};
  start.type_ = kEvGoStart;
  start.args_[0] = target;
  start.args_[1] = ev->args_[1];
  Ctx start_ctx = *cur;
  start_ctx.g = kNoG;
  Push(start, start_ctx);
  return kOk;
}

Ordering::Result Ordering::GoSyscallBegin(Event* ev, uint64_t gen, Ctx* cur,
                                          absl::Status* error) {
  if (!CheckCtx(*cur, kMust, kMust, kMust, error)) return kFail;
  auto it = gs_.find(cur->g);
  if (it == gs_.end()) {
    return Fail(error, absl::StrCat("event ", format::GoEventString(ev->type_),
                                    " for goroutine (", S(cur->g),
                                    ") that doesn't exist"));
  }
  if (it->second.status != kGoRunning) {
    return Fail(error, absl::StrCat(format::GoEventString(ev->type_),
                                    " event for goroutine that's not Running"));
  }
  it->second.status = kGoSyscall;
  auto pit = ps_.find(cur->p);
  if (pit == ps_.end()) {
    return Fail(error,
                absl::StrCat("uninitialized proc ", S(cur->p), " found during ",
                             format::GoEventString(ev->type_)));
  }
  pit->second.status = kProcSyscall;
  // The P sequence number only disambiguates steals; the P is running
  // here, so the number must be right now.
  const Seq pseq{gen, ev->args_[0]};
  if (!Succeeds(pseq, pit->second.seq)) {
    return Fail(
        error,
        absl::StrCat("failed to advance ", format::GoEventString(ev->type_),
                     ": can't make sequence: ",
                     SeqString(pit->second.seq.seq, pit->second.seq.gen),
                     " -> ", SeqString(pseq.seq, pseq.gen)));
  }
  pit->second.seq = pseq;
  Push(*ev, *cur);
  return kOk;
}

Ordering::Result Ordering::GoSyscallEnd(Event* ev, Ctx* cur,
                                        absl::Status* error) {
  // Same thread as the GoSyscallBegin: always advanceable.
  if (!CheckCtx(*cur, kMust, kMust, kMust, error)) return kFail;
  auto it = gs_.find(cur->g);
  if (it == gs_.end()) {
    return Fail(error, absl::StrCat("event ", format::GoEventString(ev->type_),
                                    " for goroutine (", S(cur->g),
                                    ") that doesn't exist"));
  }
  if (it->second.status != kGoSyscall) {
    // (Go's message names Running here.)
    return Fail(error, absl::StrCat(format::GoEventString(ev->type_),
                                    " event for goroutine that's not Running"));
  }
  it->second.status = kGoRunning;
  auto pit = ps_.find(cur->p);
  if (pit == ps_.end()) {
    return Fail(error,
                absl::StrCat("uninitialized proc ", S(cur->p), " found during ",
                             format::GoEventString(ev->type_)));
  }
  if (pit->second.status != kProcSyscall) {
    return Fail(
        error,
        absl::StrCat("expected proc ", S(cur->p), " in state Syscall, but got ",
                     ProcStatusString(pit->second.status), " instead"));
  }
  pit->second.status = kProcRunning;
  Push(*ev, *cur);
  return kOk;
}

Ordering::Result Ordering::GoSyscallEndBlocked(Event* ev, Ctx* cur, Ctx* next,
                                               absl::Status* error) {
  // Advanceable once this thread's P has left the syscall state (by
  // ProcStop or ProcSteal), or when it has no P.
  if (cur->p != kNoP) {
    auto pit = ps_.find(cur->p);
    if (pit == ps_.end()) {
      return Fail(error, absl::StrCat("uninitialized proc ", S(cur->p),
                                      " found during ",
                                      format::GoEventString(ev->type_)));
    }
    if (pit->second.status == kProcSyscall) return kNotYet;
  }
  if (!CheckCtx(*cur, kMust, kMay, kMust, error)) return kFail;
  auto it = gs_.find(cur->g);
  if (it == gs_.end()) {
    return Fail(error, absl::StrCat("event ", format::GoEventString(ev->type_),
                                    " for goroutine (", S(cur->g),
                                    ") that doesn't exist"));
  }
  if (it->second.status != kGoSyscall) {
    return Fail(error, absl::StrCat(format::GoEventString(ev->type_),
                                    " event for goroutine that's not Running"));
  }
  next->g = kNoG;
  it->second.status = kGoRunnable;
  Push(*ev, *cur);
  return kOk;
}

Ordering::Result Ordering::GoCreateSyscall(Event* ev, uint64_t gen, Ctx* cur,
                                           Ctx* next, absl::Status* error) {
  // A goroutine that appears in a syscall: a C thread calling into Go.
  if (!CheckCtx(*cur, kMust, kMay, kMustNot, error)) return kFail;
  const uint64_t gid = ev->args_[0];
  GState s;
  s.status = kGoSyscall;
  s.seq = Seq{gen, 0};
  ++gs_epoch_;
  if (!gs_.emplace(gid, std::move(s)).second) {
    return Fail(error, absl::StrCat("tried to create goroutine (", S(gid),
                                    ") in syscall that already exists"));
  }
  next->g = gid;
  Push(*ev, *cur);
  return kOk;
}

Ordering::Result Ordering::GoDestroySyscall(Event* ev, Ctx* cur, Ctx* next,
                                            absl::Status* error) {
  // A goroutine of a C thread goes away; the thread also gives up its P
  // (its id may be reused by a new thread that must not own that P).
  if (!CheckCtx(*cur, kMust, kMay, kMust, error)) return kFail;
  auto it = gs_.find(cur->g);
  if (it == gs_.end()) {
    return Fail(error, absl::StrCat("event ", format::GoEventString(ev->type_),
                                    " for goroutine (", S(cur->g),
                                    ") that doesn't exist"));
  }
  if (it->second.status != kGoSyscall) {
    return Fail(error, absl::StrCat(format::GoEventString(ev->type_),
                                    " event for goroutine that's not Syscall"));
  }
  EraseG(it);
  next->g = kNoG;
  if (cur->p != kNoP) {
    auto pit = ps_.find(cur->p);
    if (pit == ps_.end()) {
      return Fail(error,
                  absl::StrCat("found invalid proc ", S(cur->p), " during ",
                               format::GoEventString(ev->type_)));
    }
    if (pit->second.status != kProcSyscall) {
      return Fail(error,
                  absl::StrCat("proc ", S(cur->p), " in unexpected state ",
                               ProcStatusString(pit->second.status), " during ",
                               format::GoEventString(ev->type_)));
    }
    pit->second.status = kProcSyscallAbandoned;
    next->p = kNoP;
    // Report the P's loss as a steal by this thread.
    Event steal = *ev;
    steal.args_ = {};
    steal.type_ = kEvProcSteal;
    steal.args_[0] = cur->p;
    steal.args_[3] = kProcSyscall;
    Push(steal, *cur);
  }
  Push(*ev, *cur);
  return kOk;
}

// ------------------------------------------------------------ annotations

Ordering::Result Ordering::UserTaskBegin(Event* ev, Ctx* cur,
                                         absl::Status* error) {
  // Tasks need no begin to be referenced and may end many times; the one
  // thing to check is that a task does not begin while active.
  const uint64_t id = ev->args_[0];
  if (tasks_.contains(id)) {
    return Fail(error, absl::StrCat("task ID conflict: ", id));
  }
  // Parent 0 means "no parent" (not the background task).
  uint64_t parent = ev->args_[1];
  if (parent == kBackgroundTask) {
    parent = kNoTaskId;
    ev->args_[1] = kNoTaskId;
  }
  const absl::string_view* name = ev->gen_->FindString(ev->args_[2]);
  if (name == nullptr) {
    return Fail(error, absl::StrCat("invalid string ID ", ev->args_[2], " for ",
                                    ev->type_, " event"));
  }
  tasks_.emplace(id, TaskState{*name, parent});
  if (!CheckCtx(*cur, kMust, kMust, kMust, error)) return kFail;
  Push(*ev, *cur);
  return kOk;
}

Ordering::Result Ordering::UserTaskEnd(Event* ev, Ctx* cur,
                                       absl::Status* error) {
  auto it = tasks_.find(ev->args_[0]);
  if (it != tasks_.end()) {
    // The begin may be in an earlier generation: pass its facts along.
    ev->args_[2] = it->second.parent;
    ev->aux_ = it->second.name;
    tasks_.erase(it);
  } else {
    ev->args_[2] = kNoTaskId;
    ev->aux_ = absl::string_view();
  }
  if (!CheckCtx(*cur, kMust, kMust, kMust, error)) return kFail;
  Push(*ev, *cur);
  return kOk;
}

Ordering::Result Ordering::UserRegion(Event* ev, Ctx* cur,
                                      absl::Status* error) {
  if (!CheckCtx(*cur, kMust, kMust, kMust, error)) return kFail;
  const uint64_t task = ev->args_[0];
  const absl::string_view* name = ev->gen_->FindString(ev->args_[1]);
  if (name == nullptr) {
    return Fail(error, absl::StrCat("invalid string ID ", ev->args_[1], " for ",
                                    ev->type_, " event"));
  }
  const bool begin = ev->type_ == kEvUserRegionBegin;
  auto it = gs_.find(cur->g);
  if (it == gs_.end()) {
    return Fail(error,
                absl::StrCat("encountered ",
                             begin ? "EvUserRegionBegin" : "EvUserRegionEnd",
                             " without known state for current "
                             "goroutine ",
                             S(cur->g)));
  }
  std::vector<Region>& regions = Extra(it).regions;
  if (begin) {
    regions.push_back(Region{task, *name});
  } else if (!regions.empty()) {
    // Regions are compared by task and name text: string ids change
    // between generations. An end with no region open began before the
    // trace did.
    const Region& top = regions.back();
    if (top.task != task || top.name != *name) {
      return Fail(error,
                  absl::StrCat("misuse of region in goroutine ", S(cur->g),
                               ": region end {", task, " ", *name,
                               "} when the inner-most active region start "
                               "event is {",
                               top.task, " ", top.name, "}"));
    }
    regions.pop_back();
  }
  Push(*ev, *cur);
  return kOk;
}

// -------------------------------------------------------------------- GC

// GC cycles carry a global sequence number on begin, active and end: they
// may happen on different threads, and this ties each end to its begin.
Ordering::Result Ordering::GCActive(Event* ev, uint64_t gen, Ctx* cur,
                                    absl::Status* error) {
  const uint64_t seq = ev->args_[0];
  if (gen == initial_gen_) {
    if (gc_state_ != GcState::kUndetermined) {
      return Fail(error,
                  "GCActive in the first generation isn't first GC event");
    }
    gc_seq_ = seq;
    gc_state_ = GcState::kRunning;
    Push(*ev, *cur);
    return kOk;
  }
  if (seq != gc_seq_ + 1) return kNotYet;
  if (gc_state_ != GcState::kRunning) {
    return Fail(error, "encountered GCActive while GC was not in progress");
  }
  gc_seq_ = seq;
  if (!CheckCtx(*cur, kMust, kMust, kMust, error)) return kFail;
  Push(*ev, *cur);
  return kOk;
}

Ordering::Result Ordering::GCBegin(Event* ev, Ctx* cur, absl::Status* error) {
  const uint64_t seq = ev->args_[0];
  if (gc_state_ == GcState::kUndetermined) {
    gc_seq_ = seq;
    gc_state_ = GcState::kRunning;
    Push(*ev, *cur);
    return kOk;
  }
  if (seq != gc_seq_ + 1) return kNotYet;
  if (gc_state_ == GcState::kRunning) {
    return Fail(error, "encountered GCBegin while GC was already in progress");
  }
  gc_seq_ = seq;
  gc_state_ = GcState::kRunning;
  if (!CheckCtx(*cur, kMust, kMust, kMust, error)) return kFail;
  Push(*ev, *cur);
  return kOk;
}

Ordering::Result Ordering::GCEnd(Event* ev, Ctx* cur, absl::Status* error) {
  const uint64_t seq = ev->args_[0];
  if (seq != gc_seq_ + 1) return kNotYet;
  if (gc_state_ == GcState::kNotRunning) {
    return Fail(error, "encountered GCEnd when GC was not in progress");
  }
  if (gc_state_ == GcState::kUndetermined) {
    return Fail(error,
                "encountered GCEnd when GC was in an undetermined state");
  }
  gc_seq_ = seq;
  gc_state_ = GcState::kNotRunning;
  if (!CheckCtx(*cur, kMust, kMust, kMust, error)) return kFail;
  Push(*ev, *cur);
  return kOk;
}

// ---------------------------------------------------------- special ranges

Ordering::RangeType Ordering::MakeRangeType(uint8_t type, uint64_t desc) {
  const EventSpec* spec = LookupSpec(type);
  if (spec != nullptr && spec->start_type != kEvNone) type = spec->start_type;
  return RangeType{type, desc};
}

Ordering::Result Ordering::BeginRange(std::vector<RangeType>* r, RangeType t,
                                      absl::Status* error) {
  if (std::find(r->begin(), r->end(), t) != r->end()) {
    return Fail(error, absl::StrCat("discovered event already in-flight for "
                                    "when starting event ",
                                    SpecName(t.type)));
  }
  r->push_back(t);
  return kOk;
}

Ordering::Result Ordering::ActiveRange(std::vector<RangeType>* r, RangeType t,
                                       bool initial, absl::Status* error) {
  const bool has = std::find(r->begin(), r->end(), t) != r->end();
  if (initial) {
    // In the first generation an Active event introduces the range.
    if (has) {
      return Fail(error,
                  absl::StrCat("found named active range already in first "
                               "gen: {",
                               t.type, " ", t.desc, "}"));
    }
    r->push_back(t);
  } else if (!has) {
    std::vector<std::string> in_flight;
    for (const RangeType& x : *r) {
      in_flight.push_back(absl::StrCat("{", x.type, " ", x.desc, "}"));
    }
    return Fail(error, absl::StrCat("resource is missing active range: ",
                                    SpecName(t.type), " [",
                                    absl::StrJoin(in_flight, " "), "]"));
  }
  return kOk;
}

Ordering::Result Ordering::EndRange(std::vector<RangeType>* r, uint8_t type,
                                    uint64_t* desc, absl::Status* error) {
  const EventSpec* spec = LookupSpec(type);
  const uint8_t start =
      spec == nullptr ? uint8_t{kEvNone} : uint8_t{spec->start_type};
  for (size_t i = 0; i < r->size(); ++i) {
    if ((*r)[i].type == start) {
      *desc = (*r)[i].desc;
      // Go removes by swapping with the last element.
      std::swap((*r)[i], r->back());
      r->pop_back();
      return kOk;
    }
  }
  return Fail(error, absl::StrCat("tried to end event ", SpecName(start),
                                  ", but not in-flight"));
}

Ordering::Result Ordering::GCSweep(Event* ev, uint64_t gen, Ctx* cur,
                                   absl::Status* error) {
  // Sweeping belongs to a P, not a goroutine.
  if (ev->type_ == kEvGCSweepActive) {
    // The P named need not be this thread's (Go is lenient here).
    const uint64_t pid = ev->args_[0];
    auto it = ps_.find(pid);
    if (it == ps_.end()) {
      return Fail(error, absl::StrCat("encountered GCSweepActive for unknown "
                                      "proc ",
                                      S(pid)));
    }
    Result r = ActiveRange(&it->second.ranges, MakeRangeType(ev->type_, 0),
                           gen == initial_gen_, error);
    if (r != kOk) return r;
    Push(*ev, *cur);
    return kOk;
  }
  if (!CheckCtx(*cur, kMust, kMust, kMay, error)) return kFail;
  auto it = ps_.find(cur->p);
  if (it == ps_.end()) {
    return Fail(error,
                absl::StrCat("uninitialized proc ", S(cur->p), " found during ",
                             format::GoEventString(ev->type_)));
  }
  Result r;
  if (ev->type_ == kEvGCSweepBegin) {
    r = BeginRange(&it->second.ranges, MakeRangeType(ev->type_, 0), error);
  } else {
    uint64_t desc;
    r = EndRange(&it->second.ranges, ev->type_, &desc, error);
  }
  if (r != kOk) return r;
  Push(*ev, *cur);
  return kOk;
}

Ordering::Result Ordering::GoRange(Event* ev, uint64_t gen, Ctx* cur,
                                   absl::Status* error) {
  const uint8_t type = ev->type_;
  if (type == kEvGCMarkAssistActive) {
    // Like a status, this may name a goroutine that is not running.
    const uint64_t gid = ev->args_[0];
    auto it = gs_.find(gid);
    if (it == gs_.end()) {
      return Fail(error,
                  absl::StrCat("uninitialized goroutine ", S(gid),
                               " found during ", format::GoEventString(type)));
    }
    Result r = ActiveRange(&Extra(it).ranges, MakeRangeType(type, 0),
                           gen == initial_gen_, error);
    if (r != kOk) return r;
    Push(*ev, *cur);
    return kOk;
  }
  if (!CheckCtx(*cur, kMust, kMust, kMust, error)) return kFail;
  auto it = gs_.find(cur->g);
  if (it == gs_.end()) {
    return Fail(
        error,
        absl::StrCat("encountered event of type ", type,
                     " without known state for current goroutine ", S(cur->g)));
  }
  Result r;
  if (type == kEvSTWBegin || type == kEvGCMarkAssistBegin) {
    const uint64_t desc = type == kEvSTWBegin ? ev->args_[0] : 0;
    r = BeginRange(&Extra(it).ranges, MakeRangeType(type, desc), error);
  } else {
    uint64_t desc = 0;
    r = EndRange(&Extra(it).ranges, type, &desc, error);
    // STWEnd reports the kind its STWBegin had (as a string id of the
    // begin's generation, looked up in this one, as Go does).
    if (r == kOk && type == kEvSTWEnd) ev->args_[0] = desc;
  }
  if (r != kOk) return r;
  Push(*ev, *cur);
  return kOk;
}

// ------------------------------------------------------------------ misc

void Ordering::CarryNames() {
  std::deque<std::string> carried;
  absl::flat_hash_map<absl::string_view, absl::string_view> copies;
  auto carry = [&](absl::string_view* s) {
    if (s->empty()) {
      *s = absl::string_view();
      return;
    }
    auto it = copies.find(*s);
    if (it == copies.end()) {
      carried.emplace_back(*s);
      it = copies.emplace(carried.back(), carried.back()).first;
    }
    *s = it->second;
  };
  for (auto& [id, t] : tasks_) carry(&t.name);
  for (auto& [id, x] : gx_) {
    for (Region& r : x.regions) carry(&r.name);
  }
  carried_.swap(carried);
}

std::string Ordering::Dump(size_t limit) const {
  std::string out;
  std::vector<uint64_t> ids;
  ids.reserve(gs_.size());
  for (const auto& [id, g] : gs_) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  size_t n = 0;
  for (uint64_t id : ids) {
    if (n++ == limit) {
      absl::StrAppend(&out, "... and ", ids.size() - limit, " more\n");
      break;
    }
    const GState& g = gs_.at(id);
    absl::StrAppend(&out, "G ", S(id), " [status=", GoStatusString(g.status),
                    " seq=", SeqString(g.seq.seq, g.seq.gen), "]\n");
  }
  out += "\n";
  ids.clear();
  for (const auto& [id, p] : ps_) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  for (uint64_t id : ids) {
    const PState& p = ps_.at(id);
    absl::StrAppend(&out, "P ", S(id), " [status=", ProcStatusString(p.status),
                    " seq=", SeqString(p.seq.seq, p.seq.gen), "]\n");
  }
  out += "\n";
  for (const MState& m : ms_) {
    absl::StrAppend(&out, "M ", S(m.id), " [g=", S(m.g), " p=", S(m.p), "]\n");
  }
  out += "\n";
  static constexpr absl::string_view kGc[3] = {"Undetermined", "NotRunning",
                                               "Running"};
  absl::StrAppend(&out, "GC ", gc_seq_, " ", kGc[static_cast<int>(gc_state_)],
                  "\n");
  return out;
}

size_t Ordering::MemoryUsage() const {
  size_t n = gs_.capacity() * (sizeof(uint64_t) + sizeof(GState) + 1);
  n += gx_.capacity() * (sizeof(uint64_t) + sizeof(GExtra) + 1);
  for (const auto& [id, x] : gx_) {
    n += x.regions.capacity() * sizeof(Region) +
         x.ranges.capacity() * sizeof(RangeType);
  }
  n += ps_.capacity() * (sizeof(uint64_t) + sizeof(PState) + 1);
  n += m_index_.capacity() * (sizeof(uint64_t) + sizeof(uint32_t) + 1);
  n += ms_.capacity() * sizeof(MState);
  n += tasks_.capacity() * (sizeof(uint64_t) + sizeof(TaskState) + 1);
  n += queue_.capacity() * sizeof(Event);
  for (const std::string& s : carried_) n += s.capacity();
  return n;
}

}  // namespace gentrace::reader
