// A buffered cursor over trace bytes, shared by the framing-level readers.
//
// Over a memory buffer it is zero-copy: Peek() points into the caller's
// bytes. Over a ByteSource it keeps a bounded window (at most `capacity`
// bytes), so memory never depends on lengths read from the input.
#ifndef GENTRACE_FORMAT_INPUT_H_
#define GENTRACE_FORMAT_INPUT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "format/byte_source.h"
#include "format/leb128.h"

namespace gentrace::format {

class Input {
 public:
  // Zero-copy over a buffer that outlives the Input.
  explicit Input(absl::Span<const uint8_t> data);
  // Buffered over a source (not owned) with a window of `capacity` bytes.
  explicit Input(ByteSource* source, size_t capacity = 256 << 10);

  // Makes up to n contiguous bytes available at the cursor (n must not
  // exceed the capacity). Returns how many are available: fewer than n only
  // when the input ends first.
  absl::StatusOr<size_t> Ensure(size_t n);

  // The bytes at the cursor; valid until the next Ensure().
  const uint8_t* data() const { return cur_; }
  size_t available() const { return static_cast<size_t>(end_ - cur_); }
  void Skip(size_t n) {
    cur_ += n;
    offset_ += n;
  }
  // Bytes consumed since the start of the input.
  uint64_t offset() const { return offset_; }

  // Reads a varint. On truncation or overflow returns an error naming the
  // offset and `what`.
  absl::StatusOr<uint64_t> ReadUvarint(const char* what);
  // True if no byte is left.
  absl::StatusOr<bool> AtEnd();

 private:
  ByteSource* source_ = nullptr;
  std::vector<uint8_t> buf_;
  const uint8_t* cur_ = nullptr;
  const uint8_t* end_ = nullptr;
  uint64_t offset_ = 0;
  bool eof_ = false;
};

}  // namespace gentrace::format

#endif  // GENTRACE_FORMAT_INPUT_H_
