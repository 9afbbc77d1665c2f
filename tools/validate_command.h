// `gentrace validate`: whether a trace is fully valid, by Go's rules (the
// reader's checks and Go's testtrace.Validator's).
#ifndef GENTRACE_TOOLS_VALIDATE_COMMAND_H_
#define GENTRACE_TOOLS_VALIDATE_COMMAND_H_

#include "tools/command.h"

namespace gentrace::tools {

const Command& ValidateCommand();

}  // namespace gentrace::tools

#endif  // GENTRACE_TOOLS_VALIDATE_COMMAND_H_
