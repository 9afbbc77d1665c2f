// gentrace's info batches of a generation; see gentrace_info.h.
#include "reader/gentrace_info.h"

#include <algorithm>
#include <cstddef>
#include <utility>

#include "absl/strings/str_cat.h"
#include "reader/go_compat.h"

namespace gentrace::reader {

absl::Status DecodeGentraceInfo(const Generation& gen, GentraceInfo* info) {
  absl::Status first;
  for (const ExperimentalBatch& b : gen.experimental_batches()) {
    if (!format::IsGentraceInfoExperiment(b.experiment)) continue;
    absl::Status s = format::DecodeInfoBatch(b.data, info);
    if (first.ok()) first = s;
  }
  return first;
}

absl::Status ResolveEventSamples(const Generation& gen,
                                 const GentraceInfo& info,
                                 std::vector<EventSample>* out) {
  const size_t first = out->size();
  absl::Status status;
  for (const EventSampleInfo& r : info.event_samples) {
    const EventSamplerInfo* sampler = nullptr;
    for (const EventSamplerInfo& s : info.event_samplers) {
      if (s.event == r.event) sampler = &s;
    }
    EventSample e;
    if (sampler == nullptr || !gen.FindStack(r.stack, &e.stack)) {
      status = absl::InvalidArgumentError(absl::StrCat(
          "generation ", gen.number(), ": event sample of event ", r.event,
          " at time ", r.time,
          sampler == nullptr ? " has no EventSampler record"
                             : absl::StrCat(" has stack ", r.stack,
                                            ", not in the stack table")));
      break;
    }
    e.event = r.event;
    e.name = sampler->name;
    e.time = GoTicksToNs(r.time, gen.ns_per_tick());
    e.thread = r.thread;
    e.proc = r.proc;
    e.goroutine = r.goroutine;
    out->push_back(std::move(e));
  }
  std::stable_sort(out->begin() + static_cast<std::ptrdiff_t>(first),
                   out->end(), [](const EventSample& a, const EventSample& b) {
                     return a.time < b.time;
                   });
  return status;
}

}  // namespace gentrace::reader
