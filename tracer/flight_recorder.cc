// FlightRecorder (tracer/flight_recorder.h): a GenerationRing fed by the
// tracer's writer as a consumer of the trace (Runtime::StartRecorder),
// snapshots through GenerationRing::WriteTo, crash dumps through the crash
// handler's callbacks and GenerationRing::WriteCrashSnapshot.
#include "tracer/flight_recorder.h"

#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "format/byte_sink.h"
#include "tracer/crash_handler.h"
#include "tracer/internal/crash_completion.h"
#include "tracer/internal/generation_ring.h"
#include "tracer/internal/ring_sink.h"
#include "tracer/internal/runtime.h"
#include "tracer/internal/sink.h"

namespace gentrace {

using internal::GenerationRing;
using internal::Runtime;

namespace {

// The writer's consumer: forwards to the recorder's RingSink, which it
// shares with the recorder (the writer keeps a consumer that left until
// its next trace; the recorder reads the RingSink's count for stats()).
class RecorderSink : public internal::Sink {
 public:
  explicit RecorderSink(std::shared_ptr<internal::RingSink> ring_sink)
      : ring_sink_(std::move(ring_sink)) {}
  absl::Status Write(absl::Span<const uint8_t> bytes) override {
    return ring_sink_->Write(bytes);
  }
  absl::Status EndGeneration() override { return ring_sink_->EndGeneration(); }
  absl::Status Close() override { return ring_sink_->Close(); }
  uint64_t bytes_written() const override {
    return ring_sink_->bytes_written();
  }

 private:
  std::shared_ptr<internal::RingSink> ring_sink_;
};

uint64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u +
         static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

namespace internal {

struct FlightRecorderImpl {
  // Created by the first Start and kept until the recorder is destroyed,
  // so that a crash dump never reads a freed ring.
  std::unique_ptr<GenerationRing> ring;
  // Rebuilt at each Start (a new trace in the ring); the writer's consumer
  // forwards to it. Under control_mu.
  std::shared_ptr<RingSink> ring_sink;
  std::atomic<bool> running{false};
  mutable std::mutex control_mu;  // Start, Stop, InstallCrashHandler
  std::mutex write_to_mu;         // one WriteTo at a time
  int crash_callback = -1;
  // From InstallCrashHandler's options.
  bool complete_at_crash = true;
  bool report_at_crash = true;
};

}  // namespace internal

namespace {

using internal::FlightRecorderImpl;

// One line for stderr, built without allocation (async-signal-safe).
class ReportLine {
 public:
  ReportLine& operator<<(const char* s) {
    while (*s != '\0' && len_ < sizeof(buf_) - 1) buf_[len_++] = *s++;
    return *this;
  }
  ReportLine& operator<<(uint64_t v) {
    char tmp[24];
    int n = 0;
    do {
      tmp[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (n > 0 && len_ < sizeof(buf_) - 1) buf_[len_++] = tmp[--n];
    return *this;
  }
  void WriteTo(int fd) {
    buf_[len_++] = '\n';
    format::WriteFully(fd, buf_, len_);
  }

 private:
  char buf_[512];
  size_t len_ = 0;
};

// One dump per process (the crash handler's C1): the completion's state
// lives here, not on the (small, alternate) signal stack.
internal::CrashCompletion g_completion;

// At a crash (async-signal-safe): the ring's whole generations, then the
// current generation completed (internal/crash_completion.h) unless that
// is switched off or not possible. One line on stderr says which.
void DumpRecorder(const CrashContext& ctx, void* arg) {
  auto* impl = static_cast<FlightRecorderImpl*>(arg);
  if (!impl->running.load(std::memory_order_acquire)) return;
  const bool complete =
      impl->complete_at_crash && g_completion.Prepare(ctx.tid, ctx.deadline_ns);
  internal::CrashSnapshotOptions o;
  o.include_active = complete;
  const uint64_t now = MonotonicNs();
  o.wait_ns = ctx.deadline_ns > now
                  ? std::min<uint64_t>(50000000, ctx.deadline_ns - now)
                  : 0;
  const off_t start = lseek(ctx.fd, 0, SEEK_CUR);
  const internal::CrashSnapshotResult ring =
      impl->ring->WriteCrashSnapshot(ctx.fd, o);
  if (complete) {
    g_completion.Finish(ctx.fd, start < 0 ? 0 : start, ring);
    g_completion.Release();
  }
  if (!impl->report_at_crash) return;
  const internal::CrashCompletionResult& c = g_completion.result();
  ReportLine l;
  l << "gentrace: flight recorder dump: " << ring.generations
    << " whole generation(s)";
  if (ring.generations > 0) {
    l << " (" << ring.first_gen << " to " << ring.last_gen << ")";
  }
  if (!impl->complete_at_crash) {
    l << "; current generation left out (completion switched off)";
  } else if (c.completed) {
    l << "; current generation " << c.gen << " completed: " << c.ring_batches
      << " batches from the ring, " << c.queued_batches << " from the writer, "
      << c.thread_buffers << " thread buffers, " << c.threads_skipped
      << " threads skipped, " << c.stacks << " stacks, " << c.strings
      << " strings";
  } else {
    l << "; current generation " << c.gen
      << " left out: " << (c.reason != nullptr ? c.reason : "unknown");
  }
  l.WriteTo(STDERR_FILENO);
}

// WriteTo's work: one at a time, then Go's traceAdvance before the copy:
// the generation being recorded ends now, and the writer has committed it
// to the ring when AdvanceForSnapshot returns (the advancer waits for it,
// I3). `make_sink` runs only once the call may go ahead.
absl::StatusOr<uint64_t> Snapshot(
    FlightRecorderImpl* impl,
    const std::function<absl::StatusOr<std::unique_ptr<internal::Sink>>()>&
        make_sink,
    bool close) {
  if (impl == nullptr) {
    return absl::FailedPreconditionError("the flight recorder is not running");
  }
  std::unique_lock<std::mutex> wl(impl->write_to_mu, std::try_to_lock);
  if (!wl.owns_lock()) {
    return absl::AbortedError(
        "another FlightRecorder::WriteTo is in progress; use its result");
  }
  if (!impl->running.load(std::memory_order_acquire)) {
    return absl::FailedPreconditionError("the flight recorder is not running");
  }
  if (absl::Status s = Runtime::Get().AdvanceForSnapshot(); !s.ok()) {
    return s;
  }
  absl::StatusOr<std::unique_ptr<internal::Sink>> sink = make_sink();
  if (!sink.ok()) return sink.status();
  absl::StatusOr<internal::SnapshotInfo> info =
      impl->ring->WriteTo(sink->get());
  if (close) {
    absl::Status s = (*sink)->Close();
    if (info.ok() && !s.ok()) return s;
  }
  if (!info.ok()) return info.status();
  return info->bytes;
}

}  // namespace

FlightRecorder::FlightRecorder(const FlightRecorderOptions& options)
    : options_(options) {}

FlightRecorder::~FlightRecorder() {
  if (impl_ == nullptr) return;
  if (Enabled()) (void)Stop();
  // Waits for a dump in progress: the ring may be freed after this.
  if (impl_->crash_callback >= 0) {
    UnregisterCrashDumpCallback(impl_->crash_callback);
  }
  delete impl_;
}

absl::Status FlightRecorder::Start() {
  if (impl_ == nullptr) impl_ = new FlightRecorderImpl();
  std::lock_guard<std::mutex> l(impl_->control_mu);
  if (impl_->running.load()) {
    return absl::FailedPreconditionError(
        "this flight recorder is already running");
  }
  if (impl_->ring == nullptr) {
    internal::GenerationRingOptions ro;
    ro.max_bytes = options_.max_bytes == 0 ? (10 << 20) : options_.max_bytes;
    ro.min_age = options_.min_age;
    ro.file_path = options_.ring_file;
    absl::StatusOr<std::unique_ptr<GenerationRing>> ring =
        GenerationRing::Create(ro);
    if (!ring.ok()) return ring.status();
    impl_->ring = std::move(*ring);
  }
  internal::TraceSettings t;
  t.generation_period = options_.generation_period;
  t.stacks = options_.stacks;
  t.max_stack_depth = options_.max_stack_depth;
  t.cpu = options_.cpu;
  t.clock = options_.clock;
  // The previous RingSink (if any) is no consumer any more (Stop waited
  // for that): a new one starts a new trace in the ring at its header.
  auto ring_sink = std::make_shared<internal::RingSink>(impl_->ring.get());
  if (absl::Status s = Runtime::Get().StartRecorder(
          t, std::make_unique<RecorderSink>(ring_sink));
      !s.ok()) {
    return s;
  }
  impl_->ring_sink = std::move(ring_sink);
  impl_->running.store(true, std::memory_order_release);
  return absl::OkStatus();
}

absl::Status FlightRecorder::Stop() {
  if (impl_ == nullptr) {
    return absl::FailedPreconditionError("the flight recorder is not running");
  }
  std::lock_guard<std::mutex> l(impl_->control_mu);
  if (!impl_->running.load()) {
    return absl::FailedPreconditionError("the flight recorder is not running");
  }
  // A WriteTo in progress goes on: the ring stays (its advance finds
  // tracing off, or advances the file trace that still runs).
  impl_->running.store(false, std::memory_order_release);
  return Runtime::Get().StopRecorder();
}

bool FlightRecorder::Enabled() const {
  return impl_ != nullptr && impl_->running.load(std::memory_order_acquire);
}

absl::StatusOr<uint64_t> FlightRecorder::WriteTo(const std::string& path) {
  return Snapshot(
      impl_, [&path] { return internal::MakeFileSink(path); }, true);
}

absl::StatusOr<uint64_t> FlightRecorder::WriteTo(int fd) {
  return Snapshot(
      impl_,
      [fd]() -> absl::StatusOr<std::unique_ptr<internal::Sink>> {
        return internal::MakeFdSink(fd);
      },
      false);
}

absl::StatusOr<uint64_t> FlightRecorder::WriteTo(
    const std::function<absl::Status(absl::Span<const uint8_t>)>& callback) {
  return Snapshot(
      impl_,
      [&callback]() -> absl::StatusOr<std::unique_ptr<internal::Sink>> {
        return internal::MakeCallbackSink(callback);
      },
      false);
}

absl::Status FlightRecorder::InstallCrashHandler(
    const CrashHandlerOptions& options) {
  if (impl_ == nullptr) impl_ = new FlightRecorderImpl();
  std::lock_guard<std::mutex> l(impl_->control_mu);
  if (impl_->crash_callback >= 0) {
    return absl::FailedPreconditionError(
        "this flight recorder's crash dump is installed already");
  }
  if (gentrace::CrashDumpPath().empty()) {
    if (absl::Status s = gentrace::InstallCrashHandler(options); !s.ok()) {
      return s;
    }
  }
  impl_->complete_at_crash = options.complete_current_generation;
  impl_->report_at_crash = options.report;
  const int id = RegisterCrashDumpCallback(DumpRecorder, impl_);
  if (id < 0) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the crash handler has ", kMaxCrashDumpCallbacks,
                     " dump callbacks registered already"));
  }
  impl_->crash_callback = id;
  return absl::OkStatus();
}

std::string FlightRecorder::CrashDumpPath() const {
  return gentrace::CrashDumpPath();
}

FlightRecorderStats FlightRecorder::stats() const {
  FlightRecorderStats s;
  if (impl_ == nullptr) return s;
  std::lock_guard<std::mutex> l(impl_->control_mu);
  if (impl_->ring == nullptr) return s;
  const internal::GenerationRingStats r = impl_->ring->stats();
  s.generations_held = r.generations_held;
  s.first_gen = r.first_gen;
  s.last_gen = r.last_gen;
  s.bytes_held = r.bytes_held;
  s.generations_committed = r.generations_committed;
  s.generations_evicted = r.generations_evicted;
  s.generations_dropped =
      r.generations_dropped_too_big + r.generations_dropped_pinned;
  s.bytes_dropped = r.bytes_dropped;
  s.snapshots = r.snapshots;
  s.region_bytes = impl_->ring->region_size();
  if (impl_->ring_sink != nullptr) {
    s.bytes_received = impl_->ring_sink->bytes_written();
  }
  return s;
}

}  // namespace gentrace
