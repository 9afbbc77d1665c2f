// `gentrace cut FILE OUT --from-gen=N --to-gen=M | --from=D --to=D`: a
// smaller trace made of whole generations of FILE.
//
// Every generation of a trace carries what a reader needs to start there:
// its own frequency, string and stack tables and CPU samples, and a status
// for every goroutine and P it mentions (GO_FORMAT.md; gentrace's tracer
// writes a sweep of statuses for that, as Go's runtime does). So a run of
// consecutive whole generations, behind the header, is a valid trace, which
// is what Go's flight recorder relies on too. cut reads FILE twice: once
// with the reader, to check it and learn each generation's time span, then
// batch by batch, copying the chosen generations' batches byte for byte.

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "format/batch.h"
#include "format/header.h"
#include "format/zstd.h"
#include "reader/reader.h"
#include "tools/gentrace/command.h"
#include "tools/gentrace/output_file.h"
#include "tools/gentrace/terminal.h"

namespace gentrace::tools {
namespace {

constexpr char kHelp[] =
    R"(usage: gentrace cut FILE OUT (--from-gen=N --to-gen=M | --from=D --to=D)

Writes to OUT ("-" for standard output) the whole generations of the Go
execution trace FILE (zstd-compressed input is decompressed; OUT is not
compressed) that lie in the window, as a valid trace of its own: the
header, then those generations' batches byte for byte.

  --from-gen=N, --to-gen=M  generations N to M, counted from 1 in file
                            order (inclusive); either may be left out (the
                            first, the last)
  --from=D, --to=D          every generation whose time span (its first
                            event to its end) overlaps the window from D to
                            D after the trace's first event; durations as
                            in Go: 1.5s, 300ms, 2m; either may be left out

The two kinds of flag do not mix. A window with no generation of the trace
in it is an error. FILE must be a file (cut reads it twice), and the whole
trace must read without error.

Flags:
  --from-gen=N, --to-gen=M, --from=D, --to=D  the window (above)
  -h, --help                                  show this help

Exit status: 0 written, 1 FILE could not be read or the window is empty
(OUT is then left as it was), 2 usage error.
)";

struct GenSpan {
  uint64_t number = 0;  // on the wire
  int64_t start = 0;    // first event, ns
  int64_t end = 0;      // its Sync, ns
};

bool ParseGen(const ParsedArgs& args, const char* flag, uint64_t* out) {
  if (!args.has(flag)) return true;
  return absl::SimpleAtoi(args.flags.at(flag), out) && *out > 0;
}

bool ParseOffset(const ParsedArgs& args, const char* flag, int64_t* out) {
  if (!args.has(flag)) return true;
  absl::Duration d;
  if (!absl::ParseDuration(args.flags.at(flag), &d) ||
      d < absl::ZeroDuration()) {
    return false;
  }
  *out = absl::ToInt64Nanoseconds(d);
  return true;
}

std::string Dur(int64_t ns) {
  return absl::FormatDuration(absl::Nanoseconds(ns));
}

int RunCut(const ParsedArgs& args) {
  const Command& cmd = CutCommand();
  const std::string& in_path = args.positional[0];
  const std::string& out_path = args.positional[1];
  const bool by_gen = args.has("from-gen") || args.has("to-gen");
  const bool by_time = args.has("from") || args.has("to");
  if (by_gen == by_time) {
    return UsageError(cmd, by_gen ? "give --from-gen/--to-gen or --from/--to, "
                                    "not both"
                                  : "give the window: --from-gen/--to-gen or "
                                    "--from/--to");
  }
  uint64_t from_gen = 1, to_gen = UINT64_MAX;
  int64_t from_ns = 0, to_ns = INT64_MAX;
  if (!ParseGen(args, "from-gen", &from_gen) ||
      !ParseGen(args, "to-gen", &to_gen)) {
    return UsageError(cmd, "--from-gen and --to-gen take a number from 1 up");
  }
  if (!ParseOffset(args, "from", &from_ns) ||
      !ParseOffset(args, "to", &to_ns)) {
    return UsageError(cmd,
                      "--from and --to take a duration such as 1.5s or 300ms");
  }
  if (from_gen > to_gen || from_ns > to_ns) {
    return UsageError(cmd, "the window ends before it starts");
  }
  if (in_path == "-") {
    return UsageError(cmd, "FILE must be a file, not -: cut reads it twice");
  }

  // Pass 1: check the trace and learn its generations' spans.
  std::vector<GenSpan> gens;
  {
    absl::StatusOr<std::unique_ptr<reader::Reader>> r =
        reader::Reader::Open(in_path);
    if (!r.ok()) return InputFailure(cmd, in_path, r.status(), -1);
    Progress progress("gentrace cut: reading",
                      Progress::PlainFileSize(in_path));
    reader::Event ev;
    bool new_gen = true;
    uint64_t n = 0;
    while ((*r)->ReadEvent(&ev)) {
      if (new_gen) {
        new_gen = false;
        gens.push_back({(*r)->generation()->number(), ev.time(), ev.time()});
      }
      if (ev.kind() == reader::EventKind::kSync) {
        gens.back().end = ev.time();
        new_gen = true;
      }
      if ((++n & 0xfff) == 0) progress.Update((*r)->bytes_read());
    }
    if (!(*r)->status().ok()) {
      return InputFailure(cmd, in_path, (*r)->status(),
                          static_cast<int64_t>((*r)->bytes_read()));
    }
  }
  if (gens.empty()) return Failure(cmd, absl::StrCat(in_path, ": no events"));

  absl::flat_hash_set<uint64_t> keep;
  const int64_t t0 = gens.front().start;
  for (size_t i = 0; i < gens.size(); ++i) {
    const GenSpan& g = gens[i];
    const bool in = by_gen ? (i + 1 >= from_gen && i + 1 <= to_gen)
                           : (g.end - t0 >= from_ns && g.start - t0 <= to_ns);
    if (in) keep.insert(g.number);
  }
  if (keep.empty()) {
    return Failure(
        cmd, by_gen ? absl::StrCat("generations ", from_gen, " to ",
                                   to_gen == UINT64_MAX ? std::string("the end")
                                                        : absl::StrCat(to_gen),
                                   " are not in ", in_path, ", which has ",
                                   gens.size(), " (1 to ", gens.size(), ")")
                    : absl::StrCat("no generation of ", in_path,
                                   " lies between ", Dur(from_ns), " and ",
                                   to_ns == INT64_MAX ? std::string("the end")
                                                      : Dur(to_ns),
                                   "; it lasts ", Dur(gens.back().end - t0)));
  }

  // Pass 2: copy the chosen generations' batches.
  absl::StatusOr<std::unique_ptr<format::ByteSource>> src =
      format::OpenInput(in_path);
  if (!src.ok()) return InputFailure(cmd, in_path, src.status(), -1);
  format::BatchReader batches(src->get());
  absl::StatusOr<format::Version> version = batches.ReadHeader();
  if (!version.ok()) return InputFailure(cmd, in_path, version.status(), 0);
  absl::StatusOr<std::unique_ptr<OutputFile>> out =
      OutputFile::Create(out_path);
  if (!out.ok()) return Failure(cmd, out.status().message());
  format::ByteSink* sink = (*out)->sink();
  // Batches are small; write in larger pieces.
  std::string pending = format::EncodeHeader(*version);
  absl::Status s;
  format::Batch b;
  while (s.ok()) {
    absl::StatusOr<bool> more = batches.Next(&b);
    if (!more.ok()) {
      return InputFailure(cmd, in_path, more.status(),
                          static_cast<int64_t>(batches.offset()));
    }
    if (!*more) break;
    if (!keep.contains(b.gen)) continue;
    pending.append(reinterpret_cast<const char*>(b.raw.data()), b.raw.size());
    if (pending.size() >= (1 << 20)) {
      s = sink->WriteString(pending);
      pending.clear();
    }
  }
  if (s.ok()) s = sink->WriteString(pending);
  if (s.ok()) s = (*out)->Commit();
  if (!s.ok()) {
    return Failure(cmd, absl::StrCat(out_path, ": ", s.message()));
  }
  return kExitOk;
}

}  // namespace

const Command& CutCommand() {
  static const Command kCommand = {
      "cut",
      "write a window of whole generations as a smaller trace",
      kHelp,
      {{"from-gen", true}, {"to-gen", true}, {"from", true}, {"to", true}},
      {"FILE", "OUT"},
      &RunCut,
  };
  return kCommand;
}

}  // namespace gentrace::tools
