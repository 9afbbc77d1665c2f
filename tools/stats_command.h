// `gentrace stats`: what a trace contains (events by kind, generations) and
// whether it reads to the end.
#ifndef GENTRACE_TOOLS_STATS_COMMAND_H_
#define GENTRACE_TOOLS_STATS_COMMAND_H_

#include "tools/command.h"

namespace gentrace::tools {

const Command& StatsCommand();

}  // namespace gentrace::tools

#endif  // GENTRACE_TOOLS_STATS_COMMAND_H_
