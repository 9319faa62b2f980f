package fuse_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/annal-storage/annal/gateways/fuse"
	"github.com/annal-storage/annal/gateways/native/nativetest"
)

// These tests mount for real: a node runs in-process (or, for the crash
// test, as a child process), the mount talks to it through the native
// API client, and the test drives the kernel with ordinary system calls.

func TestMain(m *testing.M) {
	nativetest.RunChildIfRequested()
	runHelperIfRequested()
	code := m.Run()
	if helperPath != "" {
		os.RemoveAll(filepath.Dir(helperPath))
	}
	os.Exit(code)
}

func requireFUSE(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse")
	}
}

// startNode starts a node with bucket "fs".
func startNode(t *testing.T) *nativetest.Node {
	t.Helper()
	requireFUSE(t)
	n := nativetest.Start(t, t.TempDir())
	n.CreateBucket(t, "fs")
	return n
}

// mountNode mounts bucket of n and unmounts at cleanup.
func mountNode(t *testing.T, n *nativetest.Node, bucket string, opts fuse.MountOptions) string {
	t.Helper()
	dir := t.TempDir()
	// other users (the permission tests) must reach the mount point
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts.AllowOther = true
	srv, _, err := fuse.Mount(ctx, dir, n.Client(t).Namespace(bucket), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := fuse.Unmount(ctx, srv); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
			_ = syscall.Unmount(dir, syscall.MNT_DETACH)
		}
		srv.Wait()
	})
	return dir
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantErrno asserts that err carries errno want.
func wantErrno(t *testing.T, what string, err error, want syscall.Errno) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got %v, want %v", what, err, want)
	}
}

func stat(t *testing.T, path string) syscall.Stat_t {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// pattern is deterministic test data.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}

// eventually polls cond for up to 5 s (another mount sees a change
// within its cache timeouts).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5 s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Helper processes: the test binary re-executed to act as another
// process (another lock owner) or another user.
const helperEnv = "ANNAL_FUSETEST_HELPER"

func runHelperIfRequested() {
	args := strings.Fields(os.Getenv(helperEnv))
	if len(args) == 0 {
		return
	}
	err := helper(args)
	if err != nil {
		fmt.Print(errnoName(err))
		os.Exit(1)
	}
	fmt.Print("ok")
	os.Exit(0)
}

func errnoName(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return fmt.Sprintf("errno %d", int(errno))
	}
	return err.Error()
}

// helper runs one operation: "setlk PATH START LEN" (a non-blocking
// write lock), "flock PATH", "write PATH", "create PATH", "chmod PATH".
func helper(args []string) error {
	switch args[0] {
	case "setlk":
		f, err := os.OpenFile(args[1], os.O_RDWR, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		var start, n int64
		fmt.Sscan(args[2], &start)
		fmt.Sscan(args[3], &n)
		lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: start, Len: n}
		return syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk)
	case "flock":
		f, err := os.Open(args[1])
		if err != nil {
			return err
		}
		defer f.Close()
		return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	case "write":
		return os.WriteFile(args[1], []byte("intruder"), 0o644)
	case "create":
		f, err := os.OpenFile(args[1], os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err == nil {
			f.Close()
		}
		return err
	case "chmod":
		return os.Chmod(args[1], 0o777)
	case "mmapcheck":
		return mmapCheck(args[1])
	}
	return fmt.Errorf("unknown helper %q", args[0])
}

// mmapCheck maps a file of the mount the way testMmap expects. It runs
// in a child process: a page fault on a mapping of this process's own
// mount cannot be served while the Go runtime stops the world for GC
// (the faulting thread never reaches a safe point), which deadlocks.
func mmapCheck(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	ro, err := os.Open(path)
	if err != nil {
		return err
	}
	defer ro.Close()
	m, err := syscall.Mmap(int(ro.Fd()), 0, len(data), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("read-only shared mmap: %w", err)
	}
	same := bytes.Equal(m, data)
	syscall.Munmap(m)
	if !same {
		return errors.New("mapped bytes differ from the file")
	}
	rw, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer rw.Close()
	if _, err := syscall.Mmap(int(rw.Fd()), 0, len(data), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED); !errors.Is(err, syscall.ENODEV) {
		return fmt.Errorf("writable shared mmap: %v, want ENODEV", err)
	}
	pm, err := syscall.Mmap(int(rw.Fd()), 0, len(data), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE)
	if err != nil {
		return fmt.Errorf("private mmap: %w", err)
	}
	pm[0] ^= 0xff // copy-on-write: the file does not change
	syscall.Munmap(pm)
	after, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !bytes.Equal(after, data) {
		return errors.New("file changed after a private mapping was written")
	}
	return nil
}

// runHelper runs a helper as uid/gid (0 keeps root) and returns its
// output: "ok" or "errno N".
func runHelper(t *testing.T, uid uint32, args ...string) string {
	t.Helper()
	bin := os.Args[0]
	if uid != 0 {
		bin = helperBinary(t)
	}
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+strings.Join(args, " "))
	if uid != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	}
	out, _ := cmd.Output()
	return string(out)
}

var (
	helperOnce sync.Once
	helperPath string
)

// helperBinary is a copy of the test binary that other users can run
// (go test builds it in a directory only root may enter).
func helperBinary(t *testing.T) string {
	helperOnce.Do(func() {
		dir, err := os.MkdirTemp("", "annal-fusetest-")
		if err == nil {
			err = os.Chmod(dir, 0o755)
		}
		var b []byte
		if err == nil {
			b, err = os.ReadFile(os.Args[0])
		}
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, "helper"), b, 0o755)
		}
		if err == nil {
			helperPath = filepath.Join(dir, "helper")
		}
	})
	if helperPath == "" {
		t.Fatal("cannot copy the test binary for another user")
	}
	return helperPath
}

func errnoOut(e syscall.Errno) string { return fmt.Sprintf("errno %d", int(e)) }

func sameBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Fatalf("%s: %d bytes, want %d; first difference at %d", what, len(got), len(want), i)
	}
}

func mustMkdir(t *testing.T, path string) {
	t.Helper()
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
}

func join(dir string, parts ...string) string {
	return filepath.Join(append([]string{dir}, parts...)...)
}
