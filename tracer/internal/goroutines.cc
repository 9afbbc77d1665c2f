// Goroutines: statuses, blocking, syscalls, fibers and coroutines; see
// goroutines.h for the invariants.
#include "tracer/internal/goroutines.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "tracer/internal/stack_table.h"
#include "tracer/internal/string_table.h"
#include "tracer/internal/thread_registry.h"
#include "tracer/internal/trace_locker.h"
#include "tracer/internal/trace_tables.h"

namespace gentrace::internal {

void Goroutines::WriteThreadStatus(TraceLocker& tl, TraceBuf* b) {
  // I4: the thread's first event in this generation. Write its P's and
  // G's statuses (or, the first time in this trace, the events that bring
  // them into existence) before anything else.
  ThreadState* ts = tl.thread();
  const uint64_t gen = tl.gen();
  gen_active_[gen & 1].store(gen, std::memory_order_relaxed);
  const uint64_t tid = static_cast<uint64_t>(ts->tid);
  GState& g = ts->own_g;
  ts->proc_traced_gen[gen & 1].store(gen, std::memory_order_relaxed);
  if (!ts->created) {
    if (ts->proc_reused) {
      // The parser last saw this P idle, after its previous thread ended.
      Emit(b, format::kEvProcStatus, ts->proc, format::kProcIdle);
      Emit(b, format::kEvProcStart, ts->proc, 1);
      ts->proc_seq = 1;
    } else {
      Emit(b, format::kEvProcStatus, ts->proc, format::kProcRunning);
      ts->proc_seq = 0;
    }
    std::string name;
    {
      std::lock_guard<std::mutex> nl(ts->name_mu);
      name = ts->name.empty() ? absl::StrCat("thread ", ts->tid) : ts->name;
    }
    // The frame named after the thread, then (as a return address, the
    // form every frame after the first has) its start routine, if known:
    // Go names a goroutine after the root frame, as it names its own after
    // their start function.
    const uintptr_t frames[2] = {SyntheticFramePc(name), ts->start_pc + 1};
    const uint64_t new_stack =
        tables_->PutStack(gen, frames, ts->start_pc != 0 ? 2 : 1, true);
    std::lock_guard<SpinLock> gl(g.mu);
    Emit(b, format::kEvGoCreate, g.id, new_stack, 0);
    g.traced_gen[gen & 1] = gen;
    g.seq[gen & 1] = 1;
    Emit(b, format::kEvGoStart, g.id, 1);
    g.state = format::kGoRunning;
    g.m = tid;
    ts->created = true;
    ts->created_flag.store(true, std::memory_order_release);
    return;
  }
  Emit(b, format::kEvProcStatus, ts->proc,
       ts->proc_state.load(std::memory_order_relaxed));
  ts->proc_seq = 0;
  {
    std::lock_guard<SpinLock> gl(g.mu);
    EnsureGStatus(tl, b, &g);
  }
  // A fiber running here binds to this thread too: its status goes here.
  if (GState* cur = ts->cur_g; cur != nullptr && cur != &g) {
    std::lock_guard<SpinLock> gl(cur->mu);
    EnsureGStatus(tl, b, cur);
  }
}

void Goroutines::EnsureGStatus(TraceLocker& tl, TraceBuf* b, GState* g) {
  const uint64_t gen = tl.gen();
  if (g->traced_gen[gen & 1] == gen) return;
  const bool bound =
      g->state == format::kGoRunning || g->state == format::kGoSyscall;
  Emit(b, format::kEvGoStatus, g->id, bound ? g->m : format::kNoThread,
       g->state);
  g->traced_gen[gen & 1] = gen;
  g->seq[gen & 1] = 0;
}

void Goroutines::StartHere(TraceLocker& tl, TraceBuf* b, GState* g,
                           uint64_t stack, bool adopt_ref) {
  const uint64_t gen = tl.gen();
  EnsureGStatus(tl, b, g);
  if (g->state == format::kGoWaiting) {
    Emit(b, format::kEvGoUnblock, g->id, ++g->seq[gen & 1], stack);
    g->state = format::kGoRunnable;
  }
  Emit(b, format::kEvGoStart, g->id, ++g->seq[gen & 1]);
  g->state = format::kGoRunning;
  g->m = static_cast<uint64_t>(tl.thread()->tid);
  if (!adopt_ref) Ref(g);
  SetCurrentG(tl.thread(), g);
}

bool Goroutines::Block(TraceLocker& tl, absl::string_view reason, void* fp,
                       uint64_t at) {
  ThreadState* ts = tl.thread();
  GState* g = ts->cur_g;
  if (g == nullptr) return false;
  const uint64_t reason_id = tables_->StringId(tl, reason);
  const uint64_t stack = tables_->StackId(tl, stacks_.blocking, fp);
  TraceBuf* b = tl.Reserve(2 * kMaxEventBytes);
  if (!BlockRunning(tl, b, g, reason_id, stack, /*scope=*/true, at)) {
    return false;
  }
  ts->blocked_g = g;  // cur_g's reference moves here
  return true;
}

bool Goroutines::BlockRunning(TraceLocker& tl, TraceBuf* b, GState* g,
                              uint64_t reason_id, uint64_t stack, bool scope,
                              uint64_t at) {
  std::lock_guard<SpinLock> gl(g->mu);
  if (g->state != format::kGoRunning) return false;
  EnsureGStatus(tl, b, g);
  EmitAt(b, at != 0 ? at : Now(), format::kEvGoBlock, reason_id, stack);
  g->state = format::kGoWaiting;
  g->m = format::kNoThread;
  g->scope_blocked = scope;
  SetCurrentG(tl.thread(), nullptr);
  return true;
}

void Goroutines::Unblock(TraceLocker& tl, void* fp) {
  ThreadState* ts = tl.thread();
  GState* g = ts->blocked_g;
  if (g == nullptr || ts->cur_g != nullptr) return;
  ts->blocked_g = nullptr;
  const uint64_t stack = tables_->StackId(tl, stacks_.blocking, fp);
  TraceBuf* b = tl.Reserve(3 * kMaxEventBytes);
  bool started = false;
  {
    std::lock_guard<SpinLock> gl(g->mu);
    g->scope_blocked = false;
    if (g->state == format::kGoWaiting || g->state == format::kGoRunnable) {
      StartHere(tl, b, g, stack, /*adopt_ref=*/true);  // blocked_g's
      started = true;
    }
  }
  if (!started) Unref(g);  // blocked_g's, which nothing took over
  // A fiber whose handle went away while it was blocked ends now (I10).
  if (ts->cur_g != nullptr && ts->cur_g->released.load()) {
    EndReleasedFibers(tl);
  }
}

bool Goroutines::EnterSyscall(TraceLocker& tl, void* fp, uint64_t at) {
  ThreadState* ts = tl.thread();
  GState* g = ts->cur_g;
  if (g == nullptr) return false;
  const uint64_t stack = tables_->StackId(tl, stacks_.syscalls, fp);
  TraceBuf* b = tl.Reserve(2 * kMaxEventBytes);
  std::lock_guard<SpinLock> gl(g->mu);
  if (g->state != format::kGoRunning) return false;
  EnsureGStatus(tl, b, g);
  EmitAt(b, at != 0 ? at : Now(), format::kEvGoSyscallBegin, ++ts->proc_seq,
         stack);
  g->state = format::kGoSyscall;
  ts->proc_state.store(format::kProcSyscall, std::memory_order_relaxed);
  return true;
}

void Goroutines::ExitSyscall(TraceLocker& tl) {
  ThreadState* ts = tl.thread();
  GState* g = ts->cur_g;
  if (g == nullptr) return;
  TraceBuf* b = tl.Reserve(2 * kMaxEventBytes);
  {
    std::lock_guard<SpinLock> gl(g->mu);
    if (g->state != format::kGoSyscall) return;
    EnsureGStatus(tl, b, g);
    Emit(b, format::kEvGoSyscallEnd);
    g->state = format::kGoRunning;
    ts->proc_state.store(format::kProcRunning, std::memory_order_relaxed);
  }
  // A fiber whose handle went away during the syscall ends now (I10).
  if (g->released.load()) EndReleasedFibers(tl);
}

namespace {
// The reason a G gives while a fiber it resumed runs on its thread.
constexpr absl::string_view kRunningFiber = "running fiber";
constexpr absl::string_view kFiberYield = "yield";
}  // namespace

GState* Goroutines::FiberCreate(TraceLocker& tl, absl::string_view name,
                                bool blocked, void* fp) {
  ThreadState* ts = tl.thread();
  GState* cur = ts->cur_g;
  // GoCreate needs a P, which every traced thread has, and a running G if
  // any: not from a thread blocked in a ScopedBlock.
  if (cur == nullptr) return nullptr;
  auto* g = new GState();
  g->id = next_goid_.fetch_add(1, std::memory_order_relaxed);
  g->fiber = true;
  g->name = std::string(StringTable::Truncate(name));
  g->session = ts->session;
  g->state = blocked ? format::kGoWaiting : format::kGoRunnable;
  g->refs.store(1, std::memory_order_relaxed);  // the user's handle
  const uint64_t gen = tl.gen();
  const uintptr_t synthetic = SyntheticFramePc(name);
  const uint64_t new_stack = tables_->PutStack(gen, &synthetic, 1, true);
  const uint64_t stack = tables_->StackId(tl, stacks_.fibers, fp);
  TraceBuf* b = tl.Reserve(2 * kMaxEventBytes);
  {
    std::lock_guard<SpinLock> cl(cur->mu);
    EnsureGStatus(tl, b, cur);
  }
  Emit(b, blocked ? format::kEvGoCreateBlocked : format::kEvGoCreate, g->id,
       new_stack, stack);
  g->traced_gen[gen & 1] = gen;  // created in gen: seq starts at 0
  g->seq[gen & 1] = 0;
  std::lock_guard<std::mutex> l(fibers_mu_);
  g->next = fibers_;
  fibers_ = g;
  return g;
}

namespace {
// Whether `g` may start running on a thread that asks for it. Under g->mu.
bool Resumable(const GState* g) {
  return (g->state == format::kGoRunnable || g->state == format::kGoWaiting) &&
         !g->scope_blocked && !g->dead.load(std::memory_order_relaxed);
}
}  // namespace

bool Goroutines::FiberResume(TraceLocker& tl, GState* fiber, void* fp) {
  ThreadState* ts = tl.thread();
  GState* cur = ts->cur_g;
  if (cur == nullptr || cur == fiber || fiber->session != ts->session) {
    return false;
  }
  {
    std::lock_guard<SpinLock> fl(fiber->mu);
    if (!Resumable(fiber)) return false;
  }
  const uint64_t reason = tables_->StringId(tl, kRunningFiber);
  const uint64_t stack = tables_->StackId(tl, stacks_.fibers, fp);
  TraceBuf* b = tl.Reserve(4 * kMaxEventBytes);
  if (!BlockRunning(tl, b, cur, reason, stack, /*scope=*/false)) return false;
  // cur_g's reference to cur is ours now; the fiber's resumer link takes
  // one of its own.
  bool resumed = false;
  GState* old_link = nullptr;
  {
    std::lock_guard<SpinLock> fl(fiber->mu);
    if (Resumable(fiber)) {
      StartHere(tl, b, fiber, stack);
      old_link = SetResumer(fiber, cur);
      resumed = true;
    }
  }
  if (!resumed) {
    // Resumed elsewhere meanwhile (a misuse): take our own G back.
    std::lock_guard<SpinLock> cl(cur->mu);
    StartHere(tl, b, cur, 0);
  }
  Unref(old_link);
  Unref(cur);
  return resumed;
}

bool Goroutines::FiberLeave(TraceLocker& tl, GState* fiber,
                            format::EventType how, absl::string_view reason,
                            void* fp) {
  ThreadState* ts = tl.thread();
  if (ts->cur_g != fiber || fiber == &ts->own_g) return false;
  const uint64_t reason_id =
      how == format::kEvGoDestroy ? 0 : tables_->StringId(tl, reason);
  const uint64_t stack = how == format::kEvGoDestroy
                             ? 0
                             : tables_->StackId(tl, stacks_.fibers, fp);
  TraceBuf* b = tl.Reserve(4 * kMaxEventBytes);
  GState* back = nullptr;  // with the fiber's resumer link's reference
  {
    std::lock_guard<SpinLock> fl(fiber->mu);
    if (fiber->state != format::kGoRunning) return false;
    EnsureGStatus(tl, b, fiber);
    if (how == format::kEvGoDestroy) {
      Emit(b, format::kEvGoDestroy);
      fiber->state = format::kGoBad;
      fiber->dead.store(true, std::memory_order_release);
    } else {
      Emit(b, how, reason_id, stack);
      fiber->state =
          how == format::kEvGoStop ? format::kGoRunnable : format::kGoWaiting;
    }
    fiber->m = format::kNoThread;
    back = SetResumer(fiber, nullptr);
    SetCurrentG(ts, nullptr);
  }
  // Run the G that resumed the fiber again; if it has ended (or cannot
  // run here), the thread's own G.
  GState* run[2] = {back, &ts->own_g};
  for (GState* g : run) {
    if (g == nullptr || g->dead.load(std::memory_order_acquire)) continue;
    std::lock_guard<SpinLock> gl(g->mu);
    if ((g->state == format::kGoWaiting || g->state == format::kGoRunnable) &&
        !g->scope_blocked) {
      StartHere(tl, b, g, 0);
      break;
    }
  }
  Unref(back);
  Unref(fiber);  // cur_g's
  return true;
}

void Goroutines::EndReleasedFibers(TraceLocker& tl) {
  ThreadState* ts = tl.thread();
  for (GState* g = ts->cur_g;
       g != nullptr && g->fiber && g->released.load(std::memory_order_acquire);
       g = ts->cur_g) {
    // Not while in a syscall: ExitSyscall comes back here.
    if (!FiberLeave(tl, g, format::kEvGoDestroy, "", nullptr)) return;
  }
}

bool Goroutines::FiberWake(TraceLocker& tl, GState* fiber, void* fp) {
  ThreadState* ts = tl.thread();
  if (fiber->session != ts->session) return false;
  const uint64_t stack = tables_->StackId(tl, stacks_.fibers, fp);
  TraceBuf* b = tl.Reserve(2 * kMaxEventBytes);
  std::lock_guard<SpinLock> fl(fiber->mu);
  if (fiber->state != format::kGoWaiting ||
      fiber->dead.load(std::memory_order_relaxed)) {
    return false;
  }
  // The waker writes the woken G's status if this generation has none yet
  // (Go's emitUnblockStatus, MAPPING.md rule 2).
  EnsureGStatus(tl, b, fiber);
  Emit(b, format::kEvGoUnblock, fiber->id, ++fiber->seq[tl.gen() & 1], stack);
  fiber->state = format::kGoRunnable;
  return true;
}

bool Goroutines::CoroutineSwitch(TraceLocker& tl, GState* target,
                                 bool destroy_current) {
  ThreadState* ts = tl.thread();
  GState* cur = ts->cur_g;
  if (cur == nullptr || cur == target || target->session != ts->session ||
      (destroy_current && !cur->fiber)) {
    return false;
  }
  // Switching back to the G that switched into cur (Yield, Return) ends
  // cur's resumer link; switching into another G makes cur its resumer.
  const bool back = target == cur->resumer;
  const uint64_t gen = tl.gen();
  TraceBuf* b = tl.Reserve(3 * kMaxEventBytes);
  GState* dropped[2] = {nullptr, nullptr};
  {
    // Two G locks: the running one, then the waiting target. No one holds
    // a waiting G's lock while taking a running one's, so no cycle.
    std::lock_guard<SpinLock> cl(cur->mu);
    std::lock_guard<SpinLock> tlk(target->mu);
    if (cur->state != format::kGoRunning ||
        target->state != format::kGoWaiting || target->scope_blocked ||
        target->dead.load(std::memory_order_relaxed)) {
      return false;
    }
    EnsureGStatus(tl, b, cur);
    EnsureGStatus(tl, b, target);
    Emit(b, destroy_current ? format::kEvGoSwitchDestroy : format::kEvGoSwitch,
         target->id, ++target->seq[gen & 1]);
    if (destroy_current) {
      cur->state = format::kGoBad;
      cur->dead.store(true, std::memory_order_release);
    } else {
      cur->state = format::kGoWaiting;
    }
    if (back || destroy_current) dropped[0] = SetResumer(cur, nullptr);
    if (!back && !destroy_current) dropped[1] = SetResumer(target, cur);
    cur->m = format::kNoThread;
    target->state = format::kGoRunning;
    target->m = static_cast<uint64_t>(ts->tid);
    Ref(target);
    SetCurrentG(ts, target);
  }
  Unref(dropped[0]);
  Unref(dropped[1]);
  Unref(cur);  // cur_g's
  return true;
}

GState* Goroutines::SetResumer(GState* fiber, GState* resumer) {
  GState* old = fiber->resumer;
  fiber->resumer = resumer;
  if (resumer != nullptr) Ref(resumer);
  return old;
}

void Goroutines::FiberRelease(GState* fiber) {
  // I10. From now on, a thread that runs the fiber ends it: one that runs
  // it now (or switches into it, through a resumer link, at any moment)
  // does so at its next traced event.
  {
    std::lock_guard<SpinLock> fl(fiber->mu);
    fiber->released.store(true, std::memory_order_release);
  }
  // End it here: if it runs here, TraceLocker ends it; if it is on no
  // thread, run it here briefly and end it.
  if (ThreadState* ts = threads_->CurrentThread(); ts != nullptr) {
    TraceLocker tl(ts);
    if (tl.ok() && ts->cur_g != fiber && FiberResume(tl, fiber, nullptr)) {
      EndReleasedFibers(tl);
    }
  }
  {
    std::lock_guard<SpinLock> fl(fiber->mu);
    // Still on no thread (tracing is off, this thread cannot run it, ...):
    // it never runs again, and stays in the trace as it was last seen.
    const bool on_thread = fiber->state == format::kGoRunning ||
                           fiber->state == format::kGoSyscall ||
                           fiber->scope_blocked;
    if (!on_thread) fiber->dead.store(true, std::memory_order_release);
  }
  Unref(fiber);  // the handle's
}

void Goroutines::EndThread(TraceLocker& tl) {
  ThreadState* ts = tl.thread();
  // Fibers left running here leave first, down to the thread's own G: one
  // whose handle is gone ends, the others yield (they stay runnable, to be
  // resumed elsewhere). A block or syscall scope left open ends.
  for (GState* cur = ts->cur_g; cur != nullptr && cur != &ts->own_g;
       cur = ts->cur_g) {
    const bool end = cur->released.load(std::memory_order_acquire);
    if (!FiberLeave(tl, cur, end ? format::kEvGoDestroy : format::kEvGoStop,
                    kFiberYield, nullptr)) {
      break;
    }
  }
  if (ts->cur_g == nullptr) Unblock(tl, nullptr);
  TraceBuf* b = tl.Reserve(4 * kMaxEventBytes);
  GState& g = ts->own_g;
  std::lock_guard<SpinLock> gl(g.mu);
  EnsureGStatus(tl, b, &g);
  if (g.state == format::kGoSyscall) {
    Emit(b, format::kEvGoSyscallEnd);
    g.state = format::kGoRunning;
  } else if (g.state == format::kGoWaiting || g.state == format::kGoRunnable) {
    StartHere(tl, b, &g, 0);
  }
  if (g.state == format::kGoRunning) {
    Emit(b, format::kEvGoDestroy);
    Emit(b, format::kEvProcStop);
  }
  g.state = format::kGoBad;
}

void Goroutines::ReclaimFibers() {
  std::lock_guard<std::mutex> l(fibers_mu_);
  GState** link = &fibers_;
  while (GState* g = *link) {
    if (g->refs.load(std::memory_order_acquire) == 0) {
      *link = g->next;
      Unref(g->resumer);
      delete g;
    } else {
      link = &g->next;
    }
  }
}

}  // namespace gentrace::internal
