// The subcommand interface of the `gentrace` command line tool, the flag
// parser, and the preamble every subcommand shares (RunCommand).
//
// Each subcommand lives in its own file (convert_command.cc, ...) and
// exposes one `const Command& XCommand()`, declared at the end of this
// file; main.cc lists them in its table. A Command says which flags and
// positional arguments it takes; RunCommand parses the command line by
// that, answers --help and reports usage errors, so a subcommand's run
// function starts with its arguments in hand. Subcommands print results to
// stdout and diagnostics to stderr, prefixed "gentrace NAME: ", and return
// one of the exit codes below. A subcommand that writes a file writes it
// through OutputFile (output_file.h), so that it appears whole or not at
// all.
#ifndef GENTRACE_TOOLS_GENTRACE_COMMAND_H_
#define GENTRACE_TOOLS_GENTRACE_COMMAND_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gentrace::tools {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the work itself failed
inline constexpr int kExitUsage = 2;    // bad command line

// A flag a subcommand accepts.
struct FlagSpec {
  absl::string_view name;  // without dashes
  bool takes_value = true;
};

struct ParsedArgs {
  std::map<std::string, std::string> flags;  // name -> value ("" if none)
  std::vector<std::string> positional;
  bool help = false;  // -h, -help or --help was given

  bool has(const std::string& flag) const { return flags.count(flag) > 0; }
};

struct Command {
  absl::string_view name;
  // One line for `gentrace help`.
  absl::string_view summary;
  // The full help text (`gentrace help NAME`, `gentrace NAME --help`),
  // starting with a "usage: ..." line and ending with a newline.
  absl::string_view help;
  // The flags it accepts.
  std::vector<FlagSpec> flags;
  // Its positional arguments, by the names the usage line gives them
  // (e.g. {"IN", "OUT"}); exactly these many must be given.
  std::vector<absl::string_view> positional;
  // Runs the subcommand on a command line RunCommand has checked; returns
  // the exit code.
  int (*run)(const ParsedArgs& args);
  // A command that runs a program (run): its flags end at "--" or at the
  // first argument that is not a flag, and that argument and all after it
  // are positional (the program and its arguments, at least one).
  bool takes_program = false;
};

// Parses `args` against `flags`. Accepted forms: --name=value, --name value,
// and the same with one dash (as Go's flag package allows); -h/-help/--help;
// "--" ends the flags; "-" alone is a positional argument (stdin/stdout).
// Flags may come before, between or after positional arguments. Errors are
// usage errors ("unknown flag --x", "flag --to needs a value").
absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& args,
                                     const std::vector<FlagSpec>& flags);

// Runs `command` on the arguments after its name: parses them by its flags;
// with --help prints its help (exit 0); with a bad flag or the wrong number
// of positional arguments ("need IN and OUT, got 1 file argument") prints
// a usage error (exit 2); else returns what command.run returns.
int RunCommand(const Command& command, const std::vector<std::string>& args);

// Prints "gentrace NAME: MESSAGE" and a hint to use --help on stderr and
// returns kExitUsage.
int UsageError(const Command& command, absl::string_view message);

// Prints "gentrace NAME: MESSAGE" on stderr and returns kExitFailure.
int Failure(const Command& command, absl::string_view message);

// For input a subcommand could not read: prints one line, "gentrace NAME:
// PATH: MESSAGE", on stderr, with " (input byte OFFSET)" added when the
// message does not already name the event it stopped at ("(at EVENT ...)")
// and `offset` is known (not negative; for compressed input it counts
// decompressed bytes). Returns kExitFailure.
int InputFailure(const Command& command, absl::string_view path,
                 const absl::Status& status, int64_t offset);

// The subcommands.
const Command& ConvertCommand();
const Command& CutCommand();
const Command& DiffCommand();
const Command& DumpCommand();
const Command& PerfettoCommand();
const Command& PprofCommand();
const Command& RecoverCommand();
const Command& ReportCommand();
const Command& RunProgramCommand();
const Command& StatsCommand();
const Command& SymbolizeCommand();
const Command& ValidateCommand();

}  // namespace gentrace::tools

#endif  // GENTRACE_TOOLS_GENTRACE_COMMAND_H_
