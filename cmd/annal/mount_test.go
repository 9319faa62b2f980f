package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/annal-storage/annal/cmd/annal/server"
	"github.com/annal-storage/annal/gateways/native/nativetest"
	"github.com/spf13/pflag"
)

func mounted(dir string) bool {
	b, _ := os.ReadFile("/proc/self/mounts")
	return strings.Contains(string(b), " "+dir+" fuse.annal ")
}

// mountOption reports whether the annal mount on dir has the option.
func mountOption(dir, option string) bool {
	b, _ := os.ReadFile("/proc/self/mounts")
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 4 && fields[1] == dir && fields[2] == "fuse.annal" {
			return slices.Contains(strings.Split(fields[3], ","), option)
		}
	}
	return false
}

// TestMountCommand: `annal mount` mounts in the foreground, serves, and
// unmounts cleanly on SIGTERM; when files are open the first signal
// waits and a second detaches.
func TestMountCommand(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse")
	}
	n := nativetest.Start(t, t.TempDir())
	var f mountFlags
	fl := pflag.NewFlagSet("mount", pflag.ContinueOnError)
	f.register(fl)
	if err := fl.Parse([]string{"--endpoint", n.APIAddr, "--credentials", filepath.Join(n.Dir, server.CredentialsFile),
		"--create", "--retry-for", "10s", "--log-level", "warn"}); err != nil {
		t.Fatal(err)
	}
	for _, busy := range []bool{false, true} {
		dir := t.TempDir()
		sig := make(chan os.Signal, 2)
		var out bytes.Buffer
		done := make(chan error, 1)
		go func() { done <- runMount(f, "cmdtest", dir, sig, &out) }()
		deadline := time.Now().Add(30 * time.Second)
		for !mounted(dir) {
			if time.Now().After(deadline) {
				t.Fatal("not mounted in 30 s")
			}
			time.Sleep(20 * time.Millisecond)
		}
		// Mounted by root with the defaults, the file system is shared
		// with the node's other users (the kernel checks their modes).
		if !mountOption(dir, "allow_other") {
			t.Fatalf("a root mount with default flags lacks allow_other")
		}
		if err := os.WriteFile(filepath.Join(dir, "f"), []byte("kept"), 0o644); err != nil {
			t.Fatal(err)
		}
		var open *os.File
		if busy {
			open, _ = os.Open(filepath.Join(dir, "f"))
		}
		sig <- syscall.SIGTERM
		if busy {
			select {
			case err := <-done:
				t.Fatalf("a busy mount went away at the first signal: %v", err)
			case <-time.After(1500 * time.Millisecond):
			}
			sig <- syscall.SIGINT // detach lazily
			open.Close()
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("annal mount did not return after the signal")
		}
		if mounted(dir) {
			t.Fatalf("%s still mounted", dir)
		}
		if !strings.Contains(out.String(), "unmounted") {
			t.Fatalf("output: %q", out.String())
		}
	}
}
