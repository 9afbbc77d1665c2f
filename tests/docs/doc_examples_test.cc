// The examples in docs/*.md compile (the generated doc_examples.inc holds
// them all; see extract_examples.awk), with the tracer compiled in or out
// depending on the target. The test checks that the extraction found every
// ```c++ block the Markdown files have, counted here independently, so an
// extractor that silently skipped blocks would fail.
#include <gtest/gtest.h>

#include <dirent.h>

#include <fstream>
#include <string>

#include "tests/docs/doc_examples.inc"

namespace {

int CountCppBlocks(const std::string& path) {
  std::ifstream in(path);
  int n = 0;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("```c++", 0) == 0) ++n;
  }
  return n;
}

TEST(DocExamplesTest, EveryCppBlockIsCompiled) {
  // Every Markdown file of docs/ is a data file of this test.
  int expected = 0, docs = 0;
  DIR* dir = opendir("docs");
  ASSERT_NE(dir, nullptr) << "docs/ is not in the test's runfiles";
  while (dirent* e = readdir(dir)) {
    const std::string name = e->d_name;
    if (name.size() > 3 && name.substr(name.size() - 3) == ".md") {
      ++docs;
      expected += CountCppBlocks("docs/" + name);
    }
  }
  closedir(dir);
  EXPECT_GE(docs, 3);
  EXPECT_GT(kDocExampleCount, 0);
  EXPECT_EQ(kDocExampleCount, expected);
  for (const DocExample& e : kDocExamples) {
    EXPECT_NE(std::string(e.where).find("docs/"), std::string::npos);
  }
}

}  // namespace
