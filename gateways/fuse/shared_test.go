package fuse_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/annal-storage/annal/commands"
	"github.com/annal-storage/annal/gateways/fuse"
	"github.com/annal-storage/annal/gateways/native/nativetest"
)

// TestTwoMounts: two mounts of one bucket (two clients) see each other's
// changes within the cache timeouts, and concurrent writers to one file
// keep both writers' bytes (the shard serialises their batches).
func TestTwoMounts(t *testing.T) {
	n := startNode(t)
	n.CreateBucket(t, "other")
	a := mountNode(t, n, "fs", fuse.MountOptions{})
	b := mountNode(t, n, "fs", fuse.MountOptions{})
	writeFile(t, join(a, "from-a"), []byte("hello from a"))
	eventually(t, "a file created on mount a, on mount b", func() bool {
		got, err := os.ReadFile(join(b, "from-a"))
		return err == nil && string(got) == "hello from a"
	})
	if err := os.Rename(join(b, "from-a"), join(b, "renamed")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a rename on b, on a", func() bool {
		_, errOld := os.Stat(join(a, "from-a"))
		_, errNew := os.Stat(join(a, "renamed"))
		return errOld != nil && errNew == nil
	})
	// concurrent writers on disjoint halves of one file, from two mounts
	writeFile(t, join(a, "shared"), nil)
	eventually(t, "the shared file on b", func() bool { _, err := os.Stat(join(b, "shared")); return err == nil })
	half := 6 << 20
	parts := [][]byte{pattern(half, 7), pattern(half, 8)}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, mnt := range []string{a, b} {
		wg.Go(func() {
			f, err := os.OpenFile(join(mnt, "shared"), os.O_WRONLY, 0)
			if err != nil {
				errs[i] = err
				return
			}
			defer f.Close()
			for off := 0; off < half; off += 128 << 10 { // interleaved 128 KiB writes
				if _, err := f.WriteAt(parts[i][off:off+128<<10], int64(i*half+off)); err != nil {
					errs[i] = err
					return
				}
			}
			errs[i] = f.Sync()
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	want := append(append([]byte(nil), parts[0]...), parts[1]...)
	eventually(t, "both writers' bytes on both mounts", func() bool {
		ga, _ := os.ReadFile(join(a, "shared"))
		gb, _ := os.ReadFile(join(b, "shared"))
		return bytes.Equal(ga, want) && bytes.Equal(gb, want)
	})
	// O_APPEND from both mounts at once: every record lands whole
	var appenders sync.WaitGroup
	for i, mnt := range []string{a, b} {
		appenders.Go(func() {
			f, err := os.OpenFile(join(mnt, "log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
			if err != nil {
				errs[i] = err
				return
			}
			defer f.Close()
			for j := range 40 {
				rec := strings.Repeat(string(rune('A'+i)), 50+j) + "\n"
				if _, err := f.Write([]byte(rec)); err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	appenders.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Split(strings.TrimSuffix(string(readFile(t, join(a, "log"))), "\n"), "\n")
	seen := map[string]int{}
	for _, l := range lines {
		if strings.Trim(l, l[:1]) != "" || len(l) < 50 {
			t.Fatalf("a torn append record: %q", l)
		}
		seen[l[:1]]++
	}
	if len(lines) != 80 || seen["A"] != 40 || seen["B"] != 40 {
		t.Fatalf("%d records (%v), want 40 from each mount", len(lines), seen)
	}
	// another bucket is another file system: rename and link across are EXDEV
	c := mountNode(t, n, "other", fuse.MountOptions{})
	wantErrno(t, "rename across namespaces", syscall.Rename(join(a, "renamed"), join(c, "x")), syscall.EXDEV)
	wantErrno(t, "link across namespaces", syscall.Link(join(a, "renamed"), join(c, "x")), syscall.EXDEV)
}

// TestCrossProtocol: an object PUT (through the S3 gateway's command) is
// a file under implied directories; a file written through the mount is
// the same bytes through GetObject; directories made by mkdir are common
// prefixes and "folder/" objects; an S3 folder key is a directory.
func TestCrossProtocol(t *testing.T) {
	n := startNode(t)
	mnt := mountNode(t, n, "fs", fuse.MountOptions{})
	svc, p := n.Node.Service(), n.Principal(t)
	ctx := context.Background()
	big := pattern(5<<20+3, 9)
	for key, body := range map[string][]byte{"docs/2024/report.txt": []byte("quarterly"), "docs/big.bin": big, "folder/": nil} {
		if _, err := svc.PutObject(ctx, p, commands.PutInput{Bucket: "fs", Key: key, Body: bytes.NewReader(body)}); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
	}
	eventually(t, "S3 objects as files", func() bool {
		got, err := os.ReadFile(join(mnt, "docs", "2024", "report.txt"))
		return err == nil && string(got) == "quarterly"
	})
	sameBytes(t, "a chunked object as a file", readFile(t, join(mnt, "docs", "big.bin")), big)
	if st := stat(t, join(mnt, "folder")); st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		t.Fatalf("an S3 folder key must be a directory: mode %o", st.Mode)
	}
	// FUSE → S3
	data := pattern(3<<20, 10)
	mustMkdir(t, join(mnt, "docs", "made"))
	writeFile(t, join(mnt, "docs", "made", "out.bin"), data)
	o, err := svc.GetObject(ctx, p, "fs", "docs/made/out.bin", "")
	if err != nil {
		t.Fatal(err)
	}
	r := o.Open(0, o.Info.Size)
	got, _ := io.ReadAll(r)
	r.Close()
	sameBytes(t, "GET of a file written through the mount", got, data)
	out, err := svc.ListObjects(ctx, p, "fs", commands.ListInput{Prefix: "docs/", Delimiter: "/", MaxKeys: 100})
	if err != nil || strings.Join(out.CommonPrefixes, ",") != "docs/2024/,docs/made/" {
		t.Fatalf("common prefixes %v %v", out.CommonPrefixes, err)
	}
	all, _ := svc.ListObjects(ctx, p, "fs", commands.ListInput{MaxKeys: 100})
	var keys []string
	for _, o := range all.Objects {
		keys = append(keys, o.Key)
	}
	if strings.Join(keys, ",") != "docs/2024/report.txt,docs/big.bin,docs/made/,docs/made/out.bin,folder/" {
		t.Fatalf("keys %v", keys)
	}
	// an S3 delete is seen by the mount
	if _, err := svc.DeleteObject(ctx, p, "fs", "docs/2024/report.txt", ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, "an S3 delete on the mount", func() bool {
		_, err := os.Stat(join(mnt, "docs", "2024", "report.txt"))
		return err != nil
	})
}

// TestPermissionsAndReadOnly: the kernel checks uid, gid and mode against
// the served attributes; a read-only mount refuses writes.
func TestPermissionsAndReadOnly(t *testing.T) {
	n := startNode(t)
	mnt := mountNode(t, n, "fs", fuse.MountOptions{})
	writeFile(t, join(mnt, "rootfile"), []byte("root's"))
	if err := os.Chmod(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	const nobody = 65534
	if out := runHelper(t, nobody, "write", join(mnt, "rootfile")); out != errnoOut(syscall.EACCES) {
		t.Fatalf("another user writes a 0644 root file: %q", out)
	}
	if out := runHelper(t, nobody, "create", join(mnt, "new")); out != errnoOut(syscall.EACCES) {
		t.Fatalf("another user creates in a 0755 root directory: %q", out)
	}
	if out := runHelper(t, nobody, "chmod", join(mnt, "rootfile")); out != errnoOut(syscall.EPERM) {
		t.Fatalf("another user chmods root's file: %q", out)
	}
	mustMkdir(t, join(mnt, "shared"))
	if err := os.Chmod(join(mnt, "shared"), 0o777); err != nil {
		t.Fatal(err)
	}
	if out := runHelper(t, nobody, "create", join(mnt, "shared", "mine")); out != "ok" {
		t.Fatalf("another user creates in a 0777 directory: %q", out)
	}
	if st := stat(t, join(mnt, "shared", "mine")); st.Uid != nobody || st.Gid != nobody {
		t.Fatalf("owner of a file another user created: %d:%d", st.Uid, st.Gid)
	}
	// uid mapping: local 4242 is stored as 65534
	uids, _ := fuse.ParseIDMap("4242:65534")
	mapped := mountNode(t, n, "fs", fuse.MountOptions{Options: fuse.Options{UIDs: uids}})
	if st := stat(t, join(mapped, "shared", "mine")); st.Uid != 4242 {
		t.Fatalf("mapped uid %d", st.Uid)
	}
	ro := mountNode(t, n, "fs", fuse.MountOptions{Options: fuse.Options{ReadOnly: true}})
	if got := readFile(t, join(ro, "rootfile")); string(got) != "root's" {
		t.Fatalf("read-only mount reads %q", got)
	}
	wantErrno(t, "write on a read-only mount", os.WriteFile(join(ro, "rootfile"), nil, 0o644), syscall.EROFS)
	wantErrno(t, "mkdir on a read-only mount", os.Mkdir(join(ro, "d"), 0o755), syscall.EROFS)
}

// TestCrashKeepsFsyncedBytes: a server process is killed (SIGKILL) while
// a mount writes; after a restart on the same data directory every byte
// that was fsync'ed before the kill is there, through the same mount and
// through a new one.
func TestCrashKeepsFsyncedBytes(t *testing.T) {
	requireFUSE(t)
	dir := t.TempDir()
	srv := nativetest.StartProcess(t, dir, nil)
	if _, err := srv.Client(t).Namespace("fs").CreateBucket(context.Background()); err != nil {
		t.Fatal(err)
	}
	mnt := mountNode(t, srv, "fs", fuse.MountOptions{})
	synced := map[string][]byte{}
	log, err := os.OpenFile(join(mnt, "journal"), os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	var journal []byte
	for i := range 12 {
		name := join(mnt, "file-"+itoa(i))
		data := pattern(1000+i*150_000, byte(i))
		f, err := os.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		synced[name] = data
		rec := pattern(64<<10, byte(100+i))
		if _, err := log.Write(rec); err != nil {
			t.Fatal(err)
		}
		if err := log.Sync(); err != nil {
			t.Fatal(err)
		}
		journal = append(journal, rec...)
	}
	// unsynced writes in flight while the server dies
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_ = os.WriteFile(join(mnt, "unsynced-"+itoa(i%5)), pattern(300_000, byte(i)), 0o644)
		}
	}()
	time.Sleep(300 * time.Millisecond)
	srv.Kill()
	close(stop)
	nativetest.StartProcess(t, dir, srv)
	<-done
	log.Close()
	check := func(mnt string) {
		for name, data := range synced {
			sameBytes(t, name, readFile(t, strings.Replace(name, name[:strings.LastIndex(name, "/")], mnt, 1)), data)
		}
		got := readFile(t, join(mnt, "journal"))
		if len(got) < len(journal) {
			t.Fatalf("journal: %d bytes after the crash, %d were fsync'ed", len(got), len(journal))
		}
		sameBytes(t, "journal's fsync'ed prefix", got[:len(journal)], journal)
	}
	check(mnt)
	check(mountNode(t, srv, "fs", fuse.MountOptions{}))
}
