// `gentrace pprof FILE OUT --type=cpu|block|syscall|sched|region`: a
// profile in pprof's format (profile.proto, gzipped) from one streaming
// pass over a trace. block, syscall and sched lay out by stack the
// intervals TraceStats counts for go_pprof (PprofIntervalSink), so they
// total what `stats` reports.
//
// The profile is built in memory by stack and labels (the number of
// distinct stacks, not of events) and written with the protobuf encoder
// (protobuf_encoder.h): pprof's format is a handful of messages of
// varints, strings and packed varint arrays.

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "reader/event.h"
#include "reader/gentrace_info.h"
#include "reader/reader.h"
#include "tools/gentrace/command.h"
#include "tools/gentrace/output_file.h"
#include "tools/gentrace/protobuf_encoder.h"
#include "tools/gentrace/trace_stats.h"

namespace gentrace::tools {
namespace {

constexpr char kHelp[] =
    R"(usage: gentrace pprof FILE OUT --type=cpu|block|syscall|sched|region

Reads the Go execution trace FILE ("-" for standard input; zstd-compressed
input is decompressed) and writes a gzipped pprof profile (profile.proto)
to OUT ("-" for standard output), for `go tool pprof` and other pprof
readers.

  --type=cpu     the trace's CPU samples: samples/count and cpu/nanoseconds
                 (a sample's time is the sampling period: 1s/Hz of the
                 gentrace sampler, or Go's 10ms for Go traces), by stack,
                 with string labels thread, fiber, task and region (the
                 thread or fiber sampled, and the innermost region it was
                 in, with that region's task), so -tagfocus=region=NAME
                 cuts a profile by region. With several perf events at
                 once (signal-free mode), one more sample type per
                 secondary event, named after it: events (a sample
                 counts its period), or samples in frequency mode,
                 labelled by thread.
  --type=block   as `go tool trace -pprof=sync`: time goroutines were
                 blocked on channels, select and sync, by the stack where
                 they blocked: contentions/count and delay/nanoseconds.
  --type=syscall as `go tool trace -pprof=syscall`: time in syscalls.
  --type=sched   as `go tool trace -pprof=sched`: time waiting to run.
                 (These three total what `gentrace stats` reports as
                 go_pprof_ns sync, syscall and sched, measured by the
                 same rules.)
  --type=region  regions that began and ended in the trace: regions/count
                 and time/nanoseconds inside them, by the stack where each
                 began, labelled region=NAME.

Flags:
  --type=T    the profile to write (required)
  -h, --help  show this help

Exit status: 0 written, 1 the trace did not read to its end (nothing is
written), 2 usage error.
)";

constexpr char kTypes[] = "cpu|block|syscall|sched|region";

constexpr int64_t kGoDefaultPeriodNs = 10'000'000;  // Go's 100 Hz

using protobuf::PutBytes;
using protobuf::PutInt;
using protobuf::PutPacked;

// ---- the profile

// profile.proto's field numbers.
enum ProfileField {
  kSampleType = 1,
  kSample = 2,
  kLocation = 4,
  kFunction = 5,
  kStringTable = 6,
  kDurationNanos = 10,
  kPeriodType = 11,
  kPeriod = 12,
};

class ProfileBuilder {
 public:
  ProfileBuilder() { Str(""); }  // string 0 is always ""

  int64_t Str(const std::string& s) {
    auto [it, added] = strings_.emplace(s, strings_.size());
    if (added) string_list_.push_back(s);
    return it->second;
  }

  // The location ids of `stack`, innermost first; one Location per PC.
  std::vector<uint64_t> Locations(const reader::StackView& stack) {
    std::vector<uint64_t> ids;
    ids.reserve(stack.size());
    for (size_t i = 0; i < stack.size(); ++i) {
      const reader::StackFrame f = stack[i];
      auto it = locations_.find(f.pc);
      if (it == locations_.end()) {
        const uint64_t fn = Function(std::string(f.func), std::string(f.file));
        it = locations_
                 .emplace(f.pc, Location{locations_.size() + 1, fn, f.line})
                 .first;
        location_order_.push_back(f.pc);
      }
      ids.push_back(it->second.id);
    }
    return ids;
  }

  // Adds `values` to the sample with these locations and labels.
  void Add(std::vector<uint64_t> locations,
           std::vector<std::pair<std::string, std::string>> labels,
           const std::vector<int64_t>& values) {
    std::vector<int64_t>& sum =
        samples_[{std::move(locations), std::move(labels)}];
    if (sum.size() < values.size()) sum.resize(values.size());
    for (size_t i = 0; i < values.size(); ++i) sum[i] += values[i];
  }

  // The profile.proto bytes. `types` are the sample types (type, unit).
  std::string Encode(
      const std::vector<std::pair<std::string, std::string>>& types,
      int64_t period, int64_t duration_ns) {
    std::string out;
    for (const auto& [type, unit] : types) {
      PutBytes(kSampleType, ValueType(type, unit), &out);
    }
    for (const auto& [key, values] : samples_) {
      std::string s;
      PutPacked(1, key.first, &s);
      std::vector<uint64_t> v;
      for (int64_t x : values) v.push_back(static_cast<uint64_t>(x));
      v.resize(std::max(v.size(), types.size()));  // one value per type
      PutPacked(2, v, &s);
      for (const auto& [k, value] : key.second) {
        std::string label;
        PutInt(1, Str(k), &label);
        PutInt(2, Str(value), &label);
        PutBytes(3, label, &s);
      }
      PutBytes(kSample, s, &out);
    }
    for (uint64_t pc : location_order_) {
      const Location& l = locations_.at(pc);
      std::string loc, line;
      PutInt(1, l.id, &loc);
      PutInt(3, pc, &loc);
      PutInt(1, l.function, &line);
      PutInt(2, l.line, &line);
      PutBytes(4, line, &loc);
      PutBytes(kLocation, loc, &out);
    }
    for (size_t i = 0; i < functions_.size(); ++i) {
      std::string fn;
      PutInt(1, i + 1, &fn);
      PutInt(2, functions_[i].first, &fn);
      PutInt(3, functions_[i].first, &fn);
      PutInt(4, functions_[i].second, &fn);
      PutBytes(kFunction, fn, &out);
    }
    PutInt(kDurationNanos, static_cast<uint64_t>(duration_ns), &out);
    if (!types.empty()) {
      PutBytes(kPeriodType, ValueType(types.back().first, types.back().second),
               &out);
    }
    PutInt(kPeriod, static_cast<uint64_t>(period), &out);
    // The string table last: every index above is in it by now.
    for (const std::string& s : string_list_) PutBytes(kStringTable, s, &out);
    return out;
  }

 private:
  struct Location {
    uint64_t id;
    uint64_t function;
    uint64_t line;
  };

  std::string ValueType(const std::string& type, const std::string& unit) {
    std::string v;
    PutInt(1, Str(type), &v);
    PutInt(2, Str(unit), &v);
    return v;
  }

  uint64_t Function(const std::string& name, const std::string& file) {
    const std::pair<int64_t, int64_t> key{Str(name), Str(file)};
    auto [it, added] = function_ids_.emplace(key, functions_.size() + 1);
    if (added) functions_.push_back(key);
    return it->second;
  }

  absl::flat_hash_map<std::string, int64_t> strings_;
  std::vector<std::string> string_list_;
  std::map<std::pair<int64_t, int64_t>, uint64_t> function_ids_;
  std::vector<std::pair<int64_t, int64_t>> functions_;  // name, file
  absl::flat_hash_map<uint64_t, Location> locations_;   // by PC
  std::vector<uint64_t> location_order_;
  std::map<std::pair<std::vector<uint64_t>,
                     std::vector<std::pair<std::string, std::string>>>,
           std::vector<int64_t>>
      samples_;
};

absl::StatusOr<std::string> Gzip(const std::string& data) {
  z_stream z = {};
  // 15 bits of window, +16: a gzip header and trailer.
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    return absl::InternalError("zlib: deflateInit2 failed");
  }
  std::string out(deflateBound(&z, data.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return absl::InternalError("zlib: deflate failed");
  return out;
}

// ---- the pass over the trace

struct OpenRegion {
  std::string name;
  reader::TaskId task;
  int64_t start;
  std::vector<uint64_t> locations;  // of its begin stack (type region)
};

enum class Kind { kCpu, kRegion, kBlock, kSyscall, kSched };

struct KindName {
  absl::string_view name;
  Kind kind;
  int go_pprof_mode;  // PprofIntervalSink's mode, or -1
};
const KindName kKinds[] = {
    {"cpu", Kind::kCpu, -1},        {"block", Kind::kBlock, 1},
    {"syscall", Kind::kSyscall, 2}, {"sched", Kind::kSched, 3},
    {"region", Kind::kRegion, -1},
};

class PprofPass : private PprofIntervalSink {
 public:
  explicit PprofPass(const KindName& kind)
      : cpu_(kind.kind == Kind::kCpu),
        region_(kind.kind == Kind::kRegion),
        mode_(kind.go_pprof_mode) {
    if (mode_ >= 0) stats_.set_pprof_sink(this);
  }

  // Ends the pass: the intervals TraceStats closes only at the end.
  void Finish() {
    if (mode_ >= 0) (void)stats_.Finish();
  }

  void Add(const reader::Event& ev, const reader::Generation* gen) {
    if (new_generation_ && gen != nullptr) {
      new_generation_ = false;
      reader::GentraceInfo info;
      // An info batch that does not decode leaves names out; stats says
      // which.
      (void)reader::DecodeGentraceInfo(*gen, &info);
      for (const reader::ThreadInfo& t : info.threads) {
        thread_names_[static_cast<int64_t>(t.thread)] = t.name;
      }
      for (const reader::FiberInfo& f : info.fibers) {
        fiber_names_[static_cast<int64_t>(f.goroutine)] = f.name;
      }
      for (const reader::SamplerInfo& s : info.samplers) {
        if (s.hz > 0) period_ns_ = 1'000'000'000 / static_cast<int64_t>(s.hz);
      }
      if (cpu_) EventSamples(*gen, info);
    }
    if (mode_ >= 0) stats_.Add(ev, gen);
    if (events_++ == 0) start_ns_ = ev.time();
    end_ns_ = ev.time();
    switch (ev.kind()) {
      case reader::EventKind::kSync:
        new_generation_ = true;
        break;
      case reader::EventKind::kTaskBegin: {
        const reader::Task t = ev.task();
        task_names_[t.id] = std::string(t.type);
        break;
      }
      case reader::EventKind::kRegionBegin: {
        const reader::Region r = ev.region();
        OpenRegion open{std::string(r.type), r.task, ev.time(), {}};
        if (region_) open.locations = profile_.Locations(ev.stack());
        regions_[ev.goroutine()].push_back(std::move(open));
        break;
      }
      case reader::EventKind::kRegionEnd:
        RegionEnd(ev);
        break;
      case reader::EventKind::kStackSample:
        if (cpu_) Sample(ev);
        break;
      default:
        break;
    }
  }

  std::string Encode() {
    if (cpu_) {
      std::vector<std::pair<std::string, std::string>> types = {
          {"samples", "count"}, {"cpu", "nanoseconds"}};
      for (size_t i = 1; i < events_by_index_.size(); ++i) {
        const EventType& e = events_by_index_[i];
        types.emplace_back(e.name.empty() ? absl::StrCat("event", i) : e.name,
                           e.period > 0 ? "events" : "samples");
      }
      return profile_.Encode(types, period_ns_, end_ns_ - start_ns_);
    }
    if (region_) {
      return profile_.Encode({{"regions", "count"}, {"time", "nanoseconds"}}, 0,
                             end_ns_ - start_ns_);
    }
    // As go tool trace -pprof: intervals and their time.
    return profile_.Encode({{"contentions", "count"}, {"delay", "nanoseconds"}},
                           0, end_ns_ - start_ns_);
  }

 private:
  void RegionEnd(const reader::Event& ev) {
    const absl::string_view type = ev.region().type;
    auto& open = regions_[ev.goroutine()];
    size_t i = open.size();
    while (i > 0 && open[i - 1].name != type) --i;
    if (i == 0) return;  // begun before the trace: its time is unknown
    // Regions nest; any left open inside this one never end.
    OpenRegion& r = open[i - 1];
    if (region_) {
      profile_.Add(std::move(r.locations), {{"region", r.name}},
                   {1, ev.time() - r.start});
    }
    open.resize(i - 1);
  }

  void Sample(const reader::Event& ev) {
    std::vector<std::pair<std::string, std::string>> labels;
    // Kept sorted by key: pprof's readers do not care, equal keys must.
    const int64_t g = ev.goroutine();
    if (auto f = fiber_names_.find(g); f != fiber_names_.end()) {
      labels.emplace_back("fiber", f->second);
    }
    if (auto it = regions_.find(g);
        it != regions_.end() && !it->second.empty()) {
      const OpenRegion& r = it->second.back();
      labels.emplace_back("region", r.name);
      if (r.task != reader::kBackgroundTask) {
        auto t = task_names_.find(r.task);
        labels.emplace_back(
            "task", t != task_names_.end() ? t->second : absl::StrCat(r.task));
      }
    }
    if (ev.thread() != reader::kNone) {
      auto t = thread_names_.find(ev.thread());
      labels.emplace_back("thread", t != thread_names_.end()
                                        ? t->second
                                        : absl::StrCat(ev.thread()));
    }
    profile_.Add(profile_.Locations(ev.stack()), std::move(labels),
                 {1, period_ns_});
  }

  // Several perf events at once: each secondary event is a sample type of
  // its own, after samples and cpu; a sample of it counts its period
  // (events per sample), or 1 in frequency mode. Labelled by thread (the
  // kernel knows no fiber or region).
  void EventSamples(const reader::Generation& gen,
                    const reader::GentraceInfo& info) {
    for (const reader::EventSamplerInfo& e : info.event_samplers) {
      if (e.event == 0 || e.event >= format::kMaxInfoEvents) continue;
      if (events_by_index_.size() <= e.event) {
        events_by_index_.resize(e.event + 1);
      }
      events_by_index_[e.event] = {e.name, e.period};
    }
    std::vector<reader::EventSample> samples;
    // A record that does not resolve stops here; stats says why.
    (void)reader::ResolveEventSamples(gen, info, &samples);
    for (const reader::EventSample& s : samples) {
      if (s.event == 0 || s.event >= events_by_index_.size()) continue;
      std::vector<int64_t> values(2 + s.event - 1 + 1, 0);
      const uint64_t period = events_by_index_[s.event].period;
      values.back() = period > 0 ? static_cast<int64_t>(period) : 1;
      std::vector<std::pair<std::string, std::string>> labels;
      auto t = thread_names_.find(static_cast<int64_t>(s.thread));
      labels.emplace_back("thread", t != thread_names_.end()
                                        ? t->second
                                        : absl::StrCat(s.thread));
      profile_.Add(profile_.Locations(s.stack), std::move(labels), values);
    }
  }

  // PprofIntervalSink: the handle is the index of the interval's stack.
  uint64_t Begin(int mode, const reader::Event& ev) override {
    if (mode != mode_) return 0;
    std::vector<uint64_t> locations = profile_.Locations(ev.stack());
    auto [it, added] = stack_ids_.emplace(std::move(locations), stacks_.size());
    if (added) stacks_.push_back(&it->first);
    return it->second;
  }
  void Counted(int mode, uint64_t handle, int64_t ns) override {
    if (mode != mode_) return;
    profile_.Add(*stacks_[handle], {}, {1, ns});
  }

  const bool cpu_;
  const bool region_;
  const int mode_;
  TraceStats stats_{0};
  std::map<std::vector<uint64_t>, uint64_t> stack_ids_;
  std::vector<const std::vector<uint64_t>*> stacks_;  // by id
  bool new_generation_ = true;
  uint64_t events_ = 0;
  int64_t start_ns_ = 0;
  int64_t end_ns_ = 0;
  int64_t period_ns_ = kGoDefaultPeriodNs;
  struct EventType {
    std::string name;
    uint64_t period = 0;
  };
  std::vector<EventType> events_by_index_;  // [0] unused: the primary
  ProfileBuilder profile_;
  absl::flat_hash_map<int64_t, std::string> thread_names_;
  absl::flat_hash_map<int64_t, std::string> fiber_names_;
  absl::flat_hash_map<reader::TaskId, std::string> task_names_;
  absl::flat_hash_map<int64_t, std::vector<OpenRegion>> regions_;
};

int RunPprof(const ParsedArgs& args) {
  if (!args.has("type")) {
    return UsageError(PprofCommand(),
                      absl::StrCat("--type=", kTypes, " is required"));
  }
  const std::string& type = args.flags.at("type");
  const KindName* kind = nullptr;
  for (const KindName& k : kKinds) {
    if (k.name == type) kind = &k;
  }
  if (kind == nullptr) {
    return UsageError(PprofCommand(), absl::StrCat("unknown --type=", type,
                                                   " (want ", kTypes, ")"));
  }
  const std::string& path = args.positional[0];
  const std::string& out_path = args.positional[1];
  absl::StatusOr<std::unique_ptr<reader::Reader>> r =
      reader::Reader::Open(path);
  if (!r.ok()) return InputFailure(PprofCommand(), path, r.status(), -1);
  PprofPass pass(*kind);
  reader::Event ev;
  while ((*r)->ReadEvent(&ev)) pass.Add(ev, (*r)->generation());
  if (!(*r)->status().ok()) {
    return InputFailure(PprofCommand(), path, (*r)->status(),
                        static_cast<int64_t>((*r)->bytes_read()));
  }
  pass.Finish();
  absl::StatusOr<std::string> gz = Gzip(pass.Encode());
  if (!gz.ok()) return Failure(PprofCommand(), gz.status().message());
  absl::StatusOr<std::unique_ptr<OutputFile>> out =
      OutputFile::Create(out_path);
  if (!out.ok()) {
    return Failure(PprofCommand(),
                   absl::StrCat(out_path, ": ", out.status().message()));
  }
  absl::Status st = (*out)->sink()->Write(absl::MakeConstSpan(
      reinterpret_cast<const uint8_t*>(gz->data()), gz->size()));
  if (st.ok()) st = (*out)->Commit();
  if (!st.ok()) {
    return Failure(PprofCommand(), absl::StrCat(out_path, ": ", st.message()));
  }
  return kExitOk;
}

}  // namespace

const Command& PprofCommand() {
  static const Command kCommand = {
      "pprof",
      "a pprof profile: CPU samples, blocking, syscalls, scheduling, regions",
      kHelp,
      {{"type", true}},
      {"FILE", "OUT"},
      &RunPprof,
  };
  return kCommand;
}

}  // namespace gentrace::tools
