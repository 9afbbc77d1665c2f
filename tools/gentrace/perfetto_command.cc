// `gentrace perfetto FILE OUT`: a trace in Perfetto's protobuf format (a
// `Trace`: repeated TracePacket), for ui.perfetto.dev and Perfetto's trace
// processor, written in one streaming pass over the trace.
//
// What goes where (docs/CLI.md says the same for users):
// * One process track (pid 1, named after FILE).
// * One Perfetto thread per goroutine. A gentrace thread's own goroutine
//   is the thread: its tid is the OS thread id and its name the thread's.
//   Every other goroutine (a gentrace fiber, a Go goroutine) gets the
//   synthetic tid 4194304 + its goroutine id (4194304 = 2^22, above any
//   Linux thread id; ids from 2^31 - 2^22 on wrap around, as Perfetto's
//   tids are int32) and is named by the fiber's name or "G<id>" with the
//   function it was created to run.
// * On the goroutine's thread track: its regions as nested slices (named
//   by the region's type) and its logs as instant events (named by the
//   category; the category and message are arguments).
// * On a child track "state" of it: what the goroutine did, as slices
//   "running", "syscall" and "blocked: REASON" (Go's reason string).
//   Regions and states overlap in any way, so they cannot nest on one
//   track.
// * A wakeup (GoUnblock by a running goroutine) is an instant "wake G<n>"
//   on the waker's state track, with a flow arrow to the woken
//   goroutine's next "running" slice (none if it does not run again in
//   the trace: the arrow then has no end).
// * Tasks as async slices on process-level tracks "tasks N": a task takes
//   the lowest-numbered track that is free when it begins, so there are as
//   many as tasks were open at once.
// * CPU samples as PerfSample packets (pid, tid of the goroutine sampled,
//   or of the OS thread when there is no goroutine) with interned
//   callstacks: frames carry the function, the source file and line, and
//   the PC in a single mapping named "go".
// Slices still open at the trace's last event end there; regions and tasks
// begun before the trace (only their end is in it) are left out.
//
// Memory: packets go to the output as they are made (a 256 KiB buffer).
// What is kept: per live goroutine its open regions and a pending flow;
// which thread tracks are described (live goroutines and threads); the
// open tasks and which task tracks are busy; names of the threads and
// fibers of the current generation; and the interned frames, functions, files
// and callstacks of the current generation, which are dropped at each
// generation (the next sample starts a fresh interning state,
// SEQ_INCREMENTAL_STATE_CLEARED). Interning ids are never reused, as Perfetto
// requires.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "format/byte_sink.h"
#include "reader/event.h"
#include "reader/gentrace_info.h"
#include "reader/reader.h"
#include "tools/gentrace/command.h"
#include "tools/gentrace/output_file.h"
#include "tools/gentrace/protobuf_encoder.h"

namespace gentrace::tools {
namespace {

using protobuf::PutBytes;
using protobuf::PutFixed64;
using protobuf::PutInt;
using protobuf::PutUint;

constexpr char kHelp[] =
    R"(usage: gentrace perfetto FILE OUT

Reads the Go execution trace FILE ("-" for standard input; zstd-compressed
input is decompressed) and writes it to OUT ("-" for standard output) in
Perfetto's protobuf trace format, for ui.perfetto.dev and Perfetto's
trace processor. The trace is read once and written as it is read.

Every goroutine is a thread of one process: a gentrace thread is shown
with its thread id and name; fibers and Go goroutines get a thread id of
4194304 + the goroutine id and are named by the fiber or "G<id> FUNCTION".
On each goroutine's track: its regions (nested slices) and logs (instant
events with the category and message). On the child track "state":
"running", "syscall" and "blocked: REASON" slices, with a flow arrow from
each wakeup ("wake G<id>") to the woken goroutine's next "running" slice.
Tasks are slices on the process's "tasks N" tracks. CPU samples are
per-thread stack samples (function, file and line of each frame).

Flags:
  -h, --help  show this help

Exit status: 0 written, 1 the trace did not read to its end or OUT could
not be written (nothing is written), 2 usage error.
)";

// ---- Perfetto's field numbers (protos/perfetto/trace/...).

enum : int {
  kTracePacket = 1,  // Trace.packet
  // TracePacket
  kPacketTimestamp = 8,
  kPacketSequenceId = 10,  // trusted_packet_sequence_id
  kPacketTrackEvent = 11,
  kPacketInternedData = 12,
  kPacketSequenceFlags = 13,
  kPacketTrackDescriptor = 60,
  kPacketPerfSample = 66,
  // TrackDescriptor
  kTrackUuid = 1,
  kTrackName = 2,
  kTrackProcess = 3,
  kTrackThread = 4,
  kTrackParentUuid = 5,
  // ProcessDescriptor
  kProcessPid = 1,
  kProcessName = 6,
  // ThreadDescriptor
  kThreadPid = 1,
  kThreadTid = 2,
  kThreadName = 5,
  // TrackEvent
  kEventDebugAnnotations = 4,
  kEventType = 9,
  kEventTrackUuid = 11,
  kEventName = 23,
  kEventFlowIds = 47,             // fixed64
  kEventTerminatingFlowIds = 48,  // fixed64
  // DebugAnnotation
  kAnnotationIntValue = 4,
  kAnnotationStringValue = 6,
  kAnnotationName = 10,
  // InternedData
  kInternedFunctionNames = 5,
  kInternedFrames = 6,
  kInternedCallstacks = 7,
  kInternedMappingPaths = 17,
  kInternedSourcePaths = 18,
  kInternedMappings = 19,
  // InternedString, and the iid of Mapping, Frame, Callstack
  kIid = 1,
  kInternedStr = 2,
  // Mapping
  kMappingPathStringIds = 7,
  // Frame
  kFrameFunctionNameId = 2,
  kFrameMappingId = 3,
  kFrameRelPc = 4,
  kFrameSourcePathIid = 5,
  kFrameLineNumber = 6,
  // Callstack
  kCallstackFrameIds = 2,
  // PerfSample
  kSamplePid = 2,
  kSampleTid = 3,
  kSampleCallstackIid = 4,
  kSampleCpuMode = 5,
};

enum : uint64_t {
  kTypeSliceBegin = 1,
  kTypeSliceEnd = 2,
  kTypeInstant = 3,
  kSeqIncrementalStateCleared = 1,
  kSeqNeedsIncrementalState = 2,
  kCpuModeUser = 2,
};

constexpr uint32_t kSequenceId = 1;
constexpr int64_t kPid = 1;
constexpr int64_t kSyntheticTidBase = int64_t{1} << 22;
constexpr uint64_t kProcessUuid = 1;
constexpr size_t kFlushBytes = 256 << 10;

// The tid of a goroutine that is not a gentrace thread's own. Perfetto's
// tids are int32: ids from 2^31 - 2^22 on wrap around.
int64_t SyntheticTid(int64_t goroutine) {
  constexpr int64_t kRange = (int64_t{1} << 31) - kSyntheticTidBase;
  return kSyntheticTidBase + goroutine % kRange;
}

// Track uuids: the low 3 bits say what the track is, the rest whose.
uint64_t ThreadTrack(int64_t tid) {
  return (static_cast<uint64_t>(tid) << 3) | 2;
}
uint64_t StateTrack(int64_t tid) {
  return (static_cast<uint64_t>(tid) << 3) | 3;
}
uint64_t TaskTrack(size_t lane) {
  return (static_cast<uint64_t>(lane) << 3) | 4;
}

void PutStringAnnotation(absl::string_view name, absl::string_view value,
                         std::string* event) {
  std::string a;
  PutBytes(kAnnotationName, name, &a);
  PutBytes(kAnnotationStringValue, value, &a);
  PutBytes(kEventDebugAnnotations, a, event);
}

void PutIntAnnotation(absl::string_view name, int64_t value,
                      std::string* event) {
  std::string a;
  PutBytes(kAnnotationName, name, &a);
  PutUint(kAnnotationIntValue, static_cast<uint64_t>(value), &a);
  PutBytes(kEventDebugAnnotations, a, event);
}

class PerfettoWriter {
 public:
  PerfettoWriter(format::ByteSink* sink, std::string process_name)
      : sink_(sink), process_name_(std::move(process_name)) {}

  void Add(const reader::Event& ev, const reader::Generation* gen) {
    if (new_generation_ && gen != nullptr) {
      new_generation_ = false;
      NewGeneration(*gen);
    }
    if (!started_) {
      started_ = true;
      std::string process, track;
      PutBytes(kProcessName, process_name_, &process);
      PutUint(kProcessPid, kPid, &process);
      PutUint(kTrackUuid, kProcessUuid, &track);
      PutBytes(kTrackName, process_name_, &track);
      PutBytes(kTrackProcess, process, &track);
      Packet(ev.time(), kPacketTrackDescriptor, track, nullptr,
             kSeqIncrementalStateCleared);
    }
    end_ = ev.time();
    switch (ev.kind()) {
      case reader::EventKind::kSync:
        new_generation_ = true;
        break;
      case reader::EventKind::kStateTransition:
        Transition(ev);
        break;
      case reader::EventKind::kRegionBegin:
        RegionBegin(ev);
        break;
      case reader::EventKind::kRegionEnd:
        RegionEnd(ev);
        break;
      case reader::EventKind::kLog:
        Log(ev);
        break;
      case reader::EventKind::kTaskBegin:
        TaskBegin(ev);
        break;
      case reader::EventKind::kTaskEnd:
        TaskEnd(ev);
        break;
      case reader::EventKind::kStackSample:
        Sample(ev);
        break;
      default:
        break;
    }
  }

  // Ends what is still open at the last event's time and flushes.
  absl::Status Finish() {
    for (auto& [id, g] : goroutines_) {
      for (size_t i = g.regions.size(); i > 0; --i) {
        SliceEnd(end_, ThreadTrack(g.tid));
      }
      g.regions.clear();
      if (g.slice_open) SliceEnd(end_, StateTrack(g.tid));
      g.slice_open = false;
    }
    for (const auto& [id, lane] : tasks_) SliceEnd(end_, TaskTrack(lane));
    tasks_.clear();
    Flush();
    return status_;
  }

  const absl::Status& status() const { return status_; }

 private:
  struct Goroutine {
    int64_t tid = 0;
    bool slice_open = false;           // a state slice on its state track
    std::vector<std::string> regions;  // open, begun in the trace
    uint64_t pending_flow = 0;         // ends at its next running slice
  };

  // ---- output

  void Packet(int64_t time, int field, const std::string& data,
              const std::string* interned, uint64_t flags) {
    std::string p;
    PutUint(kPacketTimestamp, static_cast<uint64_t>(time), &p);
    PutUint(kPacketSequenceId, kSequenceId, &p);
    PutBytes(field, data, &p);
    if (interned != nullptr && !interned->empty()) {
      PutBytes(kPacketInternedData, *interned, &p);
    }
    PutInt(kPacketSequenceFlags, flags, &p);
    PutBytes(kTracePacket, p, &buf_);
    if (buf_.size() >= kFlushBytes) Flush();
  }

  void Flush() {
    if (status_.ok() && !buf_.empty()) status_ = sink_->WriteString(buf_);
    buf_.clear();
  }

  void TrackEvent(int64_t time, std::string event) {
    Packet(time, kPacketTrackEvent, event, nullptr, 0);
  }

  void SliceBegin(int64_t time, uint64_t track, absl::string_view name,
                  std::string extra = "") {
    std::string e;
    PutUint(kEventType, kTypeSliceBegin, &e);
    PutUint(kEventTrackUuid, track, &e);
    PutBytes(kEventName, name, &e);
    e += extra;
    TrackEvent(time, std::move(e));
  }

  void SliceEnd(int64_t time, uint64_t track) {
    std::string e;
    PutUint(kEventType, kTypeSliceEnd, &e);
    PutUint(kEventTrackUuid, track, &e);
    TrackEvent(time, std::move(e));
  }

  void Instant(int64_t time, uint64_t track, absl::string_view name,
               std::string extra) {
    std::string e;
    PutUint(kEventType, kTypeInstant, &e);
    PutUint(kEventTrackUuid, track, &e);
    PutBytes(kEventName, name, &e);
    e += extra;
    TrackEvent(time, std::move(e));
  }

  // ---- threads and goroutines

  void NewGeneration(const reader::Generation& gen) {
    reader::GentraceInfo info;
    // An info batch that does not decode leaves names out (stats and
    // validate say why).
    (void)reader::DecodeGentraceInfo(gen, &info);
    thread_of_goroutine_.clear();
    thread_names_.clear();
    fiber_names_.clear();
    for (const reader::ThreadInfo& t : info.threads) {
      thread_of_goroutine_[static_cast<int64_t>(t.goroutine)] =
          static_cast<int64_t>(t.thread);
      thread_names_[static_cast<int64_t>(t.thread)] = t.name;
    }
    for (const reader::FiberInfo& f : info.fibers) {
      fiber_names_[static_cast<int64_t>(f.goroutine)] = f.name;
    }
    // Interned data is kept for one generation: the reader's stacks are a
    // generation's.
    interning_ = false;
    callstacks_.clear();
    frames_.clear();
    strings_.clear();
    function_names_.clear();
    source_paths_.clear();
    mapping_iid_ = 0;
  }

  // Describes the thread track of `tid`, once.
  void DescribeThread(int64_t time, int64_t tid, const std::string& name) {
    if (!described_.emplace(tid, false).second) return;
    std::string thread, track;
    PutUint(kThreadPid, kPid, &thread);
    PutUint(kThreadTid, static_cast<uint64_t>(tid), &thread);
    PutBytes(kThreadName, name, &thread);
    PutUint(kTrackUuid, ThreadTrack(tid), &track);
    PutUint(kTrackParentUuid, kProcessUuid, &track);
    PutBytes(kTrackName, name, &track);
    PutBytes(kTrackThread, thread, &track);
    Packet(time, kPacketTrackDescriptor, track, nullptr, 0);
  }

  // The state track of `tid` (described, once, when first used: a thread
  // that only has CPU samples has none).
  uint64_t UseStateTrack(int64_t time, int64_t tid) {
    bool& has_state = described_[tid];
    if (!has_state) {
      has_state = true;
      std::string state;
      PutUint(kTrackUuid, StateTrack(tid), &state);
      PutUint(kTrackParentUuid, ThreadTrack(tid), &state);
      PutBytes(kTrackName, "state", &state);
      Packet(time, kPacketTrackDescriptor, state, nullptr, 0);
    }
    return StateTrack(tid);
  }

  // The goroutine `id`, its tracks described. `start_fn` is the function
  // a new goroutine runs (for its name), if known.
  Goroutine& G(int64_t time, int64_t id, absl::string_view start_fn = "") {
    auto [it, added] = goroutines_.try_emplace(id);
    Goroutine& g = it->second;
    if (!added) return g;
    std::string name;
    if (auto t = thread_of_goroutine_.find(id);
        t != thread_of_goroutine_.end()) {
      g.tid = t->second;
      name = thread_names_[t->second];
      if (name.empty()) name = absl::StrCat("thread ", g.tid);
    } else {
      g.tid = SyntheticTid(id);
      if (auto f = fiber_names_.find(id); f != fiber_names_.end()) {
        name = f->second;
      } else {
        name = absl::StrCat("G", id);
        if (!start_fn.empty()) absl::StrAppend(&name, " ", start_fn);
      }
    }
    DescribeThread(time, g.tid, name);
    return g;
  }

  static std::string StateName(const reader::StateTransition& st) {
    switch (st.go_to()) {
      case reader::GoState::kRunning:
        return "running";
      case reader::GoState::kSyscall:
        return "syscall";
      case reader::GoState::kWaiting:
        return st.reason.empty() ? "blocked"
                                 : absl::StrCat("blocked: ", st.reason);
      default:
        return "";
    }
  }

  void Transition(const reader::Event& ev) {
    const reader::StateTransition st = ev.state_transition();
    if (st.resource.kind != reader::ResourceKind::kGoroutine) return;
    const int64_t id = st.resource.id;
    const int64_t t = ev.time();
    if (st.go_from() == st.go_to() &&
        st.go_from() != reader::GoState::kUndetermined) {
      return;  // a status that repeats what is known
    }
    absl::string_view start_fn;
    if (st.go_from() == reader::GoState::kNotExist && !st.stack.empty()) {
      start_fn = st.stack[0].func;
    }
    Goroutine& g = G(t, id, start_fn);
    if (g.slice_open) {
      SliceEnd(t, StateTrack(g.tid));
      g.slice_open = false;
    }
    // A wakeup by another running goroutine: an arrow from it.
    if (st.go_from() == reader::GoState::kWaiting &&
        st.go_to() == reader::GoState::kRunnable &&
        ev.goroutine() != reader::kNone && ev.goroutine() != id) {
      const uint64_t flow = next_flow_++;
      std::string extra;
      PutFixed64(kEventFlowIds, flow, &extra);
      const int64_t waker_tid = G(t, ev.goroutine()).tid;
      Instant(t, UseStateTrack(t, waker_tid), absl::StrCat("wake G", id),
              std::move(extra));
      g.pending_flow = flow;
    }
    Goroutine& h = g;
    const std::string name = StateName(st);
    if (!name.empty()) {
      std::string extra;
      if (st.go_to() == reader::GoState::kRunning && h.pending_flow != 0) {
        PutFixed64(kEventTerminatingFlowIds, h.pending_flow, &extra);
        h.pending_flow = 0;
      }
      SliceBegin(t, UseStateTrack(t, h.tid), name, std::move(extra));
      h.slice_open = true;
    }
    if (st.go_to() == reader::GoState::kNotExist) {
      for (size_t i = h.regions.size(); i > 0; --i) {
        SliceEnd(t, ThreadTrack(h.tid));
      }
      // Goroutine ids are not reused: forget it. (A gentrace thread's
      // track, should its id come back, is described again.)
      described_.erase(h.tid);
      goroutines_.erase(id);
    }
  }

  // ---- regions, logs, tasks

  static std::string TaskArg(reader::TaskId task) {
    std::string extra;
    if (task != reader::kBackgroundTask && task != reader::kNoTaskId) {
      PutIntAnnotation("task", static_cast<int64_t>(task), &extra);
    }
    return extra;
  }

  void RegionBegin(const reader::Event& ev) {
    if (ev.goroutine() == reader::kNone) return;
    const reader::Region r = ev.region();
    Goroutine& g = G(ev.time(), ev.goroutine());
    g.regions.emplace_back(r.type);
    SliceBegin(ev.time(), ThreadTrack(g.tid), r.type, TaskArg(r.task));
  }

  void RegionEnd(const reader::Event& ev) {
    if (ev.goroutine() == reader::kNone) return;
    const absl::string_view type = ev.region().type;
    Goroutine& g = G(ev.time(), ev.goroutine());
    size_t i = g.regions.size();
    while (i > 0 && g.regions[i - 1] != type) --i;
    if (i == 0) return;  // begun before the trace
    // Go's reader keeps regions nested; should one inside still be open,
    // it ends here too, so that slices stay nested.
    while (g.regions.size() >= i) {
      SliceEnd(ev.time(), ThreadTrack(g.tid));
      g.regions.pop_back();
    }
  }

  void Log(const reader::Event& ev) {
    if (ev.goroutine() == reader::kNone) return;
    const reader::Log l = ev.log();
    Goroutine& g = G(ev.time(), ev.goroutine());
    std::string extra;
    PutStringAnnotation("category", l.category, &extra);
    PutStringAnnotation("message", l.message, &extra);
    extra += TaskArg(l.task);
    Instant(ev.time(), ThreadTrack(g.tid),
            l.category.empty() ? absl::string_view("log") : l.category,
            std::move(extra));
  }

  void TaskBegin(const reader::Event& ev) {
    const reader::Task task = ev.task();
    if (tasks_.count(task.id) > 0) return;
    const std::string name = task.type.empty() ? absl::StrCat("task ", task.id)
                                               : std::string(task.type);
    size_t lane = 0;
    while (lane < lane_busy_.size() && lane_busy_[lane]) ++lane;
    if (lane == lane_busy_.size()) {
      lane_busy_.push_back(false);
      std::string track;
      PutUint(kTrackUuid, TaskTrack(lane), &track);
      PutUint(kTrackParentUuid, kProcessUuid, &track);
      PutBytes(kTrackName, absl::StrCat("tasks ", lane + 1), &track);
      Packet(ev.time(), kPacketTrackDescriptor, track, nullptr, 0);
    }
    lane_busy_[lane] = true;
    tasks_[task.id] = lane;
    std::string extra;
    PutIntAnnotation("task id", static_cast<int64_t>(task.id), &extra);
    if (task.parent != reader::kBackgroundTask &&
        task.parent != reader::kNoTaskId) {
      PutIntAnnotation("parent task", static_cast<int64_t>(task.parent),
                       &extra);
    }
    SliceBegin(ev.time(), TaskTrack(lane), name, std::move(extra));
  }

  void TaskEnd(const reader::Event& ev) {
    auto it = tasks_.find(ev.task().id);
    if (it == tasks_.end()) return;  // begun before the trace
    SliceEnd(ev.time(), TaskTrack(it->second));
    lane_busy_[it->second] = false;
    tasks_.erase(it);
  }

  // ---- CPU samples

  uint64_t InternString(absl::flat_hash_map<std::string, uint64_t>* table,
                        int field, absl::string_view s) {
    auto [it, added] = table->try_emplace(std::string(s), 0);
    if (added) {
      it->second = next_string_iid_++;
      std::string e;
      PutUint(kIid, it->second, &e);
      PutBytes(kInternedStr, s, &e);
      PutBytes(field, e, &interned_);
    }
    return it->second;
  }

  uint64_t InternCallstack(const reader::StackView& stack) {
    auto [it, added] = callstacks_.try_emplace(stack.id(), 0);
    if (!added) return it->second;
    if (mapping_iid_ == 0) {
      mapping_iid_ = next_mapping_iid_++;
      const uint64_t path =
          InternString(&strings_, kInternedMappingPaths, "go");
      std::string m;
      PutUint(kIid, mapping_iid_, &m);
      PutUint(kMappingPathStringIds, path, &m);
      PutBytes(kInternedMappings, m, &interned_);
    }
    std::vector<uint64_t> frames(stack.size());
    for (size_t i = 0; i < stack.size(); ++i) {
      const reader::StackFrame f = stack[i];
      auto [fr, fresh] = frames_.try_emplace(f.pc, 0);
      if (fresh) {
        fr->second = next_frame_iid_++;
        std::string e;
        PutUint(kIid, fr->second, &e);
        PutUint(kFrameFunctionNameId,
                InternString(&function_names_, kInternedFunctionNames, f.func),
                &e);
        PutUint(kFrameMappingId, mapping_iid_, &e);
        PutUint(kFrameRelPc, f.pc, &e);
        if (!f.file.empty()) {
          PutUint(kFrameSourcePathIid,
                  InternString(&source_paths_, kInternedSourcePaths, f.file),
                  &e);
          PutUint(kFrameLineNumber, f.line, &e);
        }
        PutBytes(kInternedFrames, e, &interned_);
      }
      // The reader's stacks are leaf first; Perfetto's root first.
      frames[stack.size() - 1 - i] = fr->second;
    }
    it->second = next_callstack_iid_++;
    std::string c;
    PutUint(kIid, it->second, &c);
    // Not packed: Perfetto's decoder reads a repeated field packed only
    // when its schema says so, and frame_ids' does not.
    for (uint64_t f : frames) PutUint(kCallstackFrameIds, f, &c);
    PutBytes(kInternedCallstacks, c, &interned_);
    return it->second;
  }

  void Sample(const reader::Event& ev) {
    int64_t tid = 0;
    if (ev.goroutine() != reader::kNone) {
      tid = G(ev.time(), ev.goroutine()).tid;
    } else if (ev.thread() != reader::kNone) {
      tid = ev.thread();
      auto n = thread_names_.find(tid);
      DescribeThread(
          ev.time(), tid,
          n != thread_names_.end() ? n->second : absl::StrCat("thread ", tid));
    }
    uint64_t flags = kSeqNeedsIncrementalState;
    if (!interning_) {
      // The first sample of a generation starts a new interning state.
      interning_ = true;
      flags |= kSeqIncrementalStateCleared;
    }
    std::string s;
    PutUint(kSamplePid, kPid, &s);
    PutUint(kSampleTid, static_cast<uint64_t>(tid), &s);
    PutUint(kSampleCpuMode, kCpuModeUser, &s);
    if (!ev.stack().empty()) {
      PutUint(kSampleCallstackIid, InternCallstack(ev.stack()), &s);
    }
    Packet(ev.time(), kPacketPerfSample, s, &interned_, flags);
    interned_.clear();
  }

  format::ByteSink* sink_;
  const std::string process_name_;
  absl::Status status_;
  std::string buf_;
  bool started_ = false;
  bool new_generation_ = true;
  int64_t end_ = 0;

  // Ordered, so that the ends at the trace's end come out the same each
  // time; a std::map also keeps references to its values valid while
  // others are added.
  std::map<int64_t, Goroutine> goroutines_;
  // Thread tracks described, by tid: whether their state track is too.
  absl::flat_hash_map<int64_t, bool> described_;
  absl::flat_hash_map<int64_t, int64_t> thread_of_goroutine_;
  absl::flat_hash_map<int64_t, std::string> thread_names_;  // by tid
  absl::flat_hash_map<int64_t, std::string> fiber_names_;   // by goroutine
  uint64_t next_flow_ = 1;

  std::map<reader::TaskId, size_t> tasks_;  // open tasks' tracks
  std::vector<bool> lane_busy_;

  // Interning state of the current generation; iids count on across
  // generations.
  bool interning_ = false;
  std::string interned_;  // InternedData for the next packet
  absl::flat_hash_map<uint64_t, uint64_t> callstacks_;  // by stack id
  absl::flat_hash_map<uint64_t, uint64_t> frames_;      // by PC
  absl::flat_hash_map<std::string, uint64_t> strings_;  // mapping paths
  absl::flat_hash_map<std::string, uint64_t> function_names_;
  absl::flat_hash_map<std::string, uint64_t> source_paths_;
  uint64_t mapping_iid_ = 0;
  uint64_t next_string_iid_ = 1;
  uint64_t next_mapping_iid_ = 1;
  uint64_t next_frame_iid_ = 1;
  uint64_t next_callstack_iid_ = 1;
};

std::string ProcessName(const std::string& path) {
  if (path == "-") return "gentrace: standard input";
  const size_t slash = path.rfind('/');
  return absl::StrCat(
      "gentrace: ", slash == std::string::npos ? path : path.substr(slash + 1));
}

int RunPerfetto(const ParsedArgs& args) {
  const std::string& path = args.positional[0];
  const std::string& out_path = args.positional[1];
  absl::StatusOr<std::unique_ptr<reader::Reader>> r =
      reader::Reader::Open(path);
  if (!r.ok()) return InputFailure(PerfettoCommand(), path, r.status(), -1);
  absl::StatusOr<std::unique_ptr<OutputFile>> out =
      OutputFile::Create(out_path);
  if (!out.ok()) {
    return Failure(PerfettoCommand(),
                   absl::StrCat(out_path, ": ", out.status().message()));
  }
  PerfettoWriter writer((*out)->sink(), ProcessName(path));
  reader::Event ev;
  while (writer.status().ok() && (*r)->ReadEvent(&ev)) {
    writer.Add(ev, (*r)->generation());
  }
  if (!(*r)->status().ok()) {
    return InputFailure(PerfettoCommand(), path, (*r)->status(),
                        static_cast<int64_t>((*r)->bytes_read()));
  }
  absl::Status st = writer.Finish();
  if (st.ok()) st = (*out)->Commit();
  if (!st.ok()) {
    return Failure(PerfettoCommand(),
                   absl::StrCat(out_path, ": ", st.message()));
  }
  return kExitOk;
}

}  // namespace

const Command& PerfettoCommand() {
  static const Command kCommand = {
      "perfetto",      "the trace in Perfetto's format, for ui.perfetto.dev",
      kHelp,           {},
      {"FILE", "OUT"}, &RunPerfetto,
  };
  return kCommand;
}

}  // namespace gentrace::tools
