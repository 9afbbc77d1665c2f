// Streaming zstd; see zstd.h.
#include "format/zstd.h"

#include <zstd.h>

#include "absl/strings/str_cat.h"
#include "format/header.h"

namespace gentrace::format {

// ---------------------------------------------------------------- ZstdSource

struct ZstdSource::State {
  ZSTD_DStream* stream = nullptr;
};

ZstdSource::ZstdSource(std::unique_ptr<ByteSource> compressed)
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
      const size_t ret = ZSTD_decompressStream(state_->stream, &out, &in);
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
      const size_t ret = ZSTD_decompressStream(state_->stream, &out, &in);
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

// ------------------------------------------------------------------ ZstdSink

struct ZstdSink::State {
  ZSTD_CCtx* cctx = nullptr;
  ~State() { ZSTD_freeCCtx(cctx); }
};

absl::StatusOr<std::unique_ptr<ZstdSink>> ZstdSink::Create(
    std::unique_ptr<ByteSink> inner, int level) {
  if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel()) {
    return absl::InvalidArgumentError(
        absl::StrCat("zstd level ", level, " is outside [", ZSTD_minCLevel(),
                     ", ", ZSTD_maxCLevel(), "]"));
  }
  auto state = std::make_unique<State>();
  state->cctx = ZSTD_createCCtx();
  if (state->cctx == nullptr) {
    return absl::ResourceExhaustedError("zstd: cannot create a compressor");
  }
  ZSTD_CCtx_setParameter(state->cctx, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(state->cctx, ZSTD_c_checksumFlag, 1);
  return std::unique_ptr<ZstdSink>(
      new ZstdSink(std::move(inner), std::move(state)));
}

ZstdSink::ZstdSink(std::unique_ptr<ByteSink> inner,
                   std::unique_ptr<State> state)
    : inner_(std::move(inner)),
      state_(std::move(state)),
      out_(ZSTD_CStreamOutSize()) {}

ZstdSink::~ZstdSink() = default;

absl::Status ZstdSink::Compress(absl::Span<const uint8_t> bytes, int mode) {
  const auto directive = static_cast<ZSTD_EndDirective>(mode);
  ZSTD_inBuffer in{bytes.data(), bytes.size(), 0};
  for (;;) {
    ZSTD_outBuffer out{out_.data(), out_.size(), 0};
    const size_t left =
        ZSTD_compressStream2(state_->cctx, &out, &in, directive);
    if (ZSTD_isError(left)) {
      return absl::InternalError(
          absl::StrCat("zstd compression failed: ", ZSTD_getErrorName(left)));
    }
    if (out.pos > 0) {
      if (absl::Status s =
              inner_->Write(absl::MakeConstSpan(out_.data(), out.pos));
          !s.ok()) {
        return s;
      }
    }
    // ZSTD_e_continue is done when it took all the input; flush and end
    // when nothing is left to write out.
    const bool done =
        directive == ZSTD_e_continue ? in.pos == in.size : left == 0;
    if (done) return absl::OkStatus();
  }
}

absl::Status ZstdSink::Write(absl::Span<const uint8_t> bytes) {
  if (bytes.empty()) return absl::OkStatus();
  frame_open_ = true;
  return Compress(bytes, ZSTD_e_continue);
}

absl::Status ZstdSink::Flush() {
  if (frame_open_) {
    if (absl::Status s = Compress({}, ZSTD_e_flush); !s.ok()) return s;
  }
  return inner_->Flush();
}

absl::Status ZstdSink::EndGeneration() {
  if (frame_open_) {
    frame_open_ = false;
    if (absl::Status s = Compress({}, ZSTD_e_end); !s.ok()) return s;
  }
  return inner_->EndGeneration();
}

absl::Status ZstdSink::Close() {
  if (frame_open_) {
    frame_open_ = false;
    if (absl::Status s = Compress({}, ZSTD_e_end); !s.ok()) return s;
  }
  return inner_->Close();
}

// ----------------------------------------------------------------- sniffing

absl::StatusOr<std::unique_ptr<ByteSource>> MaybeDecompress(
    std::unique_ptr<ByteSource> source) {
  absl::StatusOr<std::string> head = ReadPrefix(source.get(), 4);
  if (!head.ok()) return head.status();
  const bool zstd = LooksLikeZstd(absl::MakeConstSpan(
      reinterpret_cast<const uint8_t*>(head->data()), head->size()));
  std::unique_ptr<ByteSource> out =
      std::make_unique<PrefixedSource>(*std::move(head), std::move(source));
  if (zstd) out = std::make_unique<ZstdSource>(std::move(out));
  return out;
}

absl::StatusOr<std::unique_ptr<ByteSource>> OpenInput(const std::string& path) {
  absl::StatusOr<std::unique_ptr<FdSource>> f = FdSource::Open(path);
  if (!f.ok()) return f.status();
  return MaybeDecompress(*std::move(f));
}

}  // namespace gentrace::format
