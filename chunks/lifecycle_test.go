package chunks

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"sync"
	"testing"
)

// Goal: a device directory deleted under a running store is a failed
// device, not a crash; reopening the path as a fresh device and repairing
// restores every fragment at the original placement.
// Method: put a chunk on six devices, remove two directories, read
// (degraded), check the failure callback fired once per device and Gone,
// reopen both paths, ReplaceDevice, Repair, then read with no degradation.
func TestStoreReplaceVanishedDevices(t *testing.T) {
	var mu sync.Mutex
	var failed []string
	ts := newTestStore(t, 6)
	ts.opts.OnDeviceFailed = func(id string) {
		mu.Lock()
		defer mu.Unlock()
		failed = append(failed, id)
	}
	id, sealed := testSealed(300_000)
	placement, err := ts.Put(EC(4, 2), id, sealed)
	if err != nil {
		t.Fatal(err)
	}
	gone := []string{placement.Devices[0], placement.Devices[3]}
	for _, d := range gone {
		ts.removeDevice(t, d)
	}
	for range 2 { // the second read must not report the devices again
		got, report, err := ts.Get(id, placement)
		if err != nil || !bytes.Equal(got, sealed) || !slices.Equal(report.Missing, []int{0, 3}) {
			t.Fatalf("degraded read: missing %v err %v", report.Missing, err)
		}
	}
	slices.Sort(failed)
	if want := slices.Sorted(slices.Values(gone)); !slices.Equal(failed, want) {
		t.Fatalf("OnDeviceFailed saw %v, want %v", failed, want)
	}
	if _, _, err := ts.Repair(id, placement); !errors.Is(err, ErrInsufficientDevices) {
		t.Fatalf("repair with two failed devices and no spare: %v", err)
	}
	for _, d := range gone {
		dev, _ := ts.Device(d)
		if !dev.(*DirDevice).Gone() {
			t.Fatalf("%s not gone", d)
		}
		fresh := openTestDevice(t, d, ts.dirs[d])
		old, err := ts.ReplaceDevice(fresh)
		if err != nil || old != dev {
			t.Fatalf("replace %s: %v", d, err)
		}
		old.Close()
		if !ts.Healthy(d) {
			t.Fatalf("%s not healthy after replace", d)
		}
	}
	after, repaired, err := ts.Repair(id, placement)
	if err != nil || !slices.Equal(repaired, []int{0, 3}) || !slices.Equal(after.Devices, placement.Devices) {
		t.Fatalf("repair onto fresh devices: repaired %v placement %v err %v", repaired, after.Devices, err)
	}
	if _, report, err := ts.Get(id, placement); err != nil || report.Degraded() {
		t.Fatalf("read after repair: %+v %v", report, err)
	}
	if _, err := ts.ReplaceDevice(openTestDevice(t, "dev9", t.TempDir())); err == nil {
		t.Fatal("replaced a device the store does not have")
	}
}

// Goal: Delete removes every fragment (idempotently) and reports
// fragments it could not reach as ErrDeviceFailed.
func TestStoreDelete(t *testing.T) {
	ts := newTestStore(t, 6)
	id, sealed := testSealed(50_000)
	placement, err := ts.Put(EC(4, 2), id, sealed)
	if err != nil {
		t.Fatal(err)
	}
	ts.removeDevice(t, placement.Devices[5])
	if err := ts.Delete(id, placement); !errors.Is(err, ErrDeviceFailed) {
		t.Fatalf("delete with a vanished device: %v", err)
	}
	for i := range 5 {
		if _, err := os.Stat(ts.fragmentFile(placement, id, i)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("fragment %d still there: %v", i, err)
		}
	}
	if _, _, err := ts.Get(id, placement); !errors.Is(err, ErrChunkLost) {
		t.Fatalf("get after delete: %v", err)
	}
	if err := ts.Delete(id, Placement{Profile: placement.Profile, Devices: placement.Devices[:5]}); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if st := ts.Stats(); st.WrittenBytes == 0 || st.ReadBytes != 0 {
		t.Fatalf("stats %+v: written counted, nothing readable", st)
	}
}
