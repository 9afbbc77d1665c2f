// Where trace bytes come from: a memory buffer, a file descriptor or a file,
// possibly behind a decompressor (format/zstd.h). Readers (batch framing,
// raw events, the reader library, the converters) pull bytes through a
// ByteSource so they work the same on files, pipes and buffers.
#ifndef GENTRACE_FORMAT_BYTE_SOURCE_H_
#define GENTRACE_FORMAT_BYTE_SOURCE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace gentrace::format {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to n bytes into dst and returns how many were read. Returns 0
  // only at the end of the input; an error for a failed read.
  virtual absl::StatusOr<size_t> Read(uint8_t* dst, size_t n) = 0;
};

// Reads from a caller-owned buffer that outlives the source.
class SpanSource : public ByteSource {
 public:
  explicit SpanSource(absl::Span<const uint8_t> data) : data_(data) {}
  absl::StatusOr<size_t> Read(uint8_t* dst, size_t n) override;

 private:
  absl::Span<const uint8_t> data_;
  size_t pos_ = 0;
};

// Reads from a file descriptor (a file, a pipe, stdin). Retries EINTR.
class FdSource : public ByteSource {
 public:
  // Takes ownership of fd (closes it) if `owned`.
  FdSource(int fd, bool owned) : fd_(fd), owned_(owned) {}
  ~FdSource() override;
  FdSource(const FdSource&) = delete;
  FdSource& operator=(const FdSource&) = delete;

  // Opens `path` for reading; "-" means standard input.
  static absl::StatusOr<std::unique_ptr<FdSource>> Open(
      const std::string& path);

  absl::StatusOr<size_t> Read(uint8_t* dst, size_t n) override;

 private:
  int fd_;
  bool owned_;
};

// Returns `prefix` first (bytes already read from the rest, e.g. to sniff
// the input's kind), then the rest.
class PrefixedSource : public ByteSource {
 public:
  // Owns `rest`.
  PrefixedSource(std::string prefix, std::unique_ptr<ByteSource> rest)
      : prefix_(std::move(prefix)),
        owned_(std::move(rest)),
        rest_(owned_.get()) {}
  // Borrows `rest`, which must outlive this source.
  PrefixedSource(std::string prefix, ByteSource* rest)
      : prefix_(std::move(prefix)), rest_(rest) {}
  absl::StatusOr<size_t> Read(uint8_t* dst, size_t n) override;

 private:
  std::string prefix_;
  size_t pos_ = 0;
  std::unique_ptr<ByteSource> owned_;
  ByteSource* rest_;
};

// Reads up to n bytes, fewer only at the end of the input. Put them back
// with PrefixedSource.
absl::StatusOr<std::string> ReadPrefix(ByteSource* source, size_t n);

// Reads all of a source into memory, refusing inputs over `limit` bytes.
absl::StatusOr<std::string> ReadAll(ByteSource* source,
                                    size_t limit = size_t{1} << 34);

}  // namespace gentrace::format

#endif  // GENTRACE_FORMAT_BYTE_SOURCE_H_
