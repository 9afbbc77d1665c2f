// CPU-profile samples in the trace; see tracecpu.h for the invariants.
#include "tracer/internal/tracecpu.h"

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/sys.h"
#include "cpusample/perf_event_spec.h"
#include "cpusample/ring_sampler.h"
#include "format/gentrace_batch.h"
#include "format/spec.h"
#include "tracer/internal/clock.h"
#include "tracer/internal/info_records.h"
#include "tracer/internal/thread_registry.h"

namespace gentrace::internal {
namespace {

std::atomic<const CpuSampleHooksForTesting*> g_hooks{nullptr};
std::atomic<bool> g_ring_reader_paused{false};

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

// Ring sizes from the rate (CpuProfileOptions::ring_pages = 0).
constexpr size_t kMinRingPages = 8;
constexpr size_t kMaxRingPages = 64;
constexpr double kRingBytesPerSample = 300;

}  // namespace

void PauseRingReaderForTesting(bool paused) {
  g_ring_reader_paused.store(paused, std::memory_order_release);
}

void SetCpuSampleHooksForTesting(const CpuSampleHooksForTesting* hooks) {
  g_hooks.store(hooks, std::memory_order_release);
}

CpuProfiler::~CpuProfiler() { Stop(); }

// CpuProfileOptions::events against the single-event options: at most
// kMaxEvents, named, and not both.
static absl::Status CheckEvents(const CpuProfileOptions& options) {
  if (options.events.empty()) return absl::OkStatus();
  if (options.events.size() > CpuProfileOptions::kMaxEvents) {
    return absl::InvalidArgumentError(
        absl::StrCat("at most ", CpuProfileOptions::kMaxEvents,
                     " perf events at once, got ", options.events.size()));
  }
  if (!options.event_name.empty()) {
    return absl::InvalidArgumentError(
        "set either event_name or events, not both");
  }
  for (const CpuProfileOptions::NamedEvent& e : options.events) {
    if (e.name.empty()) {
      return absl::InvalidArgumentError("an event of `events` has no name");
    }
  }
  return absl::OkStatus();
}

absl::Status CpuProfiler::Start(const CpuProfileOptions& options) {
  if (options.buffer_bytes < (64 << 10) || options.buffer_bytes > (1u << 30)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "CpuProfileOptions::buffer_bytes must be in [64 KiB, 1 GiB], got ",
        options.buffer_bytes));
  }
  if (absl::Status s = CheckEvents(options); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("CPU profiling: ", s.message()));
  }
  options_ = options;
  for (int i = 0; i < 2; ++i) {
    // The SIGPROF buffers only with signals: signal-free, nothing runs in
    // a handler and the rings are the kernel's.
    rings_[i].reset();
    if (!options.signal_free) {
      rings_[i] = std::make_unique<cpusample::SampleRing>(options.buffer_bytes);
    }
    cpu_buf_[i] = nullptr;
    info_buf_[i] = nullptr;
    taken_[i] = excess_[i] = 0;
    dropped_[i].store(0);
  }
  ring_events_.clear();
  {
    std::lock_guard<std::mutex> l(event_totals_mu_);
    event_totals_.clear();
  }
  {
    std::lock_guard<std::mutex> l(internal_mu_);
    internal_threads_.clear();
  }
  total_taken_.store(0);
  total_lost_.store(0);
  total_clamped_.store(0);
  signal_free_ = options.signal_free;
  if (signal_free_) {
    if (absl::Status s = StartSignalFree(options); !s.ok()) {
      return absl::Status(s.code(),
                          absl::StrCat("CPU profiling: ", s.message()));
    }
  } else if (absl::Status s = StartSignals(options); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("CPU profiling: ", s.message()));
  }
  running_ = true;
  accepting_threads_.store(true);
  reader_stop_ = false;
  // Paused until the reader runs its own code (cpusample/sampler.h).
  cpusample::Sampler::WithProcessTimerPaused(
      1, [this](std::atomic<int>* begun) {
        reader_ = std::thread([this, begun] {
          begun->fetch_add(1);
          ReaderLoop();
        });
      });
  return absl::OkStatus();
}

absl::Status CpuProfiler::StartSignals(const CpuProfileOptions& options) {
  if (options.events.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        options.events.size(),
        " perf events at once need signal_free (perf rings, which tag each "
        "sample with its event); with signals, ask for one"));
  }
  cpusample::SamplerOptions so;
  so.source = ToSource(options.source);
  so.hz = options.hz;
  so.period =
      options.events.empty() ? options.period : options.events[0].period;
  so.event = ToEvent(options.event);
  so.sample_unattached_threads = options.sample_unknown_threads;
  const std::string& event_name =
      options.events.empty() ? options.event_name : options.events[0].name;
  if (!event_name.empty()) {
    absl::StatusOr<cpusample::PerfEventSpec> spec =
        cpusample::ResolvePerfEvent(event_name);
    if (!spec.ok()) return spec.status();
    so.named_event = *spec;
  }
  if (absl::Status s =
          cpusample::Sampler::Start(so, &CpuProfiler::OnSample, this);
      !s.ok()) {
    return s;
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
                    ? cpusample::Sampler::active_event_name()
                    : "";
  hz_ = static_cast<uint64_t>(cpusample::Sampler::effective_hz());
  period_ = cpusample::Sampler::effective_period();
  return absl::OkStatus();
}

absl::Status CpuProfiler::StartSignalFree(const CpuProfileOptions& options) {
  if (options.source != CpuProfileOptions::Source::kAuto &&
      options.source != CpuProfileOptions::Source::kPerfEvent) {
    return absl::InvalidArgumentError(
        "signal_free needs source kPerfEvent or kAuto (it uses perf "
        "counters)");
  }
  if (options.hz < 1 || options.hz > 100000) {
    return absl::InvalidArgumentError(
        absl::StrCat("hz must be in [1, 100000], got ", options.hz));
  }
  if (options.ring_pages != 0 &&
      (options.ring_pages & (options.ring_pages - 1)) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ring_pages must be 0 (from the rate) or a power of two, got ",
        options.ring_pages));
  }
  // The single-event options are a list of one.
  std::vector<CpuProfileOptions::NamedEvent> asked = options.events;
  if (asked.empty()) asked.push_back({options.event_name, options.period});
  std::vector<cpusample::PerfRingEvent> events;
  for (const CpuProfileOptions::NamedEvent& e : asked) {
    cpusample::PerfRingEvent ev;
    if (e.name.empty()) {
      ev.spec = cpusample::SpecOf(ToEvent(options.event));
    } else {
      absl::StatusOr<cpusample::PerfEventSpec> spec =
          cpusample::ResolvePerfEvent(e.name);
      if (!spec.ok()) return spec.status();
      ev.spec = *spec;
    }
    if (e.period != 0) {
      ev.period = e.period;
    } else if (ev.spec.clock) {
      ev.period = 1000000000 / static_cast<uint64_t>(options.hz);
    } else {
      ev.freq = static_cast<uint64_t>(options.hz);
    }
    events.push_back(ev);
  }
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    return absl::InternalError(absl::StrCat("signal-free sampling: eventfd: ",
                                            base::ErrnoText(errno)));
  }
  cpusample::RingSamplerOptions ro;
  ro.events = events;
  ro.ring.data_pages =
      options.ring_pages != 0 ? options.ring_pages : RingPagesForRate(events);
  ro.ring.max_callchain = cpusample::kMaxFrames;
  ro.ring.clock = CLOCK_MONOTONIC;
  // A session that ended without its final drain (tracing failed) may
  // have left the rings open.
  cpusample::RingSampler::Stop();
  if (absl::Status s = cpusample::RingSampler::Start(ro); !s.ok()) {
    close(wake_fd_);
    wake_fd_ = -1;
    return s;
  }
  {
    std::lock_guard<std::mutex> l(ring_mu_);
    gen_start_ = 0;
    started_gen_ = 0;
    pending_.clear();
    for (int p = 0; p < 2; ++p) {
      for (size_t i = 0; i < CpuProfileOptions::kMaxEvents; ++i) {
        event_taken_[p][i] = event_lost_[p][i] = 0;
      }
    }
    for (size_t i = 0; i < events.size(); ++i) {
      const cpusample::PerfRingEvent& ev = events[i];
      format::EventSamplerRecord r;
      r.event = i;
      r.name = ev.spec.name;
      r.period = ev.period;
      r.hz = ev.period == 0 ? ev.freq : 0;
      ring_events_.push_back(r);
    }
  }
  {
    std::lock_guard<std::mutex> l(event_totals_mu_);
    for (const cpusample::PerfRingEvent& ev : events) {
      Stats::CpuEventStats e;
      e.name = ev.spec.name;
      event_totals_.push_back(e);
    }
  }
  const cpusample::PerfRingEvent& primary = events[0];
  source_ = format::kSamplerPerfRing;
  event_name_ = primary.spec.name;
  hz_ = primary.period == 0 || primary.spec.clock
            ? static_cast<uint64_t>(options.hz)
            : 0;
  period_ = primary.period;
  return absl::OkStatus();
}

size_t RingPagesForRate(const std::vector<cpusample::PerfRingEvent>& events) {
  // Samples per second of every event: a clock's from its period (per
  // CPU-second); frequency mode's asked rate; for a count period the rate
  // is unknown (it depends on the program), taken as 1000.
  double rate = 0;
  for (const cpusample::PerfRingEvent& ev : events) {
    if (ev.period == 0) {
      rate += static_cast<double>(ev.freq);
    } else if (ev.spec.clock) {
      rate += 1e9 / static_cast<double>(ev.period);
    } else {
      rate += 1000;
    }
  }
  // Room for 100 ms (the reader's interval; it also wakes at a quarter
  // full) of samples of about 300 bytes (48 + 8 per frame: ~30 frames).
  const double bytes = rate / 10 * kRingBytesPerSample;
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  size_t pages = kMinRingPages;
  while (pages < kMaxRingPages && static_cast<double>(pages) * page < bytes) {
    pages *= 2;
  }
  return pages;
}

void CpuProfiler::Stop() {
  if (!running_) return;
  if (signal_free_) {
    // No sample after this; the rings keep theirs for the final
    // FinishGeneration, which closes them.
    cpusample::RingSampler::DisableAll();
  } else {
    cpusample::Sampler::Stop();  // no callback runs after this
  }
  {
    std::lock_guard<std::mutex> l(reader_mu_);
    reader_stop_ = true;
  }
  reader_cv_.notify_all();
  if (wake_fd_ >= 0) {
    const uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof(one));
  }
  reader_.join();
  if (wake_fd_ >= 0) {
    close(wake_fd_);
    wake_fd_ = -1;
  }
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

void CpuProfiler::ClearTotals() {
  total_taken_.store(0);
  total_lost_.store(0);
  total_clamped_.store(0);
  source_ = format::kSamplerNone;
  std::lock_guard<std::mutex> l(event_totals_mu_);
  event_totals_.clear();
}

std::vector<Stats::CpuEventStats> CpuProfiler::event_totals() const {
  std::lock_guard<std::mutex> l(event_totals_mu_);
  return event_totals_;
}

std::string CpuProfiler::source_description() const {
  if (source_ == format::kSamplerNone) return "";
  if (source_ == format::kSamplerPerfRing) {
    return cpusample::RingSampler::description();
  }
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
  if (signal_free_) {
    RingReaderLoop();
    return;
  }
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

void CpuProfiler::RingReaderLoop() {
  // Every 100 ms, or as soon as a ring is a quarter full (its fd polls
  // readable at the watermark), or when Stop writes wake_fd_.
  std::vector<pollfd> fds;
  for (;;) {
    fds.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    for (int fd : cpusample::RingSampler::PollFds()) {
      fds.push_back({fd, POLLIN, 0});
    }
    const int n = poll(fds.data(), fds.size(), 100);
    {
      std::lock_guard<std::mutex> l(reader_mu_);
      if (reader_stop_) return;
    }
    // Tracing may not have begun: the sampler starts before the clock is
    // initialized and the first generation published (Runtime::
    // StartTrace). A generation seen once means both are done.
    if (trace_->gen_seq_cst() != 0 &&
        !g_ring_reader_paused.load(std::memory_order_acquire)) {
      // C7: the limit first, then the generation.
      std::lock_guard<std::mutex> rl(ring_mu_);
      const uint64_t limit = OrderedNow();
      const uint64_t gen = trace_->gen_seq_cst();
      if (started_gen_ == 0) started_gen_ = gen;  // the first generation
      // Only once the advancer has finished gen-1 (and so set gen's
      // start); until then the samples wait in their rings.
      if (gen != 0 && gen == started_gen_) {
        DrainRings(gen, limit, /*last=*/false);
      }
    }
    // A ring whose thread has exited polls as hung up until it is
    // retired: do not spin on it.
    bool hup = false;
    for (size_t i = 1; n > 0 && i < fds.size(); ++i) {
      hup |= (fds[i].revents & (POLLHUP | POLLERR)) != 0;
    }
    if (hup) usleep(2000);
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
    WriteSample(gen, r.timestamp, r.tid, r.p, r.g, stack, copies);
  });
}

void CpuProfiler::WriteSample(uint64_t gen, uint64_t time, uint64_t tid,
                              uint64_t p, uint64_t g, uint64_t stack,
                              uint64_t copies) {
  for (uint64_t c = 0; c < copies; ++c) {
    TraceBuf*& b = cpu_buf_[gen & 1];
    if (b == nullptr || b->available() < kMaxEventBytes) {
      if (b != nullptr) host_->FlushSampleBuf(b);
      b = host_->NewSampleBuf(gen);
      b->Byte(format::kEvCPUSamples);
    }
    b->Byte(format::kEvCPUSample);
    b->Varint(time);
    b->Varint(tid);
    b->Varint(p);
    b->Varint(g);
    b->Varint(stack);
    ++taken_[gen & 1];
  }
}

void CpuProfiler::DrainRings(uint64_t gen, uint64_t limit, bool last) {
  // CLOCK_MONOTONIC ns to ticks. With the monotonic clock that is exact;
  // with the TSC, each time is carried back from a (ticks, ns) pair read
  // now, at the measured frequency (samples are at most a drain interval
  // old, so the error is that interval times the frequency's error).
  const uint64_t ticks0 = OrderedNow();
  const uint64_t ns_now = MonotonicNanos();
  const uint64_t ticks1 = OrderedNow();
  const uint64_t ticks_now = ticks0 + (ticks1 - ticks0) / 2;
  auto to_ticks = [&](uint64_t ns) -> uint64_t {
    if (g_clock.source == ClockSource::kMonotonic) return ns >> g_clock.shift;
    if (ns >= ns_now) return ticks_now;
    const unsigned __int128 back = static_cast<unsigned __int128>(ns_now - ns) *
                                   g_clock.ticks_per_second / 1000000000u;
    return back >= ticks_now ? 0 : ticks_now - static_cast<uint64_t>(back);
  };
  auto file = [&](uint64_t time, uint64_t tid, size_t event,
                  const uintptr_t* pcs, size_t n) {
    if (time > limit) {
      pending_.push_back(
          {time, tid, event, std::vector<uintptr_t>(pcs, pcs + n)});
      return;
    }
    if (time < gen_start_) {  // C7: its generation had ended; keep it
      time = gen_start_;
      total_clamped_.fetch_add(1, std::memory_order_relaxed);
    }
    const uint64_t stack = host_->PutSampleStack(gen, pcs, static_cast<int>(n));
    if (event == 0) {
      WriteSample(gen, time, tid, format::kNoProc, 0, stack, 1);
    } else {  // C8
      format::EventSampleRecord r;
      r.event = event;
      r.time = time;
      r.thread = tid;
      r.proc = format::kNoProc;  // the kernel knows the thread only
      r.goroutine = 0;
      r.stack = stack;
      WriteEventSample(gen, r);
    }
  };
  // Pending samples first (they are older than any still in a ring).
  std::vector<PendingSample> pending;
  pending.swap(pending_);
  for (const PendingSample& p : pending) {
    file(p.time, p.tid, p.event, p.pcs.data(), p.pcs.size());
  }
  const cpusample::PerfRingDrainStats d = cpusample::RingSampler::Drain(
      [&](const cpusample::PerfRingSample& s) {
        uintptr_t pcs[cpusample::kMaxFrames];
        size_t n = 0;
        for (size_t i = 0; i < s.callchain_size && n < cpusample::kMaxFrames;
             ++i) {
          pcs[n++] = static_cast<uintptr_t>(s.callchain[i]);
        }
        if (n == 0) pcs[n++] = static_cast<uintptr_t>(s.ip);
        file(to_ticks(s.time), static_cast<uint64_t>(s.tid), s.event, pcs, n);
      },
      last);
  for (size_t i = 0; i < d.lost_by_event.size() && i < ring_events_.size();
       ++i) {
    event_lost_[gen & 1][i] += d.lost_by_event[i];
  }
}

void CpuProfiler::WriteEventSample(uint64_t gen,
                                   const format::EventSampleRecord& r) {
  TraceBuf*& b = info_buf_[gen & 1];
  const size_t n = format::InfoRecordSize(r);
  if (b == nullptr || b->available() < n) {
    if (b != nullptr) host_->FlushSampleBuf(b);
    b = host_->NewSampleBuf(gen, format::kExperimentGentraceInfo);
  }
  b->pos =
      static_cast<uint32_t>(format::EncodeInfoRecord(r, b->cursor()) - b->data);
  ++event_taken_[gen & 1][r.event];
}

void CpuProfiler::FlushCpuBuf(uint64_t gen) {
  for (TraceBuf** b : {&cpu_buf_[gen & 1], &info_buf_[gen & 1]}) {
    if (*b != nullptr) {
      host_->FlushSampleBuf(*b);
      *b = nullptr;
    }
  }
}

CpuGenerationInfo CpuProfiler::FinishGeneration(uint64_t gen,
                                                uint64_t next_start,
                                                bool last) {
  uint64_t ring_lost = 0;
  std::vector<format::EventSamplerRecord> events;
  if (signal_free_) {
    // C7: every ring's samples up to the switch, under ring_mu_.
    std::lock_guard<std::mutex> rl(ring_mu_);
    if (started_gen_ == 0) started_gen_ = gen;  // no reader drain yet
    DrainRings(gen, next_start, last);
    FlushCpuBuf(gen);  // C3, C8
    gen_start_ = next_start;
    started_gen_ = gen + 1;
    uint64_t* lost = event_lost_[gen & 1];
    uint64_t* taken = event_taken_[gen & 1];
    if (last) {
      // The final generation: nothing can be taken any more (Stop
      // disabled the counters); what is left pending is past the end.
      for (const PendingSample& p : pending_) ++lost[p.event];
      pending_.clear();
      cpusample::RingSampler::Stop();
    }
    ring_lost = lost[0];
    taken[0] = taken_[gen & 1];  // the primary's are CPUSample events
    std::lock_guard<std::mutex> l(event_totals_mu_);
    for (size_t i = 0; i < ring_events_.size(); ++i) {
      format::EventSamplerRecord r = ring_events_[i];
      r.samples_taken = taken[i];
      r.samples_lost = lost[i];
      taken[i] = lost[i] = 0;
      if (i < event_totals_.size()) {
        event_totals_[i].samples += r.samples_taken;
        event_totals_[i].lost += r.samples_lost;
      }
      events.push_back(std::move(r));
    }
  } else {
    // C1, C2: wait until nothing can write into or drain buffer gen%2.
    // The traced threads' seqlocks were waited on by the advancer already.
    while (in_flight_.load(std::memory_order_acquire) != 0 ||
           (reader_seq_.load(std::memory_order_acquire) & 1) != 0) {
      sched_yield();
    }
    Drain(gen);        // C3: the old generation's profile buffer,
    FlushCpuBuf(gen);  // then the CPU-sample trace buffers.
  }
  CpuGenerationInfo info;
  info.source = source_;
  info.hz = hz_;
  info.period = period_;
  info.event = event_name_;
  info.events = std::move(events);
  info.taken = taken_[gen & 1];
  info.lost = ring_lost + excess_[gen & 1] +
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
  for (const format::EventSamplerRecord& e : info.events) {
    WriteInfoRecord(e, w);
  }
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
