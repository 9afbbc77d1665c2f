// For tests: a ByteSource that hands out its bytes in small pieces, as a
// pipe does, so that a test can check that a streaming reader gives the
// same results whatever the sizes of the reads it gets.
#ifndef GENTRACE_FORMAT_CHUNKED_SOURCE_H_
#define GENTRACE_FORMAT_CHUNKED_SOURCE_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "format/byte_source.h"

namespace gentrace::format {

class ChunkedSource : public ByteSource {
 public:
  // Over a copy of `data`: at most `chunk` bytes a read, or, with chunk 0,
  // at most 1, 2, ..., 13, 1, 2, ... bytes in turn.
  ChunkedSource(absl::string_view data, size_t chunk)
      : data_(data), chunk_(chunk) {}
  ChunkedSource(absl::Span<const uint8_t> data, size_t chunk)
      : ChunkedSource(
            absl::string_view(reinterpret_cast<const char*>(data.data()),
                              data.size()),
            chunk) {}

  absl::StatusOr<size_t> Read(uint8_t* dst, size_t n) override {
    const size_t piece = chunk_ != 0 ? chunk_ : (step_++ % 13) + 1;
    const size_t k = std::min({n, piece, data_.size() - pos_});
    if (k > 0) std::memcpy(dst, data_.data() + pos_, k);
    pos_ += k;
    return k;
  }

 private:
  std::string data_;
  size_t chunk_;
  size_t pos_ = 0;
  size_t step_ = 0;
};

}  // namespace gentrace::format

#endif  // GENTRACE_FORMAT_CHUNKED_SOURCE_H_
