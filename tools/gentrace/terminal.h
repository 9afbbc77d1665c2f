// What the subcommands need to know about the terminal: how wide tables may
// be, and a progress line on stderr for long runs.
#ifndef GENTRACE_TOOLS_GENTRACE_TERMINAL_H_
#define GENTRACE_TOOLS_GENTRACE_TERMINAL_H_

#include <chrono>
#include <cstdint>
#include <string>

namespace gentrace::tools {

// The width tables are laid out for: the terminal's (TIOCGWINSZ) when
// stdout is one, else $COLUMNS if it is a number, else 80. At least 60.
int OutputWidth();

// A progress line on stderr ("\rgentrace stats: 41% (120.3 MB of 290.0
// MB)"), shown only when stderr is a terminal and only once the work has
// taken more than a second; Update() is cheap enough to call every few
// thousand events.
class Progress {
 public:
  // `label` starts the line; `total_bytes` is the input's size, 0 if not
  // known (compressed input, a pipe): then only the bytes read are shown.
  Progress(std::string label, uint64_t total_bytes);
  ~Progress();  // Done()
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void Update(uint64_t bytes_done);
  // Clears the line, if one was shown.
  void Done();

  // The size of the file at `path` if it is a regular file that is not
  // zstd-compressed (so the reader's byte count compares with it), else 0.
  static uint64_t PlainFileSize(const std::string& path);

 private:
  std::string label_;
  uint64_t total_;
  bool enabled_;
  bool shown_ = false;
  std::string line_;  // the line shown last
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace gentrace::tools

#endif  // GENTRACE_TOOLS_GENTRACE_TERMINAL_H_
