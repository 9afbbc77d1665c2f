// The `gentrace` command line tool: a table of subcommands (convert, ...).
// To add one, write tools/gentrace/NAME_command.cc defining `const Command&
// NAMECommand()` (declare it in command.h; see convert_command.cc), and add
// it to kCommands below and to the commands library in
// tools/gentrace/BUILD.bazel.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "tools/gentrace/command.h"

namespace gentrace::tools {
namespace {

// The subcommands, in the order `gentrace help` lists them.
const Command* const kCommands[] = {
    &ConvertCommand(), &CutCommand(),       &DiffCommand(),
    &DumpCommand(),    &PerfettoCommand(),  &PprofCommand(),
    &RecoverCommand(), &ReportCommand(),    &RunProgramCommand(),
    &StatsCommand(),   &SymbolizeCommand(), &ValidateCommand(),
};

const Command* Find(absl::string_view name) {
  for (const Command* c : kCommands) {
    if (c->name == name) return c;
  }
  return nullptr;
}

void PrintUsage(std::FILE* f) {
  std::fputs(
      "usage: gentrace COMMAND [flags] ARGS\n"
      "\n"
      "gentrace works with Go execution traces (the go 1.22/1.23 format).\n"
      "\n"
      "Commands:\n",
      f);
  for (const Command* c : kCommands) {
    std::fprintf(f, "  %-10.*s %.*s\n", static_cast<int>(c->name.size()),
                 c->name.data(), static_cast<int>(c->summary.size()),
                 c->summary.data());
  }
  std::fputs(
      "  help       show this list, or `gentrace help COMMAND` for one "
      "command\n"
      "\n"
      "Exit status: 0 success, 1 the command failed, 2 usage error.\n",
      f);
}

int Main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    PrintUsage(stderr);
    return kExitUsage;
  }
  const std::string& name = args[0];
  if (name == "help" || name == "-h" || name == "-help" || name == "--help") {
    if (args.size() == 1 || name != "help") {
      PrintUsage(stdout);
      return kExitOk;
    }
    if (args.size() > 2) {
      std::fputs("gentrace help: give one command name\n", stderr);
      return kExitUsage;
    }
    const Command* c = Find(args[1]);
    if (c == nullptr) {
      std::fprintf(stderr, "gentrace help: unknown command \"%s\"\n\n",
                   args[1].c_str());
      PrintUsage(stderr);
      return kExitUsage;
    }
    std::fwrite(c->help.data(), 1, c->help.size(), stdout);
    return kExitOk;
  }
  const Command* c = Find(name);
  if (c == nullptr) {
    std::fprintf(stderr, "gentrace: unknown command \"%s\"\n\n", name.c_str());
    PrintUsage(stderr);
    return kExitUsage;
  }
  return RunCommand(*c, std::vector<std::string>(args.begin() + 1, args.end()));
}

}  // namespace
}  // namespace gentrace::tools

int main(int argc, char** argv) { return gentrace::tools::Main(argc, argv); }
