// `gentrace dump [--allow-broken-tail] FILE`: every event of a trace, one
// canonical line each (the format Go's side prints too; see reader/dump.h).

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "reader/dump.h"
#include "reader/gentrace_info.h"
#include "reader/reader.h"
#include "tools/gentrace/command.h"

namespace gentrace::tools {
namespace {

constexpr char kHelp[] =
    R"(usage: gentrace dump [--allow-broken-tail] FILE

Reads the Go execution trace FILE ("-" for standard input; zstd-compressed
input is decompressed) and prints one line per event, in the order Go's
reader delivers them, then "END ok" or "END error: <message>":

  <Kind> t=<ns> m=<thread> p=<proc> g=<goroutine> <fields...> stack=<stack>

The format is the one tests/go/gotool.go's dump prints with Go's own parser,
so the two outputs can be compared with diff (see reader/dump.h).

Flags:
  --allow-broken-tail  if reading fails after at least one complete
                       generation, print only the events up to the last Sync
                       (what go tool trace keeps) and exit 0
  --event-samples      also print the samples of secondary perf events
                       (several events at once, gentrace's signal-free
                       mode), after each generation's Sync line, by time:
                         EventSample t=<ns> m=<thread> p=<proc> g=<g>
                         event=<name> stack=<stack>
                       (p and g are -1: the kernel knows the thread only)
  -h, --help           show this help

Exit status: 0 the whole trace was read, 1 reading failed, 2 usage error.
)";

// The lines of gen's event samples (--event-samples).
absl::Status AppendEventSamples(const reader::Generation& gen,
                                std::string* out) {
  reader::GentraceInfo info;
  absl::Status st = reader::DecodeGentraceInfo(gen, &info);
  std::vector<reader::EventSample> samples;
  const absl::Status resolved =
      reader::ResolveEventSamples(gen, info, &samples);
  if (st.ok()) st = resolved;
  for (const reader::EventSample& s : samples) {
    absl::StrAppend(
        out, "EventSample t=", s.time, " m=", s.thread, " p=",
        s.proc == format::kNoProc ? int64_t{-1} : static_cast<int64_t>(s.proc),
        " g=",
        s.goroutine == 0 ? int64_t{-1} : static_cast<int64_t>(s.goroutine),
        " event=");
    reader::AppendDumpString(s.name, out);
    out->append(" stack=");
    reader::AppendDumpStack(s.stack, out);
    out->push_back('\n');
  }
  return st;
}

int RunDump(const ParsedArgs& args) {
  const bool allow_tail = args.has("allow-broken-tail");
  const bool event_samples = args.has("event-samples");
  bool event_sample_error = false;
  absl::StatusOr<std::unique_ptr<reader::Reader>> r =
      reader::Reader::Open(args.positional[0]);
  if (!r.ok()) {
    std::fprintf(stderr, "gentrace dump: %s\n",
                 std::string(r.status().message()).c_str());
    std::printf("%s\n", reader::DumpErrorLine(r.status().message()).c_str());
    return kExitFailure;
  }
  // Lines are held back until their generation's Sync with
  // --allow-broken-tail, so that an incomplete generation can be dropped.
  std::string out, pending;
  reader::Event ev;
  uint64_t syncs = 0;
  while ((*r)->ReadEvent(&ev)) {
    std::string& dst = allow_tail ? pending : out;
    reader::AppendDumpLine(ev, &dst);
    dst.push_back('\n');
    if (ev.kind() == reader::EventKind::kSync) {
      if (event_samples && (*r)->generation() != nullptr) {
        const absl::Status es = AppendEventSamples(*(*r)->generation(), &dst);
        if (!es.ok()) {
          std::fprintf(stderr, "gentrace dump: %s\n",
                       std::string(es.message()).c_str());
          event_sample_error = true;
        }
      }
      ++syncs;
      out += pending;
      pending.clear();
    }
    if (out.size() >= (1 << 16)) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
    }
  }
  const absl::Status& st = (*r)->status();
  if (st.ok()) {
    out += pending;
    out += "END ok\n";
  } else {
    out += reader::DumpErrorLine(st.message());
    out += '\n';
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  if (event_sample_error) return kExitFailure;
  if (st.ok() || (allow_tail && syncs > 0)) return kExitOk;
  return kExitFailure;
}

}  // namespace

const Command& DumpCommand() {
  static const Command kCommand = {
      "dump",   "print every event of a trace, one line each",
      kHelp,    {{"allow-broken-tail", false}, {"event-samples", false}},
      {"FILE"}, &RunDump,
  };
  return kCommand;
}

}  // namespace gentrace::tools
