// `gentrace stats [--json] [--top=N] FILE`: where a trace's time went (see
// trace_stats.h for what is measured), as tables sized to the terminal or
// as JSON.

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "reader/event.h"
#include "tools/gentrace/command.h"
#include "tools/gentrace/report.h"
#include "tools/gentrace/terminal.h"
#include "tools/gentrace/trace_stats.h"

namespace gentrace::tools {
namespace {

constexpr char kHelp[] =
    R"(usage: gentrace stats [--json] [--top=N] FILE

Reads the Go execution trace FILE ("-" for standard input; zstd-compressed
input is decompressed) in one pass and says where its time went:

  * duration (first to last event), complete generations, the largest
    generation's size, events by kind;
  * per thread: time goroutines ran and spent in syscalls on it, CPU
    samples; for a gentrace trace also its name and, from its own
    goroutine, time blocked (by reason) and waiting to run;
  * per goroutine (Go traces; fibers in gentrace traces): running, waiting
    to run, in syscalls, blocked by reason; the totals over all;
  * tasks and regions by name: count, total, p50, p99 and max duration
    (exact up to 4096 per name, then within 0.4%), and how many were
    unfinished at the end or ended without a begin in the trace;
  * logs by category;
  * CPU samples per thread, the top N functions by samples (flat: the leaf
    frame; cumulative: anywhere on the stack), and for gentrace traces the
    sampling source, rate, and samples recorded and lost;
  * what `go tool trace -pprof=net|sync|syscall|sched` would total.

Tables are as wide as the terminal (or $COLUMNS, else 80; 60 at least). A progress line
appears on stderr when it is a terminal and reading takes over a second.
If reading stops early, the statistics cover what was read and one line
on stderr names the file, where reading stopped, and why.

With --json, prints one JSON object with the keys
  events_by_kind, events, generations_complete, error (null or the
  message), duration_ns, start_ns, end_ns, largest_generation_bytes,
  gentrace_info, info_error, threads, goroutines, totals, fibers,
  go_pprof_ns, tasks, regions, logs, cpu
(docs/CLI.md describes each). Durations are in nanoseconds.

Flags:
  --json      print JSON
  --top=N     functions (and, in the tables, goroutines) to list (20)
  -h, --help  show this help

Exit status: 0 the whole trace was read, 1 reading failed (the statistics
are printed anyway), 2 usage error.
)";

// ---- JSON

void AppendTimesJson(const StateTimes& t, std::string* out) {
  absl::StrAppend(
      out, "\"running_ns\": ", t.running_ns,
      ", \"runnable_ns\": ", t.runnable_ns, ", \"syscall_ns\": ", t.syscall_ns,
      ", \"blocked_ns\": ", t.blocked_ns, ", \"blocked_by_reason\": {");
  bool first = true;
  for (const auto& [reason, ns] : t.blocked_by_reason) {
    absl::StrAppend(out, first ? "" : ", ", Json(reason), ": ", ns);
    first = false;
  }
  out->push_back('}');
}

void AppendNamedJson(const std::vector<NamedDurations>& v, std::string* out) {
  out->push_back('[');
  for (size_t i = 0; i < v.size(); ++i) {
    const DurationSummary& d = v[i].durations;
    absl::StrAppend(out, i ? ", " : "", "{\"name\": ", Json(v[i].name),
                    ", \"count\": ", d.count, ", \"total_ns\": ", d.total_ns,
                    ", \"p50_ns\": ", d.p50_ns, ", \"p99_ns\": ", d.p99_ns,
                    ", \"max_ns\": ", d.max_ns,
                    ", \"unfinished\": ", v[i].unfinished,
                    ", \"ended_only\": ", v[i].ended_only, "}");
  }
  out->push_back(']');
}

void AppendFunctionsJson(const std::vector<FunctionSamples>& v,
                         std::string* out) {
  out->push_back('[');
  for (size_t i = 0; i < v.size(); ++i) {
    absl::StrAppend(out, i ? ", " : "", "{\"function\": ", Json(v[i].function),
                    ", \"samples\": ", v[i].samples, "}");
  }
  out->push_back(']');
}

std::string ToJson(const StatsReport& r, const absl::Status& error) {
  // The first four keys are what `stats --json` printed before the rest
  // existed; scripts rely on them.
  std::string out = "{\"events_by_kind\": {";
  for (int k = 1; k < reader::kNumEventKinds; ++k) {
    if (k > 1) out += ", ";
    AppendJsonString(reader::EventKindName(static_cast<reader::EventKind>(k)),
                     &out);
    absl::StrAppend(&out, ": ", r.events_by_kind[k]);
  }
  absl::StrAppend(&out, "}, \"events\": ", r.events,
                  ", \"generations_complete\": ", r.generations_complete,
                  ", \"error\": ");
  out += error.ok() ? "null" : Json(error.message());
  absl::StrAppend(
      &out, ", \"duration_ns\": ", r.duration_ns(),
      ", \"start_ns\": ", r.start_ns, ", \"end_ns\": ", r.end_ns,
      ", \"largest_generation_bytes\": ", r.largest_generation_bytes,
      ", \"gentrace_info\": ", r.gentrace_info ? "true" : "false",
      ", \"info_error\": ", r.info_error.empty() ? "null" : Json(r.info_error));
  // A thread's own goroutine (gentrace) says how long the thread was
  // blocked, and on what, and how long it waited to run.
  absl::flat_hash_map<int64_t, const GoroutineStats*> by_id;
  for (const GoroutineStats& g : r.goroutines) by_id[g.id] = &g;
  out += ", \"threads\": [";
  for (size_t i = 0; i < r.threads.size(); ++i) {
    const ThreadStats& t = r.threads[i];
    absl::StrAppend(
        &out, i ? ", " : "", "{\"thread\": ", t.id,
        ", \"name\": ", Json(t.name), ", \"goroutine\": ", t.goroutine,
        ", \"running_ns\": ", t.running_ns, ", \"syscall_ns\": ", t.syscall_ns,
        ", \"cpu_samples\": ", t.cpu_samples);
    StateTimes own;
    if (auto it = by_id.find(t.goroutine); it != by_id.end()) {
      own = it->second->times;
    }
    absl::StrAppend(&out, ", \"runnable_ns\": ", own.runnable_ns,
                    ", \"blocked_ns\": ", own.blocked_ns,
                    ", \"blocked_by_reason\": {");
    bool first = true;
    for (const auto& [reason, ns] : own.blocked_by_reason) {
      absl::StrAppend(&out, first ? "" : ", ", Json(reason), ": ", ns);
      first = false;
    }
    out += "}}";
  }
  out += "], \"goroutines\": [";
  for (size_t i = 0; i < r.goroutines.size(); ++i) {
    const GoroutineStats& g = r.goroutines[i];
    absl::StrAppend(&out, i ? ", " : "", "{\"goroutine\": ", g.id,
                    ", \"kind\": ", Json(g.kind), ", \"name\": ", Json(g.name),
                    ", \"thread\": ", g.thread, ", ");
    AppendTimesJson(g.times, &out);
    out += "}";
  }
  out += "], \"totals\": {";
  AppendTimesJson(r.totals, &out);
  absl::StrAppend(&out, "}, \"fibers\": ", r.fibers,
                  ", \"go_pprof_ns\": {\"net\": ", r.go_pprof.net_ns,
                  ", \"sync\": ", r.go_pprof.sync_ns,
                  ", \"syscall\": ", r.go_pprof.syscall_ns,
                  ", \"sched\": ", r.go_pprof.sched_ns, "}, \"tasks\": ");
  AppendNamedJson(r.tasks, &out);
  out += ", \"regions\": ";
  AppendNamedJson(r.regions, &out);
  out += ", \"logs\": [";
  for (size_t i = 0; i < r.logs.size(); ++i) {
    absl::StrAppend(&out, i ? ", " : "",
                    "{\"category\": ", Json(r.logs[i].first),
                    ", \"count\": ", r.logs[i].second, "}");
  }
  const CpuStats& c = r.cpu;
  absl::StrAppend(&out, "], \"cpu\": {\"samples\": ", c.samples,
                  ", \"samples_recorded\": ", c.samples_recorded,
                  ", \"samples_lost\": ", c.samples_lost, ", \"sources\": [");
  for (size_t i = 0; i < c.sources.size(); ++i) {
    absl::StrAppend(&out, i ? ", " : "", Json(c.sources[i]));
  }
  absl::StrAppend(&out, "], \"hz\": ", c.hz, ", \"period\": ", c.period,
                  ", \"event\": ", Json(c.event), ", \"top_flat\": ");
  AppendFunctionsJson(c.top_flat, &out);
  out += ", \"top_cumulative\": ";
  AppendFunctionsJson(c.top_cumulative, &out);
  out += "}, \"cpu_samples_by_event\": {";
  for (size_t i = 0; i < c.samples_by_event.size(); ++i) {
    absl::StrAppend(&out, i ? ", " : "", Json(c.samples_by_event[i].first),
                    ": ", c.samples_by_event[i].second);
  }
  absl::StrAppend(&out, "}, \"cpu_samples_lost\": ", c.samples_lost,
                  ", \"cpu_events\": [");
  for (size_t i = 0; i < c.events.size(); ++i) {
    absl::StrAppend(&out, i ? ", " : "", "{\"name\": ", Json(c.events[i].name),
                    ", \"samples\": ", c.events[i].samples,
                    ", \"lost\": ", c.events[i].lost, "}");
  }
  out += "]}\n";
  return out;
}

// ---- Tables

std::string ToText(const std::string& path, const StatsReport& r,
                   const absl::Status& error, size_t top) {
  const int width = OutputWidth();
  std::string out;
  absl::StrAppend(&out, "trace: ", path, "\n");
  absl::StrAppend(
      &out, "duration: ", Dur(r.duration_ns()), " (", r.duration_ns(), " ns), ",
      r.generations_complete, " complete generations (largest ",
      Bytes(r.largest_generation_bytes), "), ", r.events, " events\n");
  if (!error.ok()) absl::StrAppend(&out, "error: ", error.message(), "\n");
  if (!r.info_error.empty()) {
    absl::StrAppend(&out, "gentrace info: ", r.info_error, "\n");
  }

  absl::flat_hash_map<int64_t, const GoroutineStats*> by_id;
  for (const GoroutineStats& g : r.goroutines) by_id[g.id] = &g;
  if (!r.threads.empty()) {
    absl::StrAppend(&out, "\nThreads (", r.threads.size(), ")\n");
    Table t(width,
            {"thread", "running", "syscall", "blocked", "waiting", "samples"});
    for (const ThreadStats& th : r.threads) {
      std::string blocked = "-", waiting = "-";
      if (auto it = by_id.find(th.goroutine); it != by_id.end()) {
        blocked = Dur(it->second->times.blocked_ns);
        waiting = Dur(it->second->times.runnable_ns);
      }
      t.Row({th.name.empty() ? absl::StrCat(th.id)
                             : absl::StrCat(th.name, " [", th.id, "]"),
             Dur(th.running_ns), Dur(th.syscall_ns), blocked, waiting,
             absl::StrCat(th.cpu_samples)});
    }
    t.AppendTo(&out);
    Table reasons(width, {"thread: blocked on", "time"}, 12);
    for (const ThreadStats& th : r.threads) {
      auto it = by_id.find(th.goroutine);
      if (it == by_id.end()) continue;
      for (const auto& [reason, ns] : it->second->times.blocked_by_reason) {
        reasons.Row(
            {absl::StrCat(th.name.empty() ? absl::StrCat(th.id) : th.name, ": ",
                          reason),
             Dur(ns)});
      }
    }
    if (!reasons.empty()) reasons.AppendTo(&out);
  }

  // Goroutines that are not a thread's own, busiest first.
  const std::vector<const GoroutineStats*> gs = r.BusiestNonThreadGoroutines();
  if (!gs.empty()) {
    absl::StrAppend(&out, "\nGoroutines (", gs.size(), r.fibers ? ", " : "",
                    r.fibers ? absl::StrCat(r.fibers, " fibers") : "",
                    gs.size() > top ? absl::StrCat("; top ", top) : "", ")\n");
    Table t(width, {"goroutine", "running", "waiting", "syscall", "blocked"});
    for (size_t i = 0; i < gs.size() && i < top; ++i) {
      const GoroutineStats& g = *gs[i];
      std::string name = absl::StrCat(g.kind == "fiber" ? "fiber " : "G", g.id);
      if (!g.name.empty()) absl::StrAppend(&name, " ", g.name);
      t.Row({name, Dur(g.times.running_ns), Dur(g.times.runnable_ns),
             Dur(g.times.syscall_ns), Dur(g.times.blocked_ns)});
    }
    t.AppendTo(&out);
  }

  absl::StrAppend(&out, "\nAll goroutines: running ", Dur(r.totals.running_ns),
                  ", waiting to run ", Dur(r.totals.runnable_ns),
                  ", in syscalls ", Dur(r.totals.syscall_ns), ", blocked ",
                  Dur(r.totals.blocked_ns), "\n");
  if (!r.totals.blocked_by_reason.empty()) {
    Table t(width, {"blocked on", "time"}, 12);
    std::vector<std::pair<std::string, int64_t>> reasons(
        r.totals.blocked_by_reason.begin(), r.totals.blocked_by_reason.end());
    std::stable_sort(
        reasons.begin(), reasons.end(),
        [](const auto& a, const auto& b) { return a.second > b.second; });
    for (const auto& [reason, ns] : reasons) t.Row({reason, Dur(ns)});
    t.AppendTo(&out);
  }
  absl::StrAppend(&out, "go tool trace -pprof: net ", Dur(r.go_pprof.net_ns),
                  ", sync ", Dur(r.go_pprof.sync_ns), ", syscall ",
                  Dur(r.go_pprof.syscall_ns), ", sched ",
                  Dur(r.go_pprof.sched_ns), "\n");

  for (int pass = 0; pass < 2; ++pass) {
    const std::vector<NamedDurations>& v = pass == 0 ? r.tasks : r.regions;
    if (v.empty()) continue;
    absl::StrAppend(&out, pass == 0 ? "\nTasks\n" : "\nRegions\n");
    Table t(width, {pass == 0 ? "task" : "region", "count", "total", "p50",
                    "p99", "max", "open"});
    for (const NamedDurations& n : v) {
      const DurationSummary& d = n.durations;
      t.Row({n.name, absl::StrCat(d.count), Dur(d.total_ns), Dur(d.p50_ns),
             Dur(d.p99_ns), Dur(d.max_ns), absl::StrCat(n.unfinished)});
    }
    t.AppendTo(&out);
  }
  if (!r.logs.empty()) {
    out += "\nLogs\n";
    Table t(width, {"category", "count"});
    for (const auto& [cat, n] : r.logs) t.Row({cat, absl::StrCat(n)});
    t.AppendTo(&out);
  }

  const CpuStats& c = r.cpu;
  absl::StrAppend(&out, "\nCPU samples: ", c.samples);
  if (!c.sources.empty()) {
    absl::StrAppend(&out, " (source ", absl::StrJoin(c.sources, ", "));
    if (c.hz) absl::StrAppend(&out, ", ", c.hz, " Hz");
    if (c.period) absl::StrAppend(&out, ", period ", c.period);
    if (!c.event.empty()) absl::StrAppend(&out, ", event ", c.event);
    absl::StrAppend(&out, "; recorded ", c.samples_recorded, ", lost ",
                    c.samples_lost, ")");
  }
  out += "\n";
  for (int pass = 0; pass < 2; ++pass) {
    const auto& v = pass == 0 ? c.top_flat : c.top_cumulative;
    if (v.empty()) continue;
    Table t(width, {pass == 0 ? "function (flat)" : "function (cumulative)",
                    "samples", "share"});
    for (const FunctionSamples& f : v) {
      t.Row({f.function, absl::StrCat(f.samples),
             absl::StrFormat("%.1f%%", 100.0 * f.samples / c.samples)});
    }
    t.AppendTo(&out);
  }

  out += "\nEvents by kind:";
  for (int k = 1; k < reader::kNumEventKinds; ++k) {
    if (r.events_by_kind[k] == 0) continue;
    absl::StrAppend(&out, " ",
                    reader::EventKindName(static_cast<reader::EventKind>(k)),
                    " ", r.events_by_kind[k]);
  }
  out += "\n";
  return out;
}

int RunStats(const ParsedArgs& args) {
  const bool json = args.has("json");
  size_t top = 20;
  if (args.has("top") && (!absl::SimpleAtoi(args.flags.at("top"), &top))) {
    return UsageError(StatsCommand(), "--top needs a number");
  }
  const std::string& path = args.positional[0];
  TraceStats stats(top);
  int64_t offset = -1;
  const absl::Status error =
      ReadTraceStats("gentrace stats", path, &stats, &offset);
  const StatsReport report = stats.Finish();
  const std::string out =
      json ? ToJson(report, error) : ToText(path, report, error, top);
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  if (!error.ok()) return InputFailure(StatsCommand(), path, error, offset);
  return kExitOk;
}

}  // namespace

const Command& StatsCommand() {
  static const Command kCommand = {
      "stats",  "where a trace's time went: threads, goroutines, tasks, CPU",
      kHelp,    {{"json", false}, {"top", true}},
      {"FILE"}, &RunStats,
  };
  return kCommand;
}

}  // namespace gentrace::tools
