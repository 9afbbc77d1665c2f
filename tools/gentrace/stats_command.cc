// `gentrace stats [--json] FILE`: events of a trace by kind, and its
// complete generations.

#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "reader/reader.h"
#include "tools/gentrace/command.h"

namespace gentrace::tools {
namespace {

constexpr char kHelp[] =
    R"(usage: gentrace stats [--json] FILE

Reads the Go execution trace FILE ("-" for standard input; zstd-compressed
input is decompressed) and counts the events the reader delivers, by kind,
and the complete generations (Sync events). If reading stops early, the
counts cover what was delivered and the error is reported too.

With --json, prints one JSON object:
  {"events_by_kind": {"Sync": N, "Metric": N, ..., "Experimental": N},
   "events": N, "generations_complete": N, "error": null | "message"}
events_by_kind has every kind Go's reader knows (Sync, Metric, Label,
StackSample, RangeBegin, RangeActive, RangeEnd, TaskBegin, TaskEnd,
RegionBegin, RegionEnd, Log, StateTransition, Experimental), 0 included.

Flags:
  --json      print JSON
  -h, --help  show this help

Exit status: 0 the whole trace was read, 1 reading failed (the statistics
are printed anyway), 2 usage error.
)";

void AppendJsonString(absl::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\r':
        out->append("\\r");
        break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          // Keep the output ASCII (and valid UTF-8) whatever the bytes.
          out->append("\\u00");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 0xf]);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

int RunStats(const ParsedArgs& args) {
  const bool json = args.has("json");
  uint64_t counts[reader::kNumEventKinds] = {};
  uint64_t events = 0, gens = 0;
  absl::Status error;
  absl::StatusOr<std::unique_ptr<reader::Reader>> r =
      reader::Reader::Open(args.positional[0]);
  if (!r.ok()) {
    error = r.status();
  } else {
    reader::Event ev;
    while ((*r)->ReadEvent(&ev)) {
      ++counts[static_cast<int>(ev.kind())];
      ++events;
    }
    error = (*r)->status();
    gens = (*r)->complete_generations();
  }
  std::string out;
  if (json) {
    out = "{\"events_by_kind\": {";
    for (int k = 1; k < reader::kNumEventKinds; ++k) {
      if (k > 1) out += ", ";
      AppendJsonString(reader::EventKindName(static_cast<reader::EventKind>(k)),
                       &out);
      absl::StrAppend(&out, ": ", counts[k]);
    }
    absl::StrAppend(&out, "}, \"events\": ", events,
                    ", \"generations_complete\": ", gens, ", \"error\": ");
    if (error.ok()) {
      out += "null";
    } else {
      AppendJsonString(error.message(), &out);
    }
    out += "}\n";
  } else {
    absl::StrAppend(&out, "events: ", events, "\n");
    for (int k = 1; k < reader::kNumEventKinds; ++k) {
      absl::StrAppend(&out, "  ",
                      reader::EventKindName(static_cast<reader::EventKind>(k)),
                      ": ", counts[k], "\n");
    }
    absl::StrAppend(&out, "complete generations: ", gens, "\n");
    absl::StrAppend(
        &out, "error: ",
        error.ok() ? std::string("none") : std::string(error.message()), "\n");
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return error.ok() ? kExitOk : kExitFailure;
}

}  // namespace

const Command& StatsCommand() {
  static const Command kCommand = {
      "stats",  "count a trace's events by kind and its generations",
      kHelp,    {{"json", false}},
      {"FILE"}, &RunStats,
  };
  return kCommand;
}

}  // namespace gentrace::tools
