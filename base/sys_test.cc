// The system helpers against what the kernel and libc say directly.
#include "base/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"

namespace gentrace::base {
namespace {

std::string TempPath(const std::string& name) {
  const char* d = std::getenv("TEST_TMPDIR");
  return absl::StrCat(d != nullptr ? d : "/tmp", "/", getpid(), "-", name);
}

void WriteFile(const std::string& path, const std::string& data) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, data.data(), data.size()),
            static_cast<ssize_t>(data.size()));
  close(fd);
}

TEST(SysTest, GetTidIsTheThreadsOwnId) {
  // The main thread's id is the process id; another thread's is not.
  EXPECT_EQ(GetTid(), getpid());
  pid_t other = 0;
  std::thread t([&] { other = GetTid(); });
  t.join();
  EXPECT_NE(other, 0);
  EXPECT_NE(other, getpid());
}

TEST(SysTest, ErrnoNamesAndTexts) {
  EXPECT_EQ(ErrnoName(EACCES), "EACCES");
  EXPECT_EQ(ErrnoName(EPIPE), "EPIPE");
  EXPECT_EQ(ErrnoName(12345), "errno 12345");
  EXPECT_EQ(ErrnoText(ENOENT), "ENOENT: No such file or directory");
  EXPECT_EQ(ErrnoText(12345), "errno 12345: Unknown error 12345");
}

TEST(SysTest, ReadSmallFileWholeCutOrEmpty) {
  const std::string path = TempPath("small");
  std::string data;
  for (int i = 0; i < 3000; ++i) absl::StrAppend(&data, i, "\n");
  ASSERT_GT(data.size(), 4096u);  // more than one read
  WriteFile(path, data);
  EXPECT_EQ(ReadSmallFile(path), data);
  EXPECT_EQ(ReadSmallFile(path, 5000), data.substr(0, 5000));
  EXPECT_EQ(ReadSmallFile(path, 0), "");
  unlink(path.c_str());
  EXPECT_EQ(ReadSmallFile(path), "");
  // A directory opens but cannot be read: empty, not partial.
  EXPECT_EQ(ReadSmallFile("/"), "");
  // A /proc file, the kind of file this is for.
  EXPECT_NE(ReadSmallFile("/proc/self/status").find("Pid:"), std::string::npos);
}

}  // namespace
}  // namespace gentrace::base
