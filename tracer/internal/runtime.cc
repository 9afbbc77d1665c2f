// The tracer runtime: Start, Stop, statistics, fork and exit; see
// runtime.h for the parts and the invariants each keeps.
#include "tracer/internal/runtime.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cpusample/sampler.h"
#include "format/header.h"
#include "tracer/internal/clock.h"
#include "tracer/internal/sink.h"

namespace gentrace {
namespace internal {

std::atomic<bool> g_enabled{false};
TraceState g_trace;

// True on gentrace's own threads (the advancer, and the writer, which runs
// Options::callback): Start, Stop and AdvanceNow there would wait for the
// calling thread itself. Initial-exec with external linkage, like
// tls_thread (thread_registry.cc).
__attribute__((
    tls_model("initial-exec"))) thread_local bool tls_gentrace_thread = false;
// True while the thread is inside Start, Stop or AdvanceNow.
__attribute__((tls_model("initial-exec"))) thread_local bool tls_in_control =
    false;

namespace {

pthread_once_t g_once = PTHREAD_ONCE_INIT;

// Set when gentrace's exit handler runs: no trace starts after it (its
// threads would run while the process tears itself down).
std::atomic<bool> g_exiting{false};

void AtExitStop() {
  g_exiting.store(true);
  Runtime::Get().StopAll();
}

// The calls that start, stop and advance tracing, and why one may have to
// be refused (CheckControlCaller).
enum ControlOp {
  kOpStart,
  kOpStop,
  kOpAdvanceNow,
  kOpRecorderStart,
  kOpRecorderStop,
  kOpWriteTo,
  kNumOps
};
enum Refusal { kOnWriterThread, kInsideControlCall, kInSignalHandler, kNum };

absl::Status MakeRefusal(ControlOp op, Refusal why) {
  static constexpr const char* kNames[kNumOps] = {"Start",
                                                  "Stop",
                                                  "AdvanceNow",
                                                  "FlightRecorder::Start",
                                                  "FlightRecorder::Stop",
                                                  "FlightRecorder::WriteTo"};
  static constexpr const char* kWhy[kNum] = {
      " called on gentrace's writer thread (from Options::callback), which "
      "it would wait for: to stop tracing from the callback, return a "
      "non-OK status from the callback (Stop then returns it); call Start, "
      "Stop, AdvanceNow and the FlightRecorder's calls from another thread",
      " called while this thread is inside Start, Stop, AdvanceNow or a "
      "FlightRecorder's Start, Stop or WriteTo (from Options::callback as "
      "the header or a generation is written to it, from a WriteTo "
      "callback, or from a signal handler), which it would wait for: call "
      "it after that call returns",
      " called from a signal handler that interrupted this thread inside "
      "gentrace, which it would wait for forever: call it outside the "
      "handler (for example, set a flag that the thread checks)",
  };
  return absl::FailedPreconditionError(absl::StrCat(kNames[op], kWhy[why]));
}

// Made once, by the first Start, so that refusing allocates nothing: a
// copy only counts a reference, which is async-signal-safe.
const absl::Status* g_refusals[kNumOps][kNum];

void MakeRefusals() {
  for (int op = 0; op < kNumOps; ++op) {
    for (int why = 0; why < kNum; ++why) {
      g_refusals[op][why] = new absl::Status(
          MakeRefusal(static_cast<ControlOp>(op), static_cast<Refusal>(why)));
    }
  }
}

absl::Status Refuse(ControlOp op, Refusal why) {
  const absl::Status* s = g_refusals[op][why];
  return s != nullptr ? *s : MakeRefusal(op, why);
}

// Why `op` must not run on the calling thread now, because it would wait
// for the calling thread itself; or OK. Async-signal-safe once Start has
// run (as it has, wherever a refusal is due).
absl::Status CheckControlCaller(ControlOp op) {
  if (tls_gentrace_thread) return Refuse(op, kOnWriterThread);
  if (tls_in_control) return Refuse(op, kInsideControlCall);
  if (ThreadState* ts = tls_thread;
      IsThreadState(ts) && (ts->seqlock.load(std::memory_order_relaxed) & 1)) {
    return Refuse(op, kInSignalHandler);
  }
  return absl::OkStatus();
}

// Marks the calling thread as inside Start, Stop or AdvanceNow.
class ControlCall {
 public:
  ControlCall() { tls_in_control = true; }
  ~ControlCall() { tls_in_control = false; }
  ControlCall(const ControlCall&) = delete;
  ControlCall& operator=(const ControlCall&) = delete;
};

void InitOnce() {
  MakeRefusals();
  pthread_atfork(nullptr, nullptr, &Runtime::AtForkChild);
  std::atexit(AtExitStop);
}

}  // namespace

Runtime* Runtime::instance_ = new Runtime();

Runtime::Runtime()
    : advancer_({&threads_, &goroutines_, &tables_, &writer_, &cpu_, &modules_,
                 &control_mu_}) {}

void Runtime::AtForkChild() {
  // The child has only the forking thread; the tracer's threads, locks and
  // buffers stay behind. Leave the old state untouched (it may be mid-use)
  // and start over with tracing off. The parent's trace is unaffected. The
  // child's traces number their generations above the parent's
  // (TraceState::last_gen): StaticNames keep ids cached by the parent.
  g_enabled.store(false, std::memory_order_relaxed);
  g_trace.SetGen(0);
  tls_thread = nullptr;
  instance_ = new Runtime();
}

void Runtime::SetUpInternalThread(const char* name) {
  tls_gentrace_thread = true;
  // gentrace's own threads block SIGPIPE (a write to a pipe with no reader
  // gives EPIPE). Not SIGPROF: they take the samples of the CPU time they
  // use (tracecpu.h C6).
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  cpu_.NoteInternalThread(name);
}

TraceSettings SettingsOf(const Options& options) {
  TraceSettings t;
  t.generation_period = options.generation_period;
  t.stacks = options.stacks;
  t.max_stack_depth = options.max_stack_depth;
  t.cpu = options.cpu;
  t.clock = options.clock;
  return t;
}

namespace {

std::string StacksText(const StackOptions& s) {
  return absl::StrCat("{tasks ", s.tasks, ", regions ", s.regions, ", logs ",
                      s.logs, ", blocking ", s.blocking, ", syscalls ",
                      s.syscalls, ", fibers ", s.fibers, "}");
}

std::string CpuText(const CpuProfileOptions& c) {
  if (!c.enabled) return "off";
  return absl::StrCat(
      "{source ", static_cast<int>(c.source), ", hz ", c.hz, ", event ",
      static_cast<int>(c.event), ", period ", c.period,
      ", sample_unknown_threads ", c.sample_unknown_threads, ", buffer_bytes ",
      c.buffer_bytes, ", event_name '", c.event_name, "', signal_free ",
      c.signal_free, ", ring_pages ", c.ring_pages, "}");
}

bool SameCpu(const CpuProfileOptions& a, const CpuProfileOptions& b) {
  if (!a.enabled || !b.enabled) return a.enabled == b.enabled;
  return a.source == b.source && a.hz == b.hz && a.event == b.event &&
         a.period == b.period &&
         a.sample_unknown_threads == b.sample_unknown_threads &&
         a.buffer_bytes == b.buffer_bytes && a.event_name == b.event_name &&
         a.signal_free == b.signal_free && a.ring_pages == b.ring_pages;
}

bool SameStacks(const StackOptions& a, const StackOptions& b) {
  return a.tasks == b.tasks && a.regions == b.regions && a.logs == b.logs &&
         a.blocking == b.blocking && a.syscalls == b.syscalls &&
         a.fibers == b.fibers;
}

const char* ClockName(TraceClock c) {
  switch (c) {
    case TraceClock::kTsc:
      return "tsc";
    case TraceClock::kMonotonic:
      return "monotonic";
    case TraceClock::kAuto:
      break;
  }
  return "auto";
}

// kAuto becomes what GENTRACE_CLOCK says, if it is set.
absl::Status ResolveClock(TraceClock* clock) {
  if (*clock != TraceClock::kAuto) return absl::OkStatus();
  const char* env = std::getenv("GENTRACE_CLOCK");
  if (env == nullptr || *env == '\0') return absl::OkStatus();
  for (TraceClock c :
       {TraceClock::kAuto, TraceClock::kTsc, TraceClock::kMonotonic}) {
    if (std::strcmp(env, ClockName(c)) == 0) {
      *clock = c;
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "GENTRACE_CLOCK=\"", env, "\": expected auto, tsc or monotonic"));
}

absl::Status ValidateSettings(const TraceSettings& t) {
  if (t.generation_period < absl::Milliseconds(1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("generation_period must be at least 1ms, got ",
                     absl::FormatDuration(t.generation_period)));
  }
  if (t.max_stack_depth < 1 ||
      t.max_stack_depth > static_cast<int>(format::kMaxFramesPerStack)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_stack_depth must be in [1, 128], got ", t.max_stack_depth));
  }
  return absl::OkStatus();
}

}  // namespace

std::string SettingsDifference(const TraceSettings& running,
                               const TraceSettings& wanted) {
  if (running.generation_period != wanted.generation_period) {
    return absl::StrCat("generation_period: the running trace has ",
                        absl::FormatDuration(running.generation_period),
                        ", this asks for ",
                        absl::FormatDuration(wanted.generation_period));
  }
  if (!SameStacks(running.stacks, wanted.stacks)) {
    return absl::StrCat("stacks: the running trace has ",
                        StacksText(running.stacks), ", this asks for ",
                        StacksText(wanted.stacks));
  }
  if (running.max_stack_depth != wanted.max_stack_depth) {
    return absl::StrCat("max_stack_depth: the running trace has ",
                        running.max_stack_depth, ", this asks for ",
                        wanted.max_stack_depth);
  }
  if (!SameCpu(running.cpu, wanted.cpu)) {
    return absl::StrCat("cpu: the running trace has ", CpuText(running.cpu),
                        ", this asks for ", CpuText(wanted.cpu));
  }
  if (running.clock != wanted.clock) {
    return absl::StrCat("clock: the running trace has ",
                        ClockName(running.clock), ", this asks for ",
                        ClockName(wanted.clock));
  }
  return "";
}

absl::Status Runtime::Start(const Options& options) {
  pthread_once(&g_once, InitOnce);
  if (absl::Status s = CheckControlCaller(kOpStart); !s.ok()) return s;
  if (g_exiting.load()) {
    return absl::FailedPreconditionError(
        "Start called while the process is exiting (from an atexit handler "
        "or a static destructor that runs after gentrace's exit handler, "
        "which stopped tracing): no threads may start now; start tracing "
        "before exit begins");
  }
  ControlCall in_control;
  std::lock_guard<std::mutex> al(attach_mu_);
  if (attached_[kDestination].id >= 0) {
    return absl::FailedPreconditionError("tracing is already on");
  }
  const int destinations = !options.path.empty() + (options.fd >= 0) +
                           static_cast<int>(options.callback != nullptr);
  if (destinations != 1) {
    return absl::InvalidArgumentError(
        "set exactly one of Options::path, Options::fd, Options::callback");
  }
  if (options.fd >= 0 && fcntl(options.fd, F_GETFL) < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Options::fd ", options.fd, " is not open: ", std::strerror(errno)));
  }
  const SinkFactory make_sink =
      [&options]() -> absl::StatusOr<std::unique_ptr<Sink>> {
    std::unique_ptr<Sink> sink;
    if (!options.path.empty()) {
      absl::StatusOr<std::unique_ptr<Sink>> f = MakeFileSink(options.path);
      if (!f.ok()) return f.status();
      sink = std::move(*f);
    } else if (options.fd >= 0) {
      sink = MakeFdSink(options.fd);
    } else {
      sink = MakeCallbackSink(options.callback);
    }
    if (options.compression == Compression::kZstd) {
      return MakeZstdSink(std::move(sink), options.zstd_level);
    }
    return sink;
  };
  if (absl::Status s = Attach(kDestination, SettingsOf(options), make_sink, {});
      !s.ok()) {
    return s;
  }
  stats_destination_ = attached_[kDestination].id;
  destination_id_.store(stats_destination_, std::memory_order_release);
  return absl::OkStatus();
}

absl::Status Runtime::StartRecorder(const TraceSettings& settings,
                                    std::unique_ptr<Sink> sink) {
  pthread_once(&g_once, InitOnce);
  if (absl::Status s = CheckControlCaller(kOpRecorderStart); !s.ok()) {
    return s;
  }
  if (g_exiting.load()) {
    return absl::FailedPreconditionError(
        "FlightRecorder::Start called while the process is exiting: no "
        "threads may start now");
  }
  ControlCall in_control;
  std::lock_guard<std::mutex> al(attach_mu_);
  if (attached_[kRecorder].id >= 0) {
    return absl::FailedPreconditionError(
        "a flight recorder is already running (only one may run at a time)");
  }
  ConsumerOptions consumer;
  consumer.first = true;
  auto owned = std::make_shared<std::unique_ptr<Sink>>(std::move(sink));
  return Attach(
      kRecorder, settings,
      [owned]() -> absl::StatusOr<std::unique_ptr<Sink>> {
        return std::move(*owned);
      },
      consumer);
}

absl::Status Runtime::Attach(Which which, const TraceSettings& asked,
                             const SinkFactory& make_sink,
                             const ConsumerOptions& consumer) {
  TraceSettings settings = asked;
  if (absl::Status s = ResolveClock(&settings.clock); !s.ok()) return s;
  if (absl::Status s = ValidateSettings(settings); !s.ok()) return s;
  Attachment& a = attached_[which];
  Attachment& other = attached_[1 - which];
  if (running_ && writer_.failed()) {
    // The trace stopped by itself (its consumers failed): end it before
    // starting a new one; the other attachment keeps its status.
    (void)StopTrace();
  }
  if (!running_) {
    int id = -1;
    if (absl::Status s = StartTrace(settings, make_sink, consumer, &id);
        !s.ok()) {
      return s;
    }
    a = Attachment();
    a.id = id;
    return absl::OkStatus();
  }
  // Join the running trace (started by the other attachment).
  if (const std::string diff = SettingsDifference(settings_, settings);
      !diff.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        which == kRecorder ? "FlightRecorder::Start" : "Start",
        ": tracing is already on (",
        which == kRecorder ? "gentrace::Start" : "a FlightRecorder",
        ") with other settings; ", diff,
        ". Use the running trace's settings, or stop it first"));
  }
  (void)other;
  absl::StatusOr<std::unique_ptr<Sink>> sink = make_sink();
  if (!sink.ok()) return sink.status();
  // The header now, on this thread: a destination that cannot be written
  // fails Start.
  const std::string header = writer_.header();
  if (absl::Status s = Writer::WriteNow(
          sink->get(),
          absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(header.data()),
                              header.size()));
      !s.ok()) {
    return s;
  }
  ConsumerOptions joined = consumer;
  joined.header_written = true;
  absl::StatusOr<Writer::Added> added =
      writer_.AddConsumer(std::move(*sink), joined);
  if (!added.ok()) return added.status();
  a = Attachment();
  a.id = added->id;
  // Everything recorded after this call returns must reach the new
  // consumer: if the writer has begun the current generation, end it, so
  // the next one (which the consumer receives whole) starts now.
  if (added->first_gen > g_trace.gen()) (void)advancer_.AdvanceNow();
  return absl::OkStatus();
}

absl::Status Runtime::StartTrace(const TraceSettings& settings,
                                 const SinkFactory& make_sink,
                                 const ConsumerOptions& consumer, int* id) {
  // The clock, then CPU sampling: if either cannot be had, fail before
  // creating the destination.
  std::string clock_error;
  if (!InitClock(settings.clock == TraceClock::kTsc ? ClockRequest::kTsc
                 : settings.clock == TraceClock::kMonotonic
                     ? ClockRequest::kMonotonic
                     : ClockRequest::kAuto,
                 &clock_error)) {
    return absl::FailedPreconditionError(clock_error);
  }
  // Samples taken before the first generation starts are not written (the
  // handler sees generation 0).
  if (settings.cpu.enabled) {
    if (absl::Status s = cpu_.Start(settings.cpu); !s.ok()) return s;
  } else {
    cpu_.ClearTotals();  // Stats of this trace: no samples
  }
  absl::StatusOr<std::unique_ptr<Sink>> sink = make_sink();
  if (!sink.ok()) {
    cpu_.Stop();
    return sink.status();
  }
  std::lock_guard<std::mutex> cl(control_mu_);
  // Generation numbers never repeat within the process, even across
  // traces and forks (TraceState::last_gen). Go's parser accepts a trace
  // starting at any generation.
  const uint64_t first_gen = g_trace.last_gen() + 1;
  if (absl::Status s = writer_.Begin(
          first_gen, format::EncodeHeader(format::Version::kGo123),
          std::move(*sink), consumer);
      !s.ok()) {
    cpu_.Stop();
    return s;
  }
  *id = 0;
  settings_ = settings;
  options_ = Options();
  options_.generation_period = settings.generation_period;
  options_.stacks = settings.stacks;
  options_.max_stack_depth = settings.max_stack_depth;
  options_.cpu = settings.cpu;
  threads_.BeginSession(settings.cpu.enabled);
  tables_.BeginSession(settings.max_stack_depth);
  goroutines_.BeginSession(settings.stacks);
  modules_.Refresh();
  g_trace.NewSession();
  advancer_.BeginSession(first_gen, options_);
  g_enabled.store(true, std::memory_order_release);
  running_ = true;
  // With the itimer paused: creating a thread blocks every signal in this
  // one, and the new thread runs with them blocked until its own code
  // starts; the itimer's signal would wake a sleeping thread instead
  // (cpusample/sampler.h). They end after cpu_.Stop() disarmed it.
  cpusample::Sampler::WithProcessTimerPaused(
      2, [this](std::atomic<int>* begun) {
        writer_.StartThread(
            [this, begun] {
              begun->fetch_add(1);
              SetUpInternalThread("gentrace writer");
            },
            [this] { advancer_.Wake(); });
        advancer_.StartThread([this, begun] {
          begun->fetch_add(1);
          SetUpInternalThread("gentrace advancer");
        });
      });
  return absl::OkStatus();
}

absl::Status Runtime::StopTrace() {
  std::unique_lock<std::mutex> cl(control_mu_);
  // No sample after this; the final Advance writes what was taken.
  cpu_.Stop();
  cl.unlock();
  advancer_.StopAndJoin();  // it runs the final Advance(stop=true)
  writer_.Join();
  cl.lock();
  for (Attachment& a : attached_) {
    if (a.id >= 0 && !a.ended) {
      a.final_status = writer_.CloseConsumer(a.id);
      a.ended = true;
    }
  }
  writer_.CloseAll();
  const absl::Status error = writer_.error();
  running_ = false;
  threads_.EndSession();
  tables_.EndSession();
  writer_.ReleaseBuffers();
  return error;
}

absl::Status Runtime::Detach(Which which) {
  Attachment& a = attached_[which];
  const Attachment& other = attached_[1 - which];
  const int id = a.id;
  absl::Status status;
  if (a.ended) {
    status = a.final_status;  // its trace stopped without it
  } else if (!running_ || writer_.failed() || other.id < 0 || other.ended ||
             !writer_.Live(other.id)) {
    // The last consumer (or the trace failed): stop the trace.
    const absl::Status error = StopTrace();
    status = error.ok() ? a.final_status : error;
  } else {
    // The other attachment goes on: this one leaves after the current
    // generation, which ends now.
    writer_.Detach(id, g_trace.gen());
    (void)advancer_.AdvanceNow();
    status = writer_.CloseConsumer(id);
  }
  a = Attachment();
  return status;
}

absl::Status Runtime::Stop() {
  if (absl::Status s = CheckControlCaller(kOpStop); !s.ok()) return s;
  ControlCall in_control;
  std::lock_guard<std::mutex> al(attach_mu_);
  if (attached_[kDestination].id < 0) {
    return absl::FailedPreconditionError("tracing is not on");
  }
  destination_id_.store(-1, std::memory_order_release);
  return Detach(kDestination);
}

absl::Status Runtime::StopRecorder() {
  if (absl::Status s = CheckControlCaller(kOpRecorderStop); !s.ok()) {
    return s;
  }
  ControlCall in_control;
  std::lock_guard<std::mutex> al(attach_mu_);
  if (attached_[kRecorder].id < 0) {
    return absl::FailedPreconditionError("the flight recorder is not running");
  }
  return Detach(kRecorder);
}

void Runtime::StopAll() {
  std::lock_guard<std::mutex> al(attach_mu_);
  if (running_) (void)StopTrace();
  // Nothing is attached any more: a Stop after this finds tracing off.
  for (Attachment& a : attached_) a = Attachment();
  destination_id_.store(-1, std::memory_order_release);
}

bool Runtime::DestinationActive() {
  // Without attach_mu_: called from Options::callback too.
  const int id = destination_id_.load(std::memory_order_acquire);
  return id >= 0 && g_trace.gen() != 0 &&
         writer_.consumer_stats(id).status.ok();
}

Stats Runtime::GetStats() {
  Stats s;
  const ConsumerStats destination = writer_.consumer_stats(stats_destination_);
  s.generations = destination.generations;
  s.bytes_written = destination.bytes;
  s.threads_seen = threads_.threads_seen();
  s.buffers_allocated = writer_.buffers_allocated();
  s.cpu_samples = cpu_.samples();
  s.cpu_samples_lost = cpu_.lost();
  s.cpu_samples_clamped = cpu_.clamped();
  s.cpu_source = cpu_.source_description();
  s.clock = ClockDescription();
  s.cpu_events = cpu_.event_totals();
  return s;
}

absl::Status Runtime::AdvanceNow() {
  if (absl::Status s = CheckControlCaller(kOpAdvanceNow); !s.ok()) return s;
  ControlCall in_control;
  return advancer_.AdvanceNow();
}

absl::Status Runtime::AdvanceForSnapshot() {
  if (absl::Status s = CheckControlCaller(kOpWriteTo); !s.ok()) return s;
  ControlCall in_control;
  return advancer_.AdvanceNow();
}

absl::Status AdvanceGenerationForTesting() {
  return Runtime::Get().AdvanceNow();
}

}  // namespace internal
}  // namespace gentrace
