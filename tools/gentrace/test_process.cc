// Subprocess helper for command line tests; see test_process.h.
#include "tools/gentrace/test_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/sys.h"

extern char** environ;

namespace gentrace::tools {
namespace {

std::string TempDir() {
  const char* d = getenv("TEST_TMPDIR");
  return d != nullptr ? d : "/tmp";
}

}  // namespace

ProcessResult RunGentrace(const std::vector<std::string>& args,
                          const std::string& stdin_data) {
  absl::StatusOr<ProcessResult> r =
      RunProcess(kGentraceBinary, args, stdin_data);
  if (r.ok()) return *std::move(r);
  ProcessResult failed;
  failed.stderr_data = std::string(r.status().message());
  return failed;
}

int RunGentraceLimited(const std::vector<std::string>& args, uint64_t limit) {
  const std::string bin = kGentraceBinary;
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(bin.c_str()));
  for (const std::string& a : args) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    const struct rlimit rl = {static_cast<rlim_t>(limit),
                              static_cast<rlim_t>(limit)};
    const int null = open("/dev/null", O_WRONLY);
    if (setrlimit(RLIMIT_AS, &rl) != 0 || null < 0 || dup2(null, 1) < 0) {
      _exit(126);
    }
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

void ExpectOneLineInputError(const std::string& command,
                             const std::vector<std::string>& args,
                             const std::string& path, const std::string& reason,
                             const std::string& out) {
  std::vector<std::string> argv = {command};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessResult r = RunGentrace(argv);
  EXPECT_EQ(r.exit_code, 1) << command << " " << path;
  EXPECT_TRUE(absl::StartsWith(
      r.stderr_data, absl::StrCat("gentrace ", command, ": ", path, ": ")))
      << r.stderr_data;
  EXPECT_TRUE(absl::StrContains(r.stderr_data, reason)) << r.stderr_data;
  EXPECT_EQ(std::count(r.stderr_data.begin(), r.stderr_data.end(), '\n'), 1)
      << r.stderr_data;
  EXPECT_EQ(r.stdout_data, "");
  EXPECT_NE(access(out.c_str(), F_OK), 0)
      << command << " left an output for " << path;
}

std::string TestTempPath(const std::string& name) {
  return absl::StrCat(TempDir(), "/", name);
}

std::string ReadFileOrEmpty(const std::string& path) {
  return base::ReadSmallFile(path, std::numeric_limits<size_t>::max());
}

bool WriteFile(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
  return f.good();
}

absl::StatusOr<ProcessResult> RunProcess(const std::string& path,
                                         const std::vector<std::string>& args,
                                         const std::string& stdin_data) {
  static int counter = 0;
  const std::string base =
      absl::StrCat(TempDir(), "/run_process.", getpid(), ".", counter++);
  const std::string in_file = base + ".stdin";
  const std::string out_file = base + ".stdout";
  const std::string err_file = base + ".stderr";
  if (!WriteFile(in_file, stdin_data)) {
    return absl::InternalError("cannot write " + in_file);
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, in_file.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_file.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_file.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(path.c_str()));
  for (const std::string& a : args)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid;
  int err =
      posix_spawn(&pid, path.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) {
    return absl::InternalError(
        absl::StrCat("cannot run ", path, ": ", std::strerror(err)));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return absl::InternalError("waitpid failed");
  }
  ProcessResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.stdout_data = ReadFileOrEmpty(out_file);
  r.stderr_data = ReadFileOrEmpty(err_file);
  unlink(in_file.c_str());
  unlink(out_file.c_str());
  unlink(err_file.c_str());
  return r;
}

int64_t JsonInt(const std::string& json, absl::string_view anchor,
                absl::string_view key) {
  size_t p = json.find(anchor.data(), 0, anchor.size());
  if (p == std::string::npos) return -1;
  const std::string k = absl::StrCat("\"", key, "\": ");
  p = json.find(k, p);
  if (p == std::string::npos) return -1;
  p += k.size();
  size_t e = p;
  if (e < json.size() && json[e] == '-') ++e;
  while (e < json.size() && json[e] >= '0' && json[e] <= '9') ++e;
  // The number must end where the JSON value ends (not "1.5", not "1e3").
  if (e < json.size() && std::strchr(",}] \n\r\t", json[e]) == nullptr) {
    return -1;
  }
  int64_t v = -1;
  if (!absl::SimpleAtoi(absl::string_view(json).substr(p, e - p), &v)) {
    return -1;
  }
  return v;
}

absl::StatusOr<std::vector<int64_t>> PprofRawSums(const std::string& go,
                                                  const std::string& path) {
  absl::StatusOr<ProcessResult> raw =
      RunProcess(go, {"tool", "pprof", "-raw", path});
  if (!raw.ok()) return raw.status();
  if (raw->exit_code != 0) {
    return absl::InternalError(absl::StrCat("go tool pprof -raw ", path,
                                            ": exit status ", raw->exit_code,
                                            ": ", raw->stderr_data));
  }
  // "Samples:", a line naming the sample types, then "  V1  V2: LOCATIONS"
  // lines, each possibly followed by a label line ("  key:[value]"); then
  // "Locations".
  std::vector<int64_t> sums;
  bool in_samples = false;
  for (absl::string_view line : absl::StrSplit(raw->stdout_data, '\n')) {
    if (absl::StartsWith(line, "Samples:")) {
      in_samples = true;
      continue;
    }
    if (absl::StartsWith(line, "Locations")) break;
    const size_t colon = line.find(':');
    if (!in_samples || colon == absl::string_view::npos ||
        absl::StrContains(line, "[")) {
      continue;
    }
    std::vector<absl::string_view> values =
        absl::StrSplit(line.substr(0, colon), ' ', absl::SkipEmpty());
    if (sums.size() < values.size()) sums.resize(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      int64_t v = 0;
      if (!absl::SimpleAtoi(values[i], &v)) {
        return absl::InternalError(absl::StrCat(
            "go tool pprof -raw ", path, ": unreadable sample line: ", line));
      }
      sums[i] += v;
    }
  }
  return sums;
}

}  // namespace gentrace::tools
