// `gentrace report FILE OUT.html`: one self-contained HTML page (no
// network: its style, script and data are all in it) with a zoomable
// timeline of every goroutine, a CPU flame graph and the `stats` tables.
//
// One streaming pass feeds the events to TraceStats (the tables, as
// `gentrace stats` computes them) and to ReportData (the timeline and the
// flame graph, bounded: report_data.h). The page is then written whole:
// the tables as HTML, ReportData's JSON in a <script type=
// "application/json"> element, and the renderer (report_assets.cc), a
// small canvas drawing script of gentrace's own.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "reader/reader.h"
#include "tools/gentrace/command.h"
#include "tools/gentrace/output_file.h"
#include "tools/gentrace/report.h"
#include "tools/gentrace/report_assets.h"
#include "tools/gentrace/report_data.h"
#include "tools/gentrace/terminal.h"
#include "tools/gentrace/trace_stats.h"

namespace gentrace::tools {
namespace {

constexpr char kHelp[] =
    R"(usage: gentrace report FILE OUT.html

Reads the Go execution trace FILE ("-" for standard input; zstd-compressed
input is decompressed) once and writes OUT.html ("-" for standard output):
one self-contained page that needs no network, with

  * a timeline, one track per goroutine (a gentrace thread, fiber or Go
    goroutine): "running", "syscall" and "blocked: REASON" slices, the
    goroutine's regions nested below them and its logs as marks. Zoom with
    the mouse wheel, pan by dragging, hover for a slice's name and
    duration;
  * a CPU flame graph of the trace's CPU samples: click a frame to zoom
    into it, click the root to zoom out;
  * the tables of `gentrace stats`: summary, threads, goroutines, tasks and
    regions by name (count, total, p50, p99, max), logs by category, top
    CPU functions.

The page stays bounded on any trace: at most 100 goroutine tracks, 2000
slices per track row (runs of short slices are merged into one, counted),
region depths 0 to 5, and 20000 flame graph frames; the page says when a
bound was reached.

Flags:
  -h, --help  show this help

Exit status: 0 written, 1 the trace did not read to its end or OUT.html
could not be written (nothing is written), 2 usage error.
)";

std::string Html(absl::string_view s) {
  return absl::StrReplaceAll(s, {{"&", "&amp;"},
                                 {"<", "&lt;"},
                                 {">", "&gt;"},
                                 {"\"", "&quot;"},
                                 {"'", "&#39;"}});
}

// An HTML table; cells are text (escaped here). Number columns (all but
// the first) are right-aligned by the style sheet.
class HtmlTable {
 public:
  HtmlTable(std::string id, std::vector<std::string> headers)
      : id_(std::move(id)), headers_(std::move(headers)) {}
  void Row(const std::vector<std::string>& cells) {
    rows_ += "<tr>";
    for (const std::string& c : cells)
      absl::StrAppend(&rows_, "<td>", Html(c), "</td>");
    rows_ += "</tr>\n";
    ++n_;
  }
  void AppendTo(absl::string_view title, std::string* out) const {
    if (n_ == 0) return;
    absl::StrAppend(out, "<h3>", Html(title), "</h3>\n<table id=\"", id_,
                    "\" data-rows=\"", n_, "\"><thead><tr>");
    for (const std::string& h : headers_) {
      absl::StrAppend(out, "<th>", Html(h), "</th>");
    }
    absl::StrAppend(out, "</tr></thead><tbody>\n", rows_, "</tbody></table>\n");
  }

 private:
  std::string id_;
  std::vector<std::string> headers_;
  std::string rows_;
  size_t n_ = 0;
};

constexpr size_t kTop = 20;

void AppendStatsHtml(const std::string& path, const StatsReport& r,
                     std::string* out) {
  absl::StrAppend(out, "<section id=\"stats\"><h2>Statistics</h2>\n",
                  "<table id=\"summary\" class=\"kv\"><tbody>\n");
  auto kv = [out](absl::string_view k, const std::string& v) {
    absl::StrAppend(out, "<tr><th>", Html(k), "</th><td>", Html(v),
                    "</td></tr>\n");
  };
  kv("trace", path);
  kv("duration",
     absl::StrCat(Dur(r.duration_ns()), " (", r.duration_ns(), " ns)"));
  kv("generations", absl::StrCat(r.generations_complete, " complete (largest ",
                                 Bytes(r.largest_generation_bytes), ")"));
  kv("events", absl::StrCat(r.events));
  kv("threads", absl::StrCat(r.threads.size()));
  kv("goroutines",
     absl::StrCat(r.goroutines.size(), " (", r.fibers, " fibers)"));
  kv("all goroutines",
     absl::StrCat("running ", Dur(r.totals.running_ns), ", waiting to run ",
                  Dur(r.totals.runnable_ns), ", in syscalls ",
                  Dur(r.totals.syscall_ns), ", blocked ",
                  Dur(r.totals.blocked_ns)));
  const CpuStats& c = r.cpu;
  std::string cpu = absl::StrCat(c.samples);
  if (!c.sources.empty()) {
    absl::StrAppend(&cpu, " (source ", absl::StrJoin(c.sources, ", "));
    if (c.hz) absl::StrAppend(&cpu, ", ", c.hz, " Hz");
    absl::StrAppend(&cpu, "; recorded ", c.samples_recorded, ", lost ",
                    c.samples_lost, ")");
  }
  kv("CPU samples", cpu);
  if (!r.info_error.empty()) kv("gentrace info", r.info_error);
  *out += "</tbody></table>\n";

  absl::flat_hash_map<int64_t, const GoroutineStats*> by_id;
  for (const GoroutineStats& g : r.goroutines) by_id[g.id] = &g;
  HtmlTable threads("threads", {"thread", "running", "syscall", "blocked",
                                "waiting", "samples"});
  for (const ThreadStats& th : r.threads) {
    std::string blocked = "-", waiting = "-";
    if (auto it = by_id.find(th.goroutine); it != by_id.end()) {
      blocked = Dur(it->second->times.blocked_ns);
      waiting = Dur(it->second->times.runnable_ns);
    }
    threads.Row({th.name.empty() ? absl::StrCat(th.id)
                                 : absl::StrCat(th.name, " [", th.id, "]"),
                 Dur(th.running_ns), Dur(th.syscall_ns), blocked, waiting,
                 absl::StrCat(th.cpu_samples)});
  }
  threads.AppendTo(absl::StrCat("Threads (", r.threads.size(), ")"), out);

  const std::vector<const GoroutineStats*> gs = r.BusiestNonThreadGoroutines();
  HtmlTable goroutines(
      "goroutines", {"goroutine", "running", "waiting", "syscall", "blocked"});
  for (size_t i = 0; i < gs.size() && i < kTop; ++i) {
    const GoroutineStats& g = *gs[i];
    std::string name = absl::StrCat(g.kind == "fiber" ? "fiber " : "G", g.id);
    if (!g.name.empty()) absl::StrAppend(&name, " ", g.name);
    goroutines.Row({name, Dur(g.times.running_ns), Dur(g.times.runnable_ns),
                    Dur(g.times.syscall_ns), Dur(g.times.blocked_ns)});
  }
  goroutines.AppendTo(
      absl::StrCat("Goroutines (", gs.size(),
                   gs.size() > kTop ? absl::StrCat("; top ", kTop) : "", ")"),
      out);

  for (int pass = 0; pass < 2; ++pass) {
    const std::vector<NamedDurations>& v = pass == 0 ? r.tasks : r.regions;
    HtmlTable t(pass == 0 ? "tasks" : "regions",
                {pass == 0 ? "task" : "region", "count", "total", "p50", "p99",
                 "max", "open"});
    for (const NamedDurations& n : v) {
      const DurationSummary& d = n.durations;
      t.Row({n.name, absl::StrCat(d.count), Dur(d.total_ns), Dur(d.p50_ns),
             Dur(d.p99_ns), Dur(d.max_ns), absl::StrCat(n.unfinished)});
    }
    t.AppendTo(pass == 0 ? "Tasks" : "Regions", out);
  }
  HtmlTable logs("logs", {"category", "count"});
  for (const auto& [cat, n] : r.logs) logs.Row({cat, absl::StrCat(n)});
  logs.AppendTo("Logs", out);
  for (int pass = 0; pass < 2; ++pass) {
    const auto& v = pass == 0 ? c.top_flat : c.top_cumulative;
    HtmlTable t(pass == 0 ? "cpu-flat" : "cpu-cumulative",
                {"function", "samples", "share"});
    for (const FunctionSamples& f : v) {
      t.Row({f.function, absl::StrCat(f.samples),
             absl::StrFormat("%.1f%%", 100.0 * f.samples / c.samples)});
    }
    t.AppendTo(pass == 0 ? "Top CPU functions (flat: the leaf frame)"
                         : "Top CPU functions (cumulative: anywhere on the "
                           "stack)",
               out);
  }
  *out += "</section>\n";
}

std::string Page(const std::string& path, const StatsReport& stats,
                 const std::string& data_json) {
  std::string out;
  absl::StrAppend(&out,
                  "<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
                  "charset=\"utf-8\">\n<title>gentrace report: ",
                  Html(path), "</title>\n<style>\n", ReportCss(),
                  "</style>\n</head>\n<body>\n<h1>gentrace report: ",
                  Html(path), "</h1>\n");
  out +=
      "<section id=\"timeline\"><h2>Timeline</h2>\n"
      "<p class=\"help\">Wheel: zoom. Drag: pan. Double-click: whole trace. "
      "Hover: name and duration.</p>\n"
      "<p id=\"timeline-bounds\" class=\"note\"></p>\n"
      "<div class=\"canvas-box\"><canvas id=\"timeline-canvas\"></canvas>"
      "</div>\n</section>\n"
      "<section id=\"flame\"><h2>CPU flame graph</h2>\n"
      "<p class=\"help\">Click a frame to zoom into it, the root to zoom "
      "out. Width: samples whose stack passes through the frame.</p>\n"
      "<p id=\"flame-bounds\" class=\"note\"></p>\n"
      "<div class=\"canvas-box\"><canvas id=\"flame-canvas\"></canvas></div>"
      "\n</section>\n";
  AppendStatsHtml(path, stats, &out);
  // The data as JSON. "</" cannot appear inside a <script> element; in a
  // JSON string "<\/" reads as "</".
  absl::StrAppend(&out,
                  "<div id=\"tooltip\"></div>\n"
                  "<div id=\"render-result\" hidden></div>\n"
                  "<script type=\"application/json\" id=\"report-data\">",
                  absl::StrReplaceAll(data_json, {{"</", "<\\/"}}),
                  "</script>\n<script>\n", ReportJs(),
                  "</script>\n</body></html>\n");
  return out;
}

int RunReport(const ParsedArgs& args) {
  const std::string& path = args.positional[0];
  const std::string& out_path = args.positional[1];
  absl::StatusOr<std::unique_ptr<reader::Reader>> r =
      reader::Reader::Open(path);
  if (!r.ok()) return InputFailure(ReportCommand(), path, r.status(), -1);
  absl::StatusOr<std::unique_ptr<OutputFile>> out =
      OutputFile::Create(out_path);
  if (!out.ok()) {
    return Failure(ReportCommand(),
                   absl::StrCat(out_path, ": ", out.status().message()));
  }
  TraceStats stats(kTop);
  ReportData data;
  {
    Progress progress("gentrace report", Progress::PlainFileSize(path));
    reader::Event ev;
    uint64_t n = 0;
    while ((*r)->ReadEvent(&ev)) {
      stats.Add(ev, (*r)->generation());
      data.Add(ev, (*r)->generation());
      if ((++n & 0xfff) == 0) progress.Update((*r)->bytes_read());
    }
  }
  if (!(*r)->status().ok()) {
    return InputFailure(ReportCommand(), path, (*r)->status(),
                        static_cast<int64_t>((*r)->bytes_read()));
  }
  const std::string page = Page(path == "-" ? "standard input" : path,
                                stats.Finish(), data.FinishJson());
  absl::Status st = (*out)->sink()->WriteString(page);
  if (st.ok()) st = (*out)->Commit();
  if (!st.ok()) {
    return Failure(ReportCommand(), absl::StrCat(out_path, ": ", st.message()));
  }
  return kExitOk;
}

}  // namespace

const Command& ReportCommand() {
  static const Command kCommand = {
      "report",
      "one HTML page: timeline, CPU flame graph, stats",
      kHelp,
      {},
      {"FILE", "OUT.html"},
      &RunReport,
  };
  return kCommand;
}

}  // namespace gentrace::tools
