// `gentrace convert --to=text|binary IN OUT`: the command line front end of
// convert.h, which says what the conversions do.

#include <sys/stat.h>

#include <cstdio>
#include <memory>

#include "absl/strings/str_cat.h"
#include "format/byte_source.h"
#include "tools/gentrace/command.h"
#include "tools/gentrace/convert.h"
#include "tools/gentrace/output_file.h"

namespace gentrace::tools {
namespace {

constexpr char kHelp[] =
    R"(usage: gentrace convert --to=text|binary IN OUT

Converts a Go execution trace between the binary wire format and Go's raw
text format (the format of Go's internal/trace/raw package and of its
testdata/tests/*.test files). IN and OUT are file names; "-" means standard
input or standard output.

The input format is detected:
  binary  starts with the header "go 1.22 trace" or "go 1.23 trace"
  text    its first line that is not blank or a # comment is
          "Trace Go1.22" or "Trace Go1.23"
  txtar   an archive with a "-- trace --" file, such as Go's .test files:
          only that file is converted
A zstd-compressed input (such as a trace the tracer wrote with zstd
compression) is decompressed first.

Text to binary writes minimal varints, as Go's raw writer does, and fills in
"EventBatch ... size=0" with the size of the events that follow it, up to the
next batch; other sizes are written as given. Binary to text prints exactly
what Go's raw TextWriter prints.

Converting to the input's own format normalizes it: binary batches are
re-encoded with minimal varints and their sizes recomputed; text is reprinted
in the canonical layout (sizes kept).

OUT appears only when the whole conversion succeeded: the output is written
to a temporary file beside OUT and renamed to OUT at the end. If the
conversion fails, OUT is not created, or, if it existed, left as it was. To
see what converted before an error, write to standard output (OUT = -).

Flags:
  --to=text|binary  the output format (required)
  -h, --help        show this help

Exit status: 0 converted, 1 the input could not be converted, 2 usage error.
)";

// Whether paths a and b name the same existing file.
bool SameFile(const std::string& a, const std::string& b) {
  if (a == "-" || b == "-") return false;
  struct stat sa, sb;
  return stat(a.c_str(), &sa) == 0 && stat(b.c_str(), &sb) == 0 &&
         sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int RunConvert(const ParsedArgs& args) {
  const Command& self = ConvertCommand();
  auto to_flag = args.flags.find("to");
  if (to_flag == args.flags.end()) {
    return UsageError(self, "missing --to=text or --to=binary");
  }
  absl::StatusOr<TraceFormat> to = ParseTraceFormat(to_flag->second);
  if (!to.ok()) return UsageError(self, to.status().message());
  const std::string& in_path = args.positional[0];
  const std::string& out_path = args.positional[1];
  if (SameFile(in_path, out_path)) {
    return UsageError(
        self, absl::StrCat("IN and OUT are the same file (", out_path, ")"));
  }

  absl::StatusOr<std::unique_ptr<format::FdSource>> in =
      format::FdSource::Open(in_path);
  if (!in.ok()) return Failure(self, in.status().message());
  absl::StatusOr<std::unique_ptr<OutputFile>> out =
      OutputFile::Create(out_path);
  if (!out.ok()) return Failure(self, out.status().message());

  absl::Status st = Convert(in->get(), (*out)->sink(), *to);
  if (st.ok()) st = (*out)->Commit();
  // Without Commit(), *out removes what it wrote when it goes.
  if (!st.ok()) return Failure(self, st.message());
  return kExitOk;
}

}  // namespace

const Command& ConvertCommand() {
  static const Command kCommand = {
      "convert",     "convert a trace between the binary and the text format",
      kHelp,         {{"to", true}},
      {"IN", "OUT"}, &RunConvert,
  };
  return kCommand;
}

}  // namespace gentrace::tools
