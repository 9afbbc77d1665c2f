// The tracer runtime: Start, Stop, statistics, fork and exit; see
// runtime.h for the parts and the invariants each keeps.
#include "tracer/internal/runtime.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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
  if (Runtime::Get().gen() != 0) (void)Runtime::Get().Stop();
}

// The calls that start, stop and advance tracing, and why one may have to
// be refused (CheckControlCaller).
enum ControlOp { kOpStart, kOpStop, kOpAdvanceNow, kNumOps };
enum Refusal { kOnWriterThread, kInsideControlCall, kInSignalHandler, kNum };

absl::Status MakeRefusal(ControlOp op, Refusal why) {
  static constexpr const char* kNames[kNumOps] = {"Start", "Stop",
                                                  "AdvanceNow"};
  static constexpr const char* kWhy[kNum] = {
      " called on gentrace's writer thread (from Options::callback), which "
      "it would wait for: to stop tracing from the callback, return a "
      "non-OK status from the callback (Stop then returns it); call Start, "
      "Stop and AdvanceNow from another thread",
      " called while this thread is inside Start, Stop or AdvanceNow (from "
      "Options::callback as Start writes the header or Stop flushes the "
      "destination, or from a signal handler), which it would wait for: "
      "call it after that call returns",
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
    : advancer_(
          {&threads_, &goroutines_, &tables_, &writer_, &cpu_, &control_mu_}) {}

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
  std::lock_guard<std::mutex> cl(control_mu_);
  if (running_) return absl::FailedPreconditionError("tracing is already on");
  const int destinations = !options.path.empty() + (options.fd >= 0) +
                           static_cast<int>(options.callback != nullptr);
  if (destinations != 1) {
    return absl::InvalidArgumentError(
        "set exactly one of Options::path, Options::fd, Options::callback");
  }
  if (options.generation_period < absl::Milliseconds(1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("generation_period must be at least 1ms, got ",
                     absl::FormatDuration(options.generation_period)));
  }
  if (options.max_stack_depth < 1 ||
      options.max_stack_depth > static_cast<int>(format::kMaxFramesPerStack)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_stack_depth must be in [1, 128], got ", options.max_stack_depth));
  }
  // CPU sampling first: if the kernel refuses what was asked, fail before
  // creating the destination. Samples taken before the first generation
  // starts are not written (the handler sees generation 0).
  if (options.cpu.enabled) {
    if (absl::Status s = cpu_.Start(options.cpu); !s.ok()) return s;
  }
  auto stop_cpu = [this] { cpu_.Stop(); };
  std::unique_ptr<Sink> sink;
  if (!options.path.empty()) {
    absl::StatusOr<std::unique_ptr<Sink>> f = MakeFileSink(options.path);
    if (!f.ok()) {
      stop_cpu();
      return f.status();
    }
    sink = std::move(*f);
  } else if (options.fd >= 0) {
    if (fcntl(options.fd, F_GETFL) < 0) {
      stop_cpu();
      return absl::InvalidArgumentError(absl::StrCat(
          "Options::fd ", options.fd, " is not open: ", std::strerror(errno)));
    }
    sink = MakeFdSink(options.fd);
  } else {
    sink = MakeCallbackSink(options.callback);
  }
  if (options.compression == Compression::kZstd) {
    absl::StatusOr<std::unique_ptr<Sink>> z =
        MakeZstdSink(std::move(sink), options.zstd_level);
    if (!z.ok()) {
      stop_cpu();
      return z.status();
    }
    sink = std::move(*z);
  }
  InitClock();
  // Generation numbers never repeat within the process, even across
  // traces and forks (TraceState::last_gen). Go's parser accepts a trace
  // starting at any generation.
  const uint64_t first_gen = g_trace.last_gen() + 1;
  if (absl::Status s = writer_.Begin(
          first_gen, format::EncodeHeader(format::Version::kGo123),
          std::move(sink));
      !s.ok()) {
    stop_cpu();
    return s;
  }

  options_ = options;
  threads_.BeginSession(options.cpu.enabled);
  tables_.BeginSession(options.max_stack_depth);
  goroutines_.BeginSession(options.stacks);
  g_trace.NewSession();
  advancer_.BeginSession(first_gen, options);
  g_enabled.store(true, std::memory_order_release);
  running_ = true;
  writer_.StartThread([this] { SetUpInternalThread("gentrace writer"); },
                      [this] { advancer_.Wake(); });
  advancer_.StartThread([this] { SetUpInternalThread("gentrace advancer"); });
  return absl::OkStatus();
}

absl::Status Runtime::Stop() {
  if (absl::Status s = CheckControlCaller(kOpStop); !s.ok()) return s;
  ControlCall in_control;
  std::unique_lock<std::mutex> cl(control_mu_);
  if (!running_) return absl::FailedPreconditionError("tracing is not on");
  // No sample after this; the final Advance writes what was taken.
  cpu_.Stop();
  cl.unlock();
  advancer_.StopAndJoin();  // it runs the final Advance(stop=true)
  cl.lock();
  writer_.Join();
  const absl::Status status = writer_.Close();
  running_ = false;
  threads_.EndSession();
  tables_.EndSession();
  writer_.ReleaseBuffers();
  return status;
}

Stats Runtime::GetStats() {
  Stats s;
  const ConsumerStats destination =
      writer_.consumer_stats(Writer::kDestination);
  s.generations = destination.generations;
  s.bytes_written = destination.bytes;
  s.threads_seen = threads_.threads_seen();
  s.buffers_allocated = writer_.buffers_allocated();
  s.cpu_samples = cpu_.samples();
  s.cpu_samples_lost = cpu_.lost();
  s.cpu_source = cpu_.source_description();
  return s;
}

absl::Status Runtime::AdvanceNow() {
  if (absl::Status s = CheckControlCaller(kOpAdvanceNow); !s.ok()) return s;
  ControlCall in_control;
  return advancer_.AdvanceNow();
}

absl::Status AdvanceGenerationForTesting() {
  return Runtime::Get().AdvanceNow();
}

}  // namespace internal
}  // namespace gentrace
