// The advancer; see advancer.h.
#include "tracer/internal/advancer.h"

#include <sched.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "format/gentrace_batch.h"
#include "tracer/internal/clock.h"
#include "tracer/internal/goroutines.h"
#include "tracer/internal/info_records.h"
#include "tracer/internal/module_list.h"
#include "tracer/internal/thread_registry.h"
#include "tracer/internal/trace_locker.h"
#include "tracer/internal/trace_state.h"
#include "tracer/internal/trace_tables.h"
#include "tracer/internal/tracecpu.h"
#include "tracer/internal/writer.h"

namespace gentrace::internal {
namespace {

// A P no thread ever gets; it fills otherwise empty generations.
constexpr uint64_t kFillerProc = 0;

// With GENTRACE_DEBUG=1 in the environment, the advancer reports on stderr
// what each generation's end cost (for diagnosing slow generations).
void DebugLog(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void DebugLog(const char* fmt, ...) {
  static const bool on = [] {
    const char* v = std::getenv("GENTRACE_DEBUG");
    return v != nullptr && v[0] == '1';
  }();
  if (!on) return;
  char line[256];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  std::fprintf(stderr, "gentrace: [%.3f] %s\n",
               static_cast<double>(MonotonicNanos() % 1000000000000ull) / 1e9,
               line);
}

}  // namespace

void Advancer::BeginSession(uint64_t first_gen, const Options& options) {
  period_ = options.generation_period;
  cpu_on_ = options.cpu.enabled;
  session_ = g_trace.session();
  gen_start_time_ = OrderedNow();  // tracecpu.h C5
  g_trace.SetGen(first_gen);
}

void Advancer::StartThread(std::function<void()> setup) {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = false;
    exited_ = false;
  }
  thread_ = std::thread([this, setup = std::move(setup)] {
    setup();
    Loop();
  });
}

void Advancer::StopAndJoin() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();  // it runs the final Advance(stop=true)
}

void Advancer::Wake() {
  std::lock_guard<std::mutex> l(mu_);
  cv_.notify_all();
}

void Advancer::Loop() {
  // Symbolizing the first generation's stacks would otherwise load debug
  // information then, making that generation long.
  const uint64_t t0 = MonotonicNanos();
  parts_.tables->WarmUp();
  DebugLog("warm-up %.1f ms", (MonotonicNanos() - t0) / 1e6);
  Writer& writer = *parts_.writer;
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    cv_.wait_for(l, absl::ToChronoNanoseconds(period_), [&] {
      return stop_ || writer.failed() || requested_ > served_;
    });
    const bool stop = stop_ || writer.failed();
    // Every AdvanceNow request made so far is served by this advance: the
    // generation current when it was made ends here (or ended earlier).
    const uint64_t serving = requested_;
    l.unlock();
    {
      std::lock_guard<std::mutex> cl(*parts_.control_mu);
      Advance(stop);
    }
    l.lock();
    served_ = serving;
    if (stop) exited_ = true;
    done_cv_.notify_all();
    if (stop) return;
  }
}

absl::Status Advancer::AdvanceNow() {
  std::unique_lock<std::mutex> l(mu_);
  if (exited_ || stop_ || g_trace.gen() == 0) {
    return absl::FailedPreconditionError("tracing is not on");
  }
  const uint64_t ticket = ++requested_;
  cv_.notify_all();
  done_cv_.wait(l, [&] { return served_ >= ticket || exited_; });
  if (parts_.writer->failed()) {
    // The advancer stops tracing next (it saw the failure, or sees it now);
    // return once it has, so the caller finds tracing off.
    cv_.notify_all();
    done_cv_.wait(l, [this] { return exited_; });
    l.unlock();  // the writer takes its lock, then mu_
    const absl::Status error = parts_.writer->error();
    return absl::Status(
        error.code(), absl::StrCat("tracing stopped: the destination failed: ",
                                   error.message()));
  }
  if (served_ < ticket) {
    return absl::FailedPreconditionError(
        "tracing stopped before the generation ended");
  }
  return absl::OkStatus();
}

void Advancer::Advance(bool stop) {
  const uint64_t gen = g_trace.gen();
  if (gen == 0) return;
  const uint64_t t_begin = MonotonicNanos();
  DebugLog("advance gen %llu begins", static_cast<unsigned long long>(gen));

  const Silent silent = NoteSilent(gen);          // 1
  const Switch sw = SwitchGeneration(gen, stop);  // 2
  WriteFrequency(gen);                            // 3
  FlushThreads(gen);                              // 4 (I2)
  SweepStatuses(gen, silent);                     // 5
  const uint64_t t_flushed = MonotonicNanos();
  // 6. CPU samples of `gen` (tracecpu.h C3: before the stack table).
  CpuGenerationInfo cpu;
  if (cpu_on_) cpu = parts_.cpu->FinishGeneration(gen, sw.next_start, stop);
  WriteInfoBatch(gen, sw.end, cpu_on_ ? &cpu : nullptr);  // 7
  parts_.tables->WriteAndReset(gen);                      // 8, 9
  // 10. I3: the writer may now finish `gen`; wait until it has, so at most
  //     two generations are ever in memory.
  parts_.writer->CompleteGeneration(gen);
  gen_start_time_ = sw.next_start;
  DebugLog("advance gen %llu: flush+sweep %.2f ms, tables %.2f ms",
           static_cast<unsigned long long>(gen), (t_flushed - t_begin) / 1e6,
           (MonotonicNanos() - t_flushed) / 1e6);

  Reclaim(gen, stop);
  if (stop) parts_.writer->Finish();
}

Advancer::Silent Advancer::NoteSilent(uint64_t gen) {
  // 1. Note every G and P whose status has not been written in `gen`, and
  //    its state, before switching (I5): if it stays silent for the rest of
  //    gen, this is its state for all of gen.
  Silent silent;
  auto note_g = [&](GState* g) {
    std::lock_guard<SpinLock> gl(g->mu);
    if (g->traced_gen[gen & 1] != gen && g->state != format::kGoBad &&
        !g->dead.load(std::memory_order_relaxed) &&
        (!g->fiber || g->session == session_)) {
      silent.gs.push_back({g, g->state, g->m});
    }
  };
  parts_.threads->ForEach([&](ThreadState* ts) {
    if (ts->session != session_ ||
        !ts->created_flag.load(std::memory_order_acquire) ||
        ts->exited.load(std::memory_order_acquire)) {
      return;
    }
    if (ts->proc_traced_gen[gen & 1].load(std::memory_order_relaxed) != gen) {
      silent.procs.push_back(
          {ts, ts->proc_state.load(std::memory_order_relaxed)});
    }
    note_g(&ts->own_g);
  });
  parts_.goroutines->ForEachFiber(note_g);
  return silent;
}

Advancer::Switch Advancer::SwitchGeneration(uint64_t gen, bool stop) {
  // 2. Switch the generation (or turn tracing off).
  //    The next generation starts just before the switch and this one
  //    ends just after it (tracecpu.h C5).
  Switch sw;
  sw.next_start = OrderedNow();
  if (stop) g_enabled.store(false, std::memory_order_relaxed);
  g_trace.SetGen(stop ? 0 : gen + 1);
  sw.end = OrderedNow();
  return sw;
}

void Advancer::WriteFrequency(uint64_t gen) {
  // 3. The generation's clock frequency.
  TraceBuf* b = parts_.writer->NewBuf(gen, format::kNoThread);
  b->Byte(format::kEvFrequency);
  b->Varint(g_clock.ticks_per_second);
  parts_.writer->FlushBuf(b);
}

void Advancer::FlushThreads(uint64_t gen) {
  // 4. Flush every thread's buffers of `gen` once it has left gen (I2).
  //    Threads registering from now on see the new generation.
  //    A thread has left gen once its seqlock was even, or has changed
  //    since the switch (the hold that may have read gen has ended; any
  //    later hold reads the new generation). Waiting for a change, not for
  //    an even value, matters for threads that are almost always inside
  //    the tracer.
  struct Pending {
    ThreadState* ts;
    uint64_t seq;
  };
  std::vector<Pending> pending;
  parts_.threads->ForEach([&](ThreadState* ts) {
    pending.push_back({ts, ts->seqlock.load(std::memory_order_seq_cst)});
  });
  Writer& writer = *parts_.writer;
  while (!pending.empty()) {
    size_t kept = 0;
    for (const Pending& p : pending) {
      ThreadState* ts = p.ts;
      if (p.seq % 2 != 0 &&
          ts->seqlock.load(std::memory_order_acquire) == p.seq) {
        pending[kept++] = p;  // still in the hold it was in; come back
        continue;
      }
      std::lock_guard<std::mutex> fl(ts->flush_mu);
      if (TraceBuf* b = ts->buf[gen & 1]) writer.FlushBuf(b);
      if (TraceBuf* b = ts->sbuf[gen & 1]) writer.FlushBuf(b);
      ts->buf[gen & 1] = ts->sbuf[gen & 1] = nullptr;
    }
    pending.resize(kept);
    if (!pending.empty()) sched_yield();
  }
}

void Advancer::SweepStatuses(uint64_t gen, const Silent& silent) {
  // 5. Statuses of whatever stayed silent in `gen` (MAPPING.md rule 3).
  //    A P, and a G running or in a syscall on a thread, go into a batch of
  //    that thread, so they bind to it; waiting and runnable Gs into a
  //    NoThread batch. A thread with a silent G bound to it was silent
  //    itself (writing any event writes its statuses), so nothing else of
  //    that thread is in `gen` after these.
  Writer& writer = *parts_.writer;
  absl::flat_hash_map<uint64_t, TraceBuf*> batches;
  auto buf = [&](uint64_t m) {
    TraceBuf*& b = batches[m];
    if (b == nullptr || b->available() < kMaxEventBytes) {
      if (b != nullptr) writer.FlushBuf(b);
      b = writer.NewBuf(gen, m);
    }
    return b;
  };
  // The sweep's events go to many batches within a few ticks; distinct
  // times keep their order the same for every reader (Go's moves one of
  // two equal times by a tick, whichever batch it reads first).
  uint64_t sweep_time = 0;
  auto at = [&sweep_time] {
    sweep_time = std::max(Now(), sweep_time + 1);
    return sweep_time;
  };
  for (const SilentProc& p : silent.procs) {
    ThreadState* ts = p.ts;
    if (ts->proc_traced_gen[gen & 1].load(std::memory_order_relaxed) != gen) {
      TraceBuf* b = buf(static_cast<uint64_t>(ts->tid));
      EmitAt(b, at(), format::kEvProcStatus, ts->proc, p.state);
    }
  }
  for (const SilentG& u : silent.gs) {
    std::lock_guard<SpinLock> gl(u.g->mu);
    if (u.g->traced_gen[gen & 1] == gen) continue;
    const bool bound =
        u.state == format::kGoRunning || u.state == format::kGoSyscall;
    TraceBuf* b = buf(bound ? u.m : format::kNoThread);
    EmitAt(b, at(), format::kEvGoStatus, u.g->id,
           bound ? u.m : format::kNoThread, u.state);
    u.g->traced_gen[gen & 1] = gen;
  }
  for (auto& [m, b] : batches) writer.FlushBuf(b);
  // Go's reader rejects a generation without a single event ("frontier
  // is empty"). If no thread wrote anything in `gen` and nothing was
  // swept, say that P 0, which no thread ever gets, is idle.
  if (batches.empty() && !parts_.goroutines->AnyThreadWrote(gen)) {
    TraceBuf* b = writer.NewBuf(gen, format::kNoThread);
    Emit(b, format::kEvProcStatus, kFillerProc, format::kProcIdle);
    writer.FlushBuf(b);
  }
}

void Advancer::WriteInfoBatch(uint64_t gen, uint64_t end_time,
                              const CpuGenerationInfo* cpu) {
  // 7. Thread names and ids, the sampler's figures and the loaded
  //    modules, for this generation (gentrace's own batch).
  Writer& writer = *parts_.writer;
  TableWriter w(
      0,
      [&writer, gen] {
        return writer.NewBuf(gen, format::kNoThread,
                             format::kExperimentGentraceInfo);
      },
      [&writer](TraceBuf* b) { writer.FlushBuf(b); });
  {
    format::GenerationRecord span;
    span.start = gen_start_time_;
    span.end = end_time;
    WriteInfoRecord(span, &w);
  }
  if (cpu != nullptr) parts_.cpu->WriteInfoRecords(*cpu, &w);
  // Reading names from /proc happens without the registry's lock, so
  // threads can register meanwhile; the states stay allocated (only this
  // thread, the advancer, frees them: I7).
  std::vector<ThreadState*> threads;
  parts_.threads->ForEach([&](ThreadState* ts) {
    if (ts->session == session_ &&
        ts->created_flag.load(std::memory_order_acquire)) {
      threads.push_back(ts);
    }
  });
  for (ThreadState* ts : threads) {
    format::ThreadRecord thread;
    thread.thread = static_cast<uint64_t>(ts->tid);
    thread.proc = ts->proc;
    thread.goroutine = ts->own_g.id;
    thread.name = parts_.threads->RefreshName(ts);
    WriteInfoRecord(thread, &w);
  }
  parts_.goroutines->ForEachFiber([&](GState* g) {
    if (g->session != session_ || g->dead.load(std::memory_order_acquire)) {
      return;
    }
    format::FiberRecord fiber;
    fiber.goroutine = g->id;
    fiber.name = g->name;
    WriteInfoRecord(fiber, &w);
  });
  // The loaded modules, read afresh: modules may have been loaded since
  // the last advance. The crash path writes the same encoded records for
  // the next generation if it completes it (module_list.h M2).
  parts_.modules->Refresh();
  parts_.modules->ForEachEncoded([&w](absl::Span<const uint8_t> record) {
    WriteEncodedInfoRecord(record, &w);
  });
}

void Advancer::Reclaim(uint64_t gen, bool stop) {
  // I8: free the fibers nothing points to any more (dropping their links
  // to their resumers, which may then be freed next time), then the
  // threads (I7).
  parts_.goroutines->ReclaimFibers();
  parts_.threads->ReclaimExited(gen, stop);
}

}  // namespace gentrace::internal
