// Tests of OutputFile: an output appears whole or not at all, replaces a
// file keeping its permissions, follows a symbolic link, and writes
// straight into what is not a regular file.
#include "tools/gentrace/output_file.h"

#include <dirent.h>
#include <errno.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tools/gentrace/test_process.h"

namespace gentrace::tools {
namespace {

// A fresh directory for one test.
std::string TestDir(const std::string& name) {
  const char* t = std::getenv("TEST_TMPDIR");
  const std::string dir = absl::StrCat(t != nullptr ? t : "/tmp", "/", name);
  EXPECT_TRUE(mkdir(dir.c_str(), 0755) == 0 || errno == EEXIST) << dir;
  return dir;
}

std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      const std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

mode_t Mode(const std::string& path) {
  struct stat st;
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(OutputFileTest, AppearsOnlyOnCommit) {
  const std::string dir = TestDir("commit");
  const std::string path = dir + "/out";
  {
    absl::StatusOr<std::unique_ptr<OutputFile>> out = OutputFile::Create(path);
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_TRUE((*out)->sink()->WriteString("hello ").ok());
    ASSERT_TRUE((*out)->sink()->WriteString(std::string(100000, 'x')).ok());
    // Written so far, but not there yet: only a temporary file is.
    EXPECT_EQ(access(path.c_str(), F_OK), -1);
    std::vector<std::string> during = Entries(dir);
    ASSERT_EQ(during.size(), 1u);
    EXPECT_EQ(during[0].rfind(".out.tmp-", 0), 0u) << during[0];
    ASSERT_TRUE((*out)->Commit().ok());
    EXPECT_FALSE((*out)->Commit().ok());  // once
  }
  EXPECT_EQ(ReadFileOrEmpty(path), "hello " + std::string(100000, 'x'));
  EXPECT_EQ(Entries(dir), std::vector<std::string>{"out"});
}

TEST(OutputFileTest, WithoutCommitLeavesNothingAndKeepsTheOldFile) {
  const std::string dir = TestDir("abandon");
  const std::string path = dir + "/out";
  {
    absl::StatusOr<std::unique_ptr<OutputFile>> out = OutputFile::Create(path);
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_TRUE((*out)->sink()->WriteString("partial").ok());
  }
  EXPECT_EQ(Entries(dir), std::vector<std::string>{});

  ASSERT_TRUE(WriteFile(path, "old"));
  {
    absl::StatusOr<std::unique_ptr<OutputFile>> out = OutputFile::Create(path);
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_TRUE((*out)->sink()->WriteString("partial").ok());
    ASSERT_TRUE((*out)->sink()->Flush().ok());
  }
  EXPECT_EQ(ReadFileOrEmpty(path), "old");
  EXPECT_EQ(Entries(dir), std::vector<std::string>{"out"});
}

TEST(OutputFileTest, ReplacementKeepsPermissions) {
  const std::string dir = TestDir("mode");
  const std::string path = dir + "/out";
  ASSERT_TRUE(WriteFile(path, "old"));
  ASSERT_EQ(chmod(path.c_str(), 0600), 0);
  absl::StatusOr<std::unique_ptr<OutputFile>> out = OutputFile::Create(path);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_TRUE((*out)->sink()->WriteString("new").ok());
  ASSERT_TRUE((*out)->Commit().ok());
  EXPECT_EQ(ReadFileOrEmpty(path), "new");
  EXPECT_EQ(Mode(path), 0600u);

  // A new file: 0666 less the umask.
  const mode_t old_umask = umask(022);
  out = OutputFile::Create(dir + "/fresh");
  umask(old_umask);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_TRUE((*out)->Commit().ok());
  EXPECT_EQ(Mode(dir + "/fresh"), 0644u);
}

TEST(OutputFileTest, FollowsASymbolicLink) {
  const std::string dir = TestDir("link");
  ASSERT_TRUE(WriteFile(dir + "/target", "old"));
  ASSERT_EQ(symlink("target", (dir + "/link").c_str()), 0);
  absl::StatusOr<std::unique_ptr<OutputFile>> out =
      OutputFile::Create(dir + "/link");
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_TRUE((*out)->sink()->WriteString("new").ok());
  ASSERT_TRUE((*out)->Commit().ok());
  struct stat st;
  ASSERT_EQ(lstat((dir + "/link").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(ReadFileOrEmpty(dir + "/target"), "new");
}

TEST(OutputFileTest, WritesStraightIntoWhatIsNotARegularFile) {
  // /dev/null must not be replaced by a file.
  absl::StatusOr<std::unique_ptr<OutputFile>> out =
      OutputFile::Create("/dev/null");
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_TRUE((*out)->sink()->WriteString("gone").ok());
  ASSERT_TRUE((*out)->Commit().ok());
  struct stat st;
  ASSERT_EQ(stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));

  const std::string dir = TestDir("dir");
  out = OutputFile::Create(dir);
  EXPECT_FALSE(out.ok());
  EXPECT_EQ(Entries(dir), std::vector<std::string>{});
}

TEST(OutputFileTest, FailsUpFrontWhereItCannotWrite) {
  absl::StatusOr<std::unique_ptr<OutputFile>> out =
      OutputFile::Create("/nonexistent-dir/out");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().message(),
            "cannot create a temporary file for /nonexistent-dir/out: No such "
            "file or directory");
}

}  // namespace
}  // namespace gentrace::tools
