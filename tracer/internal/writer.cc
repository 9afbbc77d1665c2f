// The writer; see writer.h.
#include "tracer/internal/writer.h"

#include <signal.h>
#include <time.h>

#include <utility>

#include "absl/types/span.h"
#include "tracer/internal/clock.h"

namespace gentrace::internal {
namespace {

// Runs fn (a write to a sink on the caller's thread) so that a pipe with
// no reader gives EPIPE instead of killing the process with SIGPIPE.
template <typename F>
absl::Status WithSigpipeBlocked(F fn) {
  sigset_t pipe_set, old;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  sigset_t pending;
  sigpending(&pending);
  const bool was_pending = sigismember(&pending, SIGPIPE) == 1;
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  absl::Status s = fn();
  if (!was_pending) {
    // Consume a SIGPIPE this write raised, so unblocking cannot deliver it.
    const timespec zero = {0, 0};
    while (sigtimedwait(&pipe_set, nullptr, &zero) == SIGPIPE) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return s;
}

absl::Span<const uint8_t> Bytes(const std::string& s) {
  return absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(s.data()),
                             s.size());
}

}  // namespace

Writer::~Writer() {
  if (thread_.joinable()) thread_.join();
}

TraceBuf* Writer::NewBuf(uint64_t gen, uint64_t m, uint8_t exp) {
  TraceBuf* b = pool_.Get();
  b->Begin(gen, m, Now(), exp);
  return b;
}

void Writer::FlushBuf(TraceBuf* b) {
  if (b->empty_payload()) {
    pool_.Put(b);
    return;
  }
  b->Finish();
  {
    std::lock_guard<std::mutex> l(mu_);
    full_[b->gen & 1].Push(b);
  }
  cv_.notify_all();
}

absl::Status Writer::Begin(uint64_t first_gen, std::string header,
                           std::unique_ptr<Sink> destination) {
  if (absl::Status s =
          WithSigpipeBlocked([&] { return destination->Write(Bytes(header)); });
      !s.ok()) {
    return s;
  }
  auto c = std::make_unique<Consumer>();
  c->sink = std::move(destination);
  c->stops_tracing = true;
  c->active = true;
  c->first_gen = first_gen;
  std::lock_guard<std::mutex> l(mu_);
  consumers_.clear();
  consumers_.push_back(std::move(c));
  active_.assign(1, consumers_.front().get());
  pending_ = false;
  header_ = std::move(header);
  error_ = absl::OkStatus();
  failed_.store(false);
  writer_gen_ = first_gen;
  gen_begun_ = false;
  completed_gen_ = first_gen - 1;
  written_gen_ = first_gen - 1;
  exit_ = false;
  open_ = true;
  return absl::OkStatus();
}

void Writer::StartThread(std::function<void()> setup,
                         std::function<void()> on_failure) {
  on_failure_ = std::move(on_failure);
  thread_ = std::thread([this, setup = std::move(setup)] {
    setup();
    Loop();
  });
}

absl::StatusOr<int> Writer::AddConsumer(std::unique_ptr<Sink> sink,
                                        bool stops_tracing) {
  std::lock_guard<std::mutex> l(mu_);
  if (!open_) {
    return absl::FailedPreconditionError(
        "a consumer can only be added while tracing");
  }
  auto c = std::make_unique<Consumer>();
  c->sink = std::move(sink);
  c->stops_tracing = stops_tracing;
  consumers_.push_back(std::move(c));
  pending_ = true;
  return static_cast<int>(consumers_.size()) - 1;
}

void Writer::CompleteGeneration(uint64_t gen) {
  std::unique_lock<std::mutex> l(mu_);
  completed_gen_ = gen;
  cv_.notify_all();
  cv_.wait(l, [this, gen] { return written_gen_ >= gen; });
}

void Writer::Finish() {
  std::lock_guard<std::mutex> l(mu_);
  exit_ = true;
  open_ = false;
  cv_.notify_all();
}

void Writer::Join() { thread_.join(); }

absl::Status Writer::Close() {
  std::lock_guard<std::mutex> l(mu_);
  absl::Status destination;
  for (size_t i = 0; i < consumers_.size(); ++i) {
    Consumer& c = *consumers_[i];
    absl::Status s = c.sink->Close();
    if (i == kDestination) {
      destination = s;
    } else if (!s.ok() && c.status.ok()) {
      c.status = s;
    }
  }
  return error_.ok() ? destination : error_;
}

absl::Status Writer::error() {
  std::lock_guard<std::mutex> l(mu_);
  return error_;
}

ConsumerStats Writer::consumer_stats(int id) {
  std::lock_guard<std::mutex> l(mu_);
  ConsumerStats s;
  if (id < 0 || static_cast<size_t>(id) >= consumers_.size()) return s;
  const Consumer& c = *consumers_[static_cast<size_t>(id)];
  s.first_gen = c.first_gen;
  s.generations = c.generations;
  s.bytes = c.sink->bytes_written();
  s.status = c.status;
  return s;
}

void Writer::Fail(Consumer* c, absl::Status s) {
  if (c->failed) return;
  c->failed = true;
  c->status = s;
  if (c->stops_tracing && error_.ok()) {
    error_ = std::move(s);
    failed_.store(true, std::memory_order_release);
    // Wake the advancer so tracing stops promptly.
    if (on_failure_) on_failure_();
  }
}

void Writer::ActivatePending(std::unique_lock<std::mutex>& l) {
  for (const std::unique_ptr<Consumer>& p : consumers_) {
    Consumer* c = p.get();
    if (c->active || c->failed) continue;
    c->active = true;
    c->first_gen = writer_gen_;
    l.unlock();
    absl::Status s = c->sink->Write(Bytes(header_));
    l.lock();
    if (s.ok()) {
      active_.push_back(c);
    } else {
      Fail(c, std::move(s));
    }
  }
  pending_ = false;
}

template <typename Op>
void Writer::Deliver(std::unique_lock<std::mutex>& l, Op op) {
  l.unlock();
  for (Consumer* c : active_) {
    if (c->failed) continue;
    absl::Status s = op(c->sink.get());
    if (!s.ok()) {
      std::lock_guard<std::mutex> fl(mu_);
      Fail(c, std::move(s));
    }
  }
  l.lock();
}

void Writer::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    cv_.wait(l, [this] {
      return !full_[writer_gen_ & 1].empty() || completed_gen_ >= writer_gen_ ||
             exit_;
    });
    TraceBuf* b = full_[writer_gen_ & 1].Pop();
    const bool end = b == nullptr && completed_gen_ >= writer_gen_;
    if (b == nullptr && !end) {
      if (exit_) return;
      continue;
    }
    // The first byte of a generation: consumers added meanwhile start here.
    if (!gen_begun_) {
      gen_begun_ = true;
      if (pending_) ActivatePending(l);
    }
    if (b != nullptr) {
      Deliver(l, [b](Sink* s) {
        return s->Write(absl::MakeConstSpan(b->data, b->pos));
      });
      pool_.Put(b);
      continue;
    }
    // I3: every buffer of writer_gen_ is written; end it everywhere, then
    // move on to the next generation.
    Deliver(l, [](Sink* s) { return s->EndGeneration(); });
    for (Consumer* c : active_) {
      if (!c->failed) ++c->generations;
    }
    written_gen_ = writer_gen_;
    ++writer_gen_;
    gen_begun_ = false;
    cv_.notify_all();
  }
}

}  // namespace gentrace::internal
