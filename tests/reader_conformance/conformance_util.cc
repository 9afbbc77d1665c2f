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
#include <map>
#include <memory>
#include <regex>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
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

// The "t=<n>" of a dump line, or -1.
int64_t TimeOf(absl::string_view line) {
  size_t p = line.find(" t=");
  if (p == absl::string_view::npos) return -1;
  p += 3;
  size_t q = line.find(' ', p);
  int64_t t = -1;
  if (!absl::SimpleAtoi(line.substr(p, q - p), &t)) return -1;
  return t;
}

std::string WithoutTime(absl::string_view line) {
  size_t p = line.find(" t=");
  if (p == absl::string_view::npos) return std::string(line);
  size_t q = line.find(' ', p + 3);
  return absl::StrCat(line.substr(0, p), line.substr(q));
}

// Compares END lines (see CompareDumps).
std::string CompareEnds(absl::string_view end_a, absl::string_view end_b,
                        bool any_error);

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
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
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

std::string OurDump(absl::string_view trace) {
  absl::StatusOr<std::unique_ptr<reader::Reader>> r =
      reader::Reader::FromBuffer(absl::MakeConstSpan(
          reinterpret_cast<const uint8_t*>(trace.data()), trace.size()));
  if (!r.ok()) return reader::DumpErrorLine(r.status().message()) + "\n";
  std::string out;
  reader::DumpAll(r->get(), &out);
  return out;
}

std::string OurDumpFile(const std::string& path) {
  absl::StatusOr<std::unique_ptr<reader::Reader>> r =
      reader::Reader::Open(path);
  if (!r.ok()) return reader::DumpErrorLine(r.status().message()) + "\n";
  std::string out;
  reader::DumpAll(r->get(), &out);
  return out;
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

std::string CompareEnds(absl::string_view end_a, absl::string_view end_b,
                        bool any_error) {
  if (end_a == end_b) return "";
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
  if (absl::StartsWith(end_a, "END error") &&
      absl::StartsWith(end_b, "END error") &&
      (any_error || first_line(WithoutContext(end_a)) == first_line(end_b))) {
    return "";
  }
  return absl::StrCat("END lines differ:\n  ours: ", end_a,
                      "\n  Go:   ", end_b);
}

}  // namespace

std::string CompareDumps(absl::string_view ours, absl::string_view go,
                         bool any_error) {
  if (ours == go) return "";
  std::vector<absl::string_view> a = absl::StrSplit(ours, '\n');
  std::vector<absl::string_view> b = absl::StrSplit(go, '\n');
  auto end_line = [](const std::vector<absl::string_view>& v) {
    for (size_t i = v.size(); i-- > 0;) {
      if (absl::StartsWith(v[i], "END ")) return i;
    }
    return v.size();
  };
  const size_t ea = end_line(a), eb = end_line(b);
  if (ea == a.size() || eb == b.size()) return "a dump has no END line";
  if (ea != eb) {
    return absl::StrCat("ours has ", ea, " events, Go's ", eb, "; ours ends ",
                        a[ea], ", Go's ", b[eb]);
  }
  // Events, grouped into runs of times T, T+1, ... (ties bumped apart).
  size_t i = 0;
  while (i < ea) {
    size_t j = i + 1;
    while (j < ea && TimeOf(a[j]) == TimeOf(a[j - 1]) + 1 &&
           TimeOf(b[j]) == TimeOf(b[j - 1]) + 1) {
      ++j;
    }
    std::vector<std::string> ga, gb;
    for (size_t k = i; k < j; ++k) {
      ga.push_back(WithoutTime(a[k]));
      gb.push_back(WithoutTime(b[k]));
      if (TimeOf(a[k]) != TimeOf(b[k])) {
        return absl::StrCat("line ", k + 1, " times differ:\n  ours: ", a[k],
                            "\n  Go:   ", b[k]);
      }
    }
    std::sort(ga.begin(), ga.end());
    std::sort(gb.begin(), gb.end());
    if (ga != gb) {
      return absl::StrCat("lines ", i + 1, "-", j,
                          " differ; first:\n  ours: ", a[i],
                          "\n  Go:   ", b[i]);
    }
    i = j;
  }
  return CompareEnds(a[ea], b[eb], any_error);
}

std::string CompareDumpsPerGeneration(absl::string_view ours,
                                      absl::string_view go, bool any_error) {
  if (ours == go) return "";
  std::vector<absl::string_view> a = absl::StrSplit(ours, '\n');
  std::vector<absl::string_view> b = absl::StrSplit(go, '\n');
  size_t i = 0, j = 0, gen = 1;
  for (;;) {
    std::vector<std::string> ga, gb;
    absl::string_view end_a, end_b;
    for (; i < a.size(); ++i) {
      if (absl::StartsWith(a[i], "END ")) {
        end_a = a[i];
        break;
      }
      ga.push_back(WithoutTime(a[i]));
      if (absl::StartsWith(a[i], "Sync ")) break;
    }
    for (; j < b.size(); ++j) {
      if (absl::StartsWith(b[j], "END ")) {
        end_b = b[j];
        break;
      }
      gb.push_back(WithoutTime(b[j]));
      if (absl::StartsWith(b[j], "Sync ")) break;
    }
    std::sort(ga.begin(), ga.end());
    std::sort(gb.begin(), gb.end());
    if (ga != gb) {
      return absl::StrCat("generation ", gen, " differs: ", ga.size(),
                          " events in ours, ", gb.size(), " in Go's");
    }
    if (!end_a.empty() || !end_b.empty()) {
      return CompareEnds(end_a, end_b, any_error);
    }
    ++i;
    ++j;
    ++gen;
  }
}

std::string MatchGo(const std::string& path, absl::string_view ours,
                    int tries) {
  std::vector<std::string> outputs;
  std::string first_diff;
  for (int i = 0; i < tries; ++i) {
    absl::StatusOr<std::string> go = GoDump(path);
    if (!go.ok()) return absl::StrCat("gotool: ", go.status().message());
    const bool panics = absl::StrContains(*go, "PANIC in an accessor");
    std::string diff = CompareDumps(ours, *go, panics);
    if (diff.empty()) return "";
    if (first_diff.empty()) first_diff = diff;
    outputs.push_back(*std::move(go));
  }
  for (const std::string& go : outputs) {
    const bool panics = absl::StrContains(go, "PANIC in an accessor");
    if (CompareDumpsPerGeneration(ours, go, panics).empty()) return "";
  }
  return first_diff;
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
