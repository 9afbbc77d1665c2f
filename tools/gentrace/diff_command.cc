// `gentrace diff [--json] [--top=N] [--sort=time|count|name] A B`: two
// traces of the same program side by side. Each is read once through
// TraceStats (the pass `gentrace stats` makes, memory bounded the same
// way); the two reports are then matched by name: tasks, regions, log
// categories, functions with CPU samples (flat and cumulative) and the
// goroutine states (running, waiting to run, in syscalls, blocked by
// reason), each with its value in A, in B and the change.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/gentrace/command.h"
#include "tools/gentrace/report.h"
#include "tools/gentrace/terminal.h"
#include "tools/gentrace/trace_stats.h"

namespace gentrace::tools {
namespace {

constexpr char kHelp[] =
    R"(usage: gentrace diff [--json] [--top=N] [--sort=time|count|name] A B

Compares two Go execution traces of the same program, A (before) and B
(after); "-" for one of them reads standard input, zstd-compressed input is
decompressed. Each trace is read once, as `gentrace stats` reads it.

The header gives each trace's duration, complete generations, events and
CPU samples, with events and samples per second of that trace's duration.
Then, matched by name, with A's value, B's value and the change B - A
(absolute, and in percent of A rounded to 0.1, half away from zero; "new"
for a name only in B, "gone" for a name only in A):

  * tasks and regions: count, total, p50 and p99 duration, count per
    second;
  * logs by category: count, count per second;
  * CPU samples by function, flat (the leaf frame) and cumulative
    (anywhere on the stack): samples, samples per second;
  * goroutine states summed over all goroutines: running, waiting to run,
    in syscalls, blocked, and blocked by each reason: time.

Counts and times are totals over each trace; only the "/s" numbers are
normalized (divided by the trace's duration), for traces of different
lengths. Rows are sorted by the largest absolute change in time (--sort=
time; for logs and functions, which have no time, in count), in count
(--sort=count) or by name (--sort=name); ties go by name.

Tables are as wide as the terminal (or $COLUMNS, else 80; 60 at least);
tasks and regions show p99 from 80 columns, count per second and p50 from
140 (the JSON has all of them). Table cells keep within 7 characters:
"-184ms", "+3790%", "2795x" (B is 2795 times A), "666.4k" (per second).
With --json, prints one JSON object with the keys
  a, b, sort, top, tasks, regions, logs, functions_flat,
  functions_cumulative, states
(docs/CLI.md describes each). Durations are in nanoseconds.

If a trace cannot be read to its end, nothing is printed but one line
naming the file, where reading stopped and why.

Flags:
  --json      print JSON
  --top=N     rows per table, after sorting (20; 0 for all)
  --sort=KEY  time (default), count or name
  -h, --help  show this help

Exit status: 0 both traces were read, 1 reading one failed, 2 usage error.
)";

enum class SortBy { kTime, kCount, kName };

// What a table's rows carry.
enum class Kind {
  kNamed,    // count and durations (tasks, regions)
  kCounted,  // a count (logs, function samples)
  kTimed,    // a time (goroutine states)
};

// One name in A and B.
struct Row {
  std::string name;
  bool in[2] = {false, false};
  int64_t count[2] = {0, 0};
  int64_t time[2] = {0, 0};  // total
  int64_t p50[2] = {0, 0};
  int64_t p99[2] = {0, 0};

  int64_t count_change() const { return count[1] - count[0]; }
  int64_t time_change() const { return time[1] - time[0]; }
  const char* status() const {
    return !in[0] ? "new" : !in[1] ? "gone" : "both";
  }
};

struct Section {
  const char* key;     // the JSON key
  const char* title;   // the table's title
  const char* column;  // its first column's header
  Kind kind;
  std::vector<Row> rows;
};

struct Side {
  std::string path;
  StatsReport report;
};

// Rows by name, in the order names first appear in A then B.
class Matcher {
 public:
  Row* Get(const std::string& name, int side) {
    auto [it, added] = index_.emplace(name, rows_.size());
    if (added) {
      rows_.emplace_back();
      rows_.back().name = name;
    }
    Row* r = &rows_[it->second];
    r->in[side] = true;
    return r;
  }
  std::vector<Row> Take() { return std::move(rows_); }

 private:
  std::map<std::string, size_t> index_;
  std::vector<Row> rows_;
};

// The change from a to b in tenths of a percent of a, rounded half away
// from zero; none when a is 0 and b is not.
std::optional<int64_t> PctTenths(int64_t a, int64_t b) {
  if (a == 0) return b == 0 ? std::optional<int64_t>(0) : std::nullopt;
  const __int128 num = static_cast<__int128>(b - a) * 1000;
  const __int128 den = a;  // counts and times are not negative
  __int128 q = num / den;
  const __int128 rem = num % den;
  if (2 * (rem < 0 ? -rem : rem) >= den) q += num < 0 ? -1 : 1;
  return static_cast<int64_t>(q);
}

// "12.3", "-0.5", "0.0".
std::string Tenths(int64_t t) {
  const uint64_t mag = t < 0 ? 0 - static_cast<uint64_t>(t) : t;
  return absl::StrCat(t < 0 ? "-" : "", mag / 10, ".", mag % 10);
}

std::string PctJson(const Row& r, int64_t a, int64_t b) {
  if (!r.in[0] || !r.in[1]) return "null";
  std::optional<int64_t> t = PctTenths(a, b);
  return t ? Tenths(*t) : "null";
}

std::string PctText(const Row& r, int64_t a, int64_t b) {
  if (!r.in[0]) return "new";
  if (!r.in[1]) return "gone";
  std::optional<int64_t> t = PctTenths(a, b);
  if (!t) return "-";
  // At most 7 characters: whole percents from 1000% on, and from 100000%
  // on how many times A B is, rounded ("2500x").
  if (*t >= 1'000'000) return absl::StrCat((b + a / 2) / a, "x");
  if (*t >= 10'000 || *t <= -10'000) {
    return absl::StrCat(*t > 0 ? "+" : "-", ((*t < 0 ? -*t : *t) + 5) / 10,
                        "%");
  }
  return absl::StrCat(*t > 0 ? "+" : "", Tenths(*t), "%");
}

// n per second of a trace `duration_ns` long; none for an empty trace.
std::optional<double> PerSecond(int64_t n, int64_t duration_ns) {
  if (duration_ns <= 0) return std::nullopt;
  return static_cast<double>(n) * 1e9 / static_cast<double>(duration_ns);
}

std::string RateJson(int64_t n, int64_t duration_ns) {
  std::optional<double> r = PerSecond(n, duration_ns);
  return r ? absl::StrFormat("%.3f", *r) : "null";
}

// "12.5", "666.4k", "7.0M": narrow enough for a table's number column.
std::string RateText(int64_t n, int64_t duration_ns) {
  std::optional<double> r = PerSecond(n, duration_ns);
  if (!r) return "-";
  if (*r < 999.95) return absl::StrFormat("%.1f", *r);
  if (*r < 999.95e3) return absl::StrFormat("%.1fk", *r / 1e3);
  if (*r < 999.95e6) return absl::StrFormat("%.1fM", *r / 1e6);
  return absl::StrFormat("%.1fG", *r / 1e9);
}

std::string Signed(int64_t v) { return absl::StrCat(v > 0 ? "+" : "", v); }
// A change of time, signed, in at most 7 characters (a table's narrowest
// number column): "+1.0us", "-10.1us", "-184ms" (whole units from 100 on).
std::string SignedDur(int64_t ns) {
  if (ns == 0) return Dur(0);
  const uint64_t mag = ns < 0 ? 0 - static_cast<uint64_t>(ns) : ns;
  std::string d = Dur(static_cast<int64_t>(mag));
  if (d.size() > 6) {
    const double v = static_cast<double>(mag);
    d = mag >= 1'000'000'000 ? absl::StrFormat("%.0fs", v / 1e9)
        : mag >= 1'000'000   ? absl::StrFormat("%.0fms", v / 1e6)
                             : absl::StrFormat("%.0fus", v / 1e3);
  }
  return (ns > 0 ? "+" : "-") + d;
}

std::vector<Section> Match(const Side (&s)[2]) {
  std::vector<Section> out;
  for (int pass = 0; pass < 2; ++pass) {
    Matcher m;
    for (int side = 0; side < 2; ++side) {
      const StatsReport& r = s[side].report;
      for (const NamedDurations& n : pass == 0 ? r.tasks : r.regions) {
        Row* row = m.Get(n.name, side);
        row->count[side] = static_cast<int64_t>(n.durations.count);
        row->time[side] = n.durations.total_ns;
        row->p50[side] = n.durations.p50_ns;
        row->p99[side] = n.durations.p99_ns;
      }
    }
    out.push_back({pass == 0 ? "tasks" : "regions",
                   pass == 0 ? "Tasks" : "Regions",
                   pass == 0 ? "task" : "region", Kind::kNamed, m.Take()});
  }
  {
    Matcher m;
    for (int side = 0; side < 2; ++side) {
      for (const auto& [cat, n] : s[side].report.logs) {
        m.Get(cat, side)->count[side] = static_cast<int64_t>(n);
      }
    }
    out.push_back({"logs", "Logs", "category", Kind::kCounted, m.Take()});
  }
  for (int pass = 0; pass < 2; ++pass) {
    Matcher m;
    for (int side = 0; side < 2; ++side) {
      const CpuStats& c = s[side].report.cpu;
      for (const FunctionSamples& f :
           pass == 0 ? c.top_flat : c.top_cumulative) {
        m.Get(f.function, side)->count[side] = static_cast<int64_t>(f.samples);
      }
    }
    out.push_back({pass == 0 ? "functions_flat" : "functions_cumulative",
                   pass == 0 ? "CPU samples by function (flat)"
                             : "CPU samples by function (cumulative)",
                   "function", Kind::kCounted, m.Take()});
  }
  {
    Matcher m;
    for (int side = 0; side < 2; ++side) {
      const StateTimes& t = s[side].report.totals;
      m.Get("running", side)->time[side] = t.running_ns;
      m.Get("waiting to run", side)->time[side] = t.runnable_ns;
      m.Get("syscall", side)->time[side] = t.syscall_ns;
      m.Get("blocked", side)->time[side] = t.blocked_ns;
      for (const auto& [reason, ns] : t.blocked_by_reason) {
        m.Get(absl::StrCat("blocked: ", reason), side)->time[side] = ns;
      }
    }
    out.push_back({"states", "Goroutine states (all goroutines)", "state",
                   Kind::kTimed, m.Take()});
  }
  return out;
}

void Sort(Section* s, SortBy by, size_t top) {
  const bool counted = s->kind == Kind::kCounted;
  auto mag = [](int64_t v) { return v < 0 ? 0 - static_cast<uint64_t>(v) : v; };
  std::stable_sort(s->rows.begin(), s->rows.end(),
                   [&](const Row& a, const Row& b) {
                     const uint64_t ta = mag(a.time_change());
                     const uint64_t tb = mag(b.time_change());
                     const uint64_t ca = mag(a.count_change());
                     const uint64_t cb = mag(b.count_change());
                     if (by == SortBy::kTime && !counted && ta != tb) {
                       return ta > tb;
                     }
                     if (by != SortBy::kName && ca != cb) return ca > cb;
                     if (by == SortBy::kCount && ta != tb) return ta > tb;
                     return a.name < b.name;
                   });
  if (top > 0 && s->rows.size() > top) s->rows.resize(top);
}

// ---- JSON

std::string SideJson(const Side& s) {
  const StatsReport& r = s.report;
  return absl::StrCat(
      "{\"file\": ", Json(s.path), ", \"duration_ns\": ", r.duration_ns(),
      ", \"events\": ", r.events,
      ", \"generations_complete\": ", r.generations_complete,
      ", \"cpu_samples\": ", r.cpu.samples, ", \"events_per_s\": ",
      RateJson(static_cast<int64_t>(r.events), r.duration_ns()),
      ", \"cpu_samples_per_s\": ",
      RateJson(static_cast<int64_t>(r.cpu.samples), r.duration_ns()), "}");
}

void AppendRowJson(const Section& s, const Row& r, const int64_t (&dur)[2],
                   std::string* out) {
  const bool functions = s.kind == Kind::kCounted && s.key[0] == 'f';
  const char* count = functions ? "samples" : "count";
  absl::StrAppend(out, "{\"",
                  s.kind == Kind::kTimed     ? "state"
                  : functions                ? "function"
                  : s.kind == Kind::kCounted ? "category"
                                             : "name",
                  "\": ", Json(r.name), ", \"status\": \"", r.status(), "\"");
  if (s.kind != Kind::kTimed) {
    absl::StrAppend(
        out, ", \"", count, "_a\": ", r.count[0], ", \"", count,
        "_b\": ", r.count[1], ", \"", count, "_change\": ", r.count_change(),
        ", \"", count, "_change_pct\": ", PctJson(r, r.count[0], r.count[1]),
        ", \"", count, "_per_s_a\": ", RateJson(r.count[0], dur[0]), ", \"",
        count, "_per_s_b\": ", RateJson(r.count[1], dur[1]));
  }
  if (s.kind == Kind::kNamed) {
    absl::StrAppend(
        out, ", \"total_ns_a\": ", r.time[0], ", \"total_ns_b\": ", r.time[1],
        ", \"total_change_ns\": ", r.time_change(),
        ", \"total_change_pct\": ", PctJson(r, r.time[0], r.time[1]),
        ", \"p50_ns_a\": ", r.p50[0], ", \"p50_ns_b\": ", r.p50[1],
        ", \"p99_ns_a\": ", r.p99[0], ", \"p99_ns_b\": ", r.p99[1]);
  }
  if (s.kind == Kind::kTimed) {
    absl::StrAppend(
        out, ", \"time_ns_a\": ", r.time[0], ", \"time_ns_b\": ", r.time[1],
        ", \"time_change_ns\": ", r.time_change(),
        ", \"time_change_pct\": ", PctJson(r, r.time[0], r.time[1]));
  }
  out->push_back('}');
}

std::string ToJson(const Side (&s)[2], const std::vector<Section>& sections,
                   absl::string_view sort, size_t top) {
  const int64_t dur[2] = {s[0].report.duration_ns(), s[1].report.duration_ns()};
  std::string out =
      absl::StrCat("{\"a\": ", SideJson(s[0]), ", \"b\": ", SideJson(s[1]),
                   ", \"sort\": ", Json(sort), ", \"top\": ", top);
  for (const Section& sec : sections) {
    absl::StrAppend(&out, ", \"", sec.key, "\": [");
    for (size_t i = 0; i < sec.rows.size(); ++i) {
      if (i) out += ", ";
      AppendRowJson(sec, sec.rows[i], dur, &out);
    }
    out += "]";
  }
  out += "}\n";
  return out;
}

// ---- Tables

std::string ToText(const Side (&s)[2], const std::vector<Section>& sections,
                   absl::string_view sort) {
  const int width = OutputWidth();
  // Tasks and regions show p99 from 80 columns, rates and p50 from 140.
  const bool p99 = width >= 80;
  const bool wide = width >= 140;
  const int64_t dur[2] = {s[0].report.duration_ns(), s[1].report.duration_ns()};
  std::string out;
  for (int side = 0; side < 2; ++side) {
    const StatsReport& r = s[side].report;
    absl::StrAppend(
        &out, side == 0 ? "A: " : "B: ", s[side].path, "\n   duration ",
        Dur(r.duration_ns()), " (", r.duration_ns(), " ns), ",
        r.generations_complete, " complete generations\n   ", r.events,
        " events (", RateText(static_cast<int64_t>(r.events), dur[side]),
        "/s), ", r.cpu.samples, " CPU samples (",
        RateText(static_cast<int64_t>(r.cpu.samples), dur[side]), "/s)\n");
  }
  absl::StrAppend(&out,
                  "Counts and times are totals over each trace; only /s "
                  "numbers\nare normalized (per second of each trace's "
                  "duration).\nChange is B - A; sorted by ",
                  sort, ".\n");
  for (const Section& sec : sections) {
    if (sec.rows.empty()) continue;
    absl::StrAppend(&out, "\n", sec.title, "\n");
    std::vector<std::string> head = {sec.column};
    switch (sec.kind) {
      case Kind::kNamed:
        head.insert(head.end(), {"A count", "B count", "A total", "B total",
                                 "change", "change%"});
        if (p99) head.insert(head.end(), {"A p99", "B p99"});
        if (wide) head.insert(head.end(), {"A /s", "B /s", "A p50", "B p50"});
        break;
      case Kind::kCounted:
        head.insert(head.end(),
                    {"A", "B", "change", "change%", "A /s", "B /s"});
        break;
      case Kind::kTimed:
        head.insert(head.end(), {"A", "B", "change", "change%"});
        break;
    }
    Table t(width, head);
    for (const Row& r : sec.rows) {
      std::vector<std::string> cells = {r.name};
      switch (sec.kind) {
        case Kind::kNamed:
          cells.insert(cells.end(), {absl::StrCat(r.count[0]),
                                     absl::StrCat(r.count[1]), Dur(r.time[0]),
                                     Dur(r.time[1]), SignedDur(r.time_change()),
                                     PctText(r, r.time[0], r.time[1])});
          if (p99) cells.insert(cells.end(), {Dur(r.p99[0]), Dur(r.p99[1])});
          if (wide) {
            cells.insert(cells.end(), {RateText(r.count[0], dur[0]),
                                       RateText(r.count[1], dur[1]),
                                       Dur(r.p50[0]), Dur(r.p50[1])});
          }
          break;
        case Kind::kCounted:
          cells.insert(
              cells.end(),
              {absl::StrCat(r.count[0]), absl::StrCat(r.count[1]),
               Signed(r.count_change()), PctText(r, r.count[0], r.count[1]),
               RateText(r.count[0], dur[0]), RateText(r.count[1], dur[1])});
          break;
        case Kind::kTimed:
          cells.insert(cells.end(), {Dur(r.time[0]), Dur(r.time[1]),
                                     SignedDur(r.time_change()),
                                     PctText(r, r.time[0], r.time[1])});
          break;
      }
      t.Row(std::move(cells));
    }
    t.AppendTo(&out);
  }
  return out;
}

int RunDiff(const ParsedArgs& args) {
  const bool json = args.has("json");
  size_t top = 20;
  if (args.has("top") && !absl::SimpleAtoi(args.flags.at("top"), &top)) {
    return UsageError(DiffCommand(), "--top needs a number");
  }
  SortBy sort = SortBy::kTime;
  std::string sort_name = "time";
  if (args.has("sort")) {
    sort_name = args.flags.at("sort");
    if (sort_name == "count") {
      sort = SortBy::kCount;
    } else if (sort_name == "name") {
      sort = SortBy::kName;
    } else if (sort_name != "time") {
      return UsageError(DiffCommand(), "--sort is time, count or name");
    }
  }
  if (args.positional[0] == "-" && args.positional[1] == "-") {
    return UsageError(DiffCommand(), "A and B cannot both be standard input");
  }
  Side sides[2];
  for (int side = 0; side < 2; ++side) {
    sides[side].path = args.positional[side];
    // Every function: one only in the other trace's top would otherwise
    // look "new" or "gone".
    TraceStats stats(std::numeric_limits<size_t>::max());
    int64_t offset = -1;
    const absl::Status error =
        ReadTraceStats(side == 0 ? "gentrace diff: A" : "gentrace diff: B",
                       sides[side].path, &stats, &offset);
    if (!error.ok()) {
      return InputFailure(DiffCommand(), sides[side].path, error, offset);
    }
    sides[side].report = stats.Finish();
  }
  std::vector<Section> sections = Match(sides);
  for (Section& s : sections) Sort(&s, sort, top);
  const std::string out = json ? ToJson(sides, sections, sort_name, top)
                               : ToText(sides, sections, sort_name);
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  return kExitOk;
}

}  // namespace

const Command& DiffCommand() {
  static const Command kCommand = {
      "diff",
      "two traces side by side: tasks, regions, CPU functions, states",
      kHelp,
      {{"json", false}, {"top", true}, {"sort", true}},
      {"A", "B"},
      &RunDiff,
  };
  return kCommand;
}

}  // namespace gentrace::tools
