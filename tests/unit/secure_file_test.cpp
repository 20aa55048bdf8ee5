// Safe reads refuse every unsafe file with the reason; atomic writes are 0600 and complete.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include "shared/secure_file.h"
#include "test_support.h"

using namespace ckh;
using ckh::test::TempDir;
using ckh::test::write_file;

TEST_CASE("secure_file: reads a private regular file") {
  TempDir dir;
  write_file(dir / "a", "hello");
  auto content = read_private_file(dir / "a", 100);
  REQUIRE(content);
  CHECK(*content == "hello");
}

TEST_CASE("secure_file: missing file is not_found") {
  TempDir dir;
  auto content = read_private_file(dir / "missing", 100);
  REQUIRE_FALSE(content);
  CHECK(content.error().kind == ErrorClass::not_found);
}

TEST_CASE("secure_file: group/world bits, symlinks, directories and FIFOs are unsafe") {
  TempDir dir;
  write_file(dir / "open", "x", 0640);
  write_file(dir / "world", "x", 0604);
  write_file(dir / "target", "x");
  REQUIRE(::symlink((dir / "target").c_str(), (dir / "link").c_str()) == 0);
  REQUIRE(::mkdir((dir / "dir").c_str(), 0700) == 0);
  REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);
  for (const char* name : {"open", "world", "link", "dir", "fifo"}) {
    INFO(name);
    auto content = read_private_file(dir / name, 100);
    REQUIRE_FALSE(content);
    CHECK(content.error().kind == ErrorClass::unsafe);
    CHECK(content.error().message.find(dir / name) != std::string::npos);
  }
}

TEST_CASE("secure_file: a file over the size limit is corrupt") {
  TempDir dir;
  write_file(dir / "big", std::string(101, 'x'));
  auto content = read_private_file(dir / "big", 100);
  REQUIRE_FALSE(content);
  CHECK(content.error().kind == ErrorClass::corrupt);
  CHECK(read_private_file(dir / "big", 101));
}

TEST_CASE("secure_file: atomic write creates 0600 whatever the umask and replaces content whole") {
  TempDir dir;
  const mode_t old = ::umask(0);
  REQUIRE(write_private_file_atomic(dir / "f", "first"));
  ::umask(old);
  struct stat st {};
  REQUIRE(::stat((dir / "f").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(write_private_file_atomic(dir / "f", "second"));
  CHECK(*read_private_file(dir / "f", 100) == "second");
  // No temp files are left behind.
  int entries = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.path())) (void)e, ++entries;
  CHECK(entries == 1);
}

TEST_CASE("secure_file: atomic write replaces a planted symlink instead of writing through it") {
  TempDir dir;
  write_file(dir / "victim", "keep");
  REQUIRE(::symlink((dir / "victim").c_str(), (dir / "f").c_str()) == 0);
  REQUIRE(write_private_file_atomic(dir / "f", "new"));
  CHECK(*read_private_file(dir / "victim", 100) == "keep");
  CHECK(*read_private_file(dir / "f", 100) == "new");
}

TEST_CASE("secure_file: ensure_private_dir creates 0700 and refuses an open directory") {
  TempDir dir;
  REQUIRE(ensure_private_dir(dir / "a/b/state"));
  struct stat st {};
  REQUIRE(::stat((dir / "a/b/state").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  REQUIRE(::mkdir((dir / "open").c_str(), 0755) == 0);
  ::chmod((dir / "open").c_str(), 0755);
  auto refused = ensure_private_dir(dir / "open");
  REQUIRE_FALSE(refused);
  CHECK(refused.error().kind == ErrorClass::unsafe);
}
