// `gentrace recover`: the whole generations left in a flight recorder's
// ring file (after a crash, kill -9 or an OOM kill), as a trace.
#ifndef GENTRACE_TOOLS_RECOVER_COMMAND_H_
#define GENTRACE_TOOLS_RECOVER_COMMAND_H_

#include "tools/command.h"

namespace gentrace::tools {

const Command& RecoverCommand();

}  // namespace gentrace::tools

#endif  // GENTRACE_TOOLS_RECOVER_COMMAND_H_
