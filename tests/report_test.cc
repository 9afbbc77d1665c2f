// `gentrace report` on the demo program's trace, drawn by headless
// Chromium: the page's script writes what it drew as data-* attributes of
// #render-result (tools/gentrace/report_assets.cc), Chromium dumps the DOM
// after the script ran, and the counts are compared with `gentrace stats
// --json` of the same trace and with what the demo says it did: regions,
// logs, goroutine tracks, CPU samples, the function on most samples'
// stacks; the canvases must have pixels drawn. Chromium missing is a
// failure, not a skip: ./dev deps installs it.
//
// Then the bound: the report of a 10-second demo trace (the largest this
// test makes) stays within a page size and runs in a limited address space
// (RLIMIT_AS). Not under sanitizers: their allocators reserve far more.
//
// The traces are checked by our reader (stats reads them to their end)
// and by Go's parser when the Go reference tool is available
// (GENTRACE_GOTOOL).
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "base/test_files.h"
#include "gtest/gtest.h"
#include "tests/interop/go_tool.h"
#include "tools/gentrace/test_process.h"

namespace gentrace {
namespace {

using tools::ProcessResult;

void ValidateWithGo(const std::string& path) {
  if (!interop::GoCheckEnabled("Go's parser on the trace")) return;
  absl::StatusOr<interop::GoValidateResult> v = interop::GoValidate(path);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->ok) << v->output;
}

// The integer that ends just before `after` in `text`; -1 if none.
int64_t IntBefore(const std::string& text, const std::string& after) {
  const size_t e = text.find(after);
  if (e == std::string::npos) return -1;
  size_t p = e;
  while (p > 0 && isdigit(static_cast<unsigned char>(text[p - 1]))) --p;
  int64_t v = -1;
  if (!absl::SimpleAtoi(text.substr(p, e - p), &v)) return -1;
  return v;
}

// The JSON array after `"key": ` in `json` (string-aware bracket
// matching); "" if there is none.
std::string JsonArray(const std::string& json, const std::string& key) {
  size_t p = json.find(absl::StrCat("\"", key, "\": ["));
  if (p == std::string::npos) return "";
  p = json.find('[', p);
  int depth = 0;
  bool in_string = false;
  for (size_t i = p; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      ++depth;
    } else if ((c == ']' || c == '}') && --depth == 0) {
      return json.substr(p, i + 1 - p);
    }
  }
  return "";
}

// The sum of every `"field": N` in `text`.
int64_t SumField(const std::string& text, const std::string& field) {
  const std::string key = absl::StrCat("\"", field, "\": ");
  int64_t sum = 0;
  for (size_t p = text.find(key); p != std::string::npos;
       p = text.find(key, p + 1)) {
    size_t e = p + key.size();
    while (e < text.size() && isdigit(static_cast<unsigned char>(text[e]))) ++e;
    int64_t v = 0;
    EXPECT_TRUE(
        absl::SimpleAtoi(text.substr(p + key.size(), e - p - key.size()), &v))
        << text.substr(p, 40);
    sum += v;
  }
  return sum;
}

// Headless Chromium: on PATH, in /usr/bin; "" if not installed.
std::string Chromium() {
  std::vector<std::string> dirs;
  if (const char* path = std::getenv("PATH"); path != nullptr) {
    dirs = absl::StrSplit(path, ':', absl::SkipEmpty());
  }
  dirs.push_back("/usr/bin");
  for (const std::string& dir : dirs) {
    for (const char* name : {"chromium", "chromium-browser"}) {
      const std::string p = absl::StrCat(dir, "/", name);
      if (access(p.c_str(), X_OK) == 0) return p;
    }
  }
  return "";
}

// The DOM of `html` after its scripts ran, as headless Chromium dumps it.
std::string DumpDom(const std::string& html) {
  const std::string chromium = Chromium();
  if (chromium.empty()) {
    ADD_FAILURE() << "chromium not found on PATH or in /usr/bin: install "
                     "Debian's chromium (./dev deps does)";
    return "";
  }
  const std::string profile = tools::TestTempPath("report-chromium-profile");
  mkdir(profile.c_str(), 0700);
  char abs[PATH_MAX];
  if (realpath(html.c_str(), abs) == nullptr) {
    ADD_FAILURE() << html << ": no such file";
    return "";
  }
  absl::StatusOr<ProcessResult> r = tools::RunProcess(
      "/usr/bin/timeout",
      {"120", chromium, "--headless", "--disable-gpu", "--no-sandbox",
       absl::StrCat("--user-data-dir=", profile), "--dump-dom",
       absl::StrCat("file://", abs)});
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return "";
  EXPECT_EQ(r->exit_code, 0) << r->stderr_data;
  return r->stdout_data;
}

// The value of data-`name` on #render-result in the dumped DOM, with
// Chromium's attribute escapes undone; "" if missing.
std::string Attribute(const std::string& dom, const std::string& name) {
  const size_t div = dom.find("<div id=\"render-result\"");
  if (div == std::string::npos) return "";
  const size_t end = dom.find('>', div);
  const std::string key = absl::StrCat(" data-", name, "=\"");
  const size_t p = dom.find(key, div);
  if (p == std::string::npos || p > end) return "";
  const size_t v = p + key.size();
  return absl::StrReplaceAll(
      dom.substr(v, dom.find('"', v) - v),
      {{"&quot;", "\""}, {"&lt;", "<"}, {"&gt;", ">"}, {"&amp;", "&"}});
}

int64_t IntAttribute(const std::string& dom, const std::string& name) {
  int64_t v = -1;
  if (!absl::SimpleAtoi(Attribute(dom, name), &v)) return -1;
  return v;
}

// Runs the demo for `seconds`; returns its standard output.
std::string RunDemo(const std::string& trace, int seconds) {
  absl::StatusOr<ProcessResult> demo =
      tools::RunProcess("tools/demo/demo", {absl::StrCat("--out=", trace),
                                            absl::StrCat("--seconds=", seconds),
                                            "--period_ms=150"});
  EXPECT_TRUE(demo.ok()) << demo.status();
  if (!demo.ok()) return "";
  EXPECT_EQ(demo->exit_code, 0) << demo->stderr_data;
  ValidateWithGo(trace);
  return demo->stdout_data;
}

TEST(ReportTest, DemoPageDrawsInChromium) {
  const std::string trace = tools::TestTempPath("report_demo.trace");
  const std::string out = RunDemo(trace, 1);
  const int64_t requests = IntBefore(out, " requests (");
  ASSERT_GT(requests, 0) << out;

  ProcessResult stats = tools::RunGentrace({"stats", "--json", trace});
  ASSERT_EQ(stats.exit_code, 0) << stats.stderr_data;
  const std::string& json = stats.stdout_data;
  const std::string html = tools::TestTempPath("report_demo.html");
  ProcessResult r = tools::RunGentrace({"report", trace, html});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;

  const std::string dom = DumpDom(html);
  ASSERT_EQ(Attribute(dom, "done"), "yes") << dom.substr(0, 2000);

  // Regions that began in the trace (ended or still open), logs, one
  // track per goroutine: as stats counts them, and as the demo did them
  // (five regions per request, one log each).
  const std::string regions = JsonArray(json, "regions");
  const int64_t stats_regions =
      SumField(regions, "count") + SumField(regions, "unfinished");
  EXPECT_EQ(IntAttribute(dom, "regions"), stats_regions);
  EXPECT_EQ(stats_regions, 5 * requests);
  const int64_t stats_logs = SumField(JsonArray(json, "logs"), "count");
  EXPECT_EQ(IntAttribute(dom, "logs"), stats_logs);
  EXPECT_EQ(stats_logs, requests);
  const std::string goroutines = JsonArray(json, "goroutines");
  int64_t n_goroutines = 0;
  for (size_t p = goroutines.find("\"goroutine\": "); p != std::string::npos;
       p = goroutines.find("\"goroutine\": ", p + 1)) {
    ++n_goroutines;
  }
  ASSERT_GT(n_goroutines, 0);
  EXPECT_EQ(IntAttribute(dom, "tracks"), n_goroutines);

  // The flame graph: all the samples, as many as the demo took; the
  // function on most stacks with as many samples as stats gives it.
  const int64_t samples = tools::JsonInt(json, "\"cpu\"", "samples");
  ASSERT_GT(samples, 0);
  EXPECT_EQ(IntAttribute(dom, "flame-samples"), samples);
  EXPECT_EQ(samples, IntBefore(out, " CPU samples ("));
  const std::string top = JsonArray(json, "top_cumulative");
  const int64_t top_samples = tools::JsonInt(top, "\"function\"", "samples");
  EXPECT_EQ(IntAttribute(dom, "flame-top-samples"), top_samples);
  const std::string top_fn = Attribute(dom, "flame-top");
  ASSERT_FALSE(top_fn.empty());
  EXPECT_EQ(tools::JsonInt(top, absl::StrCat("\"function\": \"", top_fn, "\""),
                           "samples"),
            top_samples)
      << top_fn;

  // What was drawn at full zoom-out: slices on every track (at least one
  // each), flame frames (at most the graph's), ink on both canvases.
  EXPECT_GE(IntAttribute(dom, "slices-drawn"), n_goroutines);
  EXPECT_GT(IntAttribute(dom, "timeline-pixels"), 10000);
  const int64_t nodes = IntAttribute(dom, "flame-nodes");
  EXPECT_GT(nodes, 2);
  EXPECT_GT(IntAttribute(dom, "flame-frames-drawn"), 2);
  EXPECT_LE(IntAttribute(dom, "flame-frames-drawn"), nodes);
  EXPECT_GT(IntAttribute(dom, "flame-pixels"), 10000);
  // The stats tables are in the page.
  EXPECT_NE(dom.find("<table id=\"regions\" data-rows=\"5\">"),
            std::string::npos);
}

// A script the test adds to a copy of the page, run after the page's own:
// it hovers over the first track's state row until a tooltip shows, turns
// the wheel ten steps in over the middle of the timeline, drags it 100
// pixels left, then clicks the flame graph's first frame below the root and
// then the root, and writes what it saw as data-test-* attributes.
constexpr char kInteraction[] = R"js(<script>
(function () {
  var tl = document.getElementById('timeline-canvas');
  var fl = document.getElementById('flame-canvas');
  var tip = document.getElementById('tooltip');
  var r = document.getElementById('render-result').dataset;
  function mouse(target, type, x, y) {
    var rect = target.getBoundingClientRect();
    target.dispatchEvent(new MouseEvent(type, {
      clientX: rect.left + x, clientY: rect.top + y, bubbles: true}));
  }
  r.testWidth = tl.width;
  for (var x = 181; x < tl.width; x += 7) {
    mouse(tl, 'mousemove', x, 18 + 8);
    if (tip.style.display === 'block') break;
  }
  r.testTooltip = tip.textContent;
  r.testTooltipX = x;
  var mid = Math.round((180 + tl.width) / 2);
  r.testMid = mid;
  var rect = tl.getBoundingClientRect();
  for (var i = 0; i < 10; i++) {
    tl.dispatchEvent(new WheelEvent('wheel', {deltaY: -100,
      clientX: rect.left + mid, clientY: rect.top + 30, bubbles: true,
      cancelable: true}));
  }
  r.testZoomed = r.view;
  mouse(tl, 'mousedown', mid, 30);
  mouse(tl, 'mousemove', mid - 100, 30);
  window.dispatchEvent(new MouseEvent('mouseup', {}));
  r.testDragged = r.view;
  tl.dispatchEvent(new MouseEvent('dblclick', {bubbles: true}));
  r.testReset = r.view;
  mouse(fl, 'click', 1, 18 + 9);
  r.testFlameClicked = r.flameFocus;
  mouse(fl, 'click', 1, 9);
  r.testFlameRoot = r.flameFocus;
})();
</script>
)js";

// The numbers of a data-* attribute "A,B".
std::pair<double, double> Pair(const std::string& s) {
  std::pair<double, double> p(-1, -1);
  const size_t c = s.find(',');
  if (c == std::string::npos || !absl::SimpleAtod(s.substr(0, c), &p.first) ||
      !absl::SimpleAtod(s.substr(c + 1), &p.second)) {
    ADD_FAILURE() << "not A,B: " << s;
  }
  return p;
}

// The timeline zooms around the pointer, pans by dragging, comes back on
// a double click, shows a tooltip; the flame graph zooms on a click and
// back on the root's: driven by synthetic events in headless Chromium,
// the views compared with the trace's duration from stats --json.
TEST(ReportTest, TimelineAndFlameGraphRespondToTheMouse) {
  const std::string trace = tools::TestTempPath("report_mouse.trace");
  RunDemo(trace, 1);
  ProcessResult stats = tools::RunGentrace({"stats", "--json", trace});
  ASSERT_EQ(stats.exit_code, 0) << stats.stderr_data;
  const double span = static_cast<double>(
      tools::JsonInt(stats.stdout_data, "\"error\"", "duration_ns"));
  ASSERT_GT(span, 0);
  const std::string html = tools::TestTempPath("report_mouse.html");
  ProcessResult r = tools::RunGentrace({"report", trace, html});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  std::string page = tools::ReadFileOrEmpty(html);
  const size_t body_end = page.rfind("</body>");
  ASSERT_NE(body_end, std::string::npos);
  page.insert(body_end, kInteraction);
  const std::string driven = tools::TestTempPath("report_mouse_driven.html");
  ASSERT_TRUE(tools::WriteFile(driven, page));
  const std::string dom = DumpDom(driven);
  ASSERT_EQ(Attribute(dom, "done"), "yes") << dom.substr(0, 2000);

  // The first track is the first goroutine met: a worker or the acceptor.
  const std::string tooltip = Attribute(dom, "test-tooltip");
  EXPECT_TRUE(absl::StartsWith(tooltip, "worker-") ||
              absl::StartsWith(tooltip, "acceptor"))
      << tooltip;
  EXPECT_TRUE(absl::StrContains(tooltip, " at ")) << tooltip;

  const double width = static_cast<double>(IntAttribute(dom, "test-width"));
  const double gutter = 180, mid = IntAttribute(dom, "test-mid");
  const std::pair<double, double> whole{0, span};
  // Ten wheel steps of 0.8 around the middle: the time under the pointer
  // stays where it was (within a pixel: the pointer's position is the
  // page's, in fractions of a pixel).
  const std::pair<double, double> zoomed = Pair(Attribute(dom, "test-zoomed"));
  const double fraction = (mid - gutter) / (width - gutter);
  const double pixel = span / (width - gutter);
  EXPECT_NEAR(zoomed.second - zoomed.first, span * std::pow(0.8, 10), 2);
  EXPECT_NEAR(zoomed.first + fraction * (zoomed.second - zoomed.first),
              whole.first + fraction * span, pixel);
  // Dragged 100 pixels left: 100 pixels' worth later.
  const std::pair<double, double> dragged =
      Pair(Attribute(dom, "test-dragged"));
  const double moved = 100 * (zoomed.second - zoomed.first) / (width - gutter);
  EXPECT_NEAR(dragged.first, zoomed.first + moved, pixel * std::pow(0.8, 10));
  EXPECT_NEAR(dragged.second, zoomed.second + moved, pixel * std::pow(0.8, 10));
  const std::pair<double, double> reset = Pair(Attribute(dom, "test-reset"));
  EXPECT_EQ(reset, whole);

  // The frame clicked is one of the root's callees, then the root again.
  const std::string clicked = Attribute(dom, "test-flame-clicked");
  EXPECT_NE(clicked, "");
  EXPECT_NE(clicked, "all samples");
  EXPECT_EQ(Attribute(dom, "test-flame-root"), "all samples");
}

// A page's size: 100 tracks x 8 rows x 2000 items of at most ~40 bytes,
// far above what this trace needs; the demo's 10 s page is ~2 MB.
constexpr int64_t kPageLimit = 8 << 20;
// The address space the report of the 10 s trace runs in.
constexpr rlim_t kMemoryLimit = 64 << 20;

TEST(ReportTest, LongDemoStaysBounded) {
  // The bound is the plain build's; a sanitizer's allocator reserves far
  // more address space than it uses.
  if (testing::kSanitizedBuild) {
    GTEST_SKIP() << "the sanitizer's allocator decides the address space";
  }
  const std::string trace = tools::TestTempPath("report_long.trace");
  const std::string out = RunDemo(trace, 10);
  const int64_t requests = IntBefore(out, " requests (");
  ASSERT_GT(requests, 0) << out;
  const std::string html = tools::TestTempPath("report_long.html");
  ProcessResult r = tools::RunGentrace({"report", trace, html});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  struct stat trace_st, html_st;
  ASSERT_EQ(stat(trace.c_str(), &trace_st), 0);
  ASSERT_EQ(stat(html.c_str(), &html_st), 0);
  std::printf("report of a %lld-byte trace (%lld requests): %lld bytes\n",
              static_cast<long long>(trace_st.st_size),
              static_cast<long long>(requests),
              static_cast<long long>(html_st.st_size));
  EXPECT_LT(html_st.st_size, kPageLimit);
  // The bound was reached: the page says how many slices were merged.
  EXPECT_GT(tools::JsonInt(tools::ReadFileOrEmpty(html), "\"tracks_dropped\"",
                           "items_merged"),
            0);
  EXPECT_EQ(tools::RunGentraceLimited({"report", trace, "-"}, kMemoryLimit), 0);
}

}  // namespace
}  // namespace gentrace
