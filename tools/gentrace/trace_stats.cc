// See trace_stats.h.
#include "tools/gentrace/trace_stats.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "reader/gentrace_info.h"

namespace gentrace::tools {
namespace {

using reader::EventKind;
using reader::GoState;

constexpr char kUnknownReason[] = "(unknown)";

absl::string_view SourceName(uint64_t source) {
  switch (source) {
    case format::kSamplerNone:
      return "none";
    case format::kSamplerThreadTimer:
      return "thread-timer";
    case format::kSamplerProcessTimer:
      return "process-timer";
    case format::kSamplerPerfEvent:
      return "perf-event";
    case format::kSamplerPerfRing:
      return "perf-ring";
  }
  return "unknown";
}

// The go tool trace -pprof modes, in GoPprofTotals order: the state each
// follows, and which reasons for entering it count.
struct PprofMode {
  GoState state;
  bool (*matches)(absl::string_view reason);
};
const PprofMode kPprofModes[4] = {
    {GoState::kWaiting, [](absl::string_view r) { return r == "network"; }},
    {GoState::kWaiting,
     [](absl::string_view r) {
       return absl::StrContains(r, "chan") || absl::StrContains(r, "sync") ||
              absl::StrContains(r, "select");
     }},
    {GoState::kSyscall, [](absl::string_view) { return true; }},
    {GoState::kRunnable, [](absl::string_view) { return true; }},
};

std::vector<FunctionSamples> Top(std::vector<FunctionSamples> v, size_t n) {
  std::sort(v.begin(), v.end(),
            [](const FunctionSamples& a, const FunctionSamples& b) {
              if (a.samples != b.samples) return a.samples > b.samples;
              return a.function < b.function;
            });
  if (v.size() > n) v.resize(n);
  return v;
}

}  // namespace

void StateTimes::AddTo(StateTimes* sum) const {
  sum->running_ns += running_ns;
  sum->runnable_ns += runnable_ns;
  sum->syscall_ns += syscall_ns;
  sum->blocked_ns += blocked_ns;
  for (const auto& [reason, ns] : blocked_by_reason) {
    sum->blocked_by_reason[reason] += ns;
  }
}

void TraceStats::Add(const reader::Event& ev, const reader::Generation* gen) {
  const EventKind kind = ev.kind();
  if (new_generation_ && gen != nullptr) {
    new_generation_ = false;
    NewGeneration(*gen);
  }
  if (base_.events == 0) base_.start_ns = ev.time();
  base_.end_ns = ev.time();
  ++base_.events;
  ++base_.events_by_kind[static_cast<int>(kind)];
  switch (kind) {
    case EventKind::kSync:
      ++base_.generations_complete;
      if (gen != nullptr) {
        base_.largest_generation_bytes =
            std::max(base_.largest_generation_bytes, gen->size_bytes());
      }
      new_generation_ = true;
      break;
    case EventKind::kStateTransition:
      Transition(ev);
      break;
    case EventKind::kStackSample:
      Sample(ev);
      break;
    case EventKind::kTaskBegin: {
      const reader::Task t = ev.task();
      open_tasks_[t.id] = OpenTask{std::string(t.type), ev.time()};
      break;
    }
    case EventKind::kTaskEnd: {
      const reader::Task t = ev.task();
      auto it = open_tasks_.find(t.id);
      if (it == open_tasks_.end()) {
        ++tasks_[t.type.empty() ? kUnknownReason : std::string(t.type)]
              .ended_only;
      } else {
        tasks_[it->second.name].sketch.Add(ev.time() - it->second.start);
        open_tasks_.erase(it);
      }
      break;
    }
    case EventKind::kRegionBegin:
      goroutines_[ev.goroutine()].regions.emplace_back(
          std::string(ev.region().type), ev.time());
      break;
    case EventKind::kRegionEnd: {
      const absl::string_view type = ev.region().type;
      auto& open = goroutines_[ev.goroutine()].regions;
      size_t i = open.size();
      while (i > 0 && open[i - 1].first != type) --i;
      if (i == 0) {
        ++regions_[std::string(type)].ended_only;
        break;
      }
      // Regions nest; any left open inside this one never end.
      for (size_t j = i; j < open.size(); ++j)
        ++regions_[open[j].first].unfinished;
      regions_[open[i - 1].first].sketch.Add(ev.time() - open[i - 1].second);
      open.resize(i - 1);
      break;
    }
    case EventKind::kLog:
      ++logs_[std::string(ev.log().category)];
      break;
    default:
      break;
  }
}

void TraceStats::NewGeneration(const reader::Generation& gen) {
  reader::GentraceInfo info;
  absl::Status s = reader::DecodeGentraceInfo(gen, &info);
  if (!s.ok() && base_.info_error.empty()) {
    base_.info_error = std::string(s.message());
  }
  if (!info.threads.empty() || !info.samplers.empty() || !info.fibers.empty() ||
      !info.spans.empty() || !info.event_samplers.empty()) {
    base_.gentrace_info = true;
  }
  for (const reader::ThreadInfo& t : info.threads) {
    Thread& th = threads_[static_cast<int64_t>(t.thread)];
    th.name = t.name;
    // gentrace's own threads have goroutine 0: no goroutine.
    if (t.goroutine != 0) th.goroutine = static_cast<int64_t>(t.goroutine);
  }
  for (const reader::FiberInfo& f : info.fibers) {
    fibers_[static_cast<int64_t>(f.goroutine)] = f.name;
  }
  CpuStats& cpu = base_.cpu;
  for (const reader::SamplerInfo& s : info.samplers) {
    cpu.samples_recorded += s.samples_taken;
    cpu.samples_lost += s.samples_lost;
    const std::string name(SourceName(s.source));
    if (std::find(cpu.sources.begin(), cpu.sources.end(), name) ==
        cpu.sources.end()) {
      cpu.sources.push_back(name);
    }
    cpu.hz = s.hz;
    cpu.period = s.period;
    cpu.event = s.event;
    const std::string event = s.event.empty() ? name : s.event;
    auto it =
        std::find_if(cpu.samples_by_event.begin(), cpu.samples_by_event.end(),
                     [&](const auto& e) { return e.first == event; });
    if (it == cpu.samples_by_event.end()) {
      cpu.samples_by_event.emplace_back(event, s.samples_taken);
    } else {
      it->second += s.samples_taken;
    }
  }
  for (const reader::EventSamplerInfo& e : info.event_samplers) {
    if (e.event >= format::kMaxInfoEvents) continue;  // not a sane index
    if (cpu.events.size() <= e.event) cpu.events.resize(e.event + 1);
    CpuStats::Event& ce = cpu.events[e.event];
    ce.name = e.name;
    ce.samples += e.samples_taken;
    ce.lost += e.samples_lost;
    if (e.event == 0) continue;  // the primary's are in its SamplerRecord
    auto it =
        std::find_if(cpu.samples_by_event.begin(), cpu.samples_by_event.end(),
                     [&](const auto& p) { return p.first == e.name; });
    if (it == cpu.samples_by_event.end()) {
      cpu.samples_by_event.emplace_back(e.name, e.samples_taken);
    } else {
      it->second += e.samples_taken;
    }
  }
}

void TraceStats::CloseState(
    Goroutine* g, int64_t t,
    absl::flat_hash_map<int64_t, Thread>* threads) const {
  const int64_t d = t - g->since;
  switch (g->state) {
    case GoState::kRunning:
      g->times.running_ns += d;
      if (g->thread != reader::kNone) (*threads)[g->thread].running_ns += d;
      break;
    case GoState::kSyscall:
      g->times.syscall_ns += d;
      if (g->thread != reader::kNone) (*threads)[g->thread].syscall_ns += d;
      break;
    case GoState::kRunnable:
      g->times.runnable_ns += d;
      break;
    case GoState::kWaiting:
      g->times.blocked_ns += d;
      g->times
          .blocked_by_reason[g->reason.empty() ? kUnknownReason : g->reason] +=
          d;
      break;
    default:
      break;
  }
  g->since = t;
}

void TraceStats::Transition(const reader::Event& ev) {
  const reader::StateTransition st = ev.state_transition();
  if (st.resource.kind != reader::ResourceKind::kGoroutine) return;
  Goroutine& g = goroutines_[st.resource.id];
  if (g.name.empty() && !st.stack.empty()) {
    g.name = std::string(st.stack[st.stack.size() - 1].func);
  }
  PprofTransition(ev, st, &g);
  const GoState to = st.go_to();
  const int64_t t = ev.time();
  CloseState(&g, t, &threads_);
  if (to == GoState::kWaiting &&
      !(g.state == GoState::kWaiting && st.reason.empty())) {
    g.reason = std::string(st.reason);
  }
  if ((to == GoState::kRunning || to == GoState::kSyscall) &&
      ev.thread() != reader::kNone) {
    g.thread = ev.thread();
  }
  g.state = to;
  g.since = t;
}

void TraceStats::PprofTransition(const reader::Event& ev,
                                 const reader::StateTransition& st,
                                 Goroutine* g) {
  const GoState to = st.go_to();
  if (to == GoState::kRunning && !g->started) {
    g->started = true;
    g->first_start = ev.time();
    for (int64_t& u : g->unstarted) u = 0;
    g->unstarted_intervals.clear();
  }
  if (ev.stack().id() == 0) return;  // Go's tool skips stackless ones
  int64_t* totals[4] = {&base_.go_pprof.net_ns, &base_.go_pprof.sync_ns,
                        &base_.go_pprof.syscall_ns, &base_.go_pprof.sched_ns};
  for (int i = 0; i < 4; ++i) {
    Tracker& tr = g->pprof[i];
    if (!tr.active) {
      if (to == kPprofModes[i].state && kPprofModes[i].matches(st.reason)) {
        tr.active = true;
        tr.start = ev.time();
        if (pprof_sink_ != nullptr) tr.handle = pprof_sink_->Begin(i, ev);
      }
    } else if (to != kPprofModes[i].state) {
      tr.active = false;
      if (g->started) {
        const int64_t ns = std::max<int64_t>(
            0, ev.time() - std::max(tr.start, g->first_start));
        *totals[i] += ns;
        if (pprof_sink_ != nullptr && ns > 0) {
          pprof_sink_->Counted(i, tr.handle, ns);
        }
      } else {
        g->unstarted[i] += ev.time() - tr.start;
        if (pprof_sink_ != nullptr && ev.time() > tr.start) {
          g->unstarted_intervals.emplace_back(i, tr.handle,
                                              ev.time() - tr.start);
        }
      }
    }
  }
}

void TraceStats::Sample(const reader::Event& ev) {
  ++base_.cpu.samples;
  ++threads_[ev.thread()].cpu_samples;
  const reader::StackView stack = ev.stack();
  if (stack.empty()) return;
  scratch_.clear();
  for (size_t i = 0; i < stack.size(); ++i) {
    const absl::string_view fn = stack[i].func;
    if (std::find(scratch_.begin(), scratch_.end(), fn) == scratch_.end()) {
      scratch_.push_back(fn);
    }
  }
  for (size_t i = 0; i < scratch_.size(); ++i) {
    auto it = functions_.find(scratch_[i]);
    if (it == functions_.end()) {
      it = functions_.emplace(std::string(scratch_[i]), FnCount{}).first;
    }
    ++it->second.cum;
    if (i == 0) ++it->second.flat;
  }
}

StatsReport TraceStats::Finish() const {
  StatsReport r = base_;
  absl::flat_hash_map<int64_t, Thread> threads = threads_;
  absl::flat_hash_map<int64_t, int64_t> own_thread;  // goroutine -> thread
  for (const auto& [id, th] : threads_) {
    if (th.goroutine != reader::kNone) own_thread[th.goroutine] = id;
  }
  std::map<std::string, Named> regions = regions_;
  for (const auto& [id, g0] : goroutines_) {
    Goroutine g = g0;
    CloseState(&g, r.end_ns, &threads);
    for (const auto& open : g.regions) ++regions[open.first].unfinished;
    if (g0.state == GoState::kUndetermined && g.times.running_ns == 0 &&
        g.times.runnable_ns == 0 && g.times.syscall_ns == 0 &&
        g.times.blocked_ns == 0) {
      // Seen only in region events without any state: no row.
      continue;
    }
    if (!g.started) {
      r.go_pprof.net_ns += g.unstarted[0];
      r.go_pprof.sync_ns += g.unstarted[1];
      r.go_pprof.syscall_ns += g.unstarted[2];
      r.go_pprof.sched_ns += g.unstarted[3];
      if (pprof_sink_ != nullptr) {
        for (const auto& [mode, handle, ns] : g.unstarted_intervals) {
          pprof_sink_->Counted(mode, handle, ns);
        }
      }
    }
    GoroutineStats gs;
    gs.id = id;
    gs.name = g.name;
    if (auto it = own_thread.find(id); it != own_thread.end()) {
      gs.kind = "thread";
      gs.thread = it->second;
      gs.name = threads_.at(it->second).name;
    } else if (auto f = fibers_.find(id); f != fibers_.end()) {
      gs.kind = "fiber";
      gs.name = f->second;
      ++r.fibers;
    }
    gs.times = g.times;
    gs.times.AddTo(&r.totals);
    r.goroutines.push_back(std::move(gs));
  }
  std::sort(r.goroutines.begin(), r.goroutines.end(),
            [](const GoroutineStats& a, const GoroutineStats& b) {
              return a.id < b.id;
            });
  for (const auto& [id, th] : threads) {
    ThreadStats ts;
    ts.id = id;
    ts.name = th.name;
    ts.goroutine = th.goroutine;
    ts.running_ns = th.running_ns;
    ts.syscall_ns = th.syscall_ns;
    ts.cpu_samples = th.cpu_samples;
    r.threads.push_back(std::move(ts));
  }
  std::sort(
      r.threads.begin(), r.threads.end(),
      [](const ThreadStats& a, const ThreadStats& b) { return a.id < b.id; });
  std::map<std::string, Named> tasks = tasks_;
  for (const auto& [id, open] : open_tasks_) ++tasks[open.name].unfinished;
  for (const auto& [name, n] : tasks) {
    r.tasks.push_back({name, n.sketch.Summary(), n.unfinished, n.ended_only});
  }
  for (const auto& [name, n] : regions) {
    r.regions.push_back({name, n.sketch.Summary(), n.unfinished, n.ended_only});
  }
  for (const auto& [cat, n] : logs_) r.logs.emplace_back(cat, n);
  std::vector<FunctionSamples> flat, cum;
  for (const auto& [fn, c] : functions_) {
    if (c.flat > 0) flat.push_back({fn, c.flat});
    cum.push_back({fn, c.cum});
  }
  r.cpu.top_flat = Top(std::move(flat), top_);
  r.cpu.top_cumulative = Top(std::move(cum), top_);
  return r;
}

std::vector<const GoroutineStats*> StatsReport::BusiestNonThreadGoroutines()
    const {
  std::vector<const GoroutineStats*> gs;
  for (const GoroutineStats& g : goroutines) {
    if (g.kind != "thread") gs.push_back(&g);
  }
  auto total = [](const GoroutineStats* g) {
    return g->times.running_ns + g->times.runnable_ns + g->times.syscall_ns +
           g->times.blocked_ns;
  };
  std::stable_sort(gs.begin(), gs.end(),
                   [&](const GoroutineStats* a, const GoroutineStats* b) {
                     return total(a) > total(b);
                   });
  return gs;
}

}  // namespace gentrace::tools
