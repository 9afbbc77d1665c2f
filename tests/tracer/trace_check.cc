// Test support for tracer tests; see trace_check.h.
#include "tests/tracer/trace_check.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "reader/dump.h"
#include "reader/event.h"
#include "reader/reader.h"
#include "tests/interop/go_tool.h"

namespace gentrace::testing {

std::string TempPath(absl::string_view name) {
  static std::atomic<int> counter{0};
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", getpid(), "-",
                      counter.fetch_add(1), "-", name);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int GoView::count(absl::string_view kind) const {
  auto it = kinds.find(std::string(kind));
  return it == kinds.end() ? 0 : it->second;
}

int GoView::count_matching(std::vector<absl::string_view> needles) const {
  int n = 0;
  for (const std::string& e : events) {
    bool all = true;
    for (absl::string_view s : needles) all = all && absl::StrContains(e, s);
    n += all;
  }
  return n;
}

namespace {

// Reads path with gentrace's reader and compares with Go's view.
void CompareWithOurReader(const std::string& path, bool dump, GoView* view) {
  absl::StatusOr<std::unique_ptr<reader::Reader>> r =
      reader::Reader::Open(path);
  if (!r.ok()) {
    view->ours_difference = absl::StrCat("our reader: ", r.status().message());
    return;
  }
  std::map<std::string, int> kinds;
  std::vector<std::string> lines;
  reader::Event ev;
  std::string line;
  while ((*r)->ReadEvent(&ev)) {
    ++kinds[std::string(reader::EventKindName(ev.kind()))];
    if (dump) {
      line.clear();
      reader::AppendDumpLine(ev, &line);
      lines.push_back(line);
    }
  }
  const bool ours_ok = (*r)->status().ok();
  if (ours_ok != view->valid) {
    view->ours_difference =
        absl::StrCat("Go says ", view->result_line, "; our reader says ",
                     ours_ok ? "OK" : std::string((*r)->status().message()));
    return;
  }
  if (kinds != view->kinds) {
    std::string k;
    for (const auto& [kind, n] : kinds) absl::StrAppend(&k, " ", kind, "=", n);
    view->ours_difference = absl::StrCat("our reader's counts:", k);
    return;
  }
  if (dump) {
    // Go orders threads whose events have equal times at random; compare
    // the events as a multiset.
    std::vector<std::string> go = view->events;
    std::sort(go.begin(), go.end());
    std::sort(lines.begin(), lines.end());
    if (go != lines) {
      for (size_t i = 0; i < std::min(go.size(), lines.size()); ++i) {
        if (go[i] != lines[i]) {
          view->ours_difference = absl::StrCat(
              "first difference:\n  go:   ", go[i], "\n  ours: ", lines[i]);
          return;
        }
      }
      view->ours_difference = absl::StrCat("Go delivered ", go.size(),
                                           " events, ours ", lines.size());
      return;
    }
  }
  view->ours_agree = true;
}

}  // namespace

absl::StatusOr<GoView> ViewWithGo(const std::string& path,
                                  bool allow_broken_tail, bool dump) {
  GoView view;
  absl::StatusOr<interop::GoValidateResult> v =
      interop::GoValidate(path, allow_broken_tail);
  if (!v.ok()) return v.status();
  view.valid = v->ok;
  view.result_line = v->result_line;
  view.validate_output = v->output;
  // The summary line "by kind: Log=3 RegionBegin=2 ...".
  for (absl::string_view line : absl::StrSplit(v->output, '\n')) {
    if (!absl::StartsWith(line, "by kind:")) continue;
    for (absl::string_view kv :
         absl::StrSplit(line.substr(8), ' ', absl::SkipEmpty())) {
      std::pair<std::string, std::string> p = absl::StrSplit(kv, '=');
      int n = 0;
      if (absl::SimpleAtoi(p.second, &n)) view.kinds[p.first] = n;
    }
  }
  if (!dump) {
    CompareWithOurReader(path, false, &view);
    return view;
  }
  view.kinds.clear();
  std::vector<std::string> args = {"dump"};
  if (allow_broken_tail) args.push_back("-allow-broken-tail");
  args.push_back(path);
  absl::StatusOr<interop::GoRunResult> d = interop::RunGoTool(args);
  if (!d.ok()) return d.status();
  for (absl::string_view line :
       absl::StrSplit(d->stdout_data, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "END ")) {
      view.end_line = std::string(line);
      continue;
    }
    view.events.emplace_back(line);
    std::string kind(line.substr(0, line.find(' ')));
    ++view.kinds[kind];
  }
  CompareWithOurReader(path, true, &view);
  return view;
}

}  // namespace gentrace::testing
