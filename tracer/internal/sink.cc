// The tracer's destinations built from format/'s sinks; see sink.h.
#include "tracer/internal/sink.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "format/zstd.h"

namespace gentrace::internal {

absl::StatusOr<std::unique_ptr<Sink>> MakeFileSink(const std::string& path) {
  auto sink = format::FdSink::Create(path, "trace file",
                                     format::FdSink::Options{0, path});
  if (!sink.ok()) return sink.status();
  return std::unique_ptr<Sink>(std::move(*sink));
}

std::unique_ptr<Sink> MakeFdSink(int fd) {
  return std::make_unique<format::FdSink>(
      fd, /*owned=*/false,
      format::FdSink::Options{0, absl::StrCat("trace fd ", fd)});
}

std::unique_ptr<Sink> MakeCallbackSink(
    std::function<absl::Status(absl::Span<const uint8_t>)> fn) {
  return std::make_unique<format::CallbackSink>(std::move(fn));
}

absl::StatusOr<std::unique_ptr<Sink>> MakeZstdSink(std::unique_ptr<Sink> inner,
                                                   int level) {
  auto sink = format::ZstdSink::Create(std::move(inner), level);
  if (!sink.ok()) return sink.status();
  return std::unique_ptr<Sink>(std::move(*sink));
}

}  // namespace gentrace::internal
