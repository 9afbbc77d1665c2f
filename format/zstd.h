// zstd in both directions, streaming: a ByteSource that decompresses and a
// ByteSink that compresses, and the sniffing that puts a decompressor in
// front of compressed input. Whether bytes look compressed is told by
// LooksLikeZstd (format/header.h, with the other first-bytes checks).
//
// ZstdSource holds one input buffer and zstd's window, never the whole
// decompressed data. Concatenated frames are read one after the other. An
// input that ends inside a frame gives an error after the last byte that
// could be decompressed, so readers still get everything before the damage.
//
// ZstdSink writes one frame per generation: EndGeneration() ends the frame,
// so a file cut after any generation decompresses to whole generations.
#ifndef GENTRACE_FORMAT_ZSTD_H_
#define GENTRACE_FORMAT_ZSTD_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "format/byte_sink.h"
#include "format/byte_source.h"

namespace gentrace::format {

class ZstdSource : public ByteSource {
 public:
  explicit ZstdSource(std::unique_ptr<ByteSource> compressed);
  ~ZstdSource() override;
  ZstdSource(const ZstdSource&) = delete;
  ZstdSource& operator=(const ZstdSource&) = delete;

  absl::StatusOr<size_t> Read(uint8_t* dst, size_t n) override;

  // Compressed bytes consumed so far.
  uint64_t compressed_offset() const { return compressed_offset_; }

 private:
  struct State;
  std::unique_ptr<ByteSource> in_;
  std::unique_ptr<State> state_;
  std::vector<uint8_t> buf_;
  size_t pos_ = 0, end_ = 0;
  bool in_eof_ = false;
  bool in_frame_ = false;  // inside a frame not yet finished
  uint64_t compressed_offset_ = 0;
  absl::Status error_;
};

class ZstdSink : public ByteSink {
 public:
  // Compresses into `inner` at `level` (zstd's range, e.g. 1-19; negative
  // levels are faster), with a checksum in every frame. Fails for a level
  // outside zstd's range.
  static absl::StatusOr<std::unique_ptr<ZstdSink>> Create(
      std::unique_ptr<ByteSink> inner, int level);
  ~ZstdSink() override;
  ZstdSink(const ZstdSink&) = delete;
  ZstdSink& operator=(const ZstdSink&) = delete;

  absl::Status Write(absl::Span<const uint8_t> bytes) override;
  // Makes everything written so far decompressible (a zstd flush, no new
  // frame), then flushes `inner`.
  absl::Status Flush() override;
  // Ends the frame (if anything was written into it), then calls `inner`'s
  // EndGeneration.
  absl::Status EndGeneration() override;
  // Ends an open frame, then closes `inner`. (Destruction without Close
  // writes nothing more: after a failure, `inner` is not written again.)
  absl::Status Close() override;
  // Compressed bytes, as `inner` counts them.
  uint64_t bytes_written() const override { return inner_->bytes_written(); }

 private:
  struct State;
  ZstdSink(std::unique_ptr<ByteSink> inner, std::unique_ptr<State> state);
  // Runs the compressor over `in` with zstd's end directive `mode` until
  // zstd needs no more room, writing its output to `inner`.
  absl::Status Compress(absl::Span<const uint8_t> in, int mode);

  std::unique_ptr<ByteSink> inner_;
  std::unique_ptr<State> state_;
  std::vector<uint8_t> out_;
  bool frame_open_ = false;  // bytes written since the last frame ended
};

// Sniffs the first bytes of `source`: zstd input comes back behind a
// ZstdSource, anything else as it was (the sniffed bytes put back).
absl::StatusOr<std::unique_ptr<ByteSource>> MaybeDecompress(
    std::unique_ptr<ByteSource> source);

// Opens `path` ("-" for standard input) and decompresses it if it is zstd.
absl::StatusOr<std::unique_ptr<ByteSource>> OpenInput(const std::string& path);

}  // namespace gentrace::format

#endif  // GENTRACE_FORMAT_ZSTD_H_
