package chunks

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// testClock is an injected clock that advances one second per reading.
type testClock struct {
	mu   sync.Mutex
	unix int64
}

func (c *testClock) now() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unix += 1e9
	return c.unix
}

func openTestDevice(t *testing.T, id, dir string) *DirDevice {
	t.Helper()
	clock := &testClock{unix: 1_700_000_000e9}
	d, err := OpenDirDevice(id, dir, clock.now)
	if err != nil {
		t.Fatalf("OpenDirDevice: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func testKey(n int, index uint8) FragmentKey {
	return FragmentKey{Chunk: IDSHA256([]byte(fmt.Sprint("chunk ", n))), Index: index}
}

// Goal: a DirDevice honours the Device contract: durable put/get, atomic
// replace, idempotent delete, key-ordered listing with the injected clock.
func TestDirDeviceContract(t *testing.T) {
	dir := t.TempDir()
	d := openTestDevice(t, "dev0", dir)
	var keys []FragmentKey
	for n := 0; n < 20; n++ {
		for index := uint8(0); index < 3; index++ {
			key := testKey(n, index)
			keys = append(keys, key)
			if err := d.PutFragment(key, []byte(fmt.Sprint("v1 ", key))); err != nil {
				t.Fatalf("put: %v", err)
			}
		}
	}
	replaced := keys[7]
	if err := d.PutFragment(replaced, []byte("v2")); err != nil {
		t.Fatal(err)
	}
	if got, err := d.GetFragment(replaced); err != nil || string(got) != "v2" {
		t.Fatalf("get replaced: %q, %v", got, err)
	}
	if _, err := d.GetFragment(testKey(99, 0)); !errors.Is(err, ErrFragmentNotFound) {
		t.Fatalf("get absent: %v, want ErrFragmentNotFound", err)
	}
	for i := 0; i < 2; i++ { // second delete of the same key is a no-op
		if err := d.DeleteFragment(keys[0]); err != nil {
			t.Fatalf("delete %d: %v", i, err)
		}
	}

	var listed []FragmentInfo
	if err := d.ListFragments(func(info FragmentInfo) error { listed = append(listed, info); return nil }); err != nil {
		t.Fatal(err)
	}
	want := slices.DeleteFunc(slices.Clone(keys), func(k FragmentKey) bool { return k == keys[0] })
	slices.SortFunc(want, compareKeys)
	var got []FragmentKey
	for _, info := range listed {
		got = append(got, info.Key)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("listed %d keys, want %d in key order", len(got), len(want))
	}
	for _, info := range listed {
		want, _ := d.GetFragment(info.Key)
		if info.SizeBytes != int64(len(want)) || info.WrittenUnixNano <= 1_700_000_000e9 {
			t.Fatalf("info %+v, fragment has %d bytes", info, len(want))
		}
	}
}

func compareKeys(a, b FragmentKey) int {
	if c := bytes.Compare(a.Chunk[:], b.Chunk[:]); c != 0 {
		return c
	}
	return int(a.Index) - int(b.Index)
}

// Goal: the device is crash safe at the file level and survives reopen.
// Method: store fragments, leave a stray temporary file as a crash would,
// reopen, and find the fragments intact and the temporary file gone.
func TestDirDeviceReopen(t *testing.T) {
	dir := t.TempDir()
	d := openTestDevice(t, "dev0", dir)
	key := testKey(1, 2)
	if err := d.PutFragment(key, []byte("durable")); err != nil {
		t.Fatal(err)
	}
	fanOut, name := fragmentPath(key)
	stray := filepath.Join(dir, fanOut, name+tempInfix+"77")
	strayMarker := filepath.Join(dir, deviceMarkerName+tempInfix+"3")
	for _, p := range []string{stray, strayMarker} {
		if err := os.WriteFile(p, []byte("torn"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	d.Close()
	if _, err := d.GetFragment(key); !errors.Is(err, ErrDeviceFailed) {
		t.Fatalf("get after close: %v, want ErrDeviceFailed", err)
	}

	d = openTestDevice(t, "dev0", dir)
	if got, err := d.GetFragment(key); err != nil || string(got) != "durable" {
		t.Fatalf("after reopen: %q, %v", got, err)
	}
	for _, p := range []string{stray, strayMarker} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("stray temporary file %s survived reopen: %v", p, err)
		}
	}
	if _, err := OpenDirDevice("dev1", dir, (&testClock{}).now); err == nil || !strings.Contains(err.Error(), "another device") {
		t.Fatalf("opening dev0's directory as dev1: %v", err)
	}
}

// Goal: a directory removed under a running process fails every operation
// with ErrDeviceFailed (no panic, no silent recreation), and a recreated
// empty directory is used only after an explicit reopen, as a fresh device.
func TestDirDeviceDirectoryRemoved(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dev")
	d := openTestDevice(t, "dev0", dir)
	key := testKey(1, 0)
	if err := d.PutFragment(key, []byte("x")); err != nil {
		t.Fatal(err)
	}
	for round, recreate := range []bool{false, true} {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if recreate {
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
		}
		checks := map[string]error{
			"put":    d.PutFragment(testKey(2, 0), []byte("y")),
			"delete": d.DeleteFragment(key),
			"list":   d.ListFragments(func(FragmentInfo) error { return nil }),
		}
		_, checks["get"] = d.GetFragment(key)
		_, checks["stat"] = d.Stat()
		for op, err := range checks {
			if !errors.Is(err, ErrDeviceFailed) {
				t.Errorf("round %d: %s after rm -rf: %v, want ErrDeviceFailed", round, op, err)
			}
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("the failed device wrote into the recreated directory: %v", entries)
	}
	fresh := openTestDevice(t, "dev0", dir)
	if _, err := fresh.GetFragment(key); !errors.Is(err, ErrFragmentNotFound) {
		t.Fatalf("fresh device: %v, want ErrFragmentNotFound", err)
	}
}

func TestDirDeviceStat(t *testing.T) {
	d := openTestDevice(t, "dev0", t.TempDir())
	st, err := d.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if st.CapacityBytes <= 0 || st.UsedBytes < 0 || st.UsedBytes > st.CapacityBytes {
		t.Fatalf("stat %+v", st)
	}
}

// Goal: concurrent writers (including two writers of the same key) never
// corrupt each other. Run under -race.
func TestDirDeviceConcurrentPuts(t *testing.T) {
	d := openTestDevice(t, "dev0", t.TempDir())
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 10; n++ {
				if err := d.PutFragment(testKey(n, 0), []byte(fmt.Sprint("chunk ", n))); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	for n := 0; n < 10; n++ {
		if got, err := d.GetFragment(testKey(n, 0)); err != nil || string(got) != fmt.Sprint("chunk ", n) {
			t.Fatalf("key %d: %q, %v", n, got, err)
		}
	}
}

// Goal: a damaged fragment file is reported, not returned as data, and
// still listed so scrub finds it.
func TestDirDeviceDamagedFile(t *testing.T) {
	dir := t.TempDir()
	d := openTestDevice(t, "dev0", dir)
	key := testKey(3, 1)
	if err := d.PutFragment(key, []byte("fine")); err != nil {
		t.Fatal(err)
	}
	fanOut, name := fragmentPath(key)
	if err := os.WriteFile(filepath.Join(dir, fanOut, name), []byte("XXXX"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := d.GetFragment(key); !errors.Is(err, ErrFragmentCorrupt) {
		t.Fatalf("get damaged: %v, want ErrFragmentCorrupt", err)
	}
	var listed []FragmentInfo
	if err := d.ListFragments(func(info FragmentInfo) error { listed = append(listed, info); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || listed[0].Key != key || listed[0].WrittenUnixNano != 0 {
		t.Fatalf("listed %+v", listed)
	}
}
