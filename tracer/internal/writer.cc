// The writer; see writer.h.
#include "tracer/internal/writer.h"

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <utility>

#include "absl/types/span.h"
#include "format/byte_sink.h"
#include "tracer/internal/clock.h"

namespace gentrace::internal {
namespace {

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

absl::Status Writer::WriteNow(Sink* sink, absl::Span<const uint8_t> bytes) {
  // A pipe with no reader gives EPIPE instead of killing the process, for
  // every sink (a callback may write to a pipe of its own).
  format::ScopedSigpipeBlock no_sigpipe;
  return sink->Write(bytes);
}

absl::Status Writer::Begin(uint64_t first_gen, std::string header,
                           std::unique_ptr<Sink> first,
                           const ConsumerOptions& options) {
  if (absl::Status s = WriteNow(first.get(), Bytes(header)); !s.ok()) {
    return s;
  }
  auto c = std::make_unique<Consumer>();
  c->sink = std::move(first);
  c->options = options;
  c->active = true;
  c->first_gen = first_gen;
  std::lock_guard<std::mutex> l(mu_);
  consumers_.clear();
  consumers_.push_back(std::move(c));
  active_.assign(1, consumers_.front().get());
  first_count_ = options.first ? 1 : 0;
  pending_ = false;
  header_ = std::move(header);
  error_ = absl::OkStatus();
  failed_.store(false);
  writer_gen_ = first_gen;
  gen_begun_ = false;
  completed_gen_ = first_gen - 1;
  written_gen_ = first_gen - 1;
  taken_ = 0;
  in_flight_ = nullptr;
  exit_ = false;
  open_ = true;
  return absl::OkStatus();
}

void Writer::StartThread(std::function<void()> setup,
                         std::function<void()> on_failure) {
  on_failure_ = std::move(on_failure);
  {
    std::lock_guard<std::mutex> l(mu_);
    thread_running_ = true;
  }
  thread_ = std::thread([this, setup = std::move(setup)] {
    setup();
    Loop();
    std::lock_guard<std::mutex> l(mu_);
    thread_running_ = false;  // CloseConsumer need not wait any more
    cv_.notify_all();
  });
}

std::string Writer::header() {
  std::lock_guard<std::mutex> l(mu_);
  return header_;
}

absl::StatusOr<Writer::Added> Writer::AddConsumer(
    std::unique_ptr<Sink> sink, const ConsumerOptions& options) {
  std::lock_guard<std::mutex> l(mu_);
  if (!open_) {
    return absl::FailedPreconditionError(
        "a consumer can only be added while tracing");
  }
  auto c = std::make_unique<Consumer>();
  c->sink = std::move(sink);
  c->options = options;
  consumers_.push_back(std::move(c));
  pending_ = true;
  return Added{static_cast<int>(consumers_.size()) - 1,
               gen_begun_ ? writer_gen_ + 1 : writer_gen_};
}

uint64_t Writer::Detach(int id, uint64_t last_gen) {
  std::lock_guard<std::mutex> l(mu_);
  if (id < 0 || static_cast<size_t>(id) >= consumers_.size()) return 0;
  Consumer& c = *consumers_[static_cast<size_t>(id)];
  // The generation the writer is on reaches a receiving consumer whole
  // (it leaves at the end of a generation).
  if (c.active && last_gen < writer_gen_) last_gen = writer_gen_;
  c.last_gen = last_gen;
  // Not active yet, and it would start after its last generation: it
  // never receives anything (ActivatePending retires it).
  return last_gen;
}

bool Writer::Live(int id) {
  std::lock_guard<std::mutex> l(mu_);
  if (id < 0 || static_cast<size_t>(id) >= consumers_.size()) return false;
  const Consumer& c = *consumers_[static_cast<size_t>(id)];
  return !c.failed && !c.gone && c.last_gen == kNoLast;
}

absl::Status Writer::CloseConsumer(int id) {
  std::unique_lock<std::mutex> l(mu_);
  if (id < 0 || static_cast<size_t>(id) >= consumers_.size()) {
    return absl::InvalidArgumentError("no such consumer");
  }
  Consumer& c = *consumers_[static_cast<size_t>(id)];
  // Gone, or the writer thread has ended (or never started).
  cv_.wait(l, [&] { return c.gone || !thread_running_; });
  if (!c.closed) {
    c.closed = true;
    c.gone = true;
    l.unlock();
    absl::Status s = c.sink->Close();
    l.lock();
    c.close_status = s;
  }
  return c.status.ok() ? c.close_status : c.status;
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

void Writer::CloseAll() {
  for (size_t i = 0; i < NumConsumers(); ++i) {
    (void)CloseConsumer(static_cast<int>(i));
  }
}

size_t Writer::NumConsumers() {
  std::lock_guard<std::mutex> l(mu_);
  return consumers_.size();
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
  s.last_gen = c.last_gen == kNoLast ? 0 : c.last_gen;
  s.generations = c.generations;
  s.bytes = c.sink->bytes_written();
  s.status = c.status;
  return s;
}

bool Writer::AnyLive() const {
  for (const std::unique_ptr<Consumer>& c : consumers_) {
    if (!c->failed && !c->gone && c->last_gen == kNoLast) return true;
  }
  return false;
}

void Writer::Fail(Consumer* c, absl::Status s) {
  if (c->failed) return;
  c->failed = true;
  c->status = s;
  if (error_.ok() && (c->options.stops_tracing || !AnyLive())) {
    error_ = std::move(s);
    failed_.store(true, std::memory_order_release);
    // Wake the advancer so tracing stops promptly.
    if (on_failure_) on_failure_();
  }
}

void Writer::ActivatePending(std::unique_lock<std::mutex>& l) {
  for (const std::unique_ptr<Consumer>& p : consumers_) {
    Consumer* c = p.get();
    if (c->active || c->failed || c->gone) continue;
    if (c->last_gen < writer_gen_) {
      // Detached before it received anything.
      c->gone = true;
      cv_.notify_all();
      continue;
    }
    c->active = true;
    c->first_gen = writer_gen_;
    absl::Status s;
    if (!c->options.header_written) {
      l.unlock();
      s = c->sink->Write(Bytes(header_));
      l.lock();
    }
    if (!s.ok()) {
      Fail(c, std::move(s));
    } else if (c->options.first) {
      active_.insert(active_.begin() + static_cast<long>(first_count_++), c);
    } else {
      active_.push_back(c);
    }
  }
  pending_ = false;
}

void Writer::RetireDetached() {
  size_t kept = 0, first = 0;
  for (size_t i = 0; i < active_.size(); ++i) {
    Consumer* c = active_[i];
    if (c->last_gen <= writer_gen_) {
      c->gone = true;
      continue;
    }
    if (i < first_count_) ++first;
    active_[kept++] = c;
  }
  if (kept != active_.size()) {
    active_.resize(kept);
    first_count_ = first;
    cv_.notify_all();
  }
}

template <typename Op>
void Writer::Deliver(std::unique_lock<std::mutex>& l, Op op, size_t from,
                     size_t to) {
  l.unlock();
  for (size_t i = from; i < to && i < active_.size(); ++i) {
    Consumer* c = active_[i];
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
      auto write = [b](Sink* s) {
        return s->Write(absl::MakeConstSpan(b->data, b->pos));
      };
      // The crash path counts what the consumers were given (CrashView).
      ++taken_;
      in_flight_ = b;
      // The `first` consumers, then the others.
      Deliver(l, write, 0, active_.size());
      in_flight_ = nullptr;
      pool_.Put(b);
      continue;
    }
    // I3: every buffer of writer_gen_ is written; end it everywhere, then
    // move on to the next generation.
    Deliver(
        l, [](Sink* s) { return s->EndGeneration(); }, 0, active_.size());
    for (Consumer* c : active_) {
      if (!c->failed) ++c->generations;
    }
    RetireDetached();
    written_gen_ = writer_gen_;
    ++writer_gen_;
    gen_begun_ = false;
    taken_ = 0;
    cv_.notify_all();
  }
}

}  // namespace gentrace::internal
