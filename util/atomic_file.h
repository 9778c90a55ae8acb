// Files, crash-safely: output goes to a temporary file beside the target, is
// flushed to disk, then renamed over the target. A reader never sees a partial
// file, and a failed write leaves the previous file (if any) untouched.
//
//   WriteFileAtomically(path, bytes)  — temp file + fsync + rename
//   ReadFileToString(path)            — the whole file (NotFound when absent)
//   FileExists(path)                  — any kind of file, no error on failure
//
// Example:
//   absl::Status s = diffmem::util::WriteFileAtomically("out/grid.png", bytes);
//   if (!s.ok()) { ... }  // "out/grid.png: cannot create ...: No such file ..."

#ifndef DIFFMEM_UTIL_ATOMIC_FILE_H_
#define DIFFMEM_UTIL_ATOMIC_FILE_H_

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace diffmem {
namespace util {

// Replaces `path` with `contents`, atomically (temp file + fsync + rename).
inline absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents) {
  const std::string tmp = absl::StrCat(path, ".tmp.", ::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat(path, ": cannot create temporary file ", tmp, ": ", std::strerror(errno)));
  }
  const char* p = contents.data();
  size_t left = contents.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return absl::UnavailableError(absl::StrCat(path, ": write failed: ", std::strerror(err)));
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return absl::UnavailableError(absl::StrCat(path, ": flush failed: ", std::strerror(err)));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return absl::UnavailableError(absl::StrCat(path, ": rename from ", tmp, " failed: ", std::strerror(err)));
  }
  return absl::OkStatus();
}

// Reads a whole file; NotFound when it does not exist or cannot be opened.
inline absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
  }
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat(path, ": read failed"));
  return out.str();
}

// Whether `path` exists (false also when it cannot be examined).
inline bool FileExists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec);
}

}  // namespace util
}  // namespace diffmem

#endif  // DIFFMEM_UTIL_ATOMIC_FILE_H_
