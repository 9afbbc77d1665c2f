// The benchmark suite behind `./dev bench` (tools/dev/bench.sh builds the
// programs and calls this): runs gentrace's Google Benchmark binaries, Go's
// tracer doing the same operations (tests/go/tracer_benchmark) and the
// floors, interleaved for several rounds, and reports medians and minimums
// as a table on stdout and as JSON (docs/BUILDING.md, docs/TRACER.md).
//
//   benchmark_suite --tracer=BIN --cpu=BIN --reader=BIN --trace=FILE
//       [--go_bench=BIN] [--gotool=BIN] [--gentrace=BIN] [--go_trace=BIN]
//       [--extra=BIN]... [--rounds=N]
//       [--min_time=SECONDS] [--cpu_min_time=SECONDS]
//       [--go_benchtime=DURATION] [--out=FILE] [--raw_dir=DIR]
//
//   --tracer   tests/tracer_benchmark (gentrace's events and the floors)
//   --cpu      tests/cpu_sampling_benchmark (SIGPROF handler, sampling)
//   --reader   tests/reader_benchmark, its BM_ReadFile reading --trace
//   --go_bench Go's side (built from tests/go/tracer_benchmark); without
//              it the Go column is empty
//   --gotool   tests/go/build.sh's tool: Go's parser reading --trace
//   --gentrace the gentrace CLI (tools/gentrace): `stats FILE` and
//              `stats --json FILE` on --trace
//   --go_trace the program `go tool trace` runs ($GOROOT/pkg/tool/<os_arch>/
//              trace), started directly so that the go command's own start
//              is not counted: `-d=1 FILE`, Go's parser printing every event
//   --extra    any other Google Benchmark binary (tagged benchmark_suite):
//              each of its benchmarks becomes a row (see RowsForExtra)
//   --raw_dir  where every program's own output is kept (default: a
//              temporary directory, removed at the end)
//
// One round runs, in this order: gentrace's events, Go's, the floors, the
// CPU-sample benchmarks, gentrace's reader, Go's parser, `gentrace stats`,
// `gentrace stats --json`, `go tool trace -d=1`, the extras. Each
// row's figures are medians over the rounds (minimums in parentheses in
// the table). Costs are "what tracing adds": an event's cost with tracing
// on minus the same call with tracing off, in the same program and round,
// for gentrace and for Go alike. Ratios are gentrace / other.
//
// Exit status: 0 if every program ran and reported, 1 if one failed (the
// rest still run and the output is still written), 2 on bad usage.
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "tests/benchmark_json.h"

namespace gentrace::bench {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Flags {
  std::string tracer, cpu, reader, trace, go_bench, gotool, gentrace, go_trace;
  std::vector<std::string> extras;
  int rounds = 5;
  std::string min_time = "0.2";
  std::string cpu_min_time = "0.5";
  std::string go_benchtime = "200ms";
  std::string out = "out/bench.json";
  std::string raw_dir;
};

// ----------------------------------------------------------- processes ---

struct ChildResult {
  bool ok = false;      // exited with status 0
  long max_rss_kb = 0;  // its peak resident set size
  double cpu_s = 0;     // its CPU time, user and system, in seconds
  std::string error;    // why not ok
};

// Runs argv with stdout to `out_path` and stderr to `err_path`. With
// `on_output`, stdout goes to a pipe instead and every chunk the child
// writes is passed to it (out_path is then unused).
ChildResult RunChild(
    const std::vector<std::string>& argv, const std::string& out_path,
    const std::string& err_path,
    const std::function<void(absl::string_view)>& on_output = nullptr) {
  ChildResult r;
  std::vector<char*> args;
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int pipe_fds[2] = {-1, -1};
  if (on_output && pipe(pipe_fds) != 0) {
    r.error = "pipe failed";
    return r;
  }
  const pid_t pid = fork();
  if (pid < 0) {
    r.error = "fork failed";
    if (on_output) {
      close(pipe_fds[0]);
      close(pipe_fds[1]);
    }
    return r;
  }
  if (pid == 0) {
    const int out =
        on_output ? pipe_fds[1]
                  : open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0 || err < 0) _exit(126);
    dup2(out, 1);
    dup2(err, 2);
    if (on_output) {
      close(pipe_fds[0]);
      close(pipe_fds[1]);
    }
    execv(args[0], args.data());
    _exit(127);
  }
  if (on_output) {
    close(pipe_fds[1]);
    char buf[1 << 16];
    for (;;) {
      const ssize_t n = read(pipe_fds[0], buf, sizeof(buf));
      if (n > 0) {
        on_output(absl::string_view(buf, static_cast<size_t>(n)));
      } else if (n == 0 || errno != EINTR) {
        break;
      }
    }
    close(pipe_fds[0]);
  }
  int status = 0;
  struct rusage ru = {};
  if (wait4(pid, &status, 0, &ru) != pid) {
    r.error = "wait4 failed";
    return r;
  }
  r.max_rss_kb = ru.ru_maxrss;
  r.cpu_s = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
            1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    r.ok = true;
  } else if (WIFEXITED(status)) {
    r.error = absl::StrCat("exit status ", WEXITSTATUS(status), " (see ",
                           err_path, ")");
  } else {
    r.error = absl::StrCat("killed by signal ", WTERMSIG(status));
  }
  return r;
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// ------------------------------------------------------------- samples ---

enum class Pick { kMedian, kMin };

// Every measured figure, by key ("<program>/<benchmark>/<figure>"), one
// value a round.
class Samples {
 public:
  void Add(const std::string& key, double v) {
    if (std::isfinite(v)) values_[key].push_back(v);
  }
  double Get(const std::string& key, Pick pick) const {
    auto it = values_.find(key);
    if (it == values_.end() || it->second.empty()) return kNaN;
    std::vector<double> v = it->second;
    std::sort(v.begin(), v.end());
    if (pick == Pick::kMin) return v.front();
    const size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  }
  bool Has(const std::string& key) const { return values_.count(key) > 0; }
  // Keys that start with `prefix`.
  std::vector<std::string> Keys(absl::string_view prefix) const {
    std::vector<std::string> out;
    for (const auto& [k, v] : values_) {
      if (absl::StartsWith(k, prefix)) out.push_back(k);
    }
    return out;
  }

 private:
  std::map<std::string, std::vector<double>> values_;
};

// ------------------------------------------------------------- runners ---

class Suite {
 public:
  explicit Suite(const Flags& flags) : f_(flags) {}

  // One round of everything.
  void Round(int round) {
    round_ = round;
    struct stat st;
    if (stat(f_.trace.c_str(), &st) == 0) {
      samples_.Add("trace/bytes", static_cast<double>(st.st_size));
    }
    Progress("gentrace events");
    GoogleBenchmark("tracer", f_.tracer,
                    {"--benchmark_filter=^BM_(RegionBeginEnd|Log|TaskBeginEnd|"
                     "BlockUnblock|Syscall|CoroutineSwitch|FiberResumeYield)",
                     "--benchmark_min_time=" + f_.min_time});
    if (!f_.go_bench.empty()) {
      Progress("Go events");
      GoEvents();
    }
    Progress("floors");
    GoogleBenchmark("tracer", f_.tracer,
                    {"--benchmark_filter=^BM_Floor_",
                     "--benchmark_min_time=" + f_.min_time});
    Progress("CPU samples");
    GoogleBenchmark("cpu", f_.cpu,
                    {"--benchmark_filter=^BM_Signal_",
                     "--benchmark_min_time=" + f_.min_time});
    GoogleBenchmark("cpu", f_.cpu,
                    {"--benchmark_filter=^BM_Workload",
                     "--benchmark_min_time=" + f_.cpu_min_time});
    Progress("gentrace reader");
    ChildResult r = GoogleBenchmark(
        "reader", f_.reader,
        {"--trace=" + f_.trace, "--benchmark_filter=^BM_ReadFile$",
         "--benchmark_min_time=0.000001"});
    if (r.ok) {
      samples_.Add("reader/rss_bytes", r.max_rss_kb * 1024.0);
      samples_.Add("reader/cpu_s", r.cpu_s);
    }
    if (!f_.gotool.empty()) {
      Progress("Go reader");
      GoReader();
    }
    if (!f_.gentrace.empty()) {
      Progress("gentrace stats");
      GentraceStats();
    }
    if (!f_.go_trace.empty()) {
      Progress("go tool trace -d=1");
      GoTraceDebug();
    }
    for (const std::string& extra : f_.extras) {
      Progress(Basename(extra));
      GoogleBenchmark("extra:" + Basename(extra), extra,
                      {"--benchmark_min_time=" + f_.min_time});
    }
  }

  const Samples& samples() const { return samples_; }
  const std::vector<std::string>& failures() const { return failures_; }
  // Benchmark names each program reported, by label, in order.
  const std::map<std::string, std::vector<std::string>>& names() const {
    return names_;
  }

 private:
  static std::string Basename(const std::string& path) {
    return path.substr(path.rfind('/') + 1);
  }
  void Progress(const std::string& what) {
    std::fprintf(stderr, "  round %d/%d: %s\n", round_ + 1, f_.rounds,
                 what.c_str());
  }
  std::string Raw(const std::string& name, const char* ext) const {
    std::string safe = name;
    std::replace(safe.begin(), safe.end(), '/', '_');
    std::replace(safe.begin(), safe.end(), ':', '_');
    return absl::StrCat(f_.raw_dir, "/", safe, "-r", round_ + 1, "-", counter_,
                        ext);
  }
  void Fail(const std::string& what, const std::string& why) {
    failures_.push_back(absl::StrCat(what, ": ", why));
    std::fprintf(stderr, "benchmark_suite: %s: %s\n", what.c_str(),
                 why.c_str());
  }

  // Runs a Google Benchmark binary and records every benchmark's times and
  // counters under "<label>/<benchmark name>/<figure>".
  ChildResult GoogleBenchmark(const std::string& label, const std::string& bin,
                              std::vector<std::string> args) {
    ++counter_;
    const std::string json = Raw(label, ".json");
    std::vector<std::string> argv = {bin};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--benchmark_out=" + json);
    argv.push_back("--benchmark_out_format=json");
    ChildResult r = RunChild(argv, Raw(label, ".txt"), Raw(label, ".err"));
    if (!r.ok) {
      Fail(absl::StrCat(bin, " ", absl::StrJoin(args, " ")), r.error);
      return r;
    }
    absl::StatusOr<Json> doc = ParseJson(ReadFile(json));
    const Json* list = doc.ok() ? doc->Find("benchmarks") : nullptr;
    if (list == nullptr || list->type != Json::kArray) {
      Fail(bin, absl::StrCat("no benchmarks in ", json));
      r.ok = false;
      return r;
    }
    for (const Json& b : list->array) {
      const std::string name = b.StringOr("name");
      if (b.StringOr("run_type") == "aggregate") continue;
      if (const Json* e = b.Find("error_occurred");
          e != nullptr && e->type == Json::kBool && e->boolean) {
        Fail(absl::StrCat(bin, " ", name), b.StringOr("error_message"));
        continue;
      }
      const std::string unit = b.StringOr("time_unit");
      const double to_ns = unit == "ms"   ? 1e6
                           : unit == "us" ? 1e3
                           : unit == "s"  ? 1e9
                                          : 1;
      const std::string key = absl::StrCat(label, "/", name, "/");
      samples_.Add(key + "real_ns", b.NumberOr("real_time", kNaN) * to_ns);
      samples_.Add(key + "cpu_ns", b.NumberOr("cpu_time", kNaN) * to_ns);
      static const char* const kFields[] = {
          "family_index", "per_family_instance_index",
          "repetitions",  "repetition_index",
          "threads",      "iterations",
          "real_time",    "cpu_time"};
      for (const auto& [k, v] : b.object) {
        if (v.type != Json::kNumber ||
            std::find(std::begin(kFields), std::end(kFields), k) !=
                std::end(kFields)) {
          continue;
        }
        // Google Benchmark writes an inverted rate counter (our
        // ns_per_event) in seconds.
        samples_.Add(key + k, k == "ns_per_event" ? v.number * 1e9 : v.number);
      }
      names_[label].push_back(name);
    }
    return r;
  }

  // Go's tracer: "go/<op>/<mode>/<figure>".
  void GoEvents() {
    ++counter_;
    // Go records stacks as long as gentrace's stack mode does.
    double frames = samples_.Get("tracer/BM_RegionBeginEnd/mode:2/stack_frames",
                                 Pick::kMedian);
    if (!std::isfinite(frames)) frames = 20;
    const std::string out = Raw("go", ".jsonl");
    ChildResult r = RunChild(
        {f_.go_bench, "-benchtime=" + f_.go_benchtime,
         absl::StrCat("-frames=", static_cast<int>(std::lround(frames)))},
        out, Raw("go", ".err"));
    if (!r.ok) {
      Fail(f_.go_bench, r.error);
      return;
    }
    for (absl::string_view line :
         absl::StrSplit(ReadFile(out), '\n', absl::SkipWhitespace())) {
      absl::StatusOr<Json> v = ParseJson(line);
      if (!v.ok()) {
        Fail(f_.go_bench, absl::StrCat("bad output line: ", line));
        continue;
      }
      const std::string key =
          absl::StrCat("go/", v->StringOr("op"), "/", v->StringOr("mode"), "/");
      for (const char* k :
           {"ns_per_op", "bytes_per_op", "events_per_op", "frames"}) {
        samples_.Add(key + k, v->NumberOr(k, kNaN));
      }
    }
  }

  // Go's parser reading the trace: "goreader/<figure>".
  void GoReader() {
    ++counter_;
    const std::string out = Raw("goreader", ".json");
    ChildResult r = RunChild({f_.gotool, "bench", "-n", "1", f_.trace}, out,
                             Raw("goreader", ".err"));
    if (!r.ok) {
      Fail("gotool bench", r.error);
      return;
    }
    absl::StatusOr<Json> v =
        ParseJson(absl::StripAsciiWhitespace(ReadFile(out)));
    if (!v.ok()) {
      Fail("gotool bench", std::string(v.status().message()));
      return;
    }
    samples_.Add("goreader/events_per_sec",
                 v->NumberOr("events_per_sec", kNaN));
    samples_.Add("goreader/mb_per_sec", v->NumberOr("mb_per_sec", kNaN));
    samples_.Add("goreader/events", v->NumberOr("events", kNaN));
    samples_.Add("goreader/rss_bytes", r.max_rss_kb * 1024.0);
    samples_.Add("goreader/cpu_s", r.cpu_s);
  }

  // `gentrace stats FILE > /dev/null` ("stats/<figure>"), then `gentrace
  // stats --json FILE` ("stats_json/<figure>"), whose output must name the
  // events it read and no error: their count is both rows' events.
  void GentraceStats() {
    ++counter_;
    ChildResult r = RunChild({f_.gentrace, "stats", f_.trace}, "/dev/null",
                             Raw("stats", ".err"));
    if (!r.ok) {
      Fail("gentrace stats", r.error);
    } else {
      samples_.Add("stats/rss_bytes", r.max_rss_kb * 1024.0);
      samples_.Add("stats/cpu_s", r.cpu_s);
    }
    const std::string out = Raw("stats_json", ".json");
    r = RunChild({f_.gentrace, "stats", "--json", f_.trace}, out,
                 Raw("stats_json", ".err"));
    if (!r.ok) {
      Fail("gentrace stats --json", r.error);
      return;
    }
    absl::StatusOr<Json> v = ParseJson(ReadFile(out));
    const double events = v.ok() ? v->NumberOr("events", kNaN) : kNaN;
    const Json* error = v.ok() ? v->Find("error") : nullptr;
    if (!(events > 0) || error == nullptr || error->type != Json::kNull) {
      Fail("gentrace stats --json",
           absl::StrCat("no events or an error in ", out));
      return;
    }
    samples_.Add("stats_json/rss_bytes", r.max_rss_kb * 1024.0);
    samples_.Add("stats_json/cpu_s", r.cpu_s);
    samples_.Add("stats/events", events);
  }

  // `go tool trace -d=1 FILE > /dev/null` ("gostats/<figure>"). Once, before
  // the first timed run, the same command's output goes through a pipe and
  // its events are counted (each starts a line "M=<thread> P=..."): it must
  // exit 0 having printed events, else no Go run of it is timed, so that a
  // tool that fails or reads nothing cannot pass for a fast one.
  void GoTraceDebug() {
    ++counter_;
    if (go_trace_events_ < 0) {
      int64_t events = 0;
      bool line_start = true, m = false;
      ChildResult check =
          RunChild({f_.go_trace, "-d=1", f_.trace}, "",
                   Raw("gostats_check", ".err"), [&](absl::string_view chunk) {
                     for (char c : chunk) {
                       if (m && c == '=') ++events;
                       m = line_start && c == 'M';
                       line_start = c == '\n';
                     }
                   });
      if (!check.ok) {
        Fail("go tool trace -d=1", check.error);
        go_trace_events_ = 0;
      } else if (events == 0) {
        Fail("go tool trace -d=1", "printed no events");
        go_trace_events_ = 0;
      } else {
        go_trace_events_ = events;
      }
    }
    if (go_trace_events_ == 0) return;
    ChildResult r = RunChild({f_.go_trace, "-d=1", f_.trace}, "/dev/null",
                             Raw("gostats", ".err"));
    if (!r.ok) {
      Fail("go tool trace -d=1", r.error);
      return;
    }
    samples_.Add("gostats/events", static_cast<double>(go_trace_events_));
    samples_.Add("gostats/rss_bytes", r.max_rss_kb * 1024.0);
    samples_.Add("gostats/cpu_s", r.cpu_s);
  }

  const Flags& f_;
  Samples samples_;
  int64_t go_trace_events_ = -1;  // -1: not checked yet; 0: failed
  std::vector<std::string> failures_;
  std::map<std::string, std::vector<std::string>> names_;
  int round_ = 0;
  int counter_ = 0;
};

// ---------------------------------------------------------------- rows ---

using Getter = std::function<double(const Samples&, Pick)>;

struct Row {
  std::string name;
  std::string unit;
  bool higher_is_better = false;
  Getter gentrace, go, floor;  // null: the column does not apply
};

Getter Key(const std::string& key, double scale = 1) {
  return
      [key, scale](const Samples& s, Pick p) { return s.Get(key, p) * scale; };
}

Getter Diff(const std::string& on, const std::string& off, double divide = 1) {
  return [on, off, divide](const Samples& s, Pick p) {
    return (s.Get(on, p) - s.Get(off, p)) / divide;
  };
}

// Go's cost per event: (on - off) per op / events per op.
Getter GoCost(const std::string& op) {
  return [op](const Samples& s, Pick p) {
    const std::string k = "go/" + op + "/";
    return (s.Get(k + "on/ns_per_op", p) - s.Get(k + "off/ns_per_op", p)) /
           s.Get(k + "on/events_per_op", Pick::kMedian);
  };
}

struct EventOp {
  const char* label;      // row name
  const char* benchmark;  // in tests/tracer_benchmark.cc
  const char* go_op;      // in tests/go/tracer_benchmark, or null
  // Go with tracing off costs only the API's check (an annotation), so its
  // off row compares with gentrace's; for the others it includes the
  // operation itself (a channel handoff, a system call, a switch).
  bool go_off_comparable;
};

constexpr EventOp kEventOps[] = {
    {"region begin+end", "BM_RegionBeginEnd", "region", true},
    {"log", "BM_Log", "log", true},
    {"task begin+end", "BM_TaskBeginEnd", "task", true},
    {"block + unblock", "BM_BlockUnblock", "pingpong", false},
    {"syscall enter + exit", "BM_Syscall", "syscall", false},
    {"fiber switch (coroutine)", "BM_CoroutineSwitch", "coswitch", false},
    {"fiber resume + yield", "BM_FiberResumeYield", nullptr, false},
};

std::vector<Row> Rows(const Suite& suite) {
  std::vector<Row> rows;
  const std::string floor_plain = "tracer/BM_Floor_Event/ns_per_event";
  const std::string floor_tsc = "tracer/BM_Floor_EventSeqlock/ns_per_event";
  // Event rows compare with the floor that reads the tracer's own clock
  // (the TSC where the kernel trusts it, else CLOCK_MONOTONIC).
  const std::string floor_seq =
      "tracer/BM_Floor_EventSeqlockTracerClock/ns_per_event";
  rows.push_back({"floor: TSC + encode", "ns/event", false, nullptr, nullptr,
                  Key(floor_plain)});
  rows.push_back({"floor: TSC + encode + Go-style seqlock", "ns/event", false,
                  nullptr, nullptr, Key(floor_tsc)});
  rows.push_back({"floor: tracer's clock + encode + Go-style seqlock",
                  "ns/event", false, nullptr, nullptr, Key(floor_seq)});
  rows.push_back({"stack frames per event (stack rows)", "frames", false,
                  Key("tracer/BM_RegionBeginEnd/mode:2/stack_frames"),
                  Key("go/region/on/frames"), nullptr});
  for (const EventOp& op : kEventOps) {
    const std::string k = absl::StrCat("tracer/", op.benchmark, "/mode:");
    const std::string off = k + "0/ns_per_event";
    const std::string go = op.go_op != nullptr ? op.go_op : "";
    Row r_off{absl::StrCat(op.label, ", tracing off"),
              "ns/event",
              false,
              Key(off),
              nullptr,
              nullptr};
    if (op.go_off_comparable) {
      r_off.go = [go](const Samples& s, Pick p) {
        // Per call: one event per call for these.
        return s.Get("go/" + go + "/off/ns_per_op", p) /
               s.Get("go/" + go + "/on/events_per_op", Pick::kMedian);
      };
    }
    rows.push_back(r_off);
    rows.push_back({absl::StrCat(op.label, ", no stack"), "ns/event", false,
                    Diff(k + "1/ns_per_event", off), nullptr, Key(floor_seq)});
    rows.push_back({absl::StrCat(op.label, ", stack"), "ns/event", false,
                    Diff(k + "2/ns_per_event", k + "3/ns_per_event"),
                    op.go_op != nullptr ? GoCost(go) : nullptr,
                    Key(floor_seq)});
    Row bytes{absl::StrCat(op.label, ", stack: bytes"),
              "B/event",
              false,
              Key(k + "2/bytes_per_event"),
              nullptr,
              nullptr};
    if (op.go_op != nullptr) {
      bytes.go = [go](const Samples& s, Pick p) {
        return s.Get("go/" + go + "/on/bytes_per_op", p) /
               s.Get("go/" + go + "/on/events_per_op", Pick::kMedian);
      };
    }
    rows.push_back(bytes);
  }
  // With the TSC as the trace's clock (TraceClock::kTsc), where the CPU's
  // TSC is invariant: on a machine whose kernel keeps another clocksource
  // these show what the default clock (CLOCK_MONOTONIC there) costs. They
  // compare with the TSC floor.
  for (const EventOp& op : kEventOps) {
    const std::string k =
        absl::StrCat("tracer/", op.benchmark, "_TscClock/mode:");
    if (!suite.samples().Has(k + "1/ns_per_event")) continue;
    const std::string d = absl::StrCat("tracer/", op.benchmark, "/mode:");
    rows.push_back({absl::StrCat(op.label, ", no stack, TSC clock"), "ns/event",
                    false, Diff(k + "1/ns_per_event", d + "0/ns_per_event"),
                    nullptr, Key(floor_tsc)});
    rows.push_back({absl::StrCat(op.label, ", stack, TSC clock"), "ns/event",
                    false, Diff(k + "2/ns_per_event", d + "3/ns_per_event"),
                    op.go_op != nullptr ? GoCost(op.go_op) : nullptr,
                    Key(floor_tsc)});
  }
  // Sending the signal, the kernel's delivery and the handler, all on the
  // benchmark's thread: its CPU time.
  rows.push_back({"CPU sample: SIGPROF handler (vs empty handler)", "ns/signal",
                  false, Key("cpu/BM_Signal_GentraceHandler/cpu_ns"), nullptr,
                  Key("cpu/BM_Signal_EmptyHandler/cpu_ns")});
  for (const char* hz : {"100", "1000"}) {
    // Process CPU time (every thread's: the sampler's reader, the
    // advancer, the writer), which a busy machine disturbs less than
    // wall time.
    rows.push_back(
        {absl::StrCat("CPU samples at ", hz,
                      " Hz: CPU-bound workload (vs no sampling)"),
         "us/iteration", false,
         Key(absl::StrCat("cpu/BM_Workload/hz:", hz, "/process_time/cpu_ns"),
             1e-3),
         nullptr, Key("cpu/BM_Workload/hz:0/process_time/cpu_ns", 1e-3)});
  }
  // Perf cpu-clock sampling, signal-free against signals: each mode against
  // no sampling, and the target: the signal-free mode at 10 kHz
  // costs less than the signal mode at 1 kHz (ratio below 1).
  auto perf = [](const char* hz, int ring) {
    return Key(absl::StrCat("cpu/BM_WorkloadPerf/hz:", hz, "/ring:", ring,
                            "/process_time/cpu_ns"),
               1e-3);
  };
  for (const char* hz : {"1000", "10000"}) {
    rows.push_back({absl::StrCat("perf samples at ", hz,
                                 " Hz, signals: workload (vs no sampling)"),
                    "us/iteration", false, perf(hz, 0), nullptr,
                    Key("cpu/BM_Workload/hz:0/process_time/cpu_ns", 1e-3)});
    rows.push_back({absl::StrCat("perf samples at ", hz,
                                 " Hz, signal-free: workload (vs signals)"),
                    "us/iteration", false, perf(hz, 1), nullptr, perf(hz, 0)});
  }
  rows.push_back({"signal-free at 10 kHz (vs signals at 1 kHz)", "us/iteration",
                  false, perf("10000", 1), nullptr, perf("1000", 0)});
  // Reading the whole trace once, per CPU second of the reading process
  // (startup included, for both): a busy machine inflates wall time, not
  // CPU time.
  auto per_cpu_second = [](const std::string& what, const std::string& cpu,
                           double scale) {
    return [what, cpu, scale](const Samples& s, Pick p) {
      // kMin: from the least CPU time, the most per second.
      return s.Get(what, Pick::kMedian) / s.Get(cpu, p) * scale;
    };
  };
  rows.push_back(
      {"reader: events", "Mevents/s", true,
       per_cpu_second("reader/BM_ReadFile/events", "reader/cpu_s", 1e-6),
       per_cpu_second("goreader/events", "goreader/cpu_s", 1e-6), nullptr});
  rows.push_back({"reader: bytes", "MB/s", true,
                  per_cpu_second("trace/bytes", "reader/cpu_s", 1e-6),
                  per_cpu_second("trace/bytes", "goreader/cpu_s", 1e-6),
                  nullptr});
  rows.push_back({"reader: peak RSS of the reading process", "MB", false,
                  Key("reader/rss_bytes", 1e-6),
                  Key("goreader/rss_bytes", 1e-6), nullptr});
  // The CLI on the same trace against `go tool trace -d=1` (Go's parser
  // printing every event), per CPU second of the process, startup
  // included; each side's events are the ones it reported.
  for (const char* stats : {"stats", "stats_json"}) {
    const std::string name = absl::StrCat(
        "gentrace ", stats == std::string("stats") ? "stats" : "stats --json",
        " vs go tool trace -d=1");
    rows.push_back(
        {name + ": events", "Mevents/s", true,
         per_cpu_second("stats/events", absl::StrCat(stats, "/cpu_s"), 1e-6),
         per_cpu_second("gostats/events", "gostats/cpu_s", 1e-6), nullptr});
    rows.push_back({name + ": peak RSS", "MB", false,
                    Key(absl::StrCat(stats, "/rss_bytes"), 1e-6),
                    Key("gostats/rss_bytes", 1e-6), nullptr});
  }
  for (const auto& [label, names] : suite.names()) {
    if (!absl::StartsWith(label, "extra:")) continue;
    std::vector<std::string> seen;
    for (const std::string& n : names) {
      if (std::find(seen.begin(), seen.end(), n) != seen.end()) continue;
      seen.push_back(n);
    }
    // RowsForExtra: each benchmark is a row, in ns/event if it has that
    // counter, else ns/iteration; a benchmark named X_Floor is X's floor.
    for (const std::string& n : seen) {
      if (absl::EndsWith(n, "_Floor")) continue;
      const std::string base = absl::StrCat(label, "/", n, "/");
      const bool per_event = suite.samples().Has(base + "ns_per_event");
      const std::string fig = per_event ? "ns_per_event" : "real_ns";
      Row r{absl::StrCat(label.substr(6), ": ", n),
            per_event ? "ns/event" : "ns/iteration",
            false,
            Key(base + fig),
            nullptr,
            nullptr};
      const std::string floor = absl::StrCat(label, "/", n, "_Floor/", fig);
      if (suite.samples().Has(floor)) r.floor = Key(floor);
      rows.push_back(r);
    }
  }
  return rows;
}

// -------------------------------------------------------------- output ---

double Eval(const Getter& g, const Samples& s, Pick p) {
  return g ? g(s, p) : kNaN;
}

std::string Fmt(double v) {
  if (!std::isfinite(v)) return "-";
  const double a = std::fabs(v);
  return absl::StrFormat(a >= 100  ? "%.0f"
                         : a >= 10 ? "%.1f"
                         : a >= 1  ? "%.2f"
                                   : "%.3f",
                         v);
}

std::string Cell(double median, double min) {
  if (!std::isfinite(median)) return "-";
  return absl::StrCat(Fmt(median), " (", Fmt(min), ")");
}

std::string Ratio(double a, double b) {
  if (!std::isfinite(a) || !std::isfinite(b) || b == 0) return "-";
  return absl::StrFormat("%.2fx", a / b);
}

void PrintTable(const std::vector<Row>& rows, const Samples& s) {
  struct Line {
    std::string cells[7];
  };
  std::vector<Line> lines;
  lines.push_back(
      {{"", "unit", "gentrace", "Go 1.23", "floor", "vs Go", "vs floor"}});
  for (const Row& r : rows) {
    const double g = Eval(r.gentrace, s, Pick::kMedian);
    const double o = Eval(r.go, s, Pick::kMedian);
    const double f = Eval(r.floor, s, Pick::kMedian);
    lines.push_back(
        {{r.name, r.unit, Cell(g, Eval(r.gentrace, s, Pick::kMin)),
          Cell(o, Eval(r.go, s, Pick::kMin)),
          Cell(f, Eval(r.floor, s, Pick::kMin)), Ratio(g, o), Ratio(g, f)}});
  }
  size_t width[7] = {};
  for (const Line& l : lines) {
    for (int i = 0; i < 7; ++i)
      width[i] = std::max(width[i], l.cells[i].size());
  }
  for (const Line& l : lines) {
    std::string out;
    for (int i = 0; i < 7; ++i) {
      const std::string& c = l.cells[i];
      const std::string pad(width[i] - c.size(), ' ');
      out += i == 0 ? c + pad : "  " + pad + c;
    }
    std::printf("%s\n", out.c_str());
  }
  std::printf(
      "median (in parentheses: from the least times of the rounds) over the "
      "rounds;\ncosts are tracing on minus off, in CPU time; reader and stats "
      "rows per CPU second of the reading process; ratios gentrace / other\n");
}

std::string JsonEntries(const std::vector<Row>& rows, const Samples& s) {
  std::string out = "[\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    const double g = Eval(r.gentrace, s, Pick::kMedian);
    const double o = Eval(r.go, s, Pick::kMedian);
    const double f = Eval(r.floor, s, Pick::kMedian);
    auto ratio = [](double a, double b) {
      return std::isfinite(a) && std::isfinite(b) && b != 0 ? a / b : kNaN;
    };
    absl::StrAppend(
        &out, "  {\"name\": ", JsonQuote(r.name),
        ", \"unit\": ", JsonQuote(r.unit), ", \"gentrace\": ", JsonNumber(g),
        ", \"go\": ", JsonNumber(o), ", \"floor\": ", JsonNumber(f),
        ", \"ratio_vs_go\": ", JsonNumber(ratio(g, o)),
        ", \"ratio_vs_floor\": ", JsonNumber(ratio(g, f)),
        ", \"better\": ", JsonQuote(r.higher_is_better ? "higher" : "lower"),
        ", \"gentrace_min\": ", JsonNumber(Eval(r.gentrace, s, Pick::kMin)),
        ", \"go_min\": ", JsonNumber(Eval(r.go, s, Pick::kMin)),
        ", \"floor_min\": ", JsonNumber(Eval(r.floor, s, Pick::kMin)), "}",
        i + 1 < rows.size() ? ",\n" : "\n");
  }
  out += "]\n";
  return out;
}

bool ParseFlags(int argc, char** argv, Flags* f) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view a = argv[i];
    auto value = [&](absl::string_view name, std::string* out) {
      if (!absl::ConsumePrefix(&a, absl::StrCat("--", name, "="))) return false;
      *out = std::string(a);
      return true;
    };
    std::string v;
    if (value("tracer", &f->tracer) || value("cpu", &f->cpu) ||
        value("reader", &f->reader) || value("trace", &f->trace) ||
        value("go_bench", &f->go_bench) || value("gotool", &f->gotool) ||
        value("gentrace", &f->gentrace) || value("go_trace", &f->go_trace) ||
        value("min_time", &f->min_time) ||
        value("cpu_min_time", &f->cpu_min_time) ||
        value("go_benchtime", &f->go_benchtime) || value("out", &f->out) ||
        value("raw_dir", &f->raw_dir)) {
      continue;
    }
    if (value("extra", &v)) {
      f->extras.push_back(v);
      continue;
    }
    if (value("rounds", &v) && absl::SimpleAtoi(v, &f->rounds) &&
        f->rounds > 0) {
      continue;
    }
    std::fprintf(stderr, "benchmark_suite: bad argument %s\n", argv[i]);
    return false;
  }
  if (f->tracer.empty() || f->cpu.empty() || f->reader.empty() ||
      f->trace.empty()) {
    std::fprintf(stderr,
                 "benchmark_suite: --tracer, --cpu, --reader and --trace are "
                 "required\n");
    return false;
  }
  return true;
}

int Main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) return 2;
  bool own_raw = false;
  if (flags.raw_dir.empty()) {
    char tmpl[] = "/tmp/gentrace-bench-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return 2;
    flags.raw_dir = tmpl;
    own_raw = true;
  } else {
    mkdir(flags.raw_dir.c_str(), 0755);
  }
  Suite suite(flags);
  for (int round = 0; round < flags.rounds; ++round) suite.Round(round);
  const std::vector<Row> rows = Rows(suite);
  PrintTable(rows, suite.samples());
  const std::string json = JsonEntries(rows, suite.samples());
  std::ofstream out(flags.out, std::ios::binary | std::ios::trunc);
  out << json;
  out.close();
  if (!out) {
    std::fprintf(stderr, "benchmark_suite: cannot write %s\n",
                 flags.out.c_str());
    return 1;
  }
  if (own_raw) {
    const std::string rm = absl::StrCat("rm -rf '", flags.raw_dir, "'");
    if (std::system(rm.c_str()) != 0) {
      std::fprintf(stderr, "benchmark_suite: could not remove %s\n",
                   flags.raw_dir.c_str());
    }
  }
  if (!suite.failures().empty()) {
    std::fprintf(stderr, "benchmark_suite: %zu program run(s) failed:\n",
                 suite.failures().size());
    for (const std::string& f : suite.failures()) {
      std::fprintf(stderr, "  %s\n", f.c_str());
    }
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace gentrace::bench

int main(int argc, char** argv) { return gentrace::bench::Main(argc, argv); }
