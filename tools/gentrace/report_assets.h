// The style sheet and the script of `gentrace report`'s page
// (report_assets.cc): a small canvas renderer of gentrace's own, with no
// dependency, that draws the timeline and the flame graph from the page's
// JSON data (report_data.h).
#ifndef GENTRACE_TOOLS_GENTRACE_REPORT_ASSETS_H_
#define GENTRACE_TOOLS_GENTRACE_REPORT_ASSETS_H_

#include "absl/strings/string_view.h"

namespace gentrace::tools {

absl::string_view ReportCss();
absl::string_view ReportJs();

}  // namespace gentrace::tools

#endif  // GENTRACE_TOOLS_GENTRACE_REPORT_ASSETS_H_
