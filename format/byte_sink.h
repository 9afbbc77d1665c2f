// Where converted trace bytes go: a string in memory, or a file descriptor
// (a file, a pipe, stdout). The counterpart of byte_source.h, used by the
// format converters so large traces stream instead of sitting in memory.
#ifndef GENTRACE_FORMAT_BYTE_SINK_H_
#define GENTRACE_FORMAT_BYTE_SINK_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gentrace::format {

class ByteSink {
 public:
  virtual ~ByteSink() = default;
  // Writes all of data, or fails.
  virtual absl::Status Write(absl::string_view data) = 0;
  // Pushes buffered bytes to their destination.
  virtual absl::Status Flush() { return absl::OkStatus(); }
};

// Appends to a caller-owned string.
class StringSink : public ByteSink {
 public:
  explicit StringSink(std::string* out) : out_(out) {}
  absl::Status Write(absl::string_view data) override {
    out_->append(data.data(), data.size());
    return absl::OkStatus();
  }

 private:
  std::string* out_;
};

// Writes to a file descriptor through a buffer of `buffer_size` bytes.
// Retries EINTR and short writes. Call Flush() (or Close()) to see the
// result of the last write; the destructor flushes but drops errors.
class FdSink : public ByteSink {
 public:
  // Takes ownership of fd (closes it) if `owned`.
  FdSink(int fd, bool owned, size_t buffer_size = 1 << 16);
  ~FdSink() override;
  FdSink(const FdSink&) = delete;
  FdSink& operator=(const FdSink&) = delete;

  // Creates or truncates `path` for writing; "-" means standard output.
  static absl::StatusOr<std::unique_ptr<FdSink>> Open(const std::string& path);

  absl::Status Write(absl::string_view data) override;
  absl::Status Flush() override;
  // Flushes and, if owned, closes the descriptor (reporting close errors,
  // which on some file systems are the first sign of a failed write).
  absl::Status Close();

 private:
  absl::Status WriteFd(absl::string_view data);

  int fd_;
  bool owned_;
  size_t buffer_size_;
  std::string buf_;
};

}  // namespace gentrace::format

#endif  // GENTRACE_FORMAT_BYTE_SINK_H_
