// Test support for tests that make traces; see trace_check.h.
#include "tests/tracer/trace_check.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "format/batch.h"
#include "format/header.h"
#include "format/spec.h"
#include "reader/dump.h"
#include "reader/event.h"
#include "reader/reader.h"
#include "reader/validator.h"
#include "tests/interop/go_tool.h"
#include "tests/reader_conformance/conformance_util.h"

namespace gentrace::testing {

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

using KindCounts = std::map<std::string, int>;

std::string KindsString(const KindCounts& kinds) {
  return absl::StrJoin(kinds, " ", absl::PairFormatter("="));
}

// The batch framing as Go's raw reader needs it.
struct Framing {
  // "" or why Go's raw reader cannot read the trace: an experimental
  // batch's id that does not read alike as a byte and as a uvarint.
  std::string problem;
  // Where the last batch that could be read whole ends.
  uint64_t complete_batches_end = 0;
};

// Framing errors are left to the reader to report.
Framing CheckFraming(const std::string& bytes) {
  Framing f;
  const absl::Span<const uint8_t> data = absl::MakeConstSpan(
      reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  if (format::LooksLikeZstd(data)) return f;
  format::BatchReader r(data);
  if (!r.ReadHeader().ok()) return f;
  format::Batch b;
  for (;;) {
    f.complete_batches_end = r.offset();
    absl::StatusOr<bool> more = r.Next(&b);
    if (!more.ok() || !*more) return f;
    if (f.problem.empty() && b.experimental &&
        !format::ExperimentReadsAlikeInGo(b.experiment)) {
      f.problem = absl::StrCat(
          "the experimental batch at byte ", b.offset, " has experiment id ",
          int{b.experiment},
          ", which Go's raw reader reads as a varint: it misreads every byte "
          "after it");
    }
  }
}

// What gentrace's reader and validator make of a trace.
struct OurView {
  bool ok = false;
  std::string verdict;  // "gentrace: OK" or "gentrace: ERROR <why>"
  // Listed events (with `dump`): up to the last Sync for an accepted
  // broken tail, all of them otherwise.
  conformance::OurEvents events;
  Framing framing;
  KindCounts kinds_all;     // every event the reader delivered
  KindCounts kinds_listed;  // the events listed (counted even without dump)
};

OurView ReadOurs(const std::string& path, bool allow_broken_tail, bool dump) {
  OurView ours;
  ours.ok = true;
  auto fail = [&ours](absl::string_view why) {
    if (!ours.ok) return;  // the first problem is the verdict
    ours.ok = false;
    ours.verdict = absl::StrCat("gentrace: ERROR ", why);
  };
  absl::StatusOr<std::unique_ptr<reader::Reader>> r =
      reader::Reader::Open(path);
  if (!r.ok()) {
    fail(r.status().message());
    ours.events.end = reader::DumpErrorLine(r.status().message());
    return ours;
  }
  reader::Validator validator;
  reader::Event ev;
  std::string line;
  uint64_t n = 0;
  size_t listed_at_sync = 0;  // listed events up to the last Sync
  KindCounts kinds_at_sync;
  while ((*r)->ReadEvent(&ev)) {
    ++n;
    const std::string kind(reader::EventKindName(ev.kind()));
    ++ours.kinds_all[kind];
    if (absl::Status s = validator.Event(ev); !s.ok()) {
      line.clear();
      reader::AppendDumpLine(ev, &line);
      fail(absl::StrCat("validator: event #", n, " (", line,
                        "): ", s.message()));
    }
    if (dump) {
      line.clear();
      reader::AppendDumpLine(ev, &line);
      ours.events.lines.push_back(line);
      ours.events.raw_times.push_back((*r)->last_raw_time());
    }
    if (ev.kind() == reader::EventKind::kSync) {
      listed_at_sync = ours.events.lines.size();
      kinds_at_sync = ours.kinds_all;
    }
  }
  const absl::Status& status = (*r)->status();
  ours.kinds_listed = ours.kinds_all;
  if (status.ok()) {
    ours.events.end = "END ok";
  } else {
    ours.events.end = reader::DumpErrorLine(status.message());
    if (allow_broken_tail && (*r)->complete_generations() > 0) {
      // As Go's dump -allow-broken-tail and go tool trace do: keep the
      // complete generations.
      ours.events.lines.resize(listed_at_sync);
      ours.events.raw_times.resize(listed_at_sync);
      ours.kinds_listed = kinds_at_sync;
    } else {
      fail(status.message());
    }
  }
  ours.framing = CheckFraming(ReadFile(path));
  if (!ours.framing.problem.empty()) fail(ours.framing.problem);
  if (ours.ok) ours.verdict = "gentrace: OK";
  return ours;
}

// Counts by kind from Go's "by kind: Log=3 RegionBegin=2 ..." summary line.
KindCounts KindsFromSummary(absl::string_view output) {
  KindCounts kinds;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (!absl::StartsWith(line, "by kind:")) continue;
    for (absl::string_view kv :
         absl::StrSplit(line.substr(8), ' ', absl::SkipEmpty())) {
      std::pair<std::string, std::string> p = absl::StrSplit(kv, '=');
      int n = 0;
      if (absl::SimpleAtoi(p.second, &n)) kinds[p.first] = n;
    }
  }
  return kinds;
}

// Go's side of ViewWithGo; fills in `view` and compares with `ours`.
absl::Status CheckWithGo(const std::string& path, bool allow_broken_tail,
                         bool dump, const OurView& ours, GoView* view) {
  absl::StatusOr<interop::GoValidateResult> v =
      interop::GoValidate(path, allow_broken_tail);
  if (!v.ok()) return v.status();
  absl::StatusOr<interop::GoRawResult> raw = interop::GoRawRead(path);
  if (!raw.ok()) return raw.status();
  // A cut tail is the end of a trace allowed to break off, if Go's raw
  // reader got as far as the batch that is cut: a misread can also run off
  // the end of the file.
  const bool raw_ok = raw->reached_end ||
                      (allow_broken_tail && raw->cut_tail &&
                       raw->end_offset >= ours.framing.complete_batches_end);
  view->go_checked = true;
  view->valid = v->ok && raw_ok;
  view->result_line = v->ok && !raw_ok ? raw->result_line : v->result_line;
  view->validate_output =
      absl::StrCat(ours.verdict, "\n", v->output, raw->result_line, "\n");
  view->kinds = KindsFromSummary(v->output);

  std::string go_dump;
  std::vector<std::string> args = {"dump"};
  if (allow_broken_tail) args.push_back("-allow-broken-tail");
  args.push_back(path);
  // Go orders the events of different threads with equal times at random
  // and, in rare cases, that order shows in the events themselves: ours
  // must be one of the dumps Go gives.
  std::string first_difference;
  for (int attempt = 0; dump && attempt < 5; ++attempt) {
    absl::StatusOr<interop::GoRunResult> d = interop::RunGoTool(args);
    if (!d.ok()) return d.status();
    std::string difference = conformance::CompareWithGo(
        ours.events, d->stdout_data,
        /*any_error=*/
        absl::StrContains(d->stdout_data, "PANIC in an accessor"));
    if (attempt == 0 || difference.empty()) go_dump = d->stdout_data;
    if (difference.empty()) {
      first_difference.clear();
      break;
    }
    if (first_difference.empty()) first_difference = std::move(difference);
  }
  if (dump) {
    view->events.clear();
    view->kinds.clear();
    for (absl::string_view line :
         absl::StrSplit(go_dump, '\n', absl::SkipEmpty())) {
      if (absl::StartsWith(line, "END ")) {
        view->end_line = std::string(line);
        continue;
      }
      view->events.emplace_back(line);
      ++view->kinds[std::string(line.substr(0, line.find(' ')))];
    }
  }

  if (ours.ok != view->valid) {
    view->ours_difference =
        absl::StrCat("Go says ", view->result_line, "; ", ours.verdict);
    return absl::OkStatus();
  }
  const KindCounts& our_kinds = dump ? ours.kinds_listed : ours.kinds_all;
  if (our_kinds != view->kinds) {
    view->ours_difference =
        absl::StrCat("counts by kind differ:\n  ours: ", KindsString(our_kinds),
                     "\n  Go:   ", KindsString(view->kinds));
    return absl::OkStatus();
  }
  if (!first_difference.empty()) {
    view->ours_difference = absl::StrCat(
        "our dump is none of Go's in 5 runs; the first: ", first_difference);
    return absl::OkStatus();
  }
  view->ours_agree = true;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<GoView> ViewWithGo(const std::string& path,
                                  bool allow_broken_tail, bool dump) {
  // gentrace's own reader and validator first: they always run.
  const OurView ours = ReadOurs(path, allow_broken_tail, dump);
  GoView view;
  const std::string name = path.substr(path.rfind('/') + 1);
  if (interop::GoCheckEnabled(
          absl::StrCat("Go's parser, validator and raw reader on ", name))) {
    if (absl::Status s =
            CheckWithGo(path, allow_broken_tail, dump, ours, &view);
        !s.ok()) {
      return s;
    }
    return view;
  }
  view.valid = ours.ok;
  view.result_line = ours.verdict;
  view.validate_output = ours.verdict;
  view.events = ours.events.lines;
  view.kinds = dump ? ours.kinds_listed : ours.kinds_all;
  if (dump) view.end_line = ours.events.end;
  view.ours_agree = true;
  return view;
}

absl::StatusOr<std::string> CutGenerations(const std::string& path,
                                           uint64_t from) {
  const std::string bytes = ReadFile(path);
  format::BatchReader r(absl::MakeConstSpan(
      reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  if (absl::StatusOr<format::Version> v = r.ReadHeader(); !v.ok()) {
    return v.status();
  }
  std::string out = bytes.substr(0, r.offset());
  format::Batch b;
  int kept = 0;
  for (;;) {
    absl::StatusOr<bool> more = r.Next(&b);
    if (!more.ok()) return more.status();
    if (!*more) break;
    if (b.gen >= from) {
      out.append(bytes, b.offset, r.offset() - b.offset);
      ++kept;
    }
  }
  if (kept == 0) {
    return absl::NotFoundError(
        absl::StrCat(path, " has no generation from ", from, " on"));
  }
  const std::string window =
      TempPath(absl::StrCat(path.substr(path.rfind('/') + 1), "-from-", from));
  std::ofstream f(window, std::ios::binary | std::ios::trunc);
  f.write(out.data(), static_cast<std::streamsize>(out.size()));
  f.close();
  if (!f) return absl::InternalError(absl::StrCat("cannot write ", window));
  return window;
}

}  // namespace gentrace::testing
