package fuse_test

import (
	"sort"
	"testing"

	"github.com/annal-storage/annal/gateways/fuse"
	"github.com/hanwen/go-fuse/v2/posixtest"
)

// posixtestSkips are go-fuse's POSIX tests that do not apply, with the
// reason.
var posixtestSkips = map[string]string{
	// F_SETLK from two descriptors of one process: POSIX (and the
	// kernel's own locking) never lets a process's locks conflict with
	// each other; the test expects EAGAIN. Locks between processes and
	// open file description locks are tested in TestPosixOperations.
	"FcntlFlockLocksFile": "expects one process's F_SETLK locks to conflict, which POSIX rules out",
}

// slowUnderRace are stress tests that take minutes under the race
// detector; they run without it.
var slowUnderRace = map[string]bool{"OpenSymlinkRace": true}

// TestGoFusePosixSuite runs go-fuse's third-party POSIX test suite
// (posixtest.All) against a real mount, each test in its own directory.
func TestGoFusePosixSuite(t *testing.T) {
	n := startNode(t)
	mnt := mountNode(t, n, "fs", fuse.MountOptions{})
	names := make([]string, 0, len(posixtest.All))
	for name := range posixtest.All {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			if why, ok := posixtestSkips[name]; ok {
				t.Skip(why)
			}
			if slowUnderRace[name] && (raceEnabled || testing.Short()) {
				t.Skip("stress test: skipped under -race and -short")
			}
			dir := join(mnt, name)
			mustMkdir(t, dir)
			posixtest.All[name](t, dir)
		})
	}
}
