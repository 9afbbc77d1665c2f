// `gentrace validate [--allow-broken-tail] FILE`: whether a trace is valid
// the way Go checks its own (the reader reads it to the end, and Go's
// testtrace.Validator checks hold; reader/validator.h).

#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "reader/dump.h"
#include "reader/reader.h"
#include "reader/validator.h"
#include "tools/gentrace/command.h"

namespace gentrace::tools {
namespace {

constexpr char kHelp[] =
    R"(usage: gentrace validate [--allow-broken-tail] FILE

Checks that the Go execution trace FILE ("-" for standard input;
zstd-compressed input is decompressed) is valid the way Go checks its own
traces: the reader must read it to the end (this is what Go's
internal/trace reader accepts), and every event must pass Go's
testtrace.Validator checks (consistent state transitions, increasing times,
ranges and tasks that make sense).

Prints "OK: <events> events, <generations> generations" for a valid trace.
Otherwise prints the first problem: the reader's error, or
"validator: event #<n> (<dump line>): <problem>".

Flags:
  --allow-broken-tail  also accept a trace whose reading fails after at least
                       one complete generation (what go tool trace opens),
                       printing "PARTIAL: ..." instead
  -h, --help           show this help

Exit status: 0 valid, 1 not valid, 2 usage error.
)";

int RunValidate(const ParsedArgs& args) {
  const bool allow_tail = args.has("allow-broken-tail");
  absl::StatusOr<std::unique_ptr<reader::Reader>> r =
      reader::Reader::Open(args.positional[0]);
  if (!r.ok()) {
    std::printf("%s\n", std::string(r.status().message()).c_str());
    return kExitFailure;
  }
  reader::Validator v;
  reader::Event ev;
  uint64_t n = 0;
  while ((*r)->ReadEvent(&ev)) {
    ++n;
    if (absl::Status s = v.Event(ev); !s.ok()) {
      std::string line;
      reader::AppendDumpLine(ev, &line);
      std::printf("validator: event #%llu (%s): %s\n",
                  static_cast<unsigned long long>(n), line.c_str(),
                  std::string(s.message()).c_str());
      return kExitFailure;
    }
  }
  const absl::Status& st = (*r)->status();
  const uint64_t gens = (*r)->complete_generations();
  if (st.ok()) {
    std::printf("OK: %llu events, %llu generations\n",
                static_cast<unsigned long long>(n),
                static_cast<unsigned long long>(gens));
    return kExitOk;
  }
  if (allow_tail && gens > 0) {
    std::printf("PARTIAL: %llu complete generations, then: %s\n",
                static_cast<unsigned long long>(gens),
                std::string(st.message()).c_str());
    return kExitOk;
  }
  std::printf("%s\n", std::string(st.message()).c_str());
  return kExitFailure;
}

}  // namespace

const Command& ValidateCommand() {
  static const Command kCommand = {
      "validate", "check that a trace is valid by Go's rules",
      kHelp,      {{"allow-broken-tail", false}},
      {"FILE"},   &RunValidate,
  };
  return kCommand;
}

}  // namespace gentrace::tools
