// `gentrace dump`: every event of a trace, one canonical line each (the
// format Go's side prints too; see reader/dump.h).
#ifndef GENTRACE_TOOLS_DUMP_COMMAND_H_
#define GENTRACE_TOOLS_DUMP_COMMAND_H_

#include "tools/command.h"

namespace gentrace::tools {

const Command& DumpCommand();

}  // namespace gentrace::tools

#endif  // GENTRACE_TOOLS_DUMP_COMMAND_H_
