package fuse_test

import (
	"io"
	"os"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/annal-storage/annal/gateways/fuse"
)

// TestPosixOperations: every operation of ADR-013's support matrix and
// its error cases, through one real mount.
func TestPosixOperations(t *testing.T) {
	n := startNode(t)
	mnt := mountNode(t, n, "fs", fuse.MountOptions{})
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, string)
	}{
		{"ReadWriteCreate", testReadWriteCreate},
		{"Stat", testStat},
		{"ChmodChownUtimens", testChmodChownUtimens},
		{"TruncateSparse", testTruncateSparse},
		{"UnlinkOpenFile", testUnlinkOpenFile},
		{"MkdirRmdir", testMkdirRmdir},
		{"Rename", testRename},
		{"SymlinkHardLink", testSymlinkHardLink},
		{"Readdir", testReaddir},
		{"Xattrs", testXattrs},
		{"Append", testAppend},
		{"FsyncStatfsNames", testFsyncStatfsNames},
		{"Mmap", testMmap},
		{"Locks", testLocks},
		{"RandomWritesLargeFile", testRandomWritesLargeFile},
	} {
		dir := join(mnt, tc.name)
		mustMkdir(t, dir)
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, dir) })
	}
}

func testReadWriteCreate(t *testing.T, dir string) {
	p := join(dir, "f")
	data := pattern(3<<20+17, 1)
	writeFile(t, p, data)
	sameBytes(t, "read back", readFile(t, p), data)
	// O_CREAT|O_EXCL on an existing name
	_, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	wantErrno(t, "O_EXCL", err, syscall.EEXIST)
	// an empty file round-trips
	writeFile(t, join(dir, "empty"), nil)
	if b := readFile(t, join(dir, "empty")); len(b) != 0 {
		t.Fatalf("empty file reads %d bytes", len(b))
	}
	// O_TRUNC through O_CREAT on an existing file
	f, err := os.OpenFile(p, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("abc"), 5); err != nil {
		t.Fatal(err)
	}
	// read-your-writes before close: pending bytes are laid over the file
	buf := make([]byte, 16)
	nr, _ := f.ReadAt(buf, 0)
	if string(buf[:nr]) != "\x00\x00\x00\x00\x00abc" {
		t.Fatalf("read before flush: %q", buf[:nr])
	}
	if fi, _ := f.Stat(); fi.Size() != 8 {
		t.Fatalf("fstat size before flush: %d", fi.Size())
	}
	f.Close()
	if got := readFile(t, p); string(got) != "\x00\x00\x00\x00\x00abc" {
		t.Fatalf("after close: %q", got)
	}
	_, err = os.Open(join(dir, "missing"))
	wantErrno(t, "open of a missing file", err, syscall.ENOENT)
	_, err = os.Open(join(dir, "f", "x"))
	wantErrno(t, "a file as a directory", err, syscall.ENOTDIR)
}

func testStat(t *testing.T, dir string) {
	p := join(dir, "f")
	writeFile(t, p, []byte("12345"))
	st := stat(t, p)
	if st.Size != 5 || st.Mode&syscall.S_IFMT != syscall.S_IFREG || st.Mode&0o777 != 0o644 || st.Nlink != 1 || st.Uid != 0 {
		t.Fatalf("stat: %+v", st)
	}
	f, _ := os.Open(p)
	defer f.Close()
	var fst syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &fst); err != nil || fst.Ino != st.Ino || fst.Size != 5 {
		t.Fatalf("fstat: %+v %v", fst, err)
	}
	if err := os.Symlink("f", join(dir, "l")); err != nil {
		t.Fatal(err)
	}
	lst := stat(t, join(dir, "l"))
	if lst.Mode&syscall.S_IFMT != syscall.S_IFLNK || lst.Size != 1 {
		t.Fatalf("lstat of a symlink: %+v", lst)
	}
	var via syscall.Stat_t
	if err := syscall.Stat(join(dir, "l"), &via); err != nil || via.Ino != st.Ino {
		t.Fatalf("stat through a symlink: %+v %v", via, err)
	}
}

func testChmodChownUtimens(t *testing.T, dir string) {
	p := join(dir, "f")
	writeFile(t, p, []byte("x"))
	if err := os.Chmod(p, 0o4751); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, 1234, 5678); err != nil {
		t.Fatal(err)
	}
	st := stat(t, p)
	if st.Uid != 1234 || st.Gid != 5678 || st.Mode&0o7777 != 0o751 {
		t.Fatalf("after chmod 4751 and chown (chown clears setuid): uid %d gid %d mode %o", st.Uid, st.Gid, st.Mode&0o7777)
	}
	at, mt := time.Unix(1_000_000_000, 123_000_000), time.Unix(1_500_000_000, 456_789_000)
	if err := os.Chtimes(p, at, mt); err != nil {
		t.Fatal(err)
	}
	st = stat(t, p)
	if st.Atim.Sec != at.Unix() || st.Mtim.Sec != mt.Unix() || st.Mtim.Nsec != 456_789_000 {
		t.Fatalf("utimens: atime %v mtime %v", st.Atim, st.Mtim)
	}
	before := st.Ctim
	time.Sleep(5 * time.Millisecond)
	if err := syscall.UtimesNano(p, []syscall.Timespec{{Nsec: (1 << 30) - 1}, {Nsec: (1 << 30) - 1}}); err != nil { // UTIME_NOW
		t.Fatal(err)
	}
	st = stat(t, p)
	if time.Since(time.Unix(st.Mtim.Unix())) > time.Minute || st.Ctim == before {
		t.Fatalf("UTIME_NOW: mtime %v ctime %v (was %v)", st.Mtim, st.Ctim, before)
	}
}

func testTruncateSparse(t *testing.T, dir string) {
	p := join(dir, "f")
	writeFile(t, p, []byte("0123456789"))
	if err := os.Truncate(p, 4); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, p); string(got) != "0123" {
		t.Fatalf("shrunk: %q", got)
	}
	if err := os.Truncate(p, 64<<20); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("tail"), 100<<20); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(100<<20 + 2); err != nil { // ftruncate through the handle, pending bytes first
		t.Fatal(err)
	}
	f.Close()
	st := stat(t, p)
	if st.Size != 100<<20+2 {
		t.Fatalf("size %d", st.Size)
	}
	f, _ = os.Open(p)
	defer f.Close()
	hole := make([]byte, 1<<20)
	if _, err := f.ReadAt(hole, 50<<20); err != nil || strings.Trim(string(hole), "\x00") != "" {
		t.Fatalf("a hole must read as zeros: %v", err)
	}
	end := make([]byte, 2)
	if _, err := f.ReadAt(end, 100<<20); err != nil || string(end) != "ta" {
		t.Fatalf("bytes after the hole: %q %v", end, err)
	}
	if got := make([]byte, 4); true {
		f.ReadAt(got, 0)
		if string(got) != "0123" {
			t.Fatalf("head %q", got)
		}
	}
}

func testUnlinkOpenFile(t *testing.T, dir string) {
	p := join(dir, "f")
	writeFile(t, p, []byte("still here"))
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	_, err = os.Stat(p)
	wantErrno(t, "stat after unlink", err, syscall.ENOENT)
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil || st.Nlink != 0 {
		t.Fatalf("fstat of an unlinked open file: nlink %d %v", st.Nlink, err)
	}
	if _, err := f.WriteAt([]byte("STILL"), 0); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if _, err := f.ReadAt(buf, 0); err != nil || string(buf) != "STILL here" {
		t.Fatalf("read of an unlinked open file: %q %v", buf, err)
	}
	f.Close()
	es, _ := os.ReadDir(dir)
	if len(es) != 0 {
		t.Fatalf("directory not empty after the last close: %v", es)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatalf("rmdir after the hidden name went: %v", err)
	}
	mustMkdir(t, dir)
}

func testMkdirRmdir(t *testing.T, dir string) {
	d := join(dir, "d")
	mustMkdir(t, d)
	wantErrno(t, "mkdir of an existing name", os.Mkdir(d, 0o755), syscall.EEXIST)
	writeFile(t, join(d, "f"), []byte("x"))
	wantErrno(t, "rmdir of a non-empty directory", syscall.Rmdir(d), syscall.ENOTEMPTY)
	wantErrno(t, "rmdir of a file", syscall.Rmdir(join(d, "f")), syscall.ENOTDIR)
	wantErrno(t, "unlink of a directory", syscall.Unlink(d), syscall.EISDIR)
	if err := os.Remove(join(d, "f")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Rmdir(d); err != nil {
		t.Fatal(err)
	}
	wantErrno(t, "rmdir of a missing directory", syscall.Rmdir(d), syscall.ENOENT)
	if err := os.MkdirAll(join(dir, "a", "b", "c"), 0o700); err != nil {
		t.Fatal(err)
	}
	if st := stat(t, join(dir, "a", "b", "c")); st.Mode&0o777 != 0o700 || st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		t.Fatalf("mode %o", st.Mode)
	}
}

func renameat2(oldpath, newpath string, flags uint) error {
	o, _ := syscall.BytePtrFromString(oldpath)
	n, _ := syscall.BytePtrFromString(newpath)
	const sysRenameat2 = 316 // x86_64
	const atFdcwd = -100
	fd := atFdcwd
	_, _, e := syscall.Syscall6(sysRenameat2, uintptr(fd), uintptr(unsafe.Pointer(o)), uintptr(fd), uintptr(unsafe.Pointer(n)), uintptr(flags), 0)
	if e != 0 {
		return e
	}
	return nil
}

func testRename(t *testing.T, dir string) {
	a, b := join(dir, "a"), join(dir, "b")
	writeFile(t, a, []byte("A"))
	writeFile(t, b, []byte("B"))
	wantErrno(t, "RENAME_NOREPLACE onto an existing file", renameat2(a, b, 1), syscall.EEXIST)
	wantErrno(t, "RENAME_EXCHANGE", renameat2(a, b, 2), syscall.EINVAL)
	if err := os.Rename(a, b); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, b); string(got) != "A" {
		t.Fatalf("renamed over: %q", got)
	}
	_, err := os.Stat(a)
	wantErrno(t, "old name after rename", err, syscall.ENOENT)
	// directories: onto an empty one, not onto a non-empty one, not into
	// itself (syscall.Rename: os.Rename refuses existing directories
	// itself)
	d1, d2, d3 := join(dir, "d1"), join(dir, "d2"), join(dir, "d3")
	mustMkdir(t, d1)
	mustMkdir(t, d2)
	mustMkdir(t, d3)
	writeFile(t, join(d1, "in"), []byte("in"))
	writeFile(t, join(d3, "x"), []byte("x"))
	if err := syscall.Rename(d1, d2); err != nil {
		t.Fatalf("rename onto an empty directory: %v", err)
	}
	if got := readFile(t, join(d2, "in")); string(got) != "in" {
		t.Fatalf("moved directory content: %q", got)
	}
	wantErrno(t, "rename onto a non-empty directory", syscall.Rename(d2, d3), syscall.ENOTEMPTY)
	wantErrno(t, "rename into itself", syscall.Rename(d2, join(d2, "sub")), syscall.EINVAL)
	wantErrno(t, "directory onto a file", syscall.Rename(d2, b), syscall.ENOTDIR)
	wantErrno(t, "file onto a directory", syscall.Rename(b, d3), syscall.EISDIR)
	// rename over a file this mount has open: the open file stays readable
	writeFile(t, a, []byte("new"))
	f, _ := os.Open(b)
	defer f.Close()
	if err := os.Rename(a, b); err != nil {
		t.Fatal(err)
	}
	old, _ := io.ReadAll(f)
	if string(old) != "A" || string(readFile(t, b)) != "new" {
		t.Fatalf("open target after rename: %q, new content %q", old, readFile(t, b))
	}
	// a failed rename onto a file this mount has open leaves it in place
	g, _ := os.Open(b)
	defer g.Close()
	wantErrno(t, "rename of a missing source", syscall.Rename(join(dir, "missing"), b), syscall.ENOENT)
	if got := string(readFile(t, b)); got != "new" {
		t.Fatalf("target after a failed rename: %q", got)
	}
}

func testSymlinkHardLink(t *testing.T, dir string) {
	p := join(dir, "f")
	writeFile(t, p, []byte("data"))
	if err := os.Symlink("f", join(dir, "s")); err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink(join(dir, "s")); err != nil || target != "f" {
		t.Fatalf("readlink: %q %v", target, err)
	}
	_, err := os.Readlink(p)
	wantErrno(t, "readlink of a file", err, syscall.EINVAL)
	wantErrno(t, "symlink over an existing name", os.Symlink("x", p), syscall.EEXIST)
	if err := os.Link(p, join(dir, "h1")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(join(dir, "h1"), join(dir, "h2")); err != nil {
		t.Fatal(err)
	}
	if st := stat(t, p); st.Nlink != 3 {
		t.Fatalf("nlink %d after two links", st.Nlink)
	}
	wantErrno(t, "link to a directory", os.Link(dir, join(dir, "dl")), syscall.EPERM)
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if st := stat(t, join(dir, "h2")); st.Nlink != 2 || string(readFile(t, join(dir, "h2"))) != "data" {
		t.Fatalf("after unlinking one name: nlink %d", st.Nlink)
	}
	_, err = os.Stat(join(dir, "s"))
	wantErrno(t, "dangling symlink", err, syscall.ENOENT)
}

func testReaddir(t *testing.T, dir string) {
	want := []string{}
	for i := range 1100 { // more than one listing page
		name := strings.Repeat("n", i%7+1) + string(rune('a'+i%26)) + itoa(i)
		want = append(want, name)
		if i%100 == 0 {
			mustMkdir(t, join(dir, name))
			continue
		}
		f, err := os.Create(join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, e.Name())
		if e.IsDir() != strings.HasSuffix(e.Name(), "0") && e.IsDir() {
			t.Fatalf("%s: type", e.Name())
		}
	}
	sort.Strings(want)
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("readdir: %d names, want %d", len(got), len(want))
	}
}

func itoa(i int) string {
	s := ""
	for {
		s = string(rune('0'+i%10)) + s
		i /= 10
		if i == 0 {
			return s
		}
	}
}

func testXattrs(t *testing.T, dir string) {
	p := join(dir, "f")
	writeFile(t, p, nil)
	buf := make([]byte, 64)
	_, err := syscall.Getxattr(p, "user.k", buf)
	wantErrno(t, "getxattr of a missing attribute", err, syscall.ENODATA)
	wantErrno(t, "XATTR_REPLACE of a missing attribute", syscall.Setxattr(p, "user.k", []byte("v"), 2), syscall.ENODATA)
	if err := syscall.Setxattr(p, "user.k", []byte("value"), 1); err != nil { // XATTR_CREATE
		t.Fatal(err)
	}
	wantErrno(t, "XATTR_CREATE of an existing attribute", syscall.Setxattr(p, "user.k", []byte("v"), 1), syscall.EEXIST)
	if err := syscall.Setxattr(p, "user.k", []byte("replaced"), 2); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Setxattr(p, "user.other", []byte{0, 255}, 0); err != nil {
		t.Fatal(err)
	}
	n, err := syscall.Getxattr(p, "user.k", buf)
	if err != nil || string(buf[:n]) != "replaced" {
		t.Fatalf("getxattr: %q %v", buf[:n], err)
	}
	_, err = syscall.Getxattr(p, "user.k", make([]byte, 2))
	wantErrno(t, "getxattr into a small buffer", err, syscall.ERANGE)
	n, err = syscall.Listxattr(p, buf)
	if err != nil || string(buf[:n]) != "user.k\x00user.other\x00" {
		t.Fatalf("listxattr: %q %v", buf[:n], err)
	}
	if err := syscall.Removexattr(p, "user.k"); err != nil {
		t.Fatal(err)
	}
	wantErrno(t, "removexattr of a missing attribute", syscall.Removexattr(p, "user.k"), syscall.ENODATA)
	wantErrno(t, "POSIX ACLs", syscall.Setxattr(p, "system.posix_acl_access", []byte{2, 0, 0, 0}, 0), syscall.EOPNOTSUPP)
}

func testAppend(t *testing.T, dir string) {
	p := join(dir, "log")
	f1, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f2, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	var want string
	for i := range 20 {
		line := strings.Repeat(string(rune('a'+i)), 100+i*300) + "\n"
		f := f1
		if i%2 == 1 {
			f = f2
		}
		if _, err := f.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
		want += line
	}
	f1.Close()
	f2.Close()
	if got := string(readFile(t, p)); got != want {
		t.Fatalf("appends from two descriptors: %d bytes, want %d", len(got), len(want))
	}
}

func testFsyncStatfsNames(t *testing.T, dir string) {
	f, err := os.Create(join(dir, "f"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(pattern(5<<20, 2)); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Fdatasync(int(f.Fd())); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil || st.Blocks == 0 || st.Namelen != 255 || st.Bsize != 4096 {
		t.Fatalf("statfs: %+v %v", st, err)
	}
	long := strings.Repeat("x", 256)
	_, err = os.Create(join(dir, long))
	wantErrno(t, "a 256-byte name", err, syscall.ENAMETOOLONG)
	wantErrno(t, "mkdir with a 256-byte name", os.Mkdir(join(dir, long), 0o755), syscall.ENAMETOOLONG)
	if _, err := os.Create(join(dir, long[:255])); err != nil {
		t.Fatalf("a 255-byte name: %v", err)
	}
	_, err = os.Create(join(dir, "\xff\xfe"))
	wantErrno(t, "a name that is not UTF-8 (no S3 key could hold it)", err, syscall.EINVAL)
	wantErrno(t, "mknod of a FIFO", syscall.Mkfifo(join(dir, "fifo"), 0o644), syscall.EOPNOTSUPP)
}

func testMmap(t *testing.T, dir string) {
	p := join(dir, "m")
	writeFile(t, p, pattern(3*4096+5, 3))
	// The mapping is made by a child process (see mmapCheck).
	if out := runHelper(t, 0, "mmapcheck", p); out != "ok" {
		t.Fatalf("mmap: %s", out)
	}
}

const (
	fOFDGetlk = 36
	fOFDSetlk = 37
)

func testLocks(t *testing.T, dir string) {
	p := join(dir, "lk")
	writeFile(t, p, make([]byte, 100))
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Start: 10, Len: 20}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk); err != nil {
		t.Fatal(err)
	}
	// another process conflicts on the range, not outside it
	if out := runHelper(t, 0, "setlk", p, "15", "5"); out != errnoOut(syscall.EAGAIN) {
		t.Fatalf("conflicting lock from another process: %q", out)
	}
	if out := runHelper(t, 0, "setlk", p, "30", "10"); out != "ok" {
		t.Fatalf("adjacent lock from another process: %q", out)
	}
	// open file description locks conflict inside one process
	g, _ := os.OpenFile(p, os.O_RDWR, 0)
	defer g.Close()
	ofd := syscall.Flock_t{Type: syscall.F_RDLCK, Start: 0, Len: 50}
	if err := syscall.FcntlFlock(g.Fd(), fOFDGetlk, &ofd); err != nil || ofd.Type != syscall.F_WRLCK || ofd.Start != 10 || ofd.Len != 20 {
		t.Fatalf("F_OFD_GETLK: %+v %v", ofd, err)
	}
	ofd = syscall.Flock_t{Type: syscall.F_RDLCK, Start: 0, Len: 50}
	wantErrno(t, "F_OFD_SETLK over a write lock", syscall.FcntlFlock(g.Fd(), fOFDSetlk, &ofd), syscall.EAGAIN)
	unlock := syscall.Flock_t{Type: syscall.F_UNLCK, Start: 0, Len: 0}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &unlock); err != nil {
		t.Fatal(err)
	}
	ofd = syscall.Flock_t{Type: syscall.F_RDLCK, Start: 0, Len: 50}
	if err := syscall.FcntlFlock(g.Fd(), fOFDSetlk, &ofd); err != nil {
		t.Fatalf("F_OFD_SETLK after unlock: %v", err)
	}
	// flock: exclusive against another open file
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	if out := runHelper(t, 0, "flock", p); out != errnoOut(syscall.EWOULDBLOCK) {
		t.Fatalf("flock from another process: %q", out)
	}
	// a blocking lock waits for the holder
	done := make(chan error, 1)
	go func() {
		h, _ := os.Open(p)
		defer h.Close()
		done <- syscall.Flock(int(h.Fd()), syscall.LOCK_SH)
	}()
	select {
	case err := <-done:
		t.Fatalf("LOCK_SH did not wait: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	if err := <-done; err != nil {
		t.Fatalf("waiting flock: %v", err)
	}
}

// testRandomWritesLargeFile: scattered small writes into a large file
// through one descriptor, read back through another.
func testRandomWritesLargeFile(t *testing.T, dir string) {
	p := join(dir, "big")
	data := pattern(8<<20, 4)
	writeFile(t, p, data)
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 120 {
		off := int64(i*53_987+i*i*7) % int64(len(data)-4096)
		chunk := pattern(100+i*13, byte(i))
		if _, err := f.WriteAt(chunk, off); err != nil {
			t.Fatal(err)
		}
		copy(data[off:], chunk)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	sameBytes(t, "after random writes", readFile(t, p), data)
}
