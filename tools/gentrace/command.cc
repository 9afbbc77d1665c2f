// Flag parsing shared by the gentrace subcommands; see command.h.
#include "tools/gentrace/command.h"

#include <algorithm>
#include <cstdio>

#include "absl/status/status.h"
#include "absl/strings/match.h"
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

// For Command::takes_program: the index of the program in `args` (the
// argument after "--", or the first that is not a flag or a flag's value),
// or args.size() if there is none.
size_t ProgramIndex(const std::vector<std::string>& args,
                    const std::vector<FlagSpec>& flags) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") return i + 1;
    if (a.size() < 2 || a[0] != '-') return i;
    absl::string_view body(a);
    body.remove_prefix(body.substr(0, 2) == "--" ? 2 : 1);
    if (body.find('=') != absl::string_view::npos) continue;
    for (const FlagSpec& f : flags) {
      if (f.name == body && f.takes_value) ++i;  // its value
    }
  }
  return args.size();
}

int RunCommand(const Command& command, const std::vector<std::string>& args) {
  if (command.takes_program) {
    const size_t p = ProgramIndex(args, command.flags);
    std::vector<std::string> flag_args(args.begin(),
                                       args.begin() + std::min(p, args.size()));
    if (!flag_args.empty() && flag_args.back() == "--") flag_args.pop_back();
    absl::StatusOr<ParsedArgs> parsed = ParseArgs(flag_args, command.flags);
    if (!parsed.ok()) return UsageError(command, parsed.status().message());
    if (parsed->help) {
      std::fwrite(command.help.data(), 1, command.help.size(), stdout);
      return kExitOk;
    }
    if (!parsed->positional.empty() || p >= args.size()) {
      return UsageError(command, "give the program to run after the flags");
    }
    parsed->positional.assign(args.begin() + p, args.end());
    return command.run(*parsed);
  }
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

int InputFailure(const Command& command, absl::string_view path,
                 const absl::Status& status, int64_t offset) {
  std::string message = absl::StrCat(path, ": ", status.message());
  if (offset >= 0 && !absl::StrContains(status.message(), "(at ")) {
    absl::StrAppend(&message, " (input byte ", offset, ")");
  }
  return Failure(command, message);
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
