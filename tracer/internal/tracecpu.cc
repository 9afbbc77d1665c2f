// CPU-profile samples in the trace; see tracecpu.h for the invariants.
#include "tracer/internal/tracecpu.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/sys.h"
#include "format/gentrace_batch.h"
#include "format/spec.h"
#include "tracer/internal/clock.h"
#include "tracer/internal/info_records.h"
#include "tracer/internal/thread_registry.h"

namespace gentrace::internal {
namespace {

std::atomic<const CpuSampleHooksForTesting*> g_hooks{nullptr};

cpusample::Source ToSource(CpuProfileOptions::Source s) {
  switch (s) {
    case CpuProfileOptions::Source::kThreadTimer:
      return cpusample::Source::kThreadTimer;
    case CpuProfileOptions::Source::kProcessTimer:
      return cpusample::Source::kProcessTimer;
    case CpuProfileOptions::Source::kPerfEvent:
      return cpusample::Source::kPerfEvent;
    case CpuProfileOptions::Source::kAuto:
      break;
  }
  return cpusample::Source::kAuto;
}

cpusample::PerfEvent ToEvent(CpuProfileOptions::Event e) {
  switch (e) {
    case CpuProfileOptions::Event::kTaskClock:
      return cpusample::PerfEvent::kTaskClock;
    case CpuProfileOptions::Event::kCycles:
      return cpusample::PerfEvent::kCycles;
    case CpuProfileOptions::Event::kInstructions:
      return cpusample::PerfEvent::kInstructions;
    case CpuProfileOptions::Event::kCacheMisses:
      return cpusample::PerfEvent::kCacheMisses;
    case CpuProfileOptions::Event::kBranchMisses:
      return cpusample::PerfEvent::kBranchMisses;
    case CpuProfileOptions::Event::kCpuClock:
      break;
  }
  return cpusample::PerfEvent::kCpuClock;
}

const char* EventName(cpusample::PerfEvent e) {
  switch (e) {
    case cpusample::PerfEvent::kCpuClock:
      return "cpu-clock";
    case cpusample::PerfEvent::kTaskClock:
      return "task-clock";
    case cpusample::PerfEvent::kCycles:
      return "cycles";
    case cpusample::PerfEvent::kInstructions:
      return "instructions";
    case cpusample::PerfEvent::kCacheMisses:
      return "cache-misses";
    case cpusample::PerfEvent::kBranchMisses:
      return "branch-misses";
  }
  return "?";
}

}  // namespace

void SetCpuSampleHooksForTesting(const CpuSampleHooksForTesting* hooks) {
  g_hooks.store(hooks, std::memory_order_release);
}

CpuProfiler::~CpuProfiler() { Stop(); }

absl::Status CpuProfiler::Start(const CpuProfileOptions& options) {
  if (options.buffer_bytes < (64 << 10) || options.buffer_bytes > (1u << 30)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "CpuProfileOptions::buffer_bytes must be in [64 KiB, 1 GiB], got ",
        options.buffer_bytes));
  }
  options_ = options;
  for (int i = 0; i < 2; ++i) {
    rings_[i] = std::make_unique<cpusample::SampleRing>(options.buffer_bytes);
    cpu_buf_[i] = nullptr;
    taken_[i] = excess_[i] = 0;
    dropped_[i].store(0);
  }
  {
    std::lock_guard<std::mutex> l(internal_mu_);
    internal_threads_.clear();
  }
  total_taken_.store(0);
  total_lost_.store(0);
  cpusample::SamplerOptions so;
  so.source = ToSource(options.source);
  so.hz = options.hz;
  so.period = options.period;
  so.event = ToEvent(options.event);
  so.sample_unattached_threads = options.sample_unknown_threads;
  if (absl::Status s =
          cpusample::Sampler::Start(so, &CpuProfiler::OnSample, this);
      !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("CPU profiling: ", s.message()));
  }
  switch (cpusample::Sampler::active_source()) {
    case cpusample::Source::kThreadTimer:
      source_ = format::kSamplerThreadTimer;
      break;
    case cpusample::Source::kProcessTimer:
      source_ = format::kSamplerProcessTimer;
      break;
    case cpusample::Source::kPerfEvent:
      source_ = format::kSamplerPerfEvent;
      break;
    default:
      source_ = format::kSamplerNone;
  }
  event_name_ = source_ == format::kSamplerPerfEvent
                    ? EventName(cpusample::Sampler::active_event())
                    : "";
  hz_ = static_cast<uint64_t>(cpusample::Sampler::effective_hz());
  period_ = cpusample::Sampler::effective_period();
  running_ = true;
  accepting_threads_.store(true);
  reader_stop_ = false;
  reader_ = std::thread([this] { ReaderLoop(); });
  return absl::OkStatus();
}

void CpuProfiler::Stop() {
  if (!running_) return;
  cpusample::Sampler::Stop();  // no callback runs after this
  {
    std::lock_guard<std::mutex> l(reader_mu_);
    reader_stop_ = true;
  }
  reader_cv_.notify_all();
  reader_.join();
  accepting_threads_.store(false);
  running_ = false;
}

void CpuProfiler::NoteInternalThread(const char* name) {
  // C6: this thread takes the SIGPROFs it causes, even if the thread that
  // started tracing had SIGPROF blocked (threads inherit the mask).
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPROF);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  if (!accepting_threads_.load()) return;
  std::lock_guard<std::mutex> l(internal_mu_);
  internal_threads_.emplace_back(base::GetTid(), name);
}

std::string CpuProfiler::source_description() const {
  if (source_ == format::kSamplerNone) return "";
  return cpusample::Sampler::selection_report();
}

void CpuProfiler::OnSample(const cpusample::Sample& s, void* arg) {
  // Async-signal-safe: atomics, the clock and the lock-free ring only.
  auto* self = static_cast<CpuProfiler*>(arg);
  const TraceState& trace = *self->trace_;
  ThreadState* ts = tls_thread;
  const bool traced = IsThreadState(ts) && ts->session == trace.session();
  const CpuSampleHooksForTesting* hooks =
      g_hooks.load(std::memory_order_acquire);
  bool took_seqlock = false;
  if (traced) {
    // C1: take the thread's seqlock, or elide it when the interrupted code
    // is inside the tracer and holds it already.
    if ((ts->seqlock.load(std::memory_order_relaxed) & 1) == 0) {
      ts->seqlock.fetch_add(1, std::memory_order_seq_cst);
      took_seqlock = true;
    }
  } else {
    self->in_flight_.fetch_add(1, std::memory_order_seq_cst);
  }
  // C5: stamp between two reads of the generation that agree. A second
  // switch cannot happen meanwhile (it waits for this hold), so this loops
  // at most twice.
  uint64_t gen = trace.gen_seq_cst();
  uint64_t now = 0;
  while (gen != 0) {
    if (hooks != nullptr && hooks->before_stamp != nullptr) {
      hooks->before_stamp(gen);
    }
    now = OrderedNow();
    const uint64_t again = trace.gen_seq_cst();
    if (again == gen) break;
    gen = again;
  }
  const uint64_t weight = std::max<uint64_t>(s.weight, 1);
  if (gen != 0) {
    cpusample::SampleRecord r;
    r.timestamp = now;
    r.tid = static_cast<uint64_t>(s.tid);
    r.p = traced ? ts->proc : format::kNoProc;
    r.g = traced ? ts->running_goid.load(std::memory_order_relaxed) : 0;
    r.weight = weight;
    r.nframes = static_cast<uint32_t>(s.depth);
    if (!self->rings_[gen & 1]->TryWrite(r, s.pcs)) {
      self->dropped_[gen & 1].fetch_add(weight, std::memory_order_relaxed);
    }
  }
  if (hooks != nullptr && hooks->placed != nullptr) {
    hooks->placed(gen, s.tid, now, weight);
  }
  if (took_seqlock) {
    ts->seqlock.store(ts->seqlock.load(std::memory_order_relaxed) + 1,
                      std::memory_order_release);
  } else if (!traced) {
    self->in_flight_.fetch_sub(1, std::memory_order_release);
  }
}

void CpuProfiler::ReaderLoop() {
  // C6: the reader takes its own samples. It makes no system call that
  // SIGPROF could cut short (condition variable waits restart).
  NoteInternalThread("gentrace CPU reader");
  std::unique_lock<std::mutex> l(reader_mu_);
  while (!reader_cv_.wait_for(l, std::chrono::milliseconds(100),
                              [this] { return reader_stop_; })) {
    l.unlock();
    reader_seq_.fetch_add(1, std::memory_order_seq_cst);  // C2
    const uint64_t gen = trace_->gen();
    if (gen != 0) Drain(gen);
    reader_seq_.store(reader_seq_.load(std::memory_order_relaxed) + 1,
                      std::memory_order_release);
    l.lock();
  }
}

void CpuProfiler::Drain(uint64_t gen) {
  cpusample::SampleRing& ring = *rings_[gen & 1];
  ring.Drain([&](const cpusample::SampleRecord& r, const uintptr_t* pcs) {
    const uint64_t stack =
        host_->PutSampleStack(gen, pcs, static_cast<int>(r.nframes));
    // C4: one event per period up to the cap, the rest counted as lost.
    // The periods' own times are unknown (the kernel reports them all at
    // once, at a tick): every copy carries the sample's time.
    const uint64_t weight = std::max<uint64_t>(r.weight, 1);
    const uint64_t copies = std::min(weight, kMaxCopiesPerSample);
    excess_[gen & 1] += weight - copies;
    for (uint64_t c = 0; c < copies; ++c) {
      TraceBuf*& b = cpu_buf_[gen & 1];
      if (b == nullptr || b->available() < kMaxEventBytes) {
        if (b != nullptr) host_->FlushSampleBuf(b);
        b = host_->NewSampleBuf(gen);
        b->Byte(format::kEvCPUSamples);
      }
      b->Byte(format::kEvCPUSample);
      b->Varint(r.timestamp);
      b->Varint(r.tid);
      b->Varint(r.p);
      b->Varint(r.g);
      b->Varint(stack);
      ++taken_[gen & 1];
    }
  });
}

void CpuProfiler::FlushCpuBuf(uint64_t gen) {
  TraceBuf*& b = cpu_buf_[gen & 1];
  if (b != nullptr) {
    host_->FlushSampleBuf(b);
    b = nullptr;
  }
}

CpuGenerationInfo CpuProfiler::FinishGeneration(uint64_t gen) {
  // C1, C2: wait until nothing can write into or drain buffer gen%2. The
  // traced threads' seqlocks were waited on by the advancer already.
  while (in_flight_.load(std::memory_order_acquire) != 0 ||
         (reader_seq_.load(std::memory_order_acquire) & 1) != 0) {
    sched_yield();
  }
  Drain(gen);        // C3: the old generation's profile buffer,
  FlushCpuBuf(gen);  // then the CPU-sample trace buffers.
  CpuGenerationInfo info;
  info.source = source_;
  info.hz = hz_;
  info.period = period_;
  info.event = event_name_;
  info.taken = taken_[gen & 1];
  info.lost = excess_[gen & 1] +
              dropped_[gen & 1].exchange(0, std::memory_order_acq_rel);
  taken_[gen & 1] = excess_[gen & 1] = 0;
  total_taken_.fetch_add(info.taken);
  total_lost_.fetch_add(info.lost);
  return info;
}

void CpuProfiler::WriteInfoRecords(const CpuGenerationInfo& info,
                                   TableWriter* w) {
  format::SamplerRecord sampler;
  sampler.source = info.source;
  sampler.hz = info.hz;
  sampler.period = info.period;
  sampler.samples_taken = info.taken;
  sampler.samples_lost = info.lost;
  sampler.event = info.event;
  WriteInfoRecord(sampler, w);
  std::lock_guard<std::mutex> l(internal_mu_);
  for (const auto& [tid, name] : internal_threads_) {
    format::ThreadRecord thread;
    thread.thread = static_cast<uint64_t>(tid);
    thread.proc = format::kNoProc;
    thread.goroutine = 0;  // gentrace's threads run no goroutine
    thread.name = name;
    WriteInfoRecord(thread, w);
  }
}

}  // namespace gentrace::internal
