// The subcommand interface of the `gentrace` command line tool, and the
// small flag parser the subcommands share.
//
// Each subcommand lives in its own file (convert_command.cc, ...) and
// exposes one `const Command& XCommand()`; gentrace_main.cc lists them in its
// table. Subcommands print results to stdout and diagnostics to stderr,
// prefixed "gentrace NAME: ", and return one of the exit codes below. A
// subcommand that writes a file writes it through OutputFile
// (output_file.h), so that it appears whole or not at all.
#ifndef GENTRACE_TOOLS_COMMAND_H_
#define GENTRACE_TOOLS_COMMAND_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gentrace::tools {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the work itself failed
inline constexpr int kExitUsage = 2;    // bad command line

struct Command {
  absl::string_view name;
  // One line for `gentrace help`.
  absl::string_view summary;
  // The full help text (`gentrace help NAME`, `gentrace NAME --help`),
  // starting with a "usage: ..." line and ending with a newline.
  absl::string_view help;
  // Runs the subcommand on the arguments after its name; returns the exit
  // code.
  int (*run)(const std::vector<std::string>& args);
};

// A flag a subcommand accepts.
struct FlagSpec {
  absl::string_view name;  // without dashes
  bool takes_value = true;
};

struct ParsedArgs {
  std::map<std::string, std::string> flags;  // name -> value ("" if none)
  std::vector<std::string> positional;
  bool help = false;  // -h, -help or --help was given
};

// Parses `args` against `flags`. Accepted forms: --name=value, --name value,
// and the same with one dash (as Go's flag package allows); -h/-help/--help;
// "--" ends the flags; "-" alone is a positional argument (stdin/stdout).
// Flags may come before, between or after positional arguments. Errors are
// usage errors ("unknown flag --x", "flag --to needs a value").
absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& args,
                                     const std::vector<FlagSpec>& flags);

// Prints "gentrace NAME: MESSAGE" and a hint to use --help on stderr and
// returns kExitUsage.
int UsageError(const Command& command, absl::string_view message);

}  // namespace gentrace::tools

#endif  // GENTRACE_TOOLS_COMMAND_H_
