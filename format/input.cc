// Buffered input cursor; see input.h.
#include "format/input.h"

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"

namespace gentrace::format {

Input::Input(absl::Span<const uint8_t> data)
    : cur_(data.data()), end_(data.data() + data.size()), eof_(true) {}

Input::Input(ByteSource* source, size_t capacity)
    : source_(source), buf_(capacity) {
  cur_ = end_ = buf_.data();
}

absl::StatusOr<size_t> Input::Ensure(size_t n) {
  if (available() >= n || eof_) return std::min(n, available());
  if (n > buf_.size()) {
    return absl::InternalError("Input::Ensure beyond the buffer capacity");
  }
  // Slide what is left to the front, then fill behind it.
  size_t have = available();
  if (cur_ != buf_.data()) {
    std::memmove(buf_.data(), cur_, have);
    cur_ = buf_.data();
    end_ = cur_ + have;
  }
  while (have < n && !eof_) {
    absl::StatusOr<size_t> r =
        source_->Read(buf_.data() + have, buf_.size() - have);
    if (!r.ok()) {
      return absl::Status(r.status().code(),
                          absl::StrFormat("offset %d: %s", offset_ + have,
                                          r.status().message()));
    }
    if (*r == 0) eof_ = true;
    have += *r;
    end_ = cur_ + have;
  }
  return std::min(n, have);
}

absl::StatusOr<bool> Input::AtEnd() {
  absl::StatusOr<size_t> n = Ensure(1);
  if (!n.ok()) return n.status();
  return *n == 0;
}

absl::StatusOr<uint64_t> Input::ReadUvarint(const char* what) {
  absl::StatusOr<size_t> n = Ensure(kMaxVarintLen);
  if (!n.ok()) return n.status();
  uint64_t v = 0;
  size_t used = 0;
  switch (GetUvarint(cur_, cur_ + *n, &v, &used)) {
    case VarintStatus::kOk:
      Skip(used);
      return v;
    case VarintStatus::kTruncated:
      return absl::DataLossError(absl::StrFormat(
          "offset %d: input ends inside %s (truncated varint)", offset_, what));
    case VarintStatus::kOverflow:
      break;
  }
  return absl::InvalidArgumentError(absl::StrFormat(
      "offset %d: %s: varint overflows 64 bits", offset_, what));
}

}  // namespace gentrace::format
