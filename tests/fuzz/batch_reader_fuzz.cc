// libFuzzer target: the binary trace readers over arbitrary bytes.
//
// * BatchReader, zero-copy over a buffer and buffered over a ByteSource that
//   hands out odd-sized pieces, must never crash and must agree batch for
//   batch, and on whether and how they fail.
// * The batches read before any error re-encode consistently: written back
//   with minimal headers, or with the runtime's padded size fields, they
//   read back as the same batches and end cleanly.
// * The flat RawReader over the same bytes (both modes agree too): every
//   event it reads re-encodes to EncodedSize() bytes that read back as the
//   same event, and its text form (TextWriter) reads back (TextReader) as the
//   same event.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "format/batch.h"
#include "format/byte_source.h"
#include "format/chunked_source.h"
#include "format/header.h"
#include "format/raw_event.h"
#include "format/spec.h"
#include "format/text.h"
#include "tests/fuzz/fuzz_check.h"

namespace gentrace::format {
namespace {

absl::Span<const uint8_t> Bytes(const std::string& s) {
  return absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(s.data()),
                             s.size());
}

// ---- batches

struct ReadBatch {
  bool experimental;
  uint8_t experiment;
  uint64_t gen, m, time;
  std::string payload;
  bool operator==(const ReadBatch& o) const {
    return experimental == o.experimental && experiment == o.experiment &&
           gen == o.gen && m == o.m && time == o.time && payload == o.payload;
  }
};

struct BatchResult {
  bool header_ok = false;
  Version version = Version::kGo122;
  std::vector<ReadBatch> batches;
  bool clean_end = false;
  std::string error;
  uint64_t end_offset = 0;
};

BatchResult ReadAllBatches(BatchReader* r) {
  BatchResult res;
  absl::StatusOr<Version> v = r->ReadHeader();
  if (!v.ok()) {
    res.error = std::string(v.status().message());
    return res;
  }
  res.header_ok = true;
  res.version = *v;
  Batch b;
  for (;;) {
    absl::StatusOr<bool> more = r->Next(&b);
    if (!more.ok()) {
      res.error = std::string(more.status().message());
      break;
    }
    if (!*more) {
      res.clean_end = true;
      break;
    }
    FUZZ_CHECK(b.payload.size() <= kMaxBatchPayload, "payload %zu",
               b.payload.size());
    res.batches.push_back(
        {b.experimental, b.experiment, b.gen, b.m, b.time,
         std::string(reinterpret_cast<const char*>(b.payload.data()),
                     b.payload.size())});
  }
  res.end_offset = r->offset();
  return res;
}

// The batches written back, with minimal or with padded size fields.
std::string EncodeBatches(const BatchResult& res, bool padded) {
  std::string out = EncodeHeader(res.version);
  for (const ReadBatch& b : res.batches) {
    if (padded) {
      uint8_t hdr[kMaxBatchHeaderSize];
      const size_t n = b.experimental
                           ? WriteExperimentalBatchHeader(hdr, b.experiment,
                                                          b.gen, b.m, b.time)
                           : WriteBatchHeader(hdr, b.gen, b.m, b.time);
      PatchBatchSize(hdr, n, b.payload.size());
      out.append(reinterpret_cast<const char*>(hdr), n);
      out += b.payload;
    } else if (b.experimental) {
      absl::Status st = AppendRawEvent(
          {kEvExperimentalBatch, {b.experiment, b.gen, b.m, b.time}, b.payload},
          &out);
      FUZZ_CHECK(st.ok(), "%s", std::string(st.message()).c_str());
    } else {
      absl::Status st = AppendRawEvent(
          {kEvEventBatch, {b.gen, b.m, b.time, b.payload.size()}, ""}, &out);
      FUZZ_CHECK(st.ok(), "%s", std::string(st.message()).c_str());
      out += b.payload;
    }
  }
  return out;
}

void CheckBatches(absl::Span<const uint8_t> data) {
  BatchReader span_reader(data);
  BatchResult a = ReadAllBatches(&span_reader);
  ChunkedSource src(data, 0);
  BatchReader stream_reader(&src);
  BatchResult b = ReadAllBatches(&stream_reader);

  FUZZ_CHECK(a.header_ok == b.header_ok, "header: %s | %s", a.error.c_str(),
             b.error.c_str());
  FUZZ_CHECK(a.batches.size() == b.batches.size(), "%zu vs %zu batches",
             a.batches.size(), b.batches.size());
  for (size_t i = 0; i < a.batches.size(); ++i) {
    FUZZ_CHECK(a.batches[i] == b.batches[i], "batch %zu differs", i);
  }
  FUZZ_CHECK(a.clean_end == b.clean_end && a.error == b.error,
             "span: %s | stream: %s", a.error.c_str(), b.error.c_str());
  if (!a.header_ok) return;
  if (a.clean_end) {
    FUZZ_CHECK(a.end_offset == data.size(), "clean end at %llu of %zu",
               static_cast<unsigned long long>(a.end_offset), data.size());
  }
  for (bool padded : {false, true}) {
    const std::string again = EncodeBatches(a, padded);
    BatchReader r(Bytes(again));
    BatchResult c = ReadAllBatches(&r);
    FUZZ_CHECK(c.clean_end, "re-encoded (padded=%d) fails: %s", padded,
               c.error.c_str());
    FUZZ_CHECK(c.version == a.version, "version");
    FUZZ_CHECK(c.batches.size() == a.batches.size(), "%zu vs %zu batches",
               c.batches.size(), a.batches.size());
    for (size_t i = 0; i < a.batches.size(); ++i) {
      FUZZ_CHECK(c.batches[i] == a.batches[i], "re-encoded batch %zu", i);
    }
  }
}

// ---- flat events

struct EventResult {
  bool header_ok = false;
  Version version = Version::kGo122;
  std::vector<RawEvent> events;
  std::string error;
};

bool SameEvent(const RawEvent& x, const RawEvent& y) {
  return x.type == y.type && x.args == y.args && x.data == y.data;
}

EventResult ReadAllEvents(RawReader* r) {
  EventResult res;
  absl::StatusOr<Version> v = r->ReadHeader();
  if (!v.ok()) {
    res.error = std::string(v.status().message());
    return res;
  }
  res.header_ok = true;
  res.version = *v;
  RawEvent ev;
  for (;;) {
    absl::StatusOr<bool> more = r->Next(&ev);
    if (!more.ok()) {
      res.error = std::string(more.status().message());
      break;
    }
    if (!*more) break;
    res.events.push_back(ev);
  }
  return res;
}

void CheckEvents(absl::Span<const uint8_t> data) {
  RawReader span_reader(data);
  EventResult a = ReadAllEvents(&span_reader);
  ChunkedSource src(data, 0);
  RawReader stream_reader(&src);
  EventResult b = ReadAllEvents(&stream_reader);
  FUZZ_CHECK(a.header_ok == b.header_ok && a.error == b.error,
             "span: %s | stream: %s", a.error.c_str(), b.error.c_str());
  FUZZ_CHECK(a.events.size() == b.events.size(), "%zu vs %zu events",
             a.events.size(), b.events.size());
  for (size_t i = 0; i < a.events.size(); ++i) {
    FUZZ_CHECK(SameEvent(a.events[i], b.events[i]), "event %zu differs", i);
  }
  if (!a.header_ok) return;

  // Binary: re-encoding is exactly EncodedSize() and reads back the same.
  std::string bin = EncodeHeader(a.version);
  for (const RawEvent& ev : a.events) {
    const size_t before = bin.size();
    absl::Status st = AppendRawEvent(ev, &bin);
    FUZZ_CHECK(st.ok(), "%s: %s", EventName(ev.type).c_str(),
               std::string(st.message()).c_str());
    FUZZ_CHECK(bin.size() - before == EncodedSize(ev), "%s: size",
               EventName(ev.type).c_str());
  }
  RawReader again_reader(Bytes(bin));
  EventResult again = ReadAllEvents(&again_reader);
  FUZZ_CHECK(again.error.empty(), "re-encoded events fail: %s",
             again.error.c_str());
  FUZZ_CHECK(again.events.size() == a.events.size(), "re-read count");
  for (size_t i = 0; i < a.events.size(); ++i) {
    FUZZ_CHECK(SameEvent(again.events[i], a.events[i]), "re-read event %zu", i);
  }

  // Text: what we print reads back as the same events.
  std::string text;
  TextWriter writer(a.version, &text);
  for (const RawEvent& ev : a.events) {
    absl::Status st = writer.Write(ev);
    FUZZ_CHECK(st.ok(), "%s", std::string(st.message()).c_str());
  }
  TextReader tr(text);
  absl::StatusOr<Version> tv = tr.ReadHeader();
  FUZZ_CHECK(tv.ok() && *tv == a.version, "text header");
  RawEvent ev;
  for (size_t i = 0;; ++i) {
    absl::StatusOr<bool> more = tr.Next(&ev);
    FUZZ_CHECK(more.ok(), "our text fails to read: %s",
               std::string(more.status().message()).c_str());
    if (!*more) {
      FUZZ_CHECK(i == a.events.size(), "text has %zu of %zu events", i,
                 a.events.size());
      break;
    }
    FUZZ_CHECK(i < a.events.size(), "text has extra events");
    FUZZ_CHECK(SameEvent(ev, a.events[i]), "text event %zu (%s) differs", i,
               EventName(ev.type).c_str());
  }
}

}  // namespace
}  // namespace gentrace::format

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::Span<const uint8_t> input(data, size);
  gentrace::format::CheckBatches(input);
  gentrace::format::CheckEvents(input);
  return 0;
}
