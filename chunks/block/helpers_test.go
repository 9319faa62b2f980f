package block

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/annal-storage/annal/chunks"
)

// tb is what the helpers need from *testing.T, *testing.B and *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

var testUUID = [16]byte{0xa1, 0x4a, 0x11, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}

// testClock returns a deterministic clock: 1 ms after the epoch 2024-01-01
// per call.
func testClock() func() int64 {
	var n atomic.Int64
	return func() int64 { return 1_704_067_200_000_000_000 + n.Add(1_000_000) }
}

func testKey(i int) chunks.FragmentKey {
	var k chunks.FragmentKey
	for j := range k.Chunk {
		k.Chunk[j] = byte(i*31 + j*7)
	}
	k.Chunk[0] = byte(i >> 8)
	k.Chunk[1] = byte(i)
	k.Index = byte(i % 6)
	return k
}

func testData(seed uint64, size int) []byte {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	b := make([]byte, size+7)
	for i := 0; i < size; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], rng.Uint64())
	}
	return b[:size:size]
}

type memOptions struct {
	sizeBytes     int64
	journalBlocks int
	maxFragments  int
}

func (o memOptions) withDefaults() memOptions {
	if o.sizeBytes == 0 {
		o.sizeBytes = 4 << 20
	}
	return o
}

// newMemDevice formats and opens a device on a fresh memStorage.
func newMemDevice(t tb, o memOptions) (*memStorage, *Device) {
	t.Helper()
	o = o.withDefaults()
	st := newMemStorage(o.sizeBytes)
	opts := FormatOptions{UUID: testUUID, JournalBlocks: o.journalBlocks, MaxFragments: o.maxFragments}
	if err := formatStorage(st, o.sizeBytes, opts, true); err != nil {
		t.Fatalf("format: %v", err)
	}
	return st, openMem(t, st)
}

func openMem(t tb, st *memStorage) *Device {
	t.Helper()
	st.reopen()
	d, err := openStorage(st, "mem0", testClock(), config{trimThresholdBlocks: defaultTrimThresholdBlocks})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return d
}

func mustPut(t tb, d *Device, k chunks.FragmentKey, data []byte) {
	t.Helper()
	if err := d.PutFragment(k, data); err != nil {
		t.Fatalf("put %s: %v", keyString(k), err)
	}
}

func mustGet(t tb, d *Device, k chunks.FragmentKey, want []byte) {
	t.Helper()
	got, err := d.GetFragment(k)
	if err != nil {
		t.Fatalf("get %s: %v", keyString(k), err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("get %s: %d bytes differ from the %d put", keyString(k), len(got), len(want))
	}
}

func mustClose(t tb, d *Device) {
	t.Helper()
	if err := d.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
}

// checkModel asserts the device holds exactly the model.
func checkModel(t tb, d *Device, model map[chunks.FragmentKey][]byte) {
	t.Helper()
	var listed []chunks.FragmentKey
	if err := d.ListFragments(func(fi chunks.FragmentInfo) error {
		listed = append(listed, fi.Key)
		if want, ok := model[fi.Key]; !ok || int64(len(want)) != fi.SizeBytes {
			return fmt.Errorf("listed %s size %d, model has %d (present %t)", keyString(fi.Key), fi.SizeBytes, len(want), ok)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(listed) != len(model) {
		t.Fatalf("listed %d fragments, model has %d", len(listed), len(model))
	}
	if !slices.IsSortedFunc(listed, compareKeys) {
		t.Fatalf("ListFragments not in key order")
	}
	for k, v := range model {
		mustGet(t, d, k, v)
	}
	var wantUsed int64
	for _, v := range model {
		wantUsed += int64(blocksFor(len(v))) * blockSize
	}
	st, err := d.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if st.UsedBytes != wantUsed {
		t.Fatalf("used %d bytes, model needs %d", st.UsedBytes, wantUsed)
	}
	if err := d.checkInvariants(); err != nil {
		t.Fatal(err)
	}
}

// checkInvariants verifies a quiescent device: index extents are valid
// and disjoint, the bitmap is exactly the union of index extents, the
// free set is exactly the complement (no leak, no double allocation) and
// coalesced, and both on-disk bitmap copies match memory.
func (d *Device) checkInvariants() error {
	d.bitmapMu.Lock()
	defer d.bitmapMu.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.inflightNew != 0 || len(d.pending) != 0 {
		return fmt.Errorf("not quiescent: %d in-flight puts, %d pending records", d.inflightNew, len(d.pending))
	}
	derived := newBitmap(d.geo.dataBlocks, d.geo.bitmapPages)
	rs := &replayState{geo: d.geo}
	for k, e := range d.index {
		if err := rs.checkExtent(e.extent, e.sizeBytes); err != nil {
			return fmt.Errorf("fragment %s: %w", keyString(k), err)
		}
		if derived.setRange(e.extent, true) != e.extent.blocks {
			return fmt.Errorf("fragment %s extent %v overlaps another", keyString(k), e.extent)
		}
	}
	if !bytes.Equal(derived.bytes, d.bits.bytes) || derived.set != d.bits.set {
		return fmt.Errorf("bitmap (%d set) differs from the index (%d blocks)", d.bits.set, derived.set)
	}
	if err := d.checkFreeSet(derived); err != nil {
		return err
	}
	return d.checkDiskBitmap()
}

func (d *Device) checkFreeSet(used *bitmap) error {
	var total uint64
	var prev *extent
	var err error
	d.free.each(func(e extent) {
		if err != nil {
			return
		}
		switch {
		case prev != nil && prev.end() >= e.start:
			err = fmt.Errorf("free extents %v and %v overlap or touch", *prev, e)
		case used.countSet(e) != 0:
			err = fmt.Errorf("free extent %v holds used blocks", e)
		}
		total += e.blocks
		prev = &e
	})
	switch {
	case err != nil:
		return err
	case total != d.free.freeBlocks || d.free.byStart.n != d.free.bySize.n:
		return fmt.Errorf("free set counts disagree: %d vs %d blocks, %d vs %d nodes", total, d.free.freeBlocks, d.free.byStart.n, d.free.bySize.n)
	case total+used.set != d.geo.dataBlocks:
		return fmt.Errorf("leak: %d free + %d used != %d data blocks", total, used.set, d.geo.dataBlocks)
	}
	return nil
}

func (d *Device) checkDiskBitmap() error {
	for p := uint64(0); p < d.geo.bitmapPages; p++ {
		for copyIndex, base := range []uint64{d.geo.bitmapA, d.geo.bitmapB} {
			b, err := readBlocks(d.st, base+p, 1)
			if err != nil {
				return err
			}
			bits, err := decodeBitmapPage(d.seed, p, copyIndex, b)
			if err != nil {
				return fmt.Errorf("on-disk bitmap: %w", err)
			}
			if !bytes.Equal(bits, d.bits.page(p)) {
				return fmt.Errorf("on-disk bitmap copy %d page %d differs from memory", copyIndex, p)
			}
		}
	}
	return nil
}

// checkNoLeak deletes everything and then stores one fragment as large as
// the whole data region: it fits only if every block came back and the
// free set coalesced into one extent.
func checkNoLeak(t tb, d *Device) {
	t.Helper()
	var keys []chunks.FragmentKey
	if err := d.ListFragments(func(fi chunks.FragmentInfo) error { keys = append(keys, fi.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if err := d.DeleteFragment(k); err != nil {
			t.Fatalf("delete %s: %v", keyString(k), err)
		}
	}
	whole := wholeRegionData(int(d.geo.dataBlocks*blockSize - trailerBytes))
	k := testKey(1 << 14)
	mustPut(t, d, k, whole)
	mustGet(t, d, k, whole)
	if err := d.DeleteFragment(k); err != nil {
		t.Fatal(err)
	}
	if err := d.checkInvariants(); err != nil {
		t.Fatal(err)
	}
}

var errCrash = errors.New("simulated crash")

var wholeRegion sync.Map // size → []byte, shared read-only by checkNoLeak

func wholeRegionData(size int) []byte {
	if b, ok := wholeRegion.Load(size); ok {
		return b.([]byte)
	}
	b, _ := wholeRegion.LoadOrStore(size, testData(99, size))
	return b.([]byte)
}
