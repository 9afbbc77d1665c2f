// The signal-free sampler over per-thread perf rings (ring_sampler.h).
#include "cpusample/ring_sampler.h"

#include <pthread.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/sys.h"

namespace gentrace::cpusample {

namespace {

struct State {
  std::mutex mu;  // everything below
  bool running = false;
  bool accepting = false;  // AttachCurrentThread opens rings
  uint64_t session = 0;    // Start count: a thread's ring of an old session
  RingSamplerOptions options;
  std::vector<std::unique_ptr<PerfRing>> live;     // attached threads
  std::vector<std::unique_ptr<PerfRing>> retired;  // detached, to drain
  // Rings whose thread detached while a Drain held them.
  std::vector<PerfRing*> detach_pending;
  RingSamplerStats stats;
  std::mutex drain_mu;  // one Drain at a time (taken before mu)
};

State& S() {
  static State* s = new State();  // never destroyed: threads exit late
  return *s;
}

// The calling thread's ring, and the session it belongs to. Plain TLS (no
// thread_local object with a destructor: see the Sampler's exit key); a
// pthread key set while attached detaches a thread that exits attached.
struct ThreadRing {
  PerfRing* ring;
  uint64_t session;
};
__thread ThreadRing t_ring = {nullptr, 0};

pthread_key_t g_exit_key;
pthread_once_t g_exit_key_once = PTHREAD_ONCE_INIT;
void DetachAtExit(void*) { RingSampler::DetachCurrentThread(); }
void CreateExitKey() { pthread_key_create(&g_exit_key, DetachAtExit); }

// Adds ring's counters to the totals and closes it. Caller holds mu.
void CloseLocked(State& s, std::unique_ptr<PerfRing> ring) {
  ring->Disable();
  for (size_t i = 0; i < ring->num_events() && i < s.stats.counted.size();
       ++i) {
    absl::StatusOr<uint64_t> n = ring->ReadCount(i);
    if (n.ok()) s.stats.counted[i] += *n;
  }
}

}  // namespace

absl::Status RingSampler::Start(const RingSamplerOptions& options) {
  State& s = S();
  std::lock_guard<std::mutex> l(s.mu);
  if (s.running) {
    return absl::FailedPreconditionError("the ring sampler is running");
  }
  // Probe on this thread: the kernel's answer now, not at each thread.
  absl::StatusOr<std::unique_ptr<PerfRing>> probe =
      PerfRing::Open(options.events, base::GetTid(), options.ring);
  if (!probe.ok()) return probe.status();
  probe->reset();
  s.options = options;
  s.stats = RingSamplerStats();
  s.stats.counted.assign(options.events.size(), 0);
  s.stats.samples_by_event.assign(options.events.size(), 0);
  s.stats.lost_by_event.assign(options.events.size(), 0);
  s.live.clear();
  s.retired.clear();
  s.detach_pending.clear();
  ++s.session;
  s.running = true;
  s.accepting = true;
  return absl::OkStatus();
}

void RingSampler::DisableAll() {
  State& s = S();
  std::lock_guard<std::mutex> dl(s.drain_mu);  // no ring is out in a Drain
  std::lock_guard<std::mutex> l(s.mu);
  s.accepting = false;
  for (auto& r : s.live) r->Disable();
}

void RingSampler::Stop() {
  State& s = S();
  std::lock_guard<std::mutex> dl(s.drain_mu);
  std::lock_guard<std::mutex> l(s.mu);
  if (!s.running) return;
  s.running = false;
  s.accepting = false;
  for (auto& r : s.live) CloseLocked(s, std::move(r));
  for (auto& r : s.retired) CloseLocked(s, std::move(r));
  s.live.clear();
  s.retired.clear();
  s.detach_pending.clear();
}

bool RingSampler::running() {
  State& s = S();
  std::lock_guard<std::mutex> l(s.mu);
  return s.running;
}

absl::Status RingSampler::AttachCurrentThread() {
  State& s = S();
  std::lock_guard<std::mutex> l(s.mu);
  if (!s.running || !s.accepting) return absl::OkStatus();
  if (t_ring.ring != nullptr && t_ring.session == s.session) {
    return absl::OkStatus();
  }
  absl::StatusOr<std::unique_ptr<PerfRing>> ring =
      PerfRing::Open(s.options.events, base::GetTid(), s.options.ring);
  if (!ring.ok()) {
    ++s.stats.attach_failures;
    return ring.status();
  }
  if (!(*ring)->Enable()) {
    ++s.stats.attach_failures;
    return absl::InternalError("perf ring: PERF_EVENT_IOC_ENABLE failed");
  }
  t_ring.ring = ring->get();
  t_ring.session = s.session;
  pthread_once(&g_exit_key_once, CreateExitKey);
  pthread_setspecific(g_exit_key, reinterpret_cast<void*>(1));
  s.live.push_back(std::move(*ring));
  ++s.stats.rings_opened;
  return absl::OkStatus();
}

void RingSampler::DetachCurrentThread() {
  State& s = S();
  std::lock_guard<std::mutex> l(s.mu);
  PerfRing* mine = t_ring.ring;
  t_ring.ring = nullptr;
  if (mine != nullptr) {
    pthread_once(&g_exit_key_once, CreateExitKey);
    pthread_setspecific(g_exit_key, nullptr);
  }
  if (mine == nullptr || !s.running || t_ring.session != s.session) return;
  for (size_t i = 0; i < s.live.size(); ++i) {
    if (s.live[i].get() == mine) {
      mine->Disable();
      s.retired.push_back(std::move(s.live[i]));
      s.live.erase(s.live.begin() + static_cast<long>(i));
      return;
    }
  }
  // A Drain holds it: it retires the ring when it puts it back.
  mine->Disable();
  s.detach_pending.push_back(mine);
}

bool RingSampler::IsCurrentThreadAttached() {
  State& s = S();
  std::lock_guard<std::mutex> l(s.mu);
  return t_ring.ring != nullptr && s.running && t_ring.session == s.session;
}

PerfRingDrainStats RingSampler::Drain(
    absl::FunctionRef<void(const PerfRingSample&)> on_sample, bool close_all) {
  State& s = S();
  std::lock_guard<std::mutex> dl(s.drain_mu);
  // Take the rings out under mu, drain them without it (attaching threads
  // need mu), then put them back. Rings retired meanwhile wait for the
  // next Drain; a live ring detached meanwhile is found in `taken` and
  // retired on the way back.
  std::vector<std::unique_ptr<PerfRing>> taken, retired;
  {
    std::lock_guard<std::mutex> l(s.mu);
    if (!s.running) return PerfRingDrainStats();
    retired.swap(s.retired);
    for (auto& r : s.live) {
      if (close_all) {
        r->Disable();
        retired.push_back(std::move(r));
      } else {
        taken.push_back(std::move(r));
      }
    }
    s.live.clear();
  }
  PerfRingDrainStats total;
  const size_t events = s.options.events.size();  // fixed while running
  total.samples_by_event.assign(events, 0);
  total.lost_by_event.assign(events, 0);
  auto add = [&total, events](const PerfRingDrainStats& d) {
    total.samples += d.samples;
    total.other_records += d.other_records;
    for (size_t i = 0; i < events && i < d.lost_by_event.size(); ++i) {
      total.samples_by_event[i] += d.samples_by_event[i];
      total.lost_by_event[i] += d.lost_by_event[i];
      total.lost += d.lost_by_event[i];
    }
  };
  for (auto& r : taken) add(r->Drain(on_sample));
  uint64_t unreported = 0;
  for (auto& r : retired) {
    add(r->Drain(on_sample));
    // Disabled and drained: final. Already in lost_by_event where the
    // kernel counts per event (0 where it does not).
    unreported += r->UnreportedLost();
  }
  std::lock_guard<std::mutex> l(s.mu);
  for (size_t i = 0; i < events; ++i) {
    s.stats.samples_by_event[i] += total.samples_by_event[i];
    s.stats.lost_by_event[i] += total.lost_by_event[i];
  }
  s.stats.lost_unreported += unreported;
  for (auto& r : retired) CloseLocked(s, std::move(r));
  // Threads attached while we drained are in s.live already.
  for (auto& r : taken) {
    auto it =
        std::find(s.detach_pending.begin(), s.detach_pending.end(), r.get());
    if (it != s.detach_pending.end()) {
      s.detach_pending.erase(it);
      s.retired.push_back(std::move(r));
    } else {
      s.live.push_back(std::move(r));
    }
  }
  s.stats.samples += total.samples;
  s.stats.lost += total.lost;
  return total;
}

std::vector<int> RingSampler::PollFds() {
  State& s = S();
  std::lock_guard<std::mutex> l(s.mu);
  std::vector<int> fds;
  for (const auto& r : s.live) fds.push_back(r->fd());
  return fds;
}

RingSamplerStats RingSampler::stats() {
  State& s = S();
  std::lock_guard<std::mutex> l(s.mu);
  return s.stats;
}

std::string RingSampler::description() {
  State& s = S();
  std::lock_guard<std::mutex> l(s.mu);
  std::vector<std::string> events;
  for (const PerfRingEvent& e : s.options.events) {
    events.push_back(
        e.period != 0 ? absl::StrCat(e.spec.name, " (period ", e.period, ")")
                      : absl::StrCat(e.spec.name, " (", e.freq, " samples/s)"));
  }
  return absl::StrCat("perf ring: ", absl::StrJoin(events, ", "), ", ",
                      s.options.ring.data_pages, " pages per thread");
}

}  // namespace gentrace::cpusample
