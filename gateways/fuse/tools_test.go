package fuse_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/annal-storage/annal/gateways/fuse"
)

// TestStandardTools: cp -a, rsync -a, tar x, git clone, sqlite3 and fio
// work inside a mount and produce what they produce on a local disk. A
// tool that is not installed is skipped.
func TestStandardTools(t *testing.T) {
	n := startNode(t)
	mnt := mountNode(t, n, "fs", fuse.MountOptions{})
	src := sourceTree(t)
	for _, tc := range []struct {
		tool string
		fn   func(t *testing.T, src, dst string)
	}{
		{"cp", testCp}, {"rsync", testRsync}, {"tar", testTar}, {"git", testGit}, {"sqlite3", testSqlite}, {"fio", testFio},
	} {
		t.Run(tc.tool, func(t *testing.T) {
			if _, err := exec.LookPath(tc.tool); err != nil {
				t.Skipf("%s is not installed", tc.tool)
			}
			dst := join(mnt, tc.tool)
			mustMkdir(t, dst)
			tc.fn(t, src, dst)
		})
	}
}

func run(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// sourceTree builds a local tree with what archivers care about: sizes
// from empty to chunked, modes, a symlink, a hard link, old mtimes.
func sourceTree(t *testing.T) string {
	t.Helper()
	src := t.TempDir()
	for _, d := range []string{"a", "a/b", "c"} {
		mustMkdir(t, join(src, d))
	}
	files := map[string]int{"empty": 0, "small": 100, "a/inline": 4000, "a/b/medium": 300_000, "c/large": 3<<20 + 7}
	for name, size := range files {
		writeFile(t, join(src, name), pattern(size, byte(len(name))))
	}
	if err := os.Chmod(join(src, "small"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a/b/medium", join(src, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(join(src, "small"), join(src, "c/hard")); err != nil {
		t.Fatal(err)
	}
	old := time.Unix(1_234_567_890, 0)
	for _, name := range []string{"small", "a/b/medium", "c/large", "a/b"} {
		if err := os.Chtimes(join(src, name), old, old); err != nil {
			t.Fatal(err)
		}
	}
	return src
}

func testCp(t *testing.T, src, dst string) {
	run(t, "/", "cp", "-a", src+"/.", dst)
	run(t, "/", "diff", "-r", "--no-dereference", src, dst)
	sameMeta(t, src, dst, "small", "a/b/medium", "a/b", "link")
	if stat(t, join(dst, "c/hard")).Ino != stat(t, join(dst, "small")).Ino {
		t.Fatal("cp -a must keep the hard link")
	}
}

// sameMeta compares mode and mtime (to the second) of entries.
func sameMeta(t *testing.T, src, dst string, names ...string) {
	t.Helper()
	for _, name := range names {
		s, d := stat(t, join(src, name)), stat(t, join(dst, name))
		if s.Mode != d.Mode || (s.Mode&0o170000 != 0o120000 && s.Mtim.Sec != d.Mtim.Sec) {
			t.Fatalf("%s: mode %o mtime %d, source %o %d", name, d.Mode, d.Mtim.Sec, s.Mode, s.Mtim.Sec)
		}
	}
}

func testRsync(t *testing.T, src, dst string) {
	run(t, "/", "rsync", "-aH", src+"/", dst+"/")
	// a second, dry run finds nothing to do: sizes, times, modes, links match
	if out := run(t, "/", "rsync", "-aHn", "-i", src+"/", dst+"/"); strings.TrimSpace(out) != "" {
		t.Fatalf("rsync finds differences after a copy:\n%s", out)
	}
	run(t, "/", "diff", "-r", "--no-dereference", src, dst)
}

func testTar(t *testing.T, src, dst string) {
	archive := join(t.TempDir(), "src.tar")
	run(t, src, "tar", "cf", archive, ".")
	run(t, dst, "tar", "xf", archive)
	run(t, "/", "diff", "-r", "--no-dereference", src, dst)
	sameMeta(t, src, dst, "small", "a/b/medium", "link")
	// and back out of the mount
	out := join(t.TempDir(), "out.tar")
	run(t, dst, "tar", "cf", out, ".")
	back := t.TempDir()
	run(t, back, "tar", "xf", out)
	run(t, "/", "diff", "-r", "--no-dereference", src, back)
}

func testGit(t *testing.T, src, dst string) {
	repo := t.TempDir()
	git := func(dir string, args ...string) string {
		return run(t, dir, "git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"}, args...)...)
	}
	git(repo, "init", "-q")
	run(t, "/", "cp", "-a", src+"/.", repo)
	git(repo, "add", "-A")
	git(repo, "commit", "-qm", "first")
	writeFile(t, join(repo, "small"), []byte("changed\n"))
	git(repo, "commit", "-qam", "second")
	git(dst, "clone", "-q", repo, "clone")
	clone := join(dst, "clone")
	git(clone, "fsck", "--full", "--strict")
	if out := git(clone, "status", "--porcelain"); strings.TrimSpace(out) != "" {
		t.Fatalf("fresh clone is dirty:\n%s", out)
	}
	if got, want := git(clone, "rev-parse", "HEAD"), git(repo, "rev-parse", "HEAD"); got != want {
		t.Fatalf("HEAD %s, want %s", got, want)
	}
	writeFile(t, join(clone, "new.txt"), []byte("made in the mount\n"))
	git(clone, "add", "new.txt")
	git(clone, "commit", "-qm", "third")
	git(clone, "gc", "-q")
	git(clone, "fsck", "--full")
}

func testSqlite(t *testing.T, _, dst string) {
	db := join(dst, "test.db")
	var script strings.Builder
	script.WriteString("PRAGMA journal_mode=DELETE; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);\nBEGIN;\n")
	for i := range 2000 {
		script.WriteString("INSERT INTO t(v) VALUES ('" + strings.Repeat("x", i%300) + "');\n")
	}
	script.WriteString("COMMIT;\nCREATE INDEX tv ON t(v);\nUPDATE t SET v = 'u' WHERE id % 7 = 0;\nDELETE FROM t WHERE id % 11 = 0;\nVACUUM;\n")
	cmd := exec.Command("sqlite3", db)
	cmd.Stdin = strings.NewReader(script.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sqlite3: %v\n%s", err, out)
	}
	if out := run(t, dst, "sqlite3", db, "PRAGMA integrity_check; SELECT count(*) FROM t; SELECT count(*) FROM t WHERE v = 'u';"); out != "ok\n1819\n260\n" {
		t.Fatalf("sqlite3 results: %q", out)
	}
}

func testFio(t *testing.T, _, dst string) {
	out := run(t, dst, "fio", "--name=verify", "--directory="+dst, "--rw=randrw", "--bs=4k", "--size=2m",
		"--ioengine=psync", "--verify=crc32c", "--do_verify=1", "--verify_fatal=1", "--fsync=16", "--output-format=terse")
	if !strings.HasPrefix(out, "3;") {
		t.Fatalf("fio output: %s", out)
	}
	run(t, dst, "fio", "--name=seq", "--directory="+dst, "--rw=write", "--bs=1m", "--size=16m", "--ioengine=psync",
		"--end_fsync=1", "--verify=md5", "--do_verify=1", "--verify_fatal=1", "--output-format=terse")
}
