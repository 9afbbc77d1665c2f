// Runs tests/go/gotool (Go's own trace parser) as a child process for
// gentrace's tests; see go_tool.h.

#include "tests/interop/go_tool.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

extern char** environ;

namespace gentrace {
namespace interop {
namespace {

absl::Status ErrnoError(absl::string_view what, int err) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(err)));
}

// Owns one file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Close(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  void Reset(int fd) {
    Close();
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// A pipe whose ends are closed on exec; posix_spawn's dup2 onto 0/1/2 clears
// that flag for the child's copies only.
absl::Status MakePipe(Fd& read_end, Fd& write_end) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return ErrnoError("pipe2", errno);
  read_end.Reset(fds[0]);
  write_end.Reset(fds[1]);
  return absl::OkStatus();
}

// While alive, SIGPIPE is blocked in the calling thread, so that writing to a
// child that already closed its stdin yields EPIPE instead of killing the test.
// A SIGPIPE raised meanwhile is consumed before the old mask is restored.
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock() {
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &block, &old_mask_);
  }
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;
  ~ScopedSigpipeBlock() {
    if (!was_pending_) {
      sigset_t pipe_only;
      sigemptyset(&pipe_only);
      sigaddset(&pipe_only, SIGPIPE);
      const struct timespec zero = {0, 0};
      while (sigtimedwait(&pipe_only, nullptr, &zero) == SIGPIPE) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
  }

 private:
  sigset_t old_mask_;
  bool was_pending_ = false;
};

// Owns posix_spawn's attribute and file-action objects.
class SpawnSetup {
 public:
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions_);
    posix_spawnattr_init(&attr_);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions_);
    posix_spawnattr_destroy(&attr_);
  }
  posix_spawn_file_actions_t* actions() { return &actions_; }
  posix_spawnattr_t* attr() { return &attr_; }

 private:
  posix_spawn_file_actions_t actions_;
  posix_spawnattr_t attr_;
};

// Moves data between the child's pipes until both of its outputs are closed:
// all three at once, since a child blocked on a full stdout pipe would
// otherwise never finish reading its stdin.
absl::Status PumpPipes(const std::string& stdin_data, Fd& to_child,
                       Fd& from_stdout, Fd& from_stderr, GoRunResult& result) {
  ScopedSigpipeBlock no_sigpipe;
  if (to_child.valid()) {
    int flags = fcntl(to_child.get(), F_GETFL);
    if (flags < 0 || fcntl(to_child.get(), F_SETFL, flags | O_NONBLOCK) < 0) {
      return ErrnoError("fcntl(O_NONBLOCK)", errno);
    }
  }
  size_t written = 0;
  if (written == stdin_data.size()) to_child.Close();
  char buf[1 << 16];
  while (from_stdout.valid() || from_stderr.valid()) {
    struct pollfd pfds[3];
    int n = 0;
    int stdin_slot = -1, stdout_slot = -1, stderr_slot = -1;
    if (to_child.valid()) {
      stdin_slot = n;
      pfds[n++] = {to_child.get(), POLLOUT, 0};
    }
    if (from_stdout.valid()) {
      stdout_slot = n;
      pfds[n++] = {from_stdout.get(), POLLIN, 0};
    }
    if (from_stderr.valid()) {
      stderr_slot = n;
      pfds[n++] = {from_stderr.get(), POLLIN, 0};
    }
    if (poll(pfds, n, -1) < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("poll", errno);
    }
    if (stdin_slot >= 0 && pfds[stdin_slot].revents != 0) {
      ssize_t w = write(to_child.get(), stdin_data.data() + written,
                        stdin_data.size() - written);
      if (w > 0) {
        written += static_cast<size_t>(w);
        if (written == stdin_data.size()) to_child.Close();
      } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
        // EPIPE: the child stopped reading its input; it will say why.
        to_child.Close();
      }
    }
    struct {
      int slot;
      Fd* fd;
      std::string* sink;
    } outputs[] = {{stdout_slot, &from_stdout, &result.stdout_data},
                   {stderr_slot, &from_stderr, &result.stderr_data}};
    for (auto& out : outputs) {
      if (out.slot < 0 || pfds[out.slot].revents == 0) continue;
      ssize_t r = read(out.fd->get(), buf, sizeof(buf));
      if (r > 0) {
        out.sink->append(buf, static_cast<size_t>(r));
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        out.fd->Close();
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string GoToolPath() {
  const char* path = std::getenv(kGoToolEnvVar);
  return path == nullptr ? std::string() : std::string(path);
}

bool GoToolAvailable() {
  const std::string path = GoToolPath();
  if (path.empty()) return false;
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
         access(path.c_str(), X_OK) == 0;
}

absl::StatusOr<GoRunResult> RunGoTool(const std::vector<std::string>& args,
                                      const std::string& stdin_data) {
  const std::string tool = GoToolPath();
  if (tool.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(kGoToolEnvVar,
                     " is not set (tests/go/build.sh prints "
                     "the path of the Go reference tool)"));
  }
  std::vector<std::string> argv_strings;
  argv_strings.reserve(args.size() + 1);
  argv_strings.push_back(tool);
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  Fd stdin_read, stdin_write, stdout_read, stdout_write, stderr_read,
      stderr_write;
  if (absl::Status s = MakePipe(stdin_read, stdin_write); !s.ok()) return s;
  if (absl::Status s = MakePipe(stdout_read, stdout_write); !s.ok()) return s;
  if (absl::Status s = MakePipe(stderr_read, stderr_write); !s.ok()) return s;

  SpawnSetup setup;
  posix_spawn_file_actions_adddup2(setup.actions(), stdin_read.get(), 0);
  posix_spawn_file_actions_adddup2(setup.actions(), stdout_write.get(), 1);
  posix_spawn_file_actions_adddup2(setup.actions(), stderr_write.get(), 2);
  // The child starts with no blocked signals and SIGPIPE at its default,
  // whatever the test process did to its own.
  sigset_t empty, sigpipe_only;
  sigemptyset(&empty);
  sigemptyset(&sigpipe_only);
  sigaddset(&sigpipe_only, SIGPIPE);
  posix_spawnattr_setsigmask(setup.attr(), &empty);
  posix_spawnattr_setsigdefault(setup.attr(), &sigpipe_only);
  posix_spawnattr_setflags(setup.attr(),
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  pid_t pid = -1;
  int err = posix_spawn(&pid, tool.c_str(), setup.actions(), setup.attr(),
                        argv.data(), environ);
  if (err != 0) return ErrnoError(absl::StrCat("posix_spawn ", tool), err);
  // The child has its copies; ours must go so that EOFs arrive.
  stdin_read.Close();
  stdout_write.Close();
  stderr_write.Close();

  GoRunResult result;
  absl::Status pumped =
      PumpPipes(stdin_data, stdin_write, stdout_read, stderr_read, result);
  if (!pumped.ok()) {
    // Do not leave a child behind that nobody reads from.
    kill(pid, SIGKILL);
  }
  stdin_write.Close();
  stdout_read.Close();
  stderr_read.Close();

  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return ErrnoError("waitpid", errno);
  }
  if (!pumped.ok()) return pumped;
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.term_signal = WTERMSIG(status);
  }
  return result;
}

absl::StatusOr<GoValidateResult> GoValidate(const std::string& trace_path,
                                            bool allow_broken_tail) {
  std::vector<std::string> args = {"validate"};
  if (allow_broken_tail) args.push_back("-allow-broken-tail");
  args.push_back(trace_path);
  absl::StatusOr<GoRunResult> run = RunGoTool(args);
  if (!run.ok()) return run.status();

  GoValidateResult result;
  result.ok = run->exit_code == 0;
  result.output = run->stdout_data;
  if (!run->stderr_data.empty()) {
    absl::StrAppend(&result.output, "[stderr]\n", run->stderr_data);
  }
  // The verdict is the last RESULT line (there is one per file).
  absl::string_view out = run->stdout_data;
  size_t pos = out.rfind("RESULT: ");
  while (pos != absl::string_view::npos && pos > 0 && out[pos - 1] != '\n') {
    pos = out.rfind("RESULT: ", pos - 1);
  }
  if (pos == absl::string_view::npos) {
    return absl::InternalError(absl::StrCat(
        "gotool validate printed no RESULT line (exit code ", run->exit_code,
        ", signal ", run->term_signal, "):\n", result.output));
  }
  absl::string_view line = out.substr(pos);
  line = line.substr(0, line.find('\n'));
  result.result_line = std::string(line);
  return result;
}

absl::StatusOr<GoRawResult> GoRawRead(const std::string& trace_path) {
  absl::StatusOr<GoRunResult> run = RunGoTool({"raw", trace_path});
  if (!run.ok()) return run.status();
  absl::string_view out = run->stdout_data;
  if (!absl::StartsWith(out, "RAW: ") ||
      (run->exit_code != 0 && run->exit_code != 1)) {
    return absl::InternalError(
        absl::StrCat("gotool raw printed no RAW line (exit code ",
                     run->exit_code, ", signal ", run->term_signal, "):\n",
                     run->stdout_data, run->stderr_data));
  }
  GoRawResult result;
  result.result_line = std::string(out.substr(0, out.find('\n')));
  result.reached_end =
      run->exit_code == 0 && absl::StartsWith(result.result_line, "RAW: OK ");
  result.cut_tail =
      !result.reached_end && absl::EndsWith(result.result_line,
                                            "trailing bytes are not a complete "
                                            "event");
  // "RAW: OK <n> events, <bytes> bytes" or "RAW: ERROR after <n> events at
  // byte <offset>: ...".
  absl::string_view line = result.result_line;
  absl::string_view number;
  if (result.reached_end) {
    number = line.substr(line.find(", ") + 2);
  } else if (size_t at = line.find(" at byte ");
             at != absl::string_view::npos) {
    number = line.substr(at + 9);
  }
  number = number.substr(0, number.find_first_not_of("0123456789"));
  if (!absl::SimpleAtoi(number, &result.end_offset)) {
    return absl::InternalError(
        absl::StrCat("gotool raw: no offset in ", result.result_line));
  }
  return result;
}

namespace {

// Guards what follows. Tests record skipped steps from their own thread,
// but nothing forbids another.
std::mutex skip_mu;
ScopedNoGoTool* active_no_go = nullptr;
// The test whose skipped steps `skipped_steps` lists: gtest keeps one value
// per property and test, so the steps are collected.
const ::testing::TestInfo* skipped_steps_test = nullptr;
std::string* skipped_steps = new std::string;  // never destroyed

}  // namespace

ScopedNoGoTool::ScopedNoGoTool() {
  const char* env = std::getenv(kGoToolEnvVar);
  was_set_ = env != nullptr;
  if (was_set_) saved_ = env;
  unsetenv(kGoToolEnvVar);
  std::lock_guard<std::mutex> lock(skip_mu);
  active_no_go = this;
}

ScopedNoGoTool::~ScopedNoGoTool() {
  {
    std::lock_guard<std::mutex> lock(skip_mu);
    active_no_go = nullptr;
  }
  if (was_set_) setenv(kGoToolEnvVar, saved_.c_str(), 1);
}

void RecordGoCheckSkipped(absl::string_view step) {
  const ::testing::TestInfo* test =
      ::testing::UnitTest::GetInstance()->current_test_info();
  std::string value;
  {
    std::lock_guard<std::mutex> lock(skip_mu);
    if (active_no_go != nullptr) {
      active_no_go->skipped_.emplace_back(step);
      return;
    }
    if (test != skipped_steps_test) {
      skipped_steps_test = test;
      skipped_steps->clear();
    }
    absl::StrAppend(skipped_steps, skipped_steps->empty() ? "" : "; ", step);
    value = *skipped_steps;
  }
  std::printf("[ GO SKIP  ] %.*s\n", static_cast<int>(step.size()),
              step.data());
  std::fflush(stdout);
  ::testing::Test::RecordProperty(kGoSkippedProperty, value);
}

bool GoCheckEnabled(absl::string_view step) {
  if (GoToolAvailable()) return true;
  RecordGoCheckSkipped(
      absl::StrCat(step, " (no Go reference tool: GENTRACE_GOTOOL is ",
                   GoToolPath().empty() ? "not set)" : "not an executable)"));
  return false;
}

}  // namespace interop
}  // namespace gentrace
