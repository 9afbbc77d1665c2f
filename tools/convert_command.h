// `gentrace convert`: the command line front end of tools/convert.h.
#ifndef GENTRACE_TOOLS_CONVERT_COMMAND_H_
#define GENTRACE_TOOLS_CONVERT_COMMAND_H_

#include "tools/command.h"

namespace gentrace::tools {

const Command& ConvertCommand();

}  // namespace gentrace::tools

#endif  // GENTRACE_TOOLS_CONVERT_COMMAND_H_
