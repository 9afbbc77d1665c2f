// For tests of `gentrace perfetto`: a reader of Perfetto's trace format of
// its own (a protobuf wire decoder written for the tests, sharing no code
// with the exporter) that rebuilds tracks, slices, instants, flows and CPU
// samples and checks the rules a trace must keep:
// * every packet has a timestamp and sequence 1; every track event's track
//   and every track's parent is described before it is used;
// * times never go back on a track;
// * each slice end closes a slice begun on the same track, slices nest
//   (a child lies within its parent) and none is left open at the end;
// * a flow arrow ends (terminating_flow_ids) only on a "running" slice
//   after it began (flow_ids), once;
// * a sample's callstack, its frames and their strings are interned in the
//   sequence's current interning state (cleared by
//   SEQ_INCREMENTAL_STATE_CLEARED), the packet says it needs it, and no
//   iid is given to two values (not even across clearings);
//   repeated varints are not packed (Perfetto's protozero reads a field
//   packed only when its schema says [packed = true], and the ones
//   written are not).
// Also runs protoc on a trace with the test schema
// (tests/data/perfetto/perfetto_subset.proto), and compares an export with
// what `gentrace dump` and `gentrace stats --json` say of the same trace.
#ifndef GENTRACE_TOOLS_GENTRACE_PERFETTO_TEST_DECODER_H_
#define GENTRACE_TOOLS_GENTRACE_PERFETTO_TEST_DECODER_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gentrace::tools {

struct PerfettoTrack {
  uint64_t uuid = 0;
  uint64_t parent = 0;
  std::string name;
  bool process = false;
  bool thread = false;
  int64_t pid = -1;
  int64_t tid = -1;
  std::string thread_name;  // or the process name
};

struct PerfettoSlice {
  uint64_t track = 0;
  std::string name;
  int64_t begin = 0;
  int64_t end = 0;
  int depth = 0;  // 0 for a slice with no parent on its track
  std::map<std::string, std::string> args;  // debug annotations, as text
  // Flows that end on this slice (terminating_flow_ids of its begin).
  std::vector<uint64_t> flows_in;
};

struct PerfettoInstant {
  uint64_t track = 0;
  std::string name;
  int64_t time = 0;
  std::map<std::string, std::string> args;
  std::vector<uint64_t> flows_out;  // flow_ids
};

struct PerfettoSample {
  int64_t time = 0;
  int64_t pid = 0;
  int64_t tid = 0;
  // "function file:line" of each frame, leaf first (Perfetto stores them
  // root first); empty without a callstack.
  std::vector<std::string> frames;
};

struct DecodedPerfetto {
  uint64_t packets = 0;
  uint64_t track_events = 0;
  uint64_t track_descriptors = 0;
  std::map<uint64_t, PerfettoTrack> tracks;
  std::vector<PerfettoSlice> slices;  // in the order they end
  std::vector<PerfettoInstant> instants;
  std::vector<PerfettoSample> samples;
  uint64_t flows_begun = 0;
  uint64_t flows_ended = 0;
  // Broken rules (see the file comment); empty for a good trace.
  std::vector<std::string> problems;

  // The tid of the thread track named `name`; -1 if none.
  int64_t Tid(const std::string& name) const;
  // The uuid of the thread track of `tid`, and of its child named `child`
  // ("state"); 0 if none.
  uint64_t ThreadTrack(int64_t tid) const;
  uint64_t ChildTrack(uint64_t parent, const std::string& child) const;
};

// Decodes a `perfetto.protos.Trace`.
DecodedPerfetto DecodePerfetto(const std::string& bytes);

// protoc --decode=perfetto.protos.Trace of the trace at `path`, with the
// test schema; the text protoc printed. protoc is found on PATH or in
// /usr/bin; its absence is an error (tools/dev/deps.sh installs it).
absl::StatusOr<std::string> ProtocDecode(const std::string& path);

// Runs `gentrace perfetto trace_path out_path` (expects exit 0 and no
// output on stderr), decodes the output with DecodePerfetto (expects no
// problems) and with protoc (expects the same numbers of packets, track
// events, track descriptors and samples). Adds gtest failures.
DecodedPerfetto ExportAndDecode(const std::string& trace_path,
                                const std::string& out_path);

// Compares `d`, the export of the trace at `trace_path`, with counts taken
// independently from `gentrace dump` and `gentrace stats --json` of it:
// region slices by name (begun in the trace: stats' count + unfinished),
// task slices, log instants by category (with their messages), CPU
// samples (each sample's tid and leaf function, in order), "running",
// "syscall" and "blocked: REASON" slices (a goroutine's transitions into
// the state), wakeup flows begun and ended, and one thread track per
// thread stats names, with its name. Adds gtest failures.
void ExpectMatchesTrace(const DecodedPerfetto& d,
                        const std::string& trace_path);

}  // namespace gentrace::tools

#endif  // GENTRACE_TOOLS_GENTRACE_PERFETTO_TEST_DECODER_H_
