// The data of `gentrace report`'s page: per goroutine a track of state
// slices, nested regions and log marks, and a CPU flame graph, gathered in
// one streaming pass over a trace and written as one JSON object that the
// page's script draws.
//
// What a track holds (docs/CLI.md says the same for users):
// * "states": what the goroutine did, as slices "running", "syscall" and
//   "blocked: REASON" (Go's reason string; "blocked" without one). Waiting
//   to run is not drawn.
// * "regions": one list per nesting depth (0 outermost) of the regions it
//   began and ended in the trace (named by the region's type). Regions
//   begun before the trace are left out; slices and regions still open at
//   the trace's last event end there.
// * "logs": marks (zero-length items) named by the log's category.
// A track is named like `gentrace perfetto` names it: a gentrace thread's
// own goroutine by the thread's name, a fiber by its name, any other
// goroutine "G<id>" and the function it was created to run.
//
// Bounds, so that the page and the memory used stay bounded on any trace
// (ReportLimits): at most `max_tracks` tracks (goroutines past that are
// counted, not drawn); per list (a track's states, each of its region
// depths, its logs) at most `max_items` items; region depths from
// `max_depth` on are counted, not drawn. A list that fills up is made
// coarser: with w = 4 * (its time span) / max_items, every run of items
// shorter than w with gaps shorter than w between them becomes one
// aggregated item, as do later short items that follow within w. An
// aggregated item keeps the name its items share ("merged" if they differ)
// and counts them. With the default 2000 items, w is 1/500 of the row's
// span: 2 pixels of a timeline 1000 pixels wide at full zoom-out. The flame
// graph holds at most `max_frames` frames; a sample whose stack needs more ends
// at the deepest frame already there (which then shows time of its own).
//
// JSON (times in ns from the trace's first event; items are
// [start, duration, name, count], names index "strings"):
//   {"start_ns": N, "end_ns": N, "strings": [S...],
//    "limits": {"tracks": N, "items": N, "depth": N, "frames": N},
//    "tracks": [{"name": S, "goroutine": N, "states": [ITEM...],
//                "regions": [[ITEM...]...], "logs": [ITEM...]}...],
//    "tracks_dropped": N, "regions_dropped": N, "items_merged": N,
//    "samples": N, "flame": [[PARENT, NAME, VALUE]...],
//    "frames_dropped": N}
// "items_merged" counts the items that went into aggregated ones. "flame"
// lists frames in the order they were made (a parent before its children;
// the first is the root, "all samples", parent -1); VALUE is the samples
// whose stack passes through the frame. "frames_dropped" counts the
// samples cut short by max_frames.
#ifndef GENTRACE_TOOLS_GENTRACE_REPORT_DATA_H_
#define GENTRACE_TOOLS_GENTRACE_REPORT_DATA_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "reader/event.h"
#include "reader/generation.h"

namespace gentrace::tools {

struct ReportLimits {
  size_t max_tracks = 100;
  size_t max_items = 2000;  // at least 8
  size_t max_depth = 6;
  size_t max_frames = 20000;
};

// A time-ordered list of items of at most `max_items`, coarsened as the
// file comment says.
class ReportItemList {
 public:
  struct Item {
    int64_t start = 0;
    int64_t end = 0;
    uint32_t name = 0;
    uint32_t count = 1;  // > 1: an aggregated item
  };

  // Appends [start, end] named `name`; starts are not before the previous
  // item's end. `merged_name` names an aggregate of differing names.
  void Add(int64_t start, int64_t end, uint32_t name, uint32_t merged_name,
           size_t max_items);

  const std::vector<Item>& items() const { return items_; }
  int64_t width() const { return width_; }

 private:
  // Merges `it` into `out`'s last item if both are short and close.
  void Push(const Item& it, uint32_t merged_name, std::vector<Item>* out) const;

  std::vector<Item> items_;
  int64_t width_ = 0;  // items shorter than this merge with their neighbours
};

class ReportData {
 public:
  explicit ReportData(ReportLimits limits = ReportLimits());

  // Takes the next event; `gen` is the reader's generation() at the time.
  void Add(const reader::Event& ev, const reader::Generation* gen);

  // Ends what is still open at the last event's time and returns the JSON
  // object (no trailing newline). Call once.
  std::string FinishJson();

 private:
  struct Track {
    std::string name;
    int64_t goroutine = 0;
    ReportItemList states;
    std::vector<ReportItemList> regions;  // by depth
    ReportItemList logs;
  };
  struct Goroutine {
    int track = -1;  // index in tracks_; -1: not drawn (over max_tracks)
    uint32_t state = 0;
    bool state_open = false;
    int64_t since = 0;
    std::vector<std::pair<uint32_t, int64_t>> regions;  // open: name, begin
  };
  struct FlameNode {
    int32_t parent = -1;
    uint32_t name = 0;
    uint64_t value = 0;
  };

  uint32_t Intern(absl::string_view s);
  Goroutine& G(int64_t id, absl::string_view start_fn = "");
  void NewGeneration(const reader::Generation& gen);
  void Transition(const reader::Event& ev);
  void EndRegion(Goroutine* g, size_t index, int64_t t);
  void Sample(const reader::Event& ev);

  const ReportLimits limits_;
  bool new_generation_ = true;
  bool started_ = false;
  int64_t start_ = 0;
  int64_t end_ = 0;

  std::vector<std::string> strings_;
  absl::flat_hash_map<std::string, uint32_t> string_ids_;
  uint32_t merged_name_ = 0;

  std::vector<std::unique_ptr<Track>> tracks_;
  std::map<int64_t, Goroutine> goroutines_;
  uint64_t tracks_dropped_ = 0;
  uint64_t regions_dropped_ = 0;

  absl::flat_hash_map<int64_t, std::string> thread_names_;  // by goroutine
  absl::flat_hash_map<int64_t, std::string> fiber_names_;   // by goroutine

  uint64_t samples_ = 0;
  std::vector<FlameNode> flame_;
  absl::flat_hash_map<std::pair<int32_t, uint32_t>, int32_t> children_;
  uint64_t frames_dropped_ = 0;
};

}  // namespace gentrace::tools

#endif  // GENTRACE_TOOLS_GENTRACE_REPORT_DATA_H_
