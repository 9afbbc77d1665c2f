// libFuzzer target for the trace reader (//reader): any bytes must be read
// without a crash, hang or unbounded allocation, and
//  * reading from memory and from a stream fed in odd-sized pieces gives
//    the same events and the same error;
//  * event times strictly increase, each the time the trace gave it
//    (Reader::last_raw_time) or, if that is not after the previous one's,
//    the previous plus 1 ns, and there is one Sync per complete
//    generation;
//  * gentrace's info batches of every complete generation decode or fail
//    cleanly;
//  * every accessor (through the canonical dump line) and the validator
//    work on every event.
// zstd input is decompressed first, up to a bound.
//
// Build and run: ./dev fuzz SECONDS //tests/fuzz/reader_fuzz:reader_fuzz.
// Seeds: tests/fuzz_corpus/reader_fuzz/ (small real and hand-written
// traces; crash inputs are kept there too, as crash-<what>).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "format/byte_source.h"
#include "format/chunked_source.h"
#include "format/header.h"
#include "format/zstd.h"
#include "reader/dump.h"
#include "reader/gentrace_info.h"
#include "reader/reader.h"
#include "reader/validator.h"

namespace {

#define READER_FUZZ_CHECK(cond, ...)                                        \
  do {                                                                      \
    if (!(cond)) {                                                          \
      std::fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, \
                   #cond);                                                  \
      std::fprintf(stderr, __VA_ARGS__);                                    \
      std::fprintf(stderr, "\n");                                           \
      std::abort();                                                         \
    }                                                                       \
  } while (0)

using gentrace::reader::Event;
using gentrace::reader::EventKind;
using gentrace::reader::Reader;

// Reads everything; returns the dump (with the END line) and checks the
// per-event properties.
std::string ReadAll(Reader* r) {
  gentrace::reader::Validator v;
  std::string out;
  Event ev;
  int64_t last = 0;
  bool first = true;
  uint64_t syncs = 0;
  while (r->ReadEvent(&ev)) {
    READER_FUZZ_CHECK(first || ev.time() > last, "time %lld after %lld",
                      static_cast<long long>(ev.time()),
                      static_cast<long long>(last));
    const int64_t raw = r->last_raw_time();
    const int64_t after_last =
        static_cast<int64_t>(static_cast<uint64_t>(last) + 1);
    READER_FUZZ_CHECK(
        ev.time() == (raw <= last ? after_last : raw),
        "time %lld from %lld after %lld", static_cast<long long>(ev.time()),
        static_cast<long long>(raw), static_cast<long long>(last));
    first = false;
    last = ev.time();
    if (ev.kind() == EventKind::kSync) {
      ++syncs;
      gentrace::reader::GentraceInfo info;
      (void)gentrace::reader::DecodeGentraceInfo(*r->generation(), &info);
    }
    gentrace::reader::AppendDumpLine(ev, &out);
    out.push_back('\n');
    (void)v.Event(ev);
  }
  READER_FUZZ_CHECK(syncs == r->complete_generations(), "%llu syncs",
                    static_cast<unsigned long long>(syncs));
  if (r->status().ok()) {
    out += "END ok\n";
  } else {
    out += gentrace::reader::DumpErrorLine(r->status().message());
  }
  return out;
}

void Check(absl::Span<const uint8_t> data) {
  std::string from_buffer, from_stream;
  {
    absl::StatusOr<std::unique_ptr<Reader>> r = Reader::FromBuffer(data);
    from_buffer =
        r.ok() ? ReadAll(r->get()) : std::string(r.status().message());
  }
  {
    absl::StatusOr<std::unique_ptr<Reader>> r = Reader::FromSource(
        std::make_unique<gentrace::format::ChunkedSource>(data, 0));
    from_stream =
        r.ok() ? ReadAll(r->get()) : std::string(r.status().message());
  }
  READER_FUZZ_CHECK(from_buffer == from_stream,
                    "buffer and stream differ:\n%s\n----\n%s",
                    from_buffer.c_str(), from_stream.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::Span<const uint8_t> in(data, size);
  if (gentrace::format::LooksLikeZstd(in)) {
    // Decompress a bounded amount, then read that.
    gentrace::format::ZstdSource z(
        std::make_unique<gentrace::format::SpanSource>(in));
    std::string plain;
    constexpr size_t kLimit = 16 << 20;
    while (plain.size() < kLimit) {
      uint8_t buf[65536];
      absl::StatusOr<size_t> n = z.Read(buf, sizeof buf);
      if (!n.ok() || *n == 0) break;
      plain.append(reinterpret_cast<char*>(buf), *n);
    }
    Check(absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(plain.data()),
                              plain.size()));
    return 0;
  }
  Check(in);
  return 0;
}
