// See terminal.h.
#include "tools/gentrace/terminal.h"

#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/types/span.h"
#include "format/header.h"

namespace gentrace::tools {

int OutputWidth() {
  int width = 0;
  struct winsize ws;
  if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 &&
      ws.ws_col > 0) {
    width = ws.ws_col;
  } else if (const char* c = std::getenv("COLUMNS");
             c == nullptr || !absl::SimpleAtoi(c, &width) || width <= 0) {
    width = 80;
  }
  return width < 60 ? 60 : width;
}

Progress::Progress(std::string label, uint64_t total_bytes)
    : label_(std::move(label)),
      total_(total_bytes),
      enabled_(isatty(STDERR_FILENO)),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

Progress::~Progress() { Done(); }

void Progress::Update(uint64_t bytes_done) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - start_ < std::chrono::seconds(1) ||
      (shown_ && now - last_ < std::chrono::milliseconds(200))) {
    return;
  }
  last_ = now;
  const double mb = bytes_done / 1e6;
  char line[160];
  if (total_ > 0) {
    std::snprintf(line, sizeof(line), "\r%s: %3d%% (%.1f MB of %.1f MB)",
                  label_.c_str(), static_cast<int>(100.0 * bytes_done / total_),
                  mb, total_ / 1e6);
  } else {
    std::snprintf(line, sizeof(line), "\r%s: %.1f MB", label_.c_str(), mb);
  }
  if (shown_ && line_ == line) return;
  shown_ = true;
  line_ = line;
  std::fputs(line, stderr);
  std::fflush(stderr);
}

void Progress::Done() {
  if (!shown_) return;
  shown_ = false;
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
}

uint64_t Progress::PlainFileSize(const std::string& path) {
  struct stat st;
  if (path == "-" || stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return 0;
  }
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return 0;
  unsigned char magic[4] = {};
  const size_t n = std::fread(magic, 1, 4, f);
  std::fclose(f);
  // The reader counts decompressed bytes in compressed input.
  if (format::LooksLikeZstd(absl::MakeConstSpan(magic, n))) return 0;
  return static_cast<uint64_t>(st.st_size);
}

}  // namespace gentrace::tools
