// `gentrace dump [--allow-broken-tail] FILE`: every event of a trace, one
// canonical line each (the format Go's side prints too; see reader/dump.h).

#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "reader/dump.h"
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
  -h, --help           show this help

Exit status: 0 the whole trace was read, 1 reading failed, 2 usage error.
)";

int RunDump(const ParsedArgs& args) {
  const bool allow_tail = args.has("allow-broken-tail");
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
  if (st.ok() || (allow_tail && syncs > 0)) return kExitOk;
  return kExitFailure;
}

}  // namespace

const Command& DumpCommand() {
  static const Command kCommand = {
      "dump",   "print every event of a trace, one line each",
      kHelp,    {{"allow-broken-tail", false}},
      {"FILE"}, &RunDump,
  };
  return kCommand;
}

}  // namespace gentrace::tools
