// Output files that appear whole or not at all; see output_file.h.
#include "tools/gentrace/output_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace gentrace::tools {
namespace {

absl::Status ErrnoError(absl::string_view what, const std::string& path,
                        int err) {
  return absl::PermissionDeniedError(
      absl::StrCat(what, " ", path, ": ", std::strerror(err)));
}

// The file a symbolic link names, or `path` itself. A dangling link is
// replaced like a file.
std::string FollowLink(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return path;
  char* real = realpath(path.c_str(), nullptr);
  if (real == nullptr) return path;
  std::string target(real);
  std::free(real);
  return target;
}

}  // namespace

absl::StatusOr<std::unique_ptr<OutputFile>> OutputFile::Create(
    const std::string& path) {
  std::unique_ptr<OutputFile> out(new OutputFile());
  if (path == "-") {
    out->path_ = path;
    out->sink_ = std::make_unique<format::FdSink>(1, /*owned=*/false);
    return out;
  }
  out->path_ = FollowLink(path);
  struct stat old;
  const bool exists = stat(out->path_.c_str(), &old) == 0;
  if (exists && !S_ISREG(old.st_mode)) {
    // A device, a FIFO, a directory (which fails here): nothing to replace.
    absl::StatusOr<std::unique_ptr<format::FdSink>> direct =
        format::FdSink::Open(out->path_);
    if (!direct.ok()) return direct.status();
    out->sink_ = *std::move(direct);
    return out;
  }

  // ".<name>.tmp-<pid>-<n>" beside the output, so that the rename stays
  // within one file system; created exclusively, never an existing file.
  const size_t slash = out->path_.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "" : out->path_.substr(0, slash + 1);
  const std::string base =
      slash == std::string::npos ? out->path_ : out->path_.substr(slash + 1);
  static std::atomic<unsigned> counter{0};
  int fd = -1;
  for (int attempt = 0; fd < 0; ++attempt) {
    out->temp_path_ = absl::StrCat(dir, ".", base, ".tmp-", getpid(), "-",
                                   counter.fetch_add(1));
    // 0666 less the umask, as for any new file.
    fd = open(out->temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
              0666);
    if (fd < 0 && (errno != EEXIST || attempt == 100)) {
      const int err = errno;
      out->temp_path_.clear();
      return ErrnoError("cannot create a temporary file for", out->path_, err);
    }
  }
  if (exists) {
    // The replacement keeps the permissions (and, where allowed, the owner)
    // of the file it replaces.
    (void)fchmod(fd, old.st_mode & 07777);
    if (old.st_uid != geteuid() || old.st_gid != getegid()) {
      (void)fchown(fd, old.st_uid, old.st_gid);
    }
  }
  out->fd_ = fd;
  out->sink_ = std::make_unique<format::FdSink>(fd, /*owned=*/true);
  return out;
}

OutputFile::~OutputFile() {
  if (!committed_) RemoveTemporary();
}

void OutputFile::RemoveTemporary() {
  if (temp_path_.empty()) return;
  sink_.reset();  // closes it
  unlink(temp_path_.c_str());
  temp_path_.clear();
}

absl::Status OutputFile::Commit() {
  if (committed_) return absl::FailedPreconditionError("committed twice");
  if (temp_path_.empty()) {
    committed_ = true;
    return sink_->Close();
  }
  absl::Status st = sink_->Flush();
  if (st.ok() && fsync(fd_) != 0)
    st = ErrnoError("cannot sync", temp_path_, errno);
  if (st.ok()) st = sink_->Close();
  if (st.ok() && rename(temp_path_.c_str(), path_.c_str()) != 0) {
    st = ErrnoError(absl::StrCat("cannot rename ", temp_path_, " to"), path_,
                    errno);
  }
  if (!st.ok()) {
    RemoveTemporary();
    return st;
  }
  temp_path_.clear();
  committed_ = true;
  return absl::OkStatus();
}

}  // namespace gentrace::tools
