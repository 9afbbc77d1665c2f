// See report_data.h.
#include "tools/gentrace/report_data.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "reader/gentrace_info.h"
#include "tools/gentrace/report.h"

namespace gentrace::tools {

// ---- ReportItemList

void ReportItemList::Push(const Item& it, uint32_t merged_name,
                          std::vector<Item>* out) const {
  auto mergeable = [this](const Item& i) {
    return i.count > 1 || i.end - i.start < width_;
  };
  if (!out->empty()) {
    Item& last = out->back();
    if (mergeable(last) && mergeable(it) && it.start - last.end < width_) {
      last.end = std::max(last.end, it.end);
      const uint64_t n = uint64_t{last.count} + it.count;
      last.count = static_cast<uint32_t>(
          std::min<uint64_t>(n, std::numeric_limits<uint32_t>::max()));
      if (last.name != it.name) last.name = merged_name;
      return;
    }
  }
  out->push_back(it);
}

void ReportItemList::Add(int64_t start, int64_t end, uint32_t name,
                         uint32_t merged_name, size_t max_items) {
  Push(Item{start, end, name, 1}, merged_name, &items_);
  if (items_.size() <= max_items) return;
  // Full: with w = 4 * span / max_items, the items at least w long and the
  // gaps at least w long are at most max_items / 4 each, and every other
  // item merges into a run between two of them, so at most 3/4 remain.
  const int64_t span = items_.back().end - items_.front().start;
  width_ = std::max(width_ * 2, 4 * span / static_cast<int64_t>(max_items) + 1);
  while (true) {
    std::vector<Item> coarse;
    coarse.reserve(items_.size());
    for (const Item& it : items_) Push(it, merged_name, &coarse);
    items_ = std::move(coarse);
    if (items_.size() <= max_items * 3 / 4) break;
    width_ *= 2;
  }
}

// ---- ReportData

ReportData::ReportData(ReportLimits limits) : limits_(limits) {
  merged_name_ = Intern("merged");
  flame_.push_back(FlameNode{-1, Intern("all samples"), 0});
}

uint32_t ReportData::Intern(absl::string_view s) {
  auto [it, added] = string_ids_.try_emplace(std::string(s), 0);
  if (added) {
    it->second = static_cast<uint32_t>(strings_.size());
    strings_.emplace_back(s);
  }
  return it->second;
}

void ReportData::NewGeneration(const reader::Generation& gen) {
  reader::GentraceInfo info;
  // An info batch that does not decode leaves names out (stats and
  // validate say why).
  (void)reader::DecodeGentraceInfo(gen, &info);
  thread_names_.clear();
  fiber_names_.clear();
  for (const reader::ThreadInfo& t : info.threads) {
    thread_names_[static_cast<int64_t>(t.goroutine)] =
        t.name.empty() ? absl::StrCat("thread ", t.thread) : t.name;
  }
  for (const reader::FiberInfo& f : info.fibers) {
    fiber_names_[static_cast<int64_t>(f.goroutine)] = f.name;
  }
}

ReportData::Goroutine& ReportData::G(int64_t id, absl::string_view start_fn) {
  auto [it, added] = goroutines_.try_emplace(id);
  Goroutine& g = it->second;
  if (!added) return g;
  if (tracks_.size() >= limits_.max_tracks) {
    ++tracks_dropped_;
    return g;
  }
  auto track = std::make_unique<Track>();
  track->goroutine = id;
  if (auto t = thread_names_.find(id); t != thread_names_.end()) {
    track->name = t->second;
  } else if (auto f = fiber_names_.find(id); f != fiber_names_.end()) {
    track->name = f->second;
  } else {
    track->name = absl::StrCat("G", id);
    if (!start_fn.empty()) absl::StrAppend(&track->name, " ", start_fn);
  }
  g.track = static_cast<int>(tracks_.size());
  tracks_.push_back(std::move(track));
  return g;
}

void ReportData::Add(const reader::Event& ev, const reader::Generation* gen) {
  if (new_generation_ && gen != nullptr) {
    new_generation_ = false;
    NewGeneration(*gen);
  }
  if (!started_) {
    started_ = true;
    start_ = ev.time();
  }
  end_ = ev.time();
  switch (ev.kind()) {
    case reader::EventKind::kSync:
      new_generation_ = true;
      break;
    case reader::EventKind::kStateTransition:
      Transition(ev);
      break;
    case reader::EventKind::kRegionBegin: {
      if (ev.goroutine() == reader::kNone) break;
      Goroutine& g = G(ev.goroutine());
      g.regions.emplace_back(Intern(ev.region().type), ev.time());
      break;
    }
    case reader::EventKind::kRegionEnd: {
      if (ev.goroutine() == reader::kNone) break;
      Goroutine& g = G(ev.goroutine());
      const uint32_t name = Intern(ev.region().type);
      size_t i = g.regions.size();
      while (i > 0 && g.regions[i - 1].first != name) --i;
      if (i == 0) break;  // begun before the trace
      // Regions nest: one still open inside this one ends here too.
      for (size_t j = g.regions.size(); j >= i; --j) {
        EndRegion(&g, j - 1, ev.time());
      }
      g.regions.resize(i - 1);
      break;
    }
    case reader::EventKind::kLog: {
      if (ev.goroutine() == reader::kNone) break;
      Goroutine& g = G(ev.goroutine());
      if (g.track < 0) break;
      const absl::string_view cat = ev.log().category;
      tracks_[g.track]->logs.Add(ev.time(), ev.time(),
                                 Intern(cat.empty() ? "log" : cat),
                                 merged_name_, limits_.max_items);
      break;
    }
    case reader::EventKind::kStackSample:
      Sample(ev);
      break;
    default:
      break;
  }
}

void ReportData::EndRegion(Goroutine* g, size_t index, int64_t t) {
  if (g->track < 0) return;
  if (index >= limits_.max_depth) {
    ++regions_dropped_;
    return;
  }
  Track& track = *tracks_[g->track];
  if (track.regions.size() <= index) track.regions.resize(index + 1);
  track.regions[index].Add(g->regions[index].second, t, g->regions[index].first,
                           merged_name_, limits_.max_items);
}

void ReportData::Transition(const reader::Event& ev) {
  const reader::StateTransition st = ev.state_transition();
  if (st.resource.kind != reader::ResourceKind::kGoroutine) return;
  if (st.go_from() == st.go_to() &&
      st.go_from() != reader::GoState::kUndetermined) {
    return;  // a status that repeats what is known
  }
  absl::string_view start_fn;
  if (st.go_from() == reader::GoState::kNotExist && !st.stack.empty()) {
    start_fn = st.stack[0].func;
  }
  const int64_t t = ev.time();
  Goroutine& g = G(st.resource.id, start_fn);
  if (g.state_open && g.track >= 0) {
    tracks_[g.track]->states.Add(g.since, t, g.state, merged_name_,
                                 limits_.max_items);
  }
  g.state_open = true;
  switch (st.go_to()) {
    case reader::GoState::kRunning:
      g.state = Intern("running");
      break;
    case reader::GoState::kSyscall:
      g.state = Intern("syscall");
      break;
    case reader::GoState::kWaiting:
      g.state =
          Intern(st.reason.empty() ? std::string("blocked")
                                   : absl::StrCat("blocked: ", st.reason));
      break;
    default:
      g.state_open = false;
      break;
  }
  g.since = t;
  if (st.go_to() == reader::GoState::kNotExist) {
    // Its open regions end with it; goroutine ids are not reused.
    for (size_t j = g.regions.size(); j > 0; --j) EndRegion(&g, j - 1, t);
    g.regions.clear();
    g.track = -1;  // keeps it counted, draws nothing more
  }
}

void ReportData::Sample(const reader::Event& ev) {
  ++samples_;
  ++flame_[0].value;
  const reader::StackView stack = ev.stack();
  int32_t node = 0;
  // The reader's stacks are leaf first; the flame graph's root first.
  for (size_t i = stack.size(); i > 0; --i) {
    const reader::StackFrame f = stack[i - 1];
    const uint32_t name =
        Intern(f.func.empty() ? absl::StrCat("0x", absl::Hex(f.pc))
                              : std::string(f.func));
    auto it = children_.find(std::make_pair(node, name));
    if (it == children_.end()) {
      if (flame_.size() >= limits_.max_frames) {
        ++frames_dropped_;
        return;
      }
      it = children_
               .emplace(std::make_pair(node, name),
                        static_cast<int32_t>(flame_.size()))
               .first;
      flame_.push_back(FlameNode{node, name, 0});
    }
    node = it->second;
    ++flame_[node].value;
  }
}

namespace {

void AppendItems(const ReportItemList& list, int64_t start, uint64_t* merged,
                 std::string* out) {
  out->push_back('[');
  bool first = true;
  for (const ReportItemList::Item& it : list.items()) {
    absl::StrAppend(out, first ? "" : ",", "[", it.start - start, ",",
                    it.end - it.start, ",", it.name, ",", it.count, "]");
    if (it.count > 1) *merged += it.count;
    first = false;
  }
  out->push_back(']');
}

}  // namespace

std::string ReportData::FinishJson() {
  // What is still open ends at the last event.
  for (auto& [id, g] : goroutines_) {
    if (g.track < 0) continue;
    for (size_t j = g.regions.size(); j > 0; --j) EndRegion(&g, j - 1, end_);
    g.regions.clear();
    if (g.state_open) {
      tracks_[g.track]->states.Add(g.since, end_, g.state, merged_name_,
                                   limits_.max_items);
      g.state_open = false;
    }
  }
  uint64_t merged = 0;
  std::string out;
  absl::StrAppend(&out, "{\"start_ns\": ", start_, ", \"end_ns\": ", end_,
                  ", \"strings\": [");
  for (size_t i = 0; i < strings_.size(); ++i) {
    if (i > 0) out += ",";
    AppendJsonString(strings_[i], &out);
  }
  absl::StrAppend(&out, "], \"limits\": {\"tracks\": ", limits_.max_tracks,
                  ", \"items\": ", limits_.max_items,
                  ", \"depth\": ", limits_.max_depth,
                  ", \"frames\": ", limits_.max_frames, "}, \"tracks\": [");
  for (size_t i = 0; i < tracks_.size(); ++i) {
    const Track& t = *tracks_[i];
    absl::StrAppend(&out, i ? ",\n" : "\n", "{\"name\": ", Json(t.name),
                    ", \"goroutine\": ", t.goroutine, ", \"states\": ");
    AppendItems(t.states, start_, &merged, &out);
    out += ", \"regions\": [";
    for (size_t d = 0; d < t.regions.size(); ++d) {
      if (d > 0) out += ",";
      AppendItems(t.regions[d], start_, &merged, &out);
    }
    out += "], \"logs\": ";
    AppendItems(t.logs, start_, &merged, &out);
    out += "}";
  }
  absl::StrAppend(&out, "], \"tracks_dropped\": ", tracks_dropped_,
                  ", \"regions_dropped\": ", regions_dropped_,
                  ", \"items_merged\": ", merged, ", \"samples\": ", samples_,
                  ", \"flame\": [");
  for (size_t i = 0; i < flame_.size(); ++i) {
    absl::StrAppend(&out, i ? "," : "", "[", flame_[i].parent, ",",
                    flame_[i].name, ",", flame_[i].value, "]");
  }
  absl::StrAppend(&out, "], \"frames_dropped\": ", frames_dropped_, "}");
  return out;
}

}  // namespace gentrace::tools
