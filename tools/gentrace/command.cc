// Flag parsing shared by the gentrace subcommands; see command.h.
#include "tools/gentrace/command.h"

#include <cstdio>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace gentrace::tools {

absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& args,
                                     const std::vector<FlagSpec>& flags) {
  ParsedArgs out;
  bool only_positional = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (only_positional || a.size() < 2 || a[0] != '-') {
      out.positional.push_back(a);
      continue;
    }
    if (a == "--") {
      only_positional = true;
      continue;
    }
    absl::string_view body(a);
    body.remove_prefix(body.substr(0, 2) == "--" ? 2 : 1);
    const size_t eq = body.find('=');
    const absl::string_view name = body.substr(0, eq);
    if (name == "h" || name == "help") {
      out.help = true;
      continue;
    }
    const FlagSpec* spec = nullptr;
    for (const FlagSpec& f : flags) {
      if (f.name == name) spec = &f;
    }
    if (spec == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag ", a));
    }
    std::string value;
    if (eq != absl::string_view::npos) {
      if (!spec->takes_value) {
        return absl::InvalidArgumentError(
            absl::StrCat("flag --", name, " takes no value"));
      }
      value = std::string(body.substr(eq + 1));
    } else if (spec->takes_value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("flag --", name, " needs a value"));
      }
      value = args[++i];
    }
    out.flags[std::string(name)] = value;
  }
  return out;
}

int RunCommand(const Command& command, const std::vector<std::string>& args) {
  absl::StatusOr<ParsedArgs> parsed = ParseArgs(args, command.flags);
  if (!parsed.ok()) return UsageError(command, parsed.status().message());
  if (parsed->help) {
    std::fwrite(command.help.data(), 1, command.help.size(), stdout);
    return kExitOk;
  }
  const size_t n = parsed->positional.size();
  if (n != command.positional.size()) {
    return UsageError(
        command,
        absl::StrCat("need ", absl::StrJoin(command.positional, " and "),
                     ", got ", n, " file argument", n == 1 ? "" : "s"));
  }
  return command.run(*parsed);
}

int Failure(const Command& command, absl::string_view message) {
  std::fprintf(stderr, "gentrace %.*s: %.*s\n",
               static_cast<int>(command.name.size()), command.name.data(),
               static_cast<int>(message.size()), message.data());
  return kExitFailure;
}

int UsageError(const Command& command, absl::string_view message) {
  const absl::string_view help = command.help;
  const absl::string_view usage_line = help.substr(0, help.find('\n'));
  std::fprintf(
      stderr,
      "gentrace %.*s: %.*s\n%.*s\nRun 'gentrace %.*s --help' for details.\n",
      static_cast<int>(command.name.size()), command.name.data(),
      static_cast<int>(message.size()), message.data(),
      static_cast<int>(usage_line.size()), usage_line.data(),
      static_cast<int>(command.name.size()), command.name.data());
  return kExitUsage;
}

}  // namespace gentrace::tools
