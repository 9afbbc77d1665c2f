// Streaming zstd decompression; see zstd_source.h.
#include "reader/zstd_source.h"

#include <zstd.h>

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace gentrace::reader {

bool IsZstdMagic(absl::Span<const uint8_t> bytes) {
  static constexpr uint8_t kMagic[4] = {0x28, 0xB5, 0x2F, 0xFD};
  return bytes.size() >= 4 && std::memcmp(bytes.data(), kMagic, 4) == 0;
}

struct ZstdSource::State {
  ZSTD_DStream* stream = nullptr;
};

ZstdSource::ZstdSource(std::unique_ptr<format::ByteSource> compressed)
    : in_(std::move(compressed)), state_(new State) {
  state_->stream = ZSTD_createDStream();
  if (state_->stream == nullptr) {
    error_ = absl::ResourceExhaustedError("zstd: cannot create a stream");
  } else {
    ZSTD_initDStream(state_->stream);
  }
  buf_.resize(ZSTD_DStreamInSize());
}

ZstdSource::~ZstdSource() {
  if (state_->stream != nullptr) ZSTD_freeDStream(state_->stream);
}

absl::StatusOr<size_t> ZstdSource::Read(uint8_t* dst, size_t n) {
  if (!error_.ok()) return error_;
  if (n == 0) return 0;
  ZSTD_outBuffer out{dst, n, 0};
  for (;;) {
    if (pos_ < end_) {
      ZSTD_inBuffer in{buf_.data() + pos_, end_ - pos_, 0};
      size_t ret = ZSTD_decompressStream(state_->stream, &out, &in);
      pos_ += in.pos;
      compressed_offset_ += in.pos;
      if (ZSTD_isError(ret)) {
        // (No compressed offset in the message: where zstd notices damage
        // depends on how the input arrives, and the same data must give
        // the same error.)
        error_ =
            absl::DataLossError(absl::StrCat("zstd: ", ZSTD_getErrorName(ret)));
        if (out.pos > 0) return out.pos;
        return error_;
      }
      in_frame_ = ret != 0;
      if (out.pos > 0) return out.pos;
      if (pos_ < end_) continue;  // more input to consume
    }
    if (in_eof_) {
      if (!in_frame_) return 0;
      // The input ended: drain what the decoder still holds, then report
      // a frame that never finished.
      ZSTD_inBuffer in{nullptr, 0, 0};
      size_t ret = ZSTD_decompressStream(state_->stream, &out, &in);
      if (!ZSTD_isError(ret)) {
        in_frame_ = ret != 0;
        if (out.pos > 0) return out.pos;
        if (!in_frame_) return 0;
      }
      error_ = absl::DataLossError(
          "zstd: compressed input ends inside a frame (truncated)");
      return error_;
    }
    absl::StatusOr<size_t> r = in_->Read(buf_.data(), buf_.size());
    if (!r.ok()) {
      error_ = r.status();
      return error_;
    }
    pos_ = 0;
    end_ = *r;
    if (*r == 0) in_eof_ = true;
  }
}

absl::StatusOr<size_t> PrefixedSource::Read(uint8_t* dst, size_t n) {
  if (pos_ < prefix_.size()) {
    size_t k = std::min(n, prefix_.size() - pos_);
    std::memcpy(dst, prefix_.data() + pos_, k);
    pos_ += k;
    return k;
  }
  return rest_->Read(dst, n);
}

absl::StatusOr<std::string> ReadPrefix(format::ByteSource* source, size_t n) {
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

absl::StatusOr<std::unique_ptr<format::ByteSource>> MaybeDecompress(
    std::unique_ptr<format::ByteSource> source) {
  absl::StatusOr<std::string> head = ReadPrefix(source.get(), 4);
  if (!head.ok()) return head.status();
  const bool zstd = IsZstdMagic(absl::MakeConstSpan(
      reinterpret_cast<const uint8_t*>(head->data()), head->size()));
  std::unique_ptr<format::ByteSource> out =
      std::make_unique<PrefixedSource>(*std::move(head), std::move(source));
  if (zstd) out = std::make_unique<ZstdSource>(std::move(out));
  return out;
}

}  // namespace gentrace::reader
