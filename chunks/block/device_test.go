package block

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/annal-storage/annal/chunks"
)

// Goal: every size class round-trips, survives a clean reopen, lists in
// key order with the injected clock's timestamps. Method: put sizes
// around block and trailer boundaries, read back, reopen, read again.
func TestRoundTrip(t *testing.T) {
	st, d := newMemDevice(t, memOptions{})
	model := map[chunks.FragmentKey][]byte{}
	for i, size := range []int{0, 1, 4091, 4092, 4093, 8188, 8189, 100_000, 256 << 10} {
		k := testKey(i)
		model[k] = testData(uint64(i), size)
		mustPut(t, d, k, model[k])
	}
	checkModel(t, d, model)
	var stamps []int64
	if err := d.ListFragments(func(fi chunks.FragmentInfo) error {
		stamps = append(stamps, fi.WrittenUnixNano)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, s := range stamps {
		if s < 1_704_067_200_000_000_000 || s > 1_704_067_200_000_000_000+int64(len(model))*1_000_000 {
			t.Fatalf("WrittenUnixNano %d did not come from the injected clock", s)
		}
	}
	mustClose(t, d)
	d = openMem(t, st)
	checkModel(t, d, model)
	if r := d.Recovery(); r.IntentsRolledBack != 0 || r.BitmapPagesRebuilt != 0 || r.BitmapBlocksMarked != 0 {
		t.Fatalf("clean reopen repaired something: %v", r)
	}
	mustClose(t, d)
}

// Goal: a second put of a key replaces the first atomically and frees
// its extent. Method: put, replace with a different size, check usage.
func TestReplace(t *testing.T) {
	_, d := newMemDevice(t, memOptions{})
	k := testKey(1)
	mustPut(t, d, k, testData(1, 50_000))
	second := testData(2, 9_000)
	mustPut(t, d, k, second)
	checkModel(t, d, map[chunks.FragmentKey][]byte{k: second})
}

// Goal: deleted fragments disappear, deletes are idempotent, and freed
// space is reused (best fit picks the exact hole). Method: three
// fragments, delete the middle one, put one of the same size.
func TestDeleteAndReuse(t *testing.T) {
	_, d := newMemDevice(t, memOptions{})
	a, b, c := testKey(1), testKey(2), testKey(3)
	mustPut(t, d, a, testData(1, 3*blockSize))
	mustPut(t, d, b, testData(2, 5*blockSize-trailerBytes))
	mustPut(t, d, c, testData(3, blockSize))
	hole := d.index[b].extent
	for range 2 {
		if err := d.DeleteFragment(b); err != nil {
			t.Fatalf("delete: %v", err)
		}
	}
	if _, err := d.GetFragment(b); !errors.Is(err, chunks.ErrFragmentNotFound) {
		t.Fatalf("get deleted: %v, want ErrFragmentNotFound", err)
	}
	e := testKey(4)
	data := testData(4, 5*blockSize-trailerBytes)
	mustPut(t, d, e, data)
	if got := d.index[e].extent; got != hole {
		t.Fatalf("new fragment at %v, want the freed hole %v", got, hole)
	}
	checkModel(t, d, map[chunks.FragmentKey][]byte{a: testData(1, 3*blockSize), c: testData(3, blockSize), e: data})
}

// Goal: allocation is best fit and frees coalesce. Method: carve holes
// of 3, 5 and 2 blocks between pinned fragments, then allocate 2, 4 and
// 3 blocks and check where each lands; finally free everything and
// check the free set is one extent.
func TestBestFitAndCoalesce(t *testing.T) {
	_, d := newMemDevice(t, memOptions{})
	sizes := []uint64{3, 1, 5, 1, 2, 1}
	var holes []extent
	for i, blocks := range sizes {
		k := testKey(i)
		mustPut(t, d, k, testData(uint64(i), int(blocks*blockSize-trailerBytes)))
		if i%2 == 0 {
			holes = append(holes, d.index[k].extent)
		}
	}
	for i := 0; i < len(sizes); i += 2 {
		if err := d.DeleteFragment(testKey(i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		blocks uint64
		want   extent
	}{
		{2, holes[2]}, // exact 2-block hole
		{4, extent{start: holes[1].start, blocks: 4}}, // smallest hole ≥ 4 is the 5
		{3, holes[0]}, // exact 3-block hole
		{1, extent{start: holes[1].start + 4, blocks: 1}}, // the 5's remainder
	} {
		k := testKey(100 + int(tc.blocks))
		mustPut(t, d, k, testData(tc.blocks, int(tc.blocks*blockSize-trailerBytes)))
		if got := d.index[k].extent; got != tc.want {
			t.Fatalf("%d blocks landed at %v, want %v", tc.blocks, got, tc.want)
		}
	}
	checkNoLeak(t, d)
	if d.free.byStart.n != 1 {
		t.Fatalf("free set has %d extents after freeing everything, want 1", d.free.byStart.n)
	}
}

// Goal: a full device says chunks.ErrDeviceFull, for space and for the
// index, and recovers after a delete. Method: fill a 1 MiB device.
func TestDeviceFull(t *testing.T) {
	t.Run("space", func(t *testing.T) {
		_, d := newMemDevice(t, memOptions{sizeBytes: 1 << 20})
		var last chunks.FragmentKey
		var err error
		for i := 0; ; i++ {
			last = testKey(i)
			if err = d.PutFragment(last, testData(uint64(i), 20_000)); err != nil {
				break
			}
		}
		if !errors.Is(err, chunks.ErrDeviceFull) {
			t.Fatalf("filling: %v, want ErrDeviceFull", err)
		}
		if err := d.DeleteFragment(testKey(0)); err != nil {
			t.Fatal(err)
		}
		mustPut(t, d, last, testData(1, 20_000))
		if err := d.checkInvariants(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("index", func(t *testing.T) {
		_, d := newMemDevice(t, memOptions{maxFragments: 63})
		for i := range 63 {
			mustPut(t, d, testKey(i), []byte{byte(i)})
		}
		if err := d.PutFragment(testKey(63), nil); !errors.Is(err, chunks.ErrDeviceFull) {
			t.Fatalf("64th fragment: %v, want ErrDeviceFull", err)
		}
		mustPut(t, d, testKey(5), []byte("replacing an existing key still works"))
	})
	t.Run("too large", func(t *testing.T) {
		_, d := newMemDevice(t, memOptions{})
		if err := d.PutFragment(testKey(1), make([]byte, MaxFragmentBytes+1)); !errors.Is(err, ErrFragmentTooLarge) {
			t.Fatalf("oversized put: %v", err)
		}
	})
}

// Goal: a flipped byte in the data or the trailer is reported as
// ErrCorrupt (not as not-found, not as device failure), and the device
// keeps serving the other fragments. Method: flip bytes on the medium.
func TestCRCTrailerCorruption(t *testing.T) {
	for _, where := range []string{"data", "trailer"} {
		t.Run(where, func(t *testing.T) {
			st, d := newMemDevice(t, memOptions{})
			k, other := testKey(1), testKey(2)
			data := testData(1, 10_000)
			mustPut(t, d, k, data)
			mustPut(t, d, other, testData(2, 100))
			off := d.geo.dataOffset(d.index[k].extent) + 5_000
			if where == "trailer" {
				off = d.geo.dataOffset(d.index[k].extent) + int64(len(data)) + 2
			}
			st.flip(off)
			_, err := d.GetFragment(k)
			if !errors.Is(err, ErrCorrupt) || errors.Is(err, chunks.ErrFragmentNotFound) || errors.Is(err, chunks.ErrDeviceFailed) {
				t.Fatalf("get corrupted: %v, want only ErrCorrupt", err)
			}
			mustGet(t, d, other, testData(2, 100))
		})
	}
}

// Goal: a damaged bitmap copy is rebuilt from its mirror; both copies
// damaged, the page is rebuilt from the index; orphan bits (set, but no
// fragment) are reclaimed. Method: damage pages between close and open.
func TestBitmapRepair(t *testing.T) {
	type damage func(st *memStorage, g geometry)
	flipIn := func(base func(g geometry) uint64) damage {
		return func(st *memStorage, g geometry) { st.flip(int64(base(g))*blockSize + 17) }
	}
	copyA := flipIn(func(g geometry) uint64 { return g.bitmapA })
	copyB := flipIn(func(g geometry) uint64 { return g.bitmapB })
	for _, tc := range []struct {
		name   string
		damage []damage
		check  func(r RecoveryReport) bool
	}{
		{"copy A", []damage{copyA}, func(r RecoveryReport) bool { return r.BitmapPagesFromMirror == 1 }},
		{"copy B", []damage{copyB}, func(r RecoveryReport) bool { return r.BitmapPagesFromMirror == 1 }},
		{"both", []damage{copyA, copyB}, func(r RecoveryReport) bool { return r.BitmapPagesRebuilt == 1 }},
		{"orphan bits", []damage{setOrphanBits}, func(r RecoveryReport) bool { return r.BitmapBlocksReclaimed == 3 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, d := newMemDevice(t, memOptions{})
			model := map[chunks.FragmentKey][]byte{}
			for i := range 10 {
				model[testKey(i)] = testData(uint64(i), 6_000*i)
				mustPut(t, d, testKey(i), model[testKey(i)])
			}
			mustClose(t, d)
			for _, dmg := range tc.damage {
				dmg(st, d.geo)
			}
			d = openMem(t, st)
			if r := d.Recovery(); !tc.check(r) {
				t.Fatalf("recovery report: %v", r)
			}
			checkModel(t, d, model) // includes both on-disk copies matching memory
			mustClose(t, d)
		})
	}
}

// setOrphanBits marks the last three data blocks used in both copies,
// with valid checksums: used on disk, owned by no fragment.
func setOrphanBits(st *memStorage, g geometry) {
	seed := crcSeed(g.uuid)
	b := newBitmap(g.dataBlocks, g.bitmapPages)
	for p := uint64(0); p < g.bitmapPages; p++ {
		for copyIndex, base := range []uint64{g.bitmapA, g.bitmapB} {
			bits, err := decodeBitmapPage(seed, p, copyIndex, st.peek(int64(base+p)*blockSize, blockSize))
			if err != nil {
				panic(err)
			}
			copy(b.page(p), bits)
		}
	}
	b.setRange(extent{start: g.dataBlocks - 3, blocks: 3}, true)
	for p := uint64(0); p < g.bitmapPages; p++ {
		for copyIndex, base := range []uint64{g.bitmapA, g.bitmapB} {
			st.poke(int64(base+p)*blockSize, encodeBitmapPage(seed, p, copyIndex, b.page(p)))
		}
	}
}

// Goal: a damaged primary superblock is replaced by the secondary (and
// rewritten), a damaged secondary is rewritten from the primary, both
// damaged is ErrCorrupt, and an unknown version is refused untouched.
func TestSuperblockCopies(t *testing.T) {
	for _, tc := range []struct {
		name    string
		damage  func(st *memStorage, g geometry)
		wantErr error
		repair  string
	}{
		{"primary", func(st *memStorage, g geometry) { st.flip(100) }, nil, "primary"},
		{"secondary", func(st *memStorage, g geometry) { st.flip(int64(g.secondary)*blockSize + 40) }, nil, "secondary"},
		{"both", func(st *memStorage, g geometry) {
			st.flip(100)
			st.flip(int64(g.secondary)*blockSize + 40)
		}, ErrCorrupt, ""},
		{"version 99", func(st *memStorage, g geometry) { st.poke(8, []byte{0, 99}) }, ErrUnsupportedVersion, ""},
		{"wiped", func(st *memStorage, g geometry) {
			st.poke(0, make([]byte, blockSize))
			st.poke(int64(g.secondary)*blockSize, make([]byte, blockSize))
		}, ErrNotFormatted, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, d := newMemDevice(t, memOptions{})
			mustPut(t, d, testKey(1), []byte("survives"))
			mustClose(t, d)
			tc.damage(st, d.geo)
			before := st.peek(0, blockSize)
			st.reopen()
			d2, err := openStorage(st, "mem0", testClock(), config{})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("open: %v, want %v", err, tc.wantErr)
				}
				if string(st.peek(0, blockSize)) != string(before) {
					t.Fatalf("a refused open wrote the superblock")
				}
				return
			}
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			if r := d2.Recovery(); r.SuperblockRepaired != tc.repair {
				t.Fatalf("repaired %q, want %q", r.SuperblockRepaired, tc.repair)
			}
			mustGet(t, d2, testKey(1), []byte("survives"))
			for _, blockNo := range []uint64{0, d.geo.secondary} {
				if _, err := decodeSuperblock(st.peek(int64(blockNo)*blockSize, blockSize)); err != nil {
					t.Fatalf("superblock at %d after repair: %v", blockNo, err)
				}
			}
			mustClose(t, d2)
		})
	}
}

// Goal: a torn newest checkpoint falls back to the previous one and its
// journal, losing nothing acknowledged. Method: close (checkpoint N),
// reopen (checkpoint N+1 written at open), damage N+1's body, reopen.
func TestCheckpointFallback(t *testing.T) {
	st, d := newMemDevice(t, memOptions{})
	model := map[chunks.FragmentKey][]byte{}
	for i := range 70 { // more than one body block of entries
		model[testKey(i)] = testData(uint64(i), 100+i)
		mustPut(t, d, testKey(i), model[testKey(i)])
	}
	mustClose(t, d)
	d = openMem(t, st)
	region, gen := d.jw.cpRegion, d.jw.cpGen
	mustClose(t, d)
	start := d.geo.checkpointA
	if region == 1 {
		start = d.geo.checkpointB
	}
	st.flip(int64(start+2)*blockSize + 10)
	d = openMem(t, st)
	if r := d.Recovery(); !r.CheckpointFallback || r.CheckpointGeneration != gen-1 {
		t.Fatalf("recovery: %v, want fallback to gen %d", r, gen-1)
	}
	checkModel(t, d, model)
	mustClose(t, d)
}

// Goal: an fsync failure latches the device failed (fsyncgate: the page
// cache can no longer be trusted) and reopening recovers everything
// acknowledged before. Method: inject a sync error.
func TestSyncFailureFailsDevice(t *testing.T) {
	st, d := newMemDevice(t, memOptions{})
	mustPut(t, d, testKey(1), []byte("acked"))
	st.inject(nil, errors.New("EIO"))
	if err := d.PutFragment(testKey(2), []byte("lost")); !errors.Is(err, chunks.ErrDeviceFailed) {
		t.Fatalf("put with failing fsync: %v", err)
	}
	if _, err := d.GetFragment(testKey(1)); !errors.Is(err, chunks.ErrDeviceFailed) {
		t.Fatalf("get on a failed device: %v", err)
	}
	d.abandon()
	img := st.crashImage(crashDropAll, nil)
	d = openMem(t, img)
	checkModel(t, d, map[chunks.FragmentKey][]byte{testKey(1): []byte("acked")})
	mustClose(t, d)
}

// Goal: a closed device refuses work with ErrDeviceFailed; Close twice
// is harmless.
func TestClosed(t *testing.T) {
	_, d := newMemDevice(t, memOptions{})
	mustClose(t, d)
	mustClose(t, d)
	if err := d.PutFragment(testKey(1), nil); !errors.Is(err, chunks.ErrDeviceFailed) {
		t.Fatalf("put after close: %v", err)
	}
	if _, err := d.Stat(); !errors.Is(err, chunks.ErrDeviceFailed) {
		t.Fatalf("stat after close: %v", err)
	}
}

// Goal: concurrent puts, replaces, gets and deletes keep every invariant
// and group their fsyncs. Method: 8 goroutines on overlapping keys under
// -race, then compare with what each key's last writer stored.
func TestConcurrent(t *testing.T) {
	st, d := newMemDevice(t, memOptions{sizeBytes: 16 << 20, journalBlocks: 16})
	const workers, opsPerWorker = 8, 60
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- runWorker(d, w, opsPerWorker)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := d.checkInvariants(); err != nil {
		t.Fatal(err)
	}
	model := map[chunks.FragmentKey][]byte{}
	if err := d.ListFragments(func(fi chunks.FragmentInfo) error {
		data, err := d.GetFragment(fi.Key)
		model[fi.Key] = data
		return err
	}); err != nil {
		t.Fatal(err)
	}
	syncs := st.syncs
	mustClose(t, d)
	if syncs >= workers*opsPerWorker*2 {
		t.Logf("no fsync grouping observed: %d fsyncs for %d ops", syncs, workers*opsPerWorker)
	}
	d = openMem(t, st)
	checkModel(t, d, model)
	mustClose(t, d)
}

// runWorker owns keys w*4..w*4+3 exclusively (so it can check its reads)
// and also replaces and deletes shared keys 1000..1003.
func runWorker(d *Device, w, ops int) error {
	mine := map[chunks.FragmentKey][]byte{}
	for i := range ops {
		k := testKey(w*4 + i%4)
		shared := testKey(1000 + i%4)
		data := testData(uint64(w*1000+i), (i*1237)%30_000)
		var err error
		switch i % 5 {
		case 0, 1:
			err = d.PutFragment(k, data)
			mine[k] = data
		case 2:
			err = d.PutFragment(shared, data)
		case 3:
			err = d.DeleteFragment(shared)
		case 4:
			var got []byte
			if got, err = d.GetFragment(k); errors.Is(err, chunks.ErrFragmentNotFound) && mine[k] == nil {
				err = nil
			} else if err == nil && string(got) != string(mine[k]) {
				err = fmt.Errorf("worker %d read a foreign value for its own key", w)
			}
			if _, serr := d.GetFragment(shared); serr != nil && !errors.Is(serr, chunks.ErrFragmentNotFound) {
				err = errors.Join(err, serr)
			}
		}
		if err != nil {
			return fmt.Errorf("worker %d op %d: %w", w, i, err)
		}
	}
	return nil
}

// Goal: Trim discards freed extents that are still free and skips ones
// already reused. Method: the memory medium zeroes punched ranges.
func TestTrim(t *testing.T) {
	st, d := newMemDevice(t, memOptions{})
	a, b := testKey(1), testKey(2)
	mustPut(t, d, a, testData(1, 20_000))
	mustPut(t, d, b, testData(2, 20_000))
	extA, extB := d.index[a].extent, d.index[b].extent
	for _, k := range []chunks.FragmentKey{a, b} {
		if err := d.DeleteFragment(k); err != nil {
			t.Fatal(err)
		}
	}
	reuse := testKey(3)
	mustPut(t, d, reuse, testData(3, 20_000)) // best fit reuses a's extent
	if d.index[reuse].extent != extA {
		t.Fatalf("reuse landed at %v, want %v", d.index[reuse].extent, extA)
	}
	n, err := d.Trim()
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(extB.blocks) * blockSize; n != want {
		t.Fatalf("trimmed %d bytes, want %d", n, want)
	}
	if got := st.peek(d.geo.dataOffset(extB), 8); binary.BigEndian.Uint64(got) != 0 {
		t.Fatalf("trimmed extent still holds data")
	}
	mustGet(t, d, reuse, testData(3, 20_000))
	if err := d.checkInvariants(); err != nil {
		t.Fatal(err)
	}
}

// Goal: Scrub reads everything and names exactly the corrupt fragments.
func TestScrub(t *testing.T) {
	st, d := newMemDevice(t, memOptions{})
	for i := range 5 {
		mustPut(t, d, testKey(i), testData(uint64(i), 7_000))
	}
	st.flip(d.geo.dataOffset(d.index[testKey(3)].extent) + 100)
	r, err := d.Scrub()
	if err != nil {
		t.Fatal(err)
	}
	if r.FragmentsChecked != 5 || r.BytesChecked != 5*7_000 || len(r.Corrupt) != 1 || r.Corrupt[0] != testKey(3) {
		t.Fatalf("scrub: %+v", r)
	}
}

// Goal: a read racing with a replace and the reuse of the old extent
// returns the new value, not ErrCorrupt; a read racing with a delete
// returns ErrFragmentNotFound. Method: the hook between the read's
// lookup and its I/O replaces (or deletes) the key and overwrites the
// old extent with another fragment.
func TestGetRacingReuse(t *testing.T) {
	for _, deleteIt := range []bool{false, true} {
		t.Run(fmt.Sprintf("delete=%t", deleteIt), func(t *testing.T) {
			_, d := newMemDevice(t, memOptions{})
			k, thief := testKey(1), testKey(2)
			first, second := testData(1, 9_000), testData(2, 20_000)
			mustPut(t, d, k, first)
			old := d.index[k].extent
			raced := false
			d.cfg.hook = func(s step) error {
				if s != stepGetLookedUp || raced {
					return nil
				}
				raced = true
				if deleteIt {
					if err := d.DeleteFragment(k); err != nil {
						return err
					}
				} else if err := d.PutFragment(k, second); err != nil {
					return err
				}
				if err := d.PutFragment(thief, testData(3, 9_000)); err != nil {
					return err
				}
				if d.index[thief].extent != old {
					return fmt.Errorf("the old extent was not reused: %v vs %v", d.index[thief].extent, old)
				}
				return nil
			}
			got, err := d.GetFragment(k)
			switch {
			case !raced:
				t.Fatalf("the race never ran")
			case deleteIt && !errors.Is(err, chunks.ErrFragmentNotFound):
				t.Fatalf("get racing a delete: %v", err)
			case !deleteIt && (err != nil || string(got) != string(second)):
				t.Fatalf("get racing a replace: %d bytes, %v", len(got), err)
			}
		})
	}
}
