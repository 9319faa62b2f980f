package block

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/annal-storage/annal/chunks"
)

// Goal: Format makes a sparse, 4 KiB-aligned file that Open accepts;
// fragments survive close and reopen; a second Open of the same device
// is refused while the first holds it. Method: a real file in TempDir.
func TestFormatAndOpenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dev0")
	const size = 64 << 20
	if err := Format(path, size, FormatOptions{UUID: testUUID}); err != nil {
		t.Fatalf("format: %v", err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Size() != size {
		t.Fatalf("stat: %v, size %d", err, info.Size())
	}
	d, err := Open(path, "dev0", testClock())
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if _, err := Open(path, "dev0-again", testClock()); err == nil {
		t.Fatalf("a second Open of a device in use succeeded")
	}
	model := map[chunks.FragmentKey][]byte{}
	for i := range 20 {
		model[testKey(i)] = testData(uint64(i), i*13_000)
		mustPut(t, d, testKey(i), model[testKey(i)])
	}
	if err := d.DeleteFragment(testKey(3)); err != nil {
		t.Fatal(err)
	}
	delete(model, testKey(3))
	checkModel(t, d, model)
	if d.ID() != "dev0" {
		t.Fatalf("ID %q", d.ID())
	}
	mustClose(t, d)
	d, err = Open(path, "dev0", testClock())
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	checkModel(t, d, model)
	st, _ := d.Stat()
	if st.CapacityBytes <= 0 || st.CapacityBytes >= size {
		t.Fatalf("capacity %d of a %d-byte device: metadata must be excluded", st.CapacityBytes, size)
	}
	mustClose(t, d)
}

// Goal: Format refuses a target holding a filesystem, an annal store or
// any data in its first 64 KiB, names what it found, and succeeds with
// Force (leaving an empty store). Method: plant each signature in a file.
func TestFormatRefusesExistingData(t *testing.T) {
	plant := func(off int, b []byte) func(t *testing.T, path string) {
		return func(t *testing.T, path string) {
			img := make([]byte, 1<<20)
			copy(img[off:], b)
			if err := os.WriteFile(path, img, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	ext4 := make([]byte, 2)
	binary.LittleEndian.PutUint16(ext4, 0xEF53)
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, path string)
		want  string
	}{
		{"ext4", plant(1080, ext4), "ext2/ext3/ext4"},
		{"xfs", plant(0, []byte("XFSB")), "XFS"},
		{"btrfs", plant(65600, []byte("_BHRfS_M")), "btrfs"},
		{"ntfs", plant(3, []byte("NTFS    ")), "NTFS"},
		{"data", plant(40_000, []byte{1}), "non-zero data (first at byte 40000)"},
		{"annal", func(t *testing.T, path string) {
			if err := Format(path, 1<<20, FormatOptions{UUID: testUUID}); err != nil {
				t.Fatal(err)
			}
		}, "annal store"},
		{"annal secondary", func(t *testing.T, path string) {
			if err := Format(path, 1<<20, FormatOptions{UUID: testUUID}); err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt(make([]byte, 64<<10), 0); err != nil {
				t.Fatal(err)
			}
		}, "annal store (secondary superblock)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "dev")
			tc.setup(t, path)
			err := Format(path, 1<<20, FormatOptions{UUID: [16]byte{9}})
			var existing *ExistingDataError
			if !errors.Is(err, ErrExistingData) || !errors.As(err, &existing) || !strings.Contains(existing.Signature, tc.want) {
				t.Fatalf("format over %s: %v, want ErrExistingData naming %q", tc.name, err, tc.want)
			}
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("a refused format removed the target: %v", err)
			}
			if err := Format(path, 1<<20, FormatOptions{UUID: [16]byte{9}, Force: true}); err != nil {
				t.Fatalf("forced format: %v", err)
			}
			d, err := Open(path, "dev", testClock())
			if err != nil {
				t.Fatalf("open after forced format: %v", err)
			}
			checkModel(t, d, map[chunks.FragmentKey][]byte{})
			mustClose(t, d)
		})
	}
}

// Goal: a zero-filled existing file (pre-allocated by an operator) needs
// no Force; bad arguments are refused before anything is written.
func TestFormatArguments(t *testing.T) {
	dir := t.TempDir()
	zero := filepath.Join(dir, "zero")
	if err := os.WriteFile(zero, make([]byte, 2<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Format(zero, 16<<10, FormatOptions{UUID: testUUID}); err == nil {
		t.Fatalf("format to 16 KiB succeeded")
	}
	if info, err := os.Stat(zero); err != nil || info.Size() != 2<<20 {
		t.Fatalf("a refused format resized the existing file: %v", err)
	}
	if err := Format(zero, 0, FormatOptions{UUID: testUUID}); err != nil {
		t.Fatalf("format a zero file at its own size: %v", err)
	}
	for name, tc := range map[string]struct {
		size int64
		uuid [16]byte
	}{
		"zero uuid": {1 << 20, [16]byte{}},
		"unaligned": {1<<20 + 1, testUUID},
		"too small": {64 << 10, testUUID},
		"no size":   {0, testUUID},
		"negative":  {-4096, testUUID},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		if err := Format(path, tc.size, FormatOptions{UUID: tc.uuid}); err == nil {
			t.Fatalf("%s: format succeeded", name)
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s: a failed format left %s behind", name, path)
		}
	}
}

// Goal: Open distinguishes "not formatted" from "corrupt" and refuses a
// nil clock.
func TestOpenRefusals(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(plain, "x", testClock()); !errors.Is(err, ErrNotFormatted) {
		t.Fatalf("open a zero file: %v, want ErrNotFormatted", err)
	}
	if _, err := Open(filepath.Join(dir, "missing"), "x", testClock()); err == nil {
		t.Fatalf("open a missing path succeeded")
	}
	if _, err := Open(plain, "x", nil); err == nil {
		t.Fatalf("open with a nil clock succeeded")
	}
}

// Goal: the signature table, including the edges of the probe window.
func TestClassifyExistingData(t *testing.T) {
	head := func(off int, b ...byte) []byte {
		h := make([]byte, existingDataProbeBytes)
		copy(h[off:], b)
		return h
	}
	for _, tc := range []struct {
		name       string
		head, tail []byte
		want       string
	}{
		{"empty", nil, nil, ""},
		{"zeros", head(0), make([]byte, blockSize), ""},
		{"byte after 64 KiB ignored", head(64<<10, 1), nil, ""},
		{"last byte of 64 KiB", head(64<<10-1, 1), nil, "non-zero data (first at byte 65535)"},
		{"ext magic", head(1080, 0x53, 0xEF), nil, "an ext2/ext3/ext4 filesystem"},
		{"short head", []byte{0, 0, 1}, nil, "non-zero data (first at byte 2)"},
	} {
		if got := classifyExistingData(tc.head, tc.tail); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
