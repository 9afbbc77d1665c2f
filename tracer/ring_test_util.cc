// Test support for the flight recorder; see ring_test_util.h.
#include "tracer/ring_test_util.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "format/batch.h"
#include "format/header.h"
#include "reader/event.h"
#include "reader/reader.h"
#include "tests/interop/go_tool.h"

namespace gentrace::testing {

std::string TestGeneration::bytes() const {
  std::string s;
  for (const std::string& b : batches) s += b;
  return s;
}

absl::StatusOr<SplitTrace> SplitGenerations(absl::string_view trace) {
  const auto data = absl::MakeConstSpan(
      reinterpret_cast<const uint8_t*>(trace.data()), trace.size());
  format::BatchReader r(data);
  if (absl::StatusOr<format::Version> v = r.ReadHeader(); !v.ok()) {
    return v.status();
  }
  SplitTrace out;
  out.header = std::string(trace.substr(0, format::kHeaderSize));
  format::Batch b;
  for (;;) {
    const uint64_t start = r.offset();
    absl::StatusOr<bool> more = r.Next(&b);
    if (!more.ok()) return more.status();
    if (!*more) break;
    if (out.gens.empty() || out.gens.back().gen != b.gen) {
      out.gens.push_back(TestGeneration{b.gen, {}});
    }
    out.gens.back().batches.emplace_back(
        trace.substr(start, r.offset() - start));
  }
  return out;
}

absl::Status CallbackToRingSink::Write(absl::Span<const uint8_t> bytes) {
  if (!header_) {
    header_ = true;
    return sink_->Write(bytes);
  }
  format::BatchReader r(bytes);
  format::Batch b;
  absl::StatusOr<bool> ok = r.Next(&b);
  if (!ok.ok()) return ok.status();
  if (gen_ != 0 && b.gen != gen_) {
    if (absl::Status s = sink_->EndGeneration(); !s.ok()) return s;
  }
  gen_ = b.gen;
  return sink_->Write(bytes);
}

absl::StatusOr<TraceCheck> CheckTrace(absl::string_view trace,
                                      absl::string_view name) {
  TraceCheck c;
  absl::StatusOr<SplitTrace> split = SplitGenerations(trace);
  if (!split.ok()) return split.status();
  for (const TestGeneration& g : split->gens) c.gen_numbers.push_back(g.gen);
  absl::StatusOr<std::unique_ptr<reader::Reader>> r =
      reader::Reader::FromBuffer(absl::MakeConstSpan(
          reinterpret_cast<const uint8_t*>(trace.data()), trace.size()));
  if (!r.ok()) return r.status();
  reader::Event ev;
  while ((*r)->ReadEvent(&ev)) ++c.events;
  if (!(*r)->status().ok()) {
    return absl::DataLossError(
        absl::StrCat("our reader: ", (*r)->status().message(), " after ",
                     (*r)->complete_generations(), " generations"));
  }
  c.generations = (*r)->complete_generations();
  if (interop::GoToolAvailable()) {
    const std::string path = TempPath(absl::StrCat(name, ".trace"));
    {
      std::ofstream out(path, std::ios::binary);
      out.write(trace.data(), trace.size());
    }
    absl::StatusOr<interop::GoValidateResult> v = interop::GoValidate(path);
    if (!v.ok()) return v.status();
    if (!v->ok) {
      return absl::DataLossError(
          absl::StrCat("Go's parser: ", v->result_line, "\n", v->output));
    }
    c.go_checked = true;
    unlink(path.c_str());
  }
  return c;
}

}  // namespace gentrace::testing
