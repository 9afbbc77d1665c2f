// The public header's macros and its compiled-out variant, checked on real
// traces read back with gentrace's reader:
//  * two region macros on one line compile and record two regions;
//  * GENTRACE_FUNCTION_REGION names the region after the function;
//  * a translation unit compiled with -DGENTRACE_DISABLE links into a traced
//    program and records nothing, while the rest of the program traces.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "reader/reader.h"
#include "tests/api/compiled_out_part.h"
#include "tracer/gentrace.h"

namespace gentrace {
namespace {

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
}

// Region begins and ends by name, and log categories, as our reader sees
// them.
struct Seen {
  std::map<std::string, int> region_begins;
  std::map<std::string, int> region_ends;
  std::map<std::string, int> tasks;
  std::map<std::string, int> log_categories;
};

Seen ReadTrace(const std::string& path) {
  Seen seen;
  absl::StatusOr<std::unique_ptr<reader::Reader>> r =
      reader::Reader::Open(path);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return seen;
  reader::Event ev;
  while ((*r)->ReadEvent(&ev)) {
    switch (ev.kind()) {
      case reader::EventKind::kRegionBegin:
        ++seen.region_begins[std::string(ev.region().type)];
        break;
      case reader::EventKind::kRegionEnd:
        ++seen.region_ends[std::string(ev.region().type)];
        break;
      case reader::EventKind::kTaskBegin:
        ++seen.tasks[std::string(ev.task().type)];
        break;
      case reader::EventKind::kLog:
        ++seen.log_categories[std::string(ev.log().category)];
        break;
      default:
        break;
    }
  }
  EXPECT_TRUE((*r)->status().ok()) << (*r)->status();
  return seen;
}

void ParseRequest() {
  GENTRACE_FUNCTION_REGION();
  GENTRACE_LOG("api-test", "inside ParseRequest");
}

TEST(ApiTest, MacrosAndACompiledOutPartInOneProgram) {
  const std::string path = TempPath("api.trace");
  Options o;
  o.path = path;
  ASSERT_TRUE(Start(o).ok());
  {
    // clang-format off
    GENTRACE_REGION("first on the line"); GENTRACE_REGION("second on the line");
    // clang-format on
    ParseRequest();
    absl::Status s = gentrace_test::CompiledOutWork();
    EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented) << s;
  }
  ASSERT_TRUE(Stop().ok());

  const Seen seen = ReadTrace(path);
  EXPECT_EQ(seen.region_begins.at("first on the line"), 1);
  EXPECT_EQ(seen.region_ends.at("first on the line"), 1);
  EXPECT_EQ(seen.region_begins.at("second on the line"), 1);
  EXPECT_EQ(seen.region_ends.at("second on the line"), 1);
  EXPECT_EQ(seen.region_begins.at("ParseRequest"), 1);
  EXPECT_EQ(seen.region_ends.at("ParseRequest"), 1);
  EXPECT_EQ(seen.log_categories.at("api-test"), 1);
  // Nothing of the compiled-out part is in the trace.
  for (const auto& [name, n] : seen.region_begins) {
    EXPECT_EQ(name.find("compiled-out"), std::string::npos) << name;
    EXPECT_NE(name, "CompiledOutWork");
  }
  EXPECT_EQ(seen.tasks.count("compiled-out task"), 0u);
  EXPECT_EQ(seen.log_categories.count("compiled-out"), 0u);
}

}  // namespace
}  // namespace gentrace
