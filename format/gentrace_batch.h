// gentrace's own data in experimental batches, and its codec.
//
// Go has no events for thread names or for how CPU samples were taken. Go's
// parser keeps ExperimentalBatch payloads of experiments it does not know
// and ignores them (GO_FORMAT.md §18), so gentrace writes such facts into
// experimental batches with its own experiment id: the info batch.
//
// Payload: a sequence of records. A record is its kind (uvarint), then its
// fields in the order of the table below: a uvarint field is a uvarint, a
// bytes field is a uvarint length and that many bytes.
//
// The table (InfoRecordSpec<R>, below) is the only description of the
// records: the tracer encodes with EncodeInfoRecord and the reader decodes
// with DecodeInfoBatch, both driven by it, as the event table (spec.h)
// drives the events.
//
// Newer writers: records of kinds 1-63 carry no length, so a reader cannot
// step over a kind it does not know there; DecodeInfoBatch rejects such a
// batch with an error naming the kind (what it decoded before stays). A new
// kind of record therefore takes a number from 64 up
// (kFirstSkippableInfoRecord): those are written as kind, uvarint length,
// then the fields, and readers that do not know the kind skip it by its
// length. Kinds 1-4 are what gentrace wrote first; their layout never
// changes. Kinds 64 (EventSampler), 65 (EventSample) and 66 (Module) are
// skippable; a reader decodes their known fields within the length and
// steps over any a newer writer appended.
#ifndef GENTRACE_FORMAT_GENTRACE_BATCH_H_
#define GENTRACE_FORMAT_GENTRACE_BATCH_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "format/leb128.h"
#include "format/spec.h"

namespace gentrace::format {

// Experiment id of gentrace's info batches ('G'). Go 1.23 to 1.25 use only 1
// (AllocFree) and would count up from there, so ours sits far away, and
// below 128, where Go's raw reader reads it as Go's parser does (spec.h).
inline constexpr uint8_t kExperimentGentraceInfo = 0x47;
static_assert(ExperimentReadsAlikeInGo(kExperimentGentraceInfo));

// The id gentrace wrote before: Go's parser accepts it, but Go's raw reader
// misreads everything after the first such batch. Read, never written. The
// records are the same.
inline constexpr uint8_t kExperimentGentraceInfoV0 = 0xC7;

// Whether an experimental batch of experiment `exp` is a gentrace info
// batch (of either id).
inline constexpr bool IsGentraceInfoExperiment(uint8_t exp) {
  return exp == kExperimentGentraceInfo || exp == kExperimentGentraceInfoV0;
}

enum GentraceRecordKind : uint8_t {
  kRecordThread = 1,
  kRecordSampler = 2,
  kRecordFiber = 3,
  kRecordGeneration = 4,
  // Skippable (kind, length, fields): several perf events at once.
  kRecordEventSampler = 64,
  kRecordEventSample = 65,
  // Skippable: a module's load address, for symbolizing bare PCs.
  kRecordModule = 66,
};

// Record kinds from here on carry their length after the kind, so that
// readers that do not know them can skip them (see the file comment).
inline constexpr uint64_t kFirstSkippableInfoRecord = 64;

// Sampler sources as recorded in SamplerRecord::source.
enum SamplerSource : uint8_t {
  kSamplerNone = 0,
  kSamplerThreadTimer = 1,   // per-thread POSIX CPU timers
  kSamplerProcessTimer = 2,  // process-wide ITIMER_PROF only
  kSamplerPerfEvent = 3,     // perf_event_open per thread, SIGPROF
  kSamplerPerfRing = 4,      // perf_event_open per thread, mmap ring
};

// ---- The records, as structs. Their wire layout is the table below.

// A thread known in this generation. gentrace's own threads, which only
// take CPU samples, have proc = kNoProc and goroutine 0.
struct ThreadRecord {
  uint64_t thread = 0;     // M: the OS thread id
  uint64_t proc = 0;       // the thread's P
  uint64_t goroutine = 0;  // the thread's own G
  std::string name;
};

// How CPU samples were taken in this generation.
struct SamplerRecord {
  uint64_t source = kSamplerNone;  // SamplerSource
  uint64_t hz = 0;                 // rate asked; 0 when sampling by period
  // CPU nanoseconds for timers and software clocks, events for hardware
  // counters; 0 in frequency mode.
  uint64_t period = 0;
  uint64_t samples_taken = 0;  // samples written into this generation
  uint64_t samples_lost = 0;   // lost to a full buffer, or weights over 64
  std::string event;           // e.g. "cpu-clock", "cycles"; "" for timers
};

// A fiber (a G that is not a thread's own).
struct FiberRecord {
  uint64_t goroutine = 0;
  std::string name;
};

// The generation's time span in ticks: start (taken just before the switch
// into it) and end (taken just after the switch out of it), so consecutive
// spans overlap by the length of a switch. Every CPU sample of the
// generation lies within it; an event may end after it (its thread was
// writing it when the switch came). The tracer writes it first in the
// generation's first info batch.
struct GenerationRecord {
  uint64_t start = 0;
  uint64_t end = 0;
};

// Several perf events at once (signal-free mode): one per event per
// generation. Event 0 is the primary, whose samples are the generation's
// CPUSample events (the SamplerRecord counts them too); the others' samples
// are EventSampleRecords. Per generation and event: samples_taken = the
// samples written, samples_lost = those the kernel could not put into a
// thread's ring (Linux 6.0+ counts them per event).
// Event indexes a reader accepts (the tracer writes at most 8 events).
inline constexpr uint64_t kMaxInfoEvents = 64;

struct EventSamplerRecord {
  uint64_t event = 0;   // index: 0 the primary, then the others in order
  std::string name;     // e.g. "page-faults", "cycles:pp"
  uint64_t period = 0;  // events per sample (ns for clocks); 0: frequency
  uint64_t hz = 0;      // samples a second asked in frequency mode, or 0
  uint64_t samples_taken = 0;
  uint64_t samples_lost = 0;
};

// One sample of a secondary event (EventSamplerRecord::event >= 1), in the
// generation its time falls in, like a CPUSample: time in ticks, thread,
// proc (kNoProc if none) and goroutine (0 if none), and a stack id of the
// generation's stack table.
struct EventSampleRecord {
  uint64_t event = 0;
  uint64_t time = 0;
  uint64_t thread = 0;
  uint64_t proc = 0;
  uint64_t goroutine = 0;
  uint64_t stack = 0;
};

// A module (executable or shared library) loaded in the traced process,
// so that bare code addresses (crash dumps) can be symbolized later from
// the module's file (`gentrace symbolize`). The tracer writes one per
// module in every generation.
struct ModuleRecord {
  std::string path;   // as the loader names it; the executable's from
                      // /proc/self/exe
  uint64_t bias = 0;  // load bias: address in the process minus address in
                      // the file
  // [lo, hi): the smallest range holding the module's executable
  // segments, as addresses in the process.
  uint64_t lo = 0;
  uint64_t hi = 0;
  std::string build_id;  // the GNU build-id note's bytes; empty if none
};

// ---- The table.

enum class InfoFieldKind : uint8_t {
  kUvarint,  // a uvarint
  kBytes,    // a uvarint length, then that many bytes
};

// A field of records of type R: its name, kind, and member.
template <typename R>
struct InfoField {
  absl::string_view name;
  InfoFieldKind kind;
  uint64_t R::*number;    // for kUvarint
  std::string R::*bytes;  // for kBytes
};

template <typename R>
constexpr InfoField<R> UvarintField(absl::string_view name, uint64_t R::*m) {
  return {name, InfoFieldKind::kUvarint, m, nullptr};
}
template <typename R>
constexpr InfoField<R> BytesField(absl::string_view name, std::string R::*m) {
  return {name, InfoFieldKind::kBytes, nullptr, m};
}

// InfoRecordSpec<R>: record kind, name and fields in wire order.
template <typename R>
struct InfoRecordSpec;

template <>
struct InfoRecordSpec<ThreadRecord> {
  static constexpr uint8_t kKind = kRecordThread;
  static constexpr absl::string_view kName = "Thread";
  static constexpr InfoField<ThreadRecord> kFields[] = {
      UvarintField("thread", &ThreadRecord::thread),
      UvarintField("proc", &ThreadRecord::proc),
      UvarintField("goroutine", &ThreadRecord::goroutine),
      BytesField("name", &ThreadRecord::name),
  };
};

template <>
struct InfoRecordSpec<SamplerRecord> {
  static constexpr uint8_t kKind = kRecordSampler;
  static constexpr absl::string_view kName = "Sampler";
  static constexpr InfoField<SamplerRecord> kFields[] = {
      UvarintField("source", &SamplerRecord::source),
      UvarintField("hz", &SamplerRecord::hz),
      UvarintField("period", &SamplerRecord::period),
      UvarintField("samples_taken", &SamplerRecord::samples_taken),
      UvarintField("samples_lost", &SamplerRecord::samples_lost),
      BytesField("event", &SamplerRecord::event),
  };
};

template <>
struct InfoRecordSpec<FiberRecord> {
  static constexpr uint8_t kKind = kRecordFiber;
  static constexpr absl::string_view kName = "Fiber";
  static constexpr InfoField<FiberRecord> kFields[] = {
      UvarintField("goroutine", &FiberRecord::goroutine),
      BytesField("name", &FiberRecord::name),
  };
};

template <>
struct InfoRecordSpec<GenerationRecord> {
  static constexpr uint8_t kKind = kRecordGeneration;
  static constexpr absl::string_view kName = "Generation";
  static constexpr InfoField<GenerationRecord> kFields[] = {
      UvarintField("start", &GenerationRecord::start),
      UvarintField("end", &GenerationRecord::end),
  };
};

template <>
struct InfoRecordSpec<EventSamplerRecord> {
  static constexpr uint8_t kKind = kRecordEventSampler;
  static constexpr absl::string_view kName = "EventSampler";
  static constexpr InfoField<EventSamplerRecord> kFields[] = {
      UvarintField("event", &EventSamplerRecord::event),
      BytesField("name", &EventSamplerRecord::name),
      UvarintField("period", &EventSamplerRecord::period),
      UvarintField("hz", &EventSamplerRecord::hz),
      UvarintField("samples_taken", &EventSamplerRecord::samples_taken),
      UvarintField("samples_lost", &EventSamplerRecord::samples_lost),
  };
};

template <>
struct InfoRecordSpec<EventSampleRecord> {
  static constexpr uint8_t kKind = kRecordEventSample;
  static constexpr absl::string_view kName = "EventSample";
  static constexpr InfoField<EventSampleRecord> kFields[] = {
      UvarintField("event", &EventSampleRecord::event),
      UvarintField("time", &EventSampleRecord::time),
      UvarintField("thread", &EventSampleRecord::thread),
      UvarintField("proc", &EventSampleRecord::proc),
      UvarintField("goroutine", &EventSampleRecord::goroutine),
      UvarintField("stack", &EventSampleRecord::stack),
  };
};

template <>
struct InfoRecordSpec<ModuleRecord> {
  static constexpr uint8_t kKind = kRecordModule;
  static constexpr absl::string_view kName = "Module";
  static constexpr InfoField<ModuleRecord> kFields[] = {
      BytesField("path", &ModuleRecord::path),
      UvarintField("bias", &ModuleRecord::bias),
      UvarintField("lo", &ModuleRecord::lo),
      UvarintField("hi", &ModuleRecord::hi),
      BytesField("build_id", &ModuleRecord::build_id),
  };
};

// ---- Encoding: what the tracer drives into its batch buffers.

// Bytes the fields of `r` take (neither kind nor length).
template <typename R>
size_t InfoFieldsSize(const R& r) {
  size_t n = 0;
  for (const InfoField<R>& f : InfoRecordSpec<R>::kFields) {
    if (f.kind == InfoFieldKind::kUvarint) {
      n += UvarintLen(r.*f.number);
    } else {
      n += UvarintLen((r.*f.bytes).size()) + (r.*f.bytes).size();
    }
  }
  return n;
}

// Whether records of type R carry their length (kinds from
// kFirstSkippableInfoRecord on).
template <typename R>
constexpr bool InfoRecordSkippable() {
  return InfoRecordSpec<R>::kKind >= kFirstSkippableInfoRecord;
}

// Bytes the encoding of `r` takes (kind, and length if it has one,
// included).
template <typename R>
size_t InfoRecordSize(const R& r) {
  const size_t fields = InfoFieldsSize(r);
  return UvarintLen(InfoRecordSpec<R>::kKind) +
         (InfoRecordSkippable<R>() ? UvarintLen(fields) : 0) + fields;
}

// Writes `r` at dst, which has room for InfoRecordSize(r) bytes; returns
// the byte after it.
template <typename R>
uint8_t* EncodeInfoRecord(const R& r, uint8_t* dst) {
  dst = PutUvarint(dst, InfoRecordSpec<R>::kKind);
  if (InfoRecordSkippable<R>()) dst = PutUvarint(dst, InfoFieldsSize(r));
  for (const InfoField<R>& f : InfoRecordSpec<R>::kFields) {
    if (f.kind == InfoFieldKind::kUvarint) {
      dst = PutUvarint(dst, r.*f.number);
    } else {
      const std::string& s = r.*f.bytes;
      dst = PutUvarint(dst, s.size());
      for (char c : s) *dst++ = static_cast<uint8_t>(c);
    }
  }
  return dst;
}

// Appends the encoding of `r` to *out.
template <typename R>
void AppendInfoRecord(const R& r, std::string* out) {
  const size_t old = out->size();
  out->resize(old + InfoRecordSize(r));
  EncodeInfoRecord(r, reinterpret_cast<uint8_t*>(out->data()) + old);
}

// ---- Decoding: what the reader gets back.

// The records of one or more info batches, by kind, in batch order.
struct InfoRecords {
  std::vector<ThreadRecord> threads;
  std::vector<SamplerRecord> samplers;
  std::vector<FiberRecord> fibers;
  std::vector<GenerationRecord> spans;
  std::vector<EventSamplerRecord> event_samplers;
  std::vector<EventSampleRecord> event_samples;
  std::vector<ModuleRecord> modules;
  // Records of kinds from kFirstSkippableInfoRecord on that this reader
  // does not know, stepped over by their length.
  uint64_t skipped = 0;
};

// Decodes one info batch payload, appending to *out. A record cut short, a
// bytes field longer than the payload, or an unknown kind below
// kFirstSkippableInfoRecord stops the decoding with an error naming the
// record kind and its payload offset; the records before it stay in *out.
// A known skippable record whose fields run past its length is cut short
// too; bytes after its known fields (a newer writer's) are stepped over.
absl::Status DecodeInfoBatch(absl::Span<const uint8_t> payload,
                             InfoRecords* out);

}  // namespace gentrace::format

#endif  // GENTRACE_FORMAT_GENTRACE_BATCH_H_
