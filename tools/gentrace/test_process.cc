// Subprocess helper for command line tests; see test_process.h.
#include "tools/gentrace/test_process.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
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

}  // namespace gentrace::tools
