// Byte sources that decompress zstd on the fly, and that put back bytes
// already read (to sniff a stream's first bytes without losing them).
//
// ZstdSource streams: it holds one input buffer and zstd's window, never
// the whole decompressed data. Concatenated frames are read one after the
// other. A stream that ends inside a frame gives an error after the last
// byte that could be decompressed, so readers still get everything before
// the damage.
#ifndef GENTRACE_READER_ZSTD_SOURCE_H_
#define GENTRACE_READER_ZSTD_SOURCE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "format/byte_source.h"

namespace gentrace::reader {

// True if `bytes` starts with the zstd frame magic 28 B5 2F FD.
bool IsZstdMagic(absl::Span<const uint8_t> bytes);

class ZstdSource : public format::ByteSource {
 public:
  explicit ZstdSource(std::unique_ptr<format::ByteSource> compressed);
  ~ZstdSource() override;
  ZstdSource(const ZstdSource&) = delete;
  ZstdSource& operator=(const ZstdSource&) = delete;

  absl::StatusOr<size_t> Read(uint8_t* dst, size_t n) override;

  // Compressed bytes consumed so far.
  uint64_t compressed_offset() const { return compressed_offset_; }

 private:
  std::unique_ptr<format::ByteSource> in_;
  struct State;
  std::unique_ptr<State> state_;
  std::vector<uint8_t> buf_;
  size_t pos_ = 0, end_ = 0;
  bool in_eof_ = false;
  bool in_frame_ = false;  // inside a frame not yet finished
  uint64_t compressed_offset_ = 0;
  absl::Status error_;
};

// Returns `prefix` first, then the rest of `rest`.
class PrefixedSource : public format::ByteSource {
 public:
  PrefixedSource(std::string prefix, std::unique_ptr<format::ByteSource> rest)
      : prefix_(std::move(prefix)), rest_(std::move(rest)) {}
  absl::StatusOr<size_t> Read(uint8_t* dst, size_t n) override;

 private:
  std::string prefix_;
  size_t pos_ = 0;
  std::unique_ptr<format::ByteSource> rest_;
};

// Reads up to n bytes from `source` into a string (fewer at its end), for
// sniffing; put them back with PrefixedSource.
absl::StatusOr<std::string> ReadPrefix(format::ByteSource* source, size_t n);

// Wraps `source` in a ZstdSource if its data starts with the zstd magic;
// otherwise returns it with the sniffed bytes put back.
absl::StatusOr<std::unique_ptr<format::ByteSource>> MaybeDecompress(
    std::unique_ptr<format::ByteSource> source);

}  // namespace gentrace::reader

#endif  // GENTRACE_READER_ZSTD_SOURCE_H_
