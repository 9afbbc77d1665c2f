// gentrace's own data in experimental batches.
//
// Go has no events for thread names or for how CPU samples were taken. Go's
// parser keeps ExperimentalBatch payloads of experiments it does not know
// and ignores them (GO_FORMAT.md §18), so gentrace writes such facts into
// experimental batches with its own experiment ids. The tracer writes these
// records and the reader decodes them; both use only this file.
//
// Payload: a sequence of records, each `kind` (uvarint) followed by the
// fields listed below (uvarints; strings are a uvarint length and bytes).
#ifndef GENTRACE_FORMAT_GENTRACE_BATCH_H_
#define GENTRACE_FORMAT_GENTRACE_BATCH_H_

#include <cstdint>

#include "format/spec.h"

namespace gentrace::format {

// Experiment id of gentrace's info batches ('G'). Go 1.23 to 1.25 use only 1
// (AllocFree) and would count up from there, so ours sits far away, and
// below 128, where Go's raw reader reads it as Go's parser does (spec.h).
inline constexpr uint8_t kExperimentGentraceInfo = 0x47;
static_assert(ExperimentReadsAlikeInGo(kExperimentGentraceInfo));

// The id gentrace wrote before: Go's parser accepts it, but Go's raw reader
// misreads everything after the first such batch. Read, never written.
inline constexpr uint8_t kExperimentGentraceInfoV0 = 0xC7;

// Whether an experimental batch of experiment `exp` is a gentrace info
// batch (of either id).
inline constexpr bool IsGentraceInfoExperiment(uint8_t exp) {
  return exp == kExperimentGentraceInfo || exp == kExperimentGentraceInfoV0;
}

enum GentraceRecordKind : uint8_t {
  // A thread known in this generation: tid (M), proc id (P), goroutine id
  // of the thread's own G, name. gentrace's own threads, which only take
  // CPU samples, have P = NoProc (^0) and goroutine 0.
  kRecordThread = 1,
  // How CPU samples were taken in this generation: source (see
  // SamplerSource), rate in Hz (0 if sampling by period), period (CPU
  // nanoseconds for timers and software clocks, events for hardware
  // counters; 0 in frequency mode), samples written into this generation,
  // samples lost to a full buffer, event name (e.g. "cpu-clock",
  // "cycles"; empty for timers).
  kRecordSampler = 2,
  // A fiber (a G that is not a thread's own): goroutine id, name.
  kRecordFiber = 3,
  // The generation's time span in ticks: start (taken just before the
  // switch into it) and end (taken just after the switch out of it), so
  // consecutive spans overlap by the length of a switch. Every CPU sample
  // of the generation lies within it; an event may end after it (its
  // thread was writing it when the switch came).
  kRecordGeneration = 4,
};

// Sampler sources as recorded in kRecordSampler.
enum SamplerSource : uint8_t {
  kSamplerNone = 0,
  kSamplerThreadTimer = 1,   // per-thread POSIX CPU timers
  kSamplerProcessTimer = 2,  // process-wide ITIMER_PROF only
  kSamplerPerfEvent = 3,     // perf_event_open per thread
};

}  // namespace gentrace::format

#endif  // GENTRACE_FORMAT_GENTRACE_BATCH_H_
