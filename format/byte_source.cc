// ByteSource implementations; see byte_source.h.
#include "format/byte_source.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace gentrace::format {

absl::StatusOr<size_t> SpanSource::Read(uint8_t* dst, size_t n) {
  size_t k = std::min(n, data_.size() - pos_);
  if (k > 0) std::memcpy(dst, data_.data() + pos_, k);
  pos_ += k;
  return k;
}

FdSource::~FdSource() {
  if (owned_ && fd_ >= 0) close(fd_);
}

absl::StatusOr<std::unique_ptr<FdSource>> FdSource::Open(
    const std::string& path) {
  if (path == "-") return std::make_unique<FdSource>(0, false);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(
        absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  }
  return std::make_unique<FdSource>(fd, true);
}

absl::StatusOr<size_t> FdSource::Read(uint8_t* dst, size_t n) {
  for (;;) {
    ssize_t r = read(fd_, dst, n);
    if (r >= 0) return static_cast<size_t>(r);
    if (errno == EINTR) continue;
    return absl::DataLossError(absl::StrCat("read: ", std::strerror(errno)));
  }
}

absl::StatusOr<size_t> PrefixedSource::Read(uint8_t* dst, size_t n) {
  if (pos_ < prefix_.size()) {
    const size_t k = std::min(n, prefix_.size() - pos_);
    std::memcpy(dst, prefix_.data() + pos_, k);
    pos_ += k;
    return k;
  }
  return rest_->Read(dst, n);
}

absl::StatusOr<std::string> ReadPrefix(ByteSource* source, size_t n) {
  std::string s(n, '\0');
  size_t have = 0;
  while (have < n) {
    absl::StatusOr<size_t> r =
        source->Read(reinterpret_cast<uint8_t*>(s.data()) + have, n - have);
    if (!r.ok()) return r.status();
    if (*r == 0) break;
    have += *r;
  }
  s.resize(have);
  return s;
}

absl::StatusOr<std::string> ReadAll(ByteSource* source, size_t limit) {
  std::string out;
  constexpr size_t kChunk = 1 << 16;
  for (;;) {
    size_t old = out.size();
    if (old > limit) {
      return absl::ResourceExhaustedError(
          absl::StrCat("input larger than ", limit, " bytes"));
    }
    out.resize(old + kChunk);
    absl::StatusOr<size_t> n =
        source->Read(reinterpret_cast<uint8_t*>(out.data()) + old, kChunk);
    if (!n.ok()) return n.status();
    out.resize(old + *n);
    if (*n == 0) return out;
  }
}

}  // namespace gentrace::format
