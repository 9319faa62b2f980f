//go:build linux

package block

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func allocatedBytes(t *testing.T, path string) int64 {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Sys().(*syscall.Stat_t).Blocks * 512
}

// Goal: Format leaves the file sparse, and Trim gives freed extents back
// to the host filesystem with FALLOC_FL_PUNCH_HOLE. Method: compare the
// file's allocated blocks before and after.
func TestSparseFileAndPunchHole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dev0")
	const size = 256 << 20
	if err := Format(path, size, FormatOptions{UUID: testUUID}); err != nil {
		t.Fatal(err)
	}
	if got := allocatedBytes(t, path); got > size/16 {
		t.Fatalf("a fresh %d-byte device allocates %d bytes: not sparse", size, got)
	}
	d, err := Open(path, "dev0", testClock())
	if err != nil {
		t.Fatal(err)
	}
	defer mustClose(t, d)
	for i := range 8 {
		mustPut(t, d, testKey(i), testData(uint64(i), 4<<20))
	}
	full := allocatedBytes(t, path)
	for i := range 8 {
		if err := d.DeleteFragment(testKey(i)); err != nil {
			t.Fatal(err)
		}
	}
	trimmed, err := d.Trim()
	if err != nil {
		t.Fatal(err)
	}
	if trimmed < 8*(4<<20) {
		t.Fatalf("trimmed %d bytes", trimmed)
	}
	if got := allocatedBytes(t, path); got > full-8*(4<<20)+(1<<20) {
		t.Fatalf("allocated %d bytes after trim, %d before", got, full)
	}
}
