// Conformance test helpers; see conformance_util.h.
#include "tests/reader_conformance/conformance_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/sys.h"
#include "format/go_quote.h"
#include "format/text.h"
#include "reader/dump.h"
#include "reader/reader.h"
#include "tests/interop/go_tool.h"

extern char** environ;

namespace gentrace::conformance {
namespace {

bool IsExecutable(const std::string& path) {
  return access(path.c_str(), X_OK) == 0;
}

bool MakeDirs(const std::string& path) {
  std::string cur;
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part.empty()) {
      if (cur.empty()) cur = "/";
      continue;
    }
    if (!cur.empty() && cur.back() != '/') cur += '/';
    absl::StrAppend(&cur, part);
    if (mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) return false;
  }
  return true;
}

}  // namespace

std::string GoRoot() {
  const char* env = std::getenv("GENTRACE_GOROOT");
  for (const char* c : {static_cast<const char*>(env), "/usr/lib/go-1.23"}) {
    if (c != nullptr && *c != '\0' &&
        IsExecutable(absl::StrCat(c, "/bin/go"))) {
      return c;
    }
  }
  return "";
}

std::string GoCacheDir() {
  std::vector<std::string> candidates;
  if (const char* c = std::getenv("GENTRACE_GO_CACHE")) {
    candidates.push_back(absl::StrCat(c, "/gocache"));
  }
  if (const char* h = std::getenv("HOME")) {
    candidates.push_back(absl::StrCat(h, "/.cache/gentrace-go/gocache"));
  }
  // Bazel runs tests without HOME: the user's home from the password file.
  if (const struct passwd* pw = getpwuid(getuid())) {
    candidates.push_back(
        absl::StrCat(pw->pw_dir, "/.cache/gentrace-go/gocache"));
  }
  for (const std::string& c : candidates) {
    if (MakeDirs(c) && access(c.c_str(), W_OK) == 0) return c;
  }
  return TempDir("gocache");
}

std::vector<std::string> GoEnv(const std::vector<std::string>& extra) {
  std::vector<std::string> env = {absl::StrCat("GOCACHE=", GoCacheDir()),
                                  "GOFLAGS=",
                                  "GOENV=off",
                                  "GOWORK=off",
                                  "GOTOOLCHAIN=local",
                                  "CGO_ENABLED=0"};
  if (const std::string root = GoRoot(); !root.empty()) {
    env.push_back(absl::StrCat("GOROOT=", root));
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

std::string TempDir(absl::string_view name) {
  const char* t = std::getenv("TEST_TMPDIR");
  static std::atomic<int> counter{0};
  std::string dir =
      absl::StrCat(t ? t : "/tmp", "/", name, ".", getpid(), ".", counter++);
  MakeDirs(dir);
  return dir;
}

absl::StatusOr<ProcessOutput> RunProgram(
    const std::vector<std::string>& argv, const std::vector<std::string>& env,
    const std::string& cwd, std::function<bool(pid_t)> while_running) {
  // The environment: ours, with `env` overriding by name.
  std::map<std::string, std::string> vars;
  for (char** e = environ; *e != nullptr; ++e) {
    absl::string_view kv(*e);
    size_t eq = kv.find('=');
    if (eq == absl::string_view::npos) continue;
    vars[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
  }
  for (const std::string& kv : env) {
    size_t eq = kv.find('=');
    vars[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
  }
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : vars)
    env_strings.push_back(absl::StrCat(k, "=", v));
  std::vector<char*> envp, args;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (std::string& s : argv_copy) args.push_back(s.data());
  args.push_back(nullptr);

  const std::string out_path = TempDir("run") + "/output";
  int out_fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (out_fd < 0) return absl::InternalError("cannot create " + out_path);
  pid_t pid = fork();
  if (pid < 0) {
    close(out_fd);
    return absl::InternalError("fork failed");
  }
  if (pid == 0) {
    dup2(out_fd, 1);
    dup2(out_fd, 2);
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, 0);
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(127);
    execve(args[0], args.data(), envp.data());
    _exit(127);
  }
  close(out_fd);
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid, &status, while_running ? WNOHANG : 0);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) {
      return absl::InternalError("waitpid failed");
    }
    if (r == 0) {
      if (!while_running(pid)) while_running = nullptr;
      usleep(20000);
    }
  }
  ProcessOutput out;
  if (WIFEXITED(status)) out.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) out.term_signal = WTERMSIG(status);
  out.output = ReadFile(out_path);
  return out;
}

std::string ReadFile(const std::string& path) {
  return base::ReadSmallFile(path, std::numeric_limits<size_t>::max());
}

bool WriteFile(const std::string& path, absl::string_view data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
  return static_cast<bool>(f);
}

std::vector<std::string> ListDir(const std::string& dir,
                                 absl::string_view suffix) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (struct dirent* e = readdir(d)) {
    if (absl::EndsWith(e->d_name, suffix)) names.push_back(e->d_name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

namespace {

OurEvents EventsOf(absl::StatusOr<std::unique_ptr<reader::Reader>> r) {
  OurEvents out;
  if (!r.ok()) {
    out.end = reader::DumpErrorLine(r.status().message());
    return out;
  }
  reader::Event ev;
  std::string line;
  while ((*r)->ReadEvent(&ev)) {
    line.clear();
    reader::AppendDumpLine(ev, &line);
    out.lines.push_back(line);
    out.raw_times.push_back((*r)->last_raw_time());
  }
  out.end = (*r)->status().ok()
                ? "END ok"
                : reader::DumpErrorLine((*r)->status().message());
  return out;
}

}  // namespace

std::string OurEvents::Text() const {
  size_t size = end.size() + 1;
  for (const std::string& l : lines) size += l.size() + 1;
  std::string out;
  out.reserve(size);
  for (const std::string& l : lines) absl::StrAppend(&out, l, "\n");
  absl::StrAppend(&out, end, "\n");
  return out;
}

OurEvents ReadOurEvents(absl::string_view trace) {
  return EventsOf(reader::Reader::FromBuffer(absl::MakeConstSpan(
      reinterpret_cast<const uint8_t*>(trace.data()), trace.size())));
}

OurEvents ReadOurEventsFile(const std::string& path) {
  return EventsOf(reader::Reader::Open(path));
}

std::string OurDump(absl::string_view trace) {
  return ReadOurEvents(trace).Text();
}

std::string OurDumpFile(const std::string& path) {
  return ReadOurEventsFile(path).Text();
}

absl::StatusOr<std::string> GoDump(const std::string& path) {
  absl::StatusOr<interop::GoRunResult> r = interop::RunGoTool({"dump", path});
  if (!r.ok()) return r.status();
  if (r->exit_code != 0 && r->exit_code != 1) {
    return absl::InternalError(absl::StrCat(
        "gotool dump exited with ", r->exit_code, ": ", r->stderr_data));
  }
  return r->stdout_data;
}

std::string WithoutContext(absl::string_view message) {
  static const std::regex kContext(
      " \\(at [A-Za-z0-9()]+ on thread -?[0-9]+, generation [0-9]+\\)");
  return std::regex_replace(std::string(message), kContext, "");
}

namespace {

std::string CompareEnds(absl::string_view ours, absl::string_view go,
                        bool any_error) {
  if (ours == go) return "";
  // Multi-line messages (Go's "failed to advance" dumps its state, in map
  // order) are compared by their first line.
  // Go checks a generation's stacks in map order when their ids are
  // sparse: which bad frame it reports first varies from run to run.
  auto first_line = [](absl::string_view s) {
    static const std::regex kStackCheck(
        "found invalid (func|file) string ID [0-9]+ for stack [0-9]+");
    return std::regex_replace(std::string(s.substr(0, s.find(" | "))),
                              kStackCheck, "found invalid frame string ID");
  };
  if (absl::StartsWith(ours, "END error") &&
      absl::StartsWith(go, "END error") &&
      (any_error || first_line(WithoutContext(ours)) == first_line(go))) {
    return "";
  }
  return absl::StrCat("END lines differ:\n  ours: ", ours, "\n  Go:   ", go);
}

// One dump line taken apart: its time, its thread and the rest.
struct DumpLine {
  int64_t time = 0;
  std::string thread;  // the m= value
  std::string body;    // the line without " t=<time>"
};

bool ParseDumpLine(absl::string_view line, DumpLine* out) {
  const size_t t = line.find(" t=");
  if (t == absl::string_view::npos) return false;
  const size_t t_end = line.find(' ', t + 3);
  if (!absl::SimpleAtoi(line.substr(t + 3, t_end - (t + 3)), &out->time)) {
    return false;
  }
  const size_t m = line.find(" m=");
  if (m == absl::string_view::npos) return false;
  const size_t m_end = line.find(' ', m + 3);
  out->thread = std::string(line.substr(m + 3, m_end - (m + 3)));
  out->body =
      absl::StrCat(line.substr(0, t),
                   t_end == absl::string_view::npos ? "" : line.substr(t_end));
  return true;
}

// The time a reader gives an event whose time in the trace is `raw`, after
// an event given `prev`: Go's (and our reader's) fix-up, with the same
// wrap-around on overflow.
int64_t FixedTime(int64_t raw, int64_t prev) {
  return raw <= prev ? static_cast<int64_t>(static_cast<uint64_t>(prev) + 1)
                     : raw;
}

// Suffix minimum and maximum over positions, with positions filled in any
// order (a Fenwick tree over reversed positions).
class SuffixMinMax {
 public:
  explicit SuffixMinMax(size_t n)
      : min_(n + 1, std::numeric_limits<int64_t>::max()),
        max_(n + 1, std::numeric_limits<int64_t>::min()) {}
  void Set(size_t pos, int64_t v) {
    for (size_t i = min_.size() - 1 - pos; i < min_.size(); i += i & -i) {
      min_[i] = std::min(min_[i], v);
      max_[i] = std::max(max_[i], v);
    }
  }
  // Min and max over the positions > pos that were set.
  std::pair<int64_t, int64_t> After(size_t pos) const {
    int64_t lo = std::numeric_limits<int64_t>::max();
    int64_t hi = std::numeric_limits<int64_t>::min();
    for (size_t i = min_.size() - 2 - pos; i > 0; i -= i & -i) {
      lo = std::min(lo, min_[i]);
      hi = std::max(hi, max_[i]);
    }
    return {lo, hi};
  }

 private:
  std::vector<int64_t> min_, max_;
};

}  // namespace

std::string CompareWithGo(const OurEvents& ours, absl::string_view go,
                          bool any_error) {
  const size_t n = ours.lines.size();
  if (ours.raw_times.size() != n) return "ours: raw times do not match lines";
  // Go's dump: event lines, then the END line.
  std::vector<absl::string_view> go_lines =
      absl::StrSplit(go, '\n', absl::SkipEmpty());
  if (go_lines.empty() || !absl::StartsWith(go_lines.back(), "END ")) {
    return "Go's dump has no END line";
  }
  const absl::string_view go_end = go_lines.back();
  go_lines.pop_back();

  std::vector<DumpLine> a(n), b(go_lines.size());
  for (size_t i = 0; i < n; ++i) {
    if (!ParseDumpLine(ours.lines[i], &a[i])) {
      return absl::StrCat("ours, line ", i + 1,
                          ": not a dump line: ", ours.lines[i]);
    }
  }
  for (size_t j = 0; j < b.size(); ++j) {
    if (!ParseDumpLine(go_lines[j], &b[j])) {
      return absl::StrCat("Go's line ", j + 1,
                          ": not a dump line: ", go_lines[j]);
    }
  }
  // Our times must be what our order and raw times give.
  for (size_t i = 0; i < n; ++i) {
    const int64_t prev = i == 0 ? 0 : a[i - 1].time;
    const int64_t want = FixedTime(ours.raw_times[i], prev);
    if (a[i].time != want) {
      return absl::StrCat("ours, line ", i + 1, ": t=", a[i].time,
                          ", but the event's time is ", ours.raw_times[i],
                          " and the one before it is at ", prev,
                          ", so t=", want, ":\n  ", ours.lines[i]);
    }
  }
  // Pair the events: the k-th event of thread m in Go's dump with the k-th
  // of thread m in ours.
  std::map<std::string, std::vector<size_t>> ours_by_thread;
  for (size_t i = 0; i < n; ++i) ours_by_thread[a[i].thread].push_back(i);
  std::map<std::string, size_t> seen;
  std::vector<size_t> pos(b.size());  // Go's j -> our i
  for (size_t j = 0; j < b.size(); ++j) {
    const std::vector<size_t>& list = ours_by_thread[b[j].thread];
    const size_t k = seen[b[j].thread]++;
    if (k >= list.size()) {
      return absl::StrCat("Go's line ", j + 1, " is event ", k + 1,
                          " of thread ", b[j].thread, ", which has only ",
                          list.size(), " in ours:\n  Go:   ", go_lines[j]);
    }
    pos[j] = list[k];
    if (a[pos[j]].body != b[j].body) {
      return absl::StrCat("event ", k + 1, " of thread ", b[j].thread,
                          " differs (our line ", pos[j] + 1, ", Go's line ",
                          j + 1, "):\n  ours: ", ours.lines[pos[j]],
                          "\n  Go:   ", go_lines[j]);
    }
  }
  // Go's events in an order of its own: only ties may swap, and Go's times
  // must be what its order gives.
  SuffixMinMax delivered(n);
  for (size_t j = 0; j < b.size(); ++j) {
    const size_t i = pos[j];
    const int64_t raw = ours.raw_times[i];
    auto [lo, hi] = delivered.After(i);
    if (lo != std::numeric_limits<int64_t>::max() && (lo != raw || hi != raw)) {
      // Find the event Go put first for the message.
      for (size_t e = 0; e < j; ++e) {
        if (pos[e] > i && ours.raw_times[pos[e]] != raw) {
          return absl::StrCat(
              "Go puts our line ", pos[e] + 1, " before our line ", i + 1,
              ", but their times differ (", ours.raw_times[pos[e]], " and ",
              raw,
              "): only events with equal times may come in either "
              "order\n  Go's first:  ",
              go_lines[e], "\n  Go's second: ", go_lines[j]);
        }
      }
      return absl::StrCat("Go's line ", j + 1,
                          " comes after an event that "
                          "follows it in ours, with another time");
    }
    delivered.Set(i, raw);
    const int64_t want = FixedTime(raw, j == 0 ? 0 : b[j - 1].time);
    if (b[j].time != want) {
      return absl::StrCat(
          "times differ: Go's line ", j + 1, " has t=", b[j].time,
          ", but in Go's order it comes at ", want, " (its time is ", raw,
          ")\n  ours: ", ours.lines[i], "\n  Go:   ", go_lines[j]);
    }
  }
  if (b.size() != n) {
    // Every Go event has its counterpart, so ours has more.
    size_t first = n;
    for (const auto& [thread, list] : ours_by_thread) {
      if (seen[thread] < list.size())
        first = std::min(first, list[seen[thread]]);
    }
    return absl::StrCat("ours has ", n, " events, Go's ", b.size(),
                        "; the first one Go lacks is our line ", first + 1,
                        ":\n  ours: ", ours.lines[first], "\nours ends ",
                        ours.end, "\nGo's ends ", go_end);
  }
  return CompareEnds(ours.end, go_end, any_error);
}

std::string MatchGo(const std::string& path, const OurEvents& ours, int tries) {
  std::string first_diff;
  for (int i = 0; i < tries; ++i) {
    absl::StatusOr<std::string> go = GoDump(path);
    if (!go.ok()) return absl::StrCat("gotool: ", go.status().message());
    const bool panics = absl::StrContains(*go, "PANIC in an accessor");
    std::string diff = CompareWithGo(ours, *go, panics);
    if (diff.empty()) return "";
    if (first_diff.empty()) first_diff = std::move(diff);
  }
  return absl::StrCat("none of ", tries,
                      " runs of Go matches; the first: ", first_diff);
}

absl::StatusOr<GoTestCase> ParseGoTest(absl::string_view archive) {
  GoTestCase c;
  std::optional<absl::string_view> expect =
      format::TxtarFile(archive, "expect");
  std::optional<absl::string_view> trace =
      format::TxtarFile(archive, "trace", &c.trace_first_line);
  if (!expect || !trace) {
    return absl::InvalidArgumentError("need -- expect -- and -- trace --");
  }
  c.trace_text = std::string(*trace);
  absl::string_view line = expect->substr(0, expect->find('\n'));
  line = absl::StripAsciiWhitespace(line);
  if (line == "SUCCESS") return c;
  absl::string_view rest;
  if (absl::ConsumePrefix(&line, "FAILURE ")) {
    c.expect = GoTestCase::kFailure;
  } else if (absl::ConsumePrefix(&line, "INVALID ")) {
    c.expect = GoTestCase::kInvalid;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("bad expectation: ", line));
  }
  absl::StatusOr<std::string> pattern = format::GoUnquote(line);
  if (!pattern.ok()) return pattern.status();
  c.pattern = *pattern;
  return c;
}

bool GoRegexpMatch(const std::string& pattern, const std::string& s) {
  // The patterns in .test files are plain text with ".*" and escapes that
  // ECMAScript reads the same way. Go's "." does not match "\n"; neither
  // does ECMAScript's.
  std::regex re(pattern);
  return std::regex_search(s, re);
}

}  // namespace gentrace::conformance
