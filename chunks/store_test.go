package chunks

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

type testStore struct {
	*Store
	dirs map[string]string // device id → directory
}

// newTestStore opens n directory devices dev0..dev{n-1} in temp dirs.
func newTestStore(t *testing.T, n int) testStore {
	t.Helper()
	ts := testStore{dirs: map[string]string{}}
	var devices []Device
	base := t.TempDir()
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("dev%d", i)
		ts.dirs[id] = filepath.Join(base, id)
		devices = append(devices, openTestDevice(t, id, ts.dirs[id]))
	}
	s, err := NewStore(devices)
	if err != nil {
		t.Fatal(err)
	}
	ts.Store = s
	return ts
}

// fragmentFile returns the path of fragment index of id on its device.
func (ts testStore) fragmentFile(p Placement, id ChunkID, index int) string {
	dir, name := fragmentPath(FragmentKey{Chunk: id, Index: uint8(index)})
	return filepath.Join(ts.dirs[p.Devices[index]], dir, name)
}

// damage flips a payload byte of a fragment file on disk.
func (ts testStore) damage(t *testing.T, p Placement, id ChunkID, index int) {
	t.Helper()
	path := ts.fragmentFile(p, id, index)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[deviceFileHeaderBytes+FragmentHeaderBytes] ^= 0xff
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// removeDevice deletes a device's directory under the running store.
func (ts testStore) removeDevice(t *testing.T, deviceID string) {
	t.Helper()
	if err := os.RemoveAll(ts.dirs[deviceID]); err != nil {
		t.Fatal(err)
	}
}

func testSealed(n int) (ChunkID, []byte) {
	plaintext := pseudoRandomBytes(uint64(n), n)
	id := IDSHA256(plaintext)
	return id, Seal(nil, testMaster, 1, id, testNonce(0), plaintext)
}

func TestStorePutGet(t *testing.T) {
	for _, p := range []Profile{EC(4, 2), EC(8, 3), Replicate(3)} {
		ts := newTestStore(t, 11)
		id, sealed := testSealed(300_000)
		placement, err := ts.Put(p, id, sealed)
		if err != nil {
			t.Fatalf("%s: put: %v", p, err)
		}
		if len(placement.Devices) != p.Fragments() || len(slices.Compact(slices.Sorted(slices.Values(placement.Devices)))) != p.Fragments() {
			t.Fatalf("%s: placement %v is not %d distinct devices", p, placement.Devices, p.Fragments())
		}
		for i := range placement.Devices {
			if _, err := os.Stat(ts.fragmentFile(placement, id, i)); err != nil {
				t.Fatalf("%s: fragment %d not on %s: %v", p, i, placement.Devices[i], err)
			}
		}
		got, report, err := ts.Get(id, placement)
		if err != nil || !bytes.Equal(got, sealed) || report.Degraded() {
			t.Fatalf("%s: get: %d bytes, report %+v, err %v", p, len(got), report, err)
		}
	}
}

// Goal: placement is a deterministic function of chunk id and device ids,
// and removing a device changes only the chunks that used it, by that one
// device. Method: rank 300 chunk ids over 20 devices, then over 19.
func TestPlacementRendezvous(t *testing.T) {
	var ids []string
	for i := 0; i < 20; i++ {
		ids = append(ids, fmt.Sprintf("node%02d", i))
	}
	shuffled := slices.Clone(ids)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	const width = 6
	moved := 0
	for n := 0; n < 300; n++ {
		id := IDSHA256([]byte(fmt.Sprint(n)))
		before := rankDevices(id, ids)[:width]
		if !slices.Equal(before, rankDevices(id, shuffled)[:width]) {
			t.Fatal("placement depends on device order")
		}
		after := rankDevices(id, slices.DeleteFunc(slices.Clone(ids), func(d string) bool { return d == "node07" }))[:width]
		kept := 0
		for _, d := range before {
			if slices.Contains(after, d) {
				kept++
			}
		}
		switch {
		case !slices.Contains(before, "node07") && !slices.Equal(before, after):
			t.Fatalf("chunk %d moved though it did not use the removed device: %v → %v", n, before, after)
		case slices.Contains(before, "node07"):
			moved++
			if kept != width-1 {
				t.Fatalf("chunk %d lost more than the removed device: %v → %v", n, before, after)
			}
		}
	}
	// Expect width/N = 30% of chunks to use any given device.
	if moved < 300*width/20/2 || moved > 300*width/20*2 {
		t.Fatalf("%d of 300 chunks used the removed device, expected about %d", moved, 300*width/20)
	}
}

// Goal: degraded reads succeed with up to m fragments missing or corrupt,
// report them, and fail with ErrChunkLost beyond m. Method: real directory
// devices; remove device directories and damage fragment files on disk.
func TestStoreDegradedGet(t *testing.T) {
	ts := newTestStore(t, 6)
	id, sealed := testSealed(1 << 20)
	placement, err := ts.Put(EC(4, 2), id, sealed)
	if err != nil {
		t.Fatal(err)
	}
	ts.damage(t, placement, id, 1)
	ts.removeDevice(t, placement.Devices[3])
	got, report, err := ts.Get(id, placement)
	if err != nil || !bytes.Equal(got, sealed) {
		t.Fatalf("degraded get: %v", err)
	}
	if !slices.Equal(report.Missing, []int{3}) || !slices.Equal(report.Corrupt, []int{1}) {
		t.Fatalf("report %+v, want missing [3] corrupt [1]", report)
	}
	if _, err := ts.Put(EC(4, 2), IDSHA256([]byte("next")), sealed); !errors.Is(err, ErrInsufficientDevices) {
		t.Fatalf("put with a failed device among 6: %v, want ErrInsufficientDevices", err)
	}
	if err := os.Remove(ts.fragmentFile(placement, id, 5)); err != nil {
		t.Fatal(err)
	}
	if _, report, err := ts.Get(id, placement); !errors.Is(err, ErrChunkLost) {
		t.Fatalf("3 of 6 lost: %v (report %+v), want ErrChunkLost", err, report)
	}
}

// Goal: a device that fails during Put fails the Put (write quorum is
// all), is marked failed, and a retry places the chunk elsewhere.
func TestStorePutDeviceFails(t *testing.T) {
	ts := newTestStore(t, 7)
	id, sealed := testSealed(50_000)
	first := rankDevices(id, ts.ids)[0]
	ts.removeDevice(t, first)
	if _, err := ts.Put(EC(4, 2), id, sealed); !errors.Is(err, ErrDeviceFailed) {
		t.Fatalf("put onto a removed device: %v, want ErrDeviceFailed", err)
	}
	placement, err := ts.Put(EC(4, 2), id, sealed)
	if err != nil || slices.Contains(placement.Devices, first) {
		t.Fatalf("retry: placement %v, err %v", placement.Devices, err)
	}
}

// Goal: Repair rebuilds corrupt fragments in place and moves fragments off
// failed devices onto unused healthy ones, after which reads are clean.
func TestStoreRepair(t *testing.T) {
	ts := newTestStore(t, 8)
	id, sealed := testSealed(700_000)
	placement, err := ts.Put(EC(4, 2), id, sealed)
	if err != nil {
		t.Fatal(err)
	}
	ts.damage(t, placement, id, 1)
	ts.removeDevice(t, placement.Devices[4])

	repairedPlacement, repaired, err := ts.Repair(id, placement)
	if err != nil || !slices.Equal(repaired, []int{1, 4}) {
		t.Fatalf("repair: repaired %v, err %v", repaired, err)
	}
	if repairedPlacement.Devices[1] != placement.Devices[1] {
		t.Fatalf("fragment 1 moved off its healthy device: %v", repairedPlacement.Devices)
	}
	if d := repairedPlacement.Devices[4]; d == placement.Devices[4] || slices.Contains(placement.Devices, d) {
		t.Fatalf("fragment 4 went to %s; placement was %v", d, placement.Devices)
	}
	got, report, err := ts.Get(id, repairedPlacement)
	if err != nil || !bytes.Equal(got, sealed) || report.Degraded() {
		t.Fatalf("after repair: report %+v, err %v", report, err)
	}
	for i := range repairedPlacement.Devices { // every fragment readable, not just k
		if _, err := os.Stat(ts.fragmentFile(repairedPlacement, id, i)); err != nil {
			t.Fatalf("fragment %d after repair: %v", i, err)
		}
	}
	if _, repaired, err := ts.Repair(id, repairedPlacement); err != nil || repaired != nil {
		t.Fatalf("second repair: %v, %v; want nothing to do", repaired, err)
	}
}

func TestStoreRepairWithoutSpare(t *testing.T) {
	ts := newTestStore(t, 6)
	id, sealed := testSealed(10_000)
	placement, err := ts.Put(EC(4, 2), id, sealed)
	if err != nil {
		t.Fatal(err)
	}
	ts.damage(t, placement, id, 0)
	ts.removeDevice(t, placement.Devices[2])
	after, repaired, err := ts.Repair(id, placement)
	if !errors.Is(err, ErrInsufficientDevices) || !slices.Equal(repaired, []int{0}) || after.Devices[2] != placement.Devices[2] {
		t.Fatalf("repair without spare: repaired %v placement %v err %v", repaired, after.Devices, err)
	}
}

// fixedKeys is a MasterKeys over a table.
type fixedKeys struct {
	current uint32
	keys    map[uint32][]byte
}

func (k *fixedKeys) Current() (uint32, []byte) { return k.current, k.keys[k.current] }
func (k *fixedKeys) Key(epoch uint32) ([]byte, error) {
	if key, ok := k.keys[epoch]; ok {
		return key, nil
	}
	return nil, fmt.Errorf("epoch %d unknown", epoch)
}

func newTestWriter(t *testing.T, ts testStore, keys MasterKeys, exists func(ChunkID) bool) *Writer {
	t.Helper()
	w, err := NewWriter(WriterConfig{
		Store: ts.Store, Profile: EC(4, 2), Keys: keys,
		Nonces: rand.NewChaCha8(seedBytes(42)), Exists: exists,
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

var streamParams = ChunkerParams{Mode: ContentDefined, MinSizeBytes: 16 << 10, AvgSizeBytes: 64 << 10, MaxSizeBytes: 256 << 10}

// Goal: the whole pipeline round-trips across a key rotation, dedups
// through the Exists callback, and leaves no plaintext on any device.
// Method: write a marker-laden stream under epoch 1 and a second under
// epoch 2, read every chunk back, rewrite the first with dedup on, and
// search every device file for the marker.
func TestWriterPipeline(t *testing.T) {
	ts := newTestStore(t, 6)
	keys := &fixedKeys{current: 1, keys: map[uint32][]byte{1: testMaster, 2: bytes.Repeat([]byte{2}, 32)}}
	stored := map[ChunkID]bool{}
	w := newTestWriter(t, ts, keys, func(id ChunkID) bool { return stored[id] })

	marker := []byte("zq-annal-plaintext-marker-")
	first := bytes.Repeat(append(marker, pseudoRandomBytes(5, 1000)...), 1500)
	refs := writeAndCheck(t, w, first, stored)
	keys.current = 2
	second := pseudoRandomBytes(6, 900_000)
	for _, ref := range writeAndCheck(t, w, second, stored) {
		if ref.Epoch != 2 {
			t.Fatalf("chunk sealed under epoch %d after rotation to 2", ref.Epoch)
		}
	}
	for _, ref := range refs { // old epoch still readable
		if _, _, err := w.ReadChunk(ref); err != nil {
			t.Fatalf("epoch-1 chunk after rotation: %v", err)
		}
	}
	again, err := w.WriteStream(bytes.NewReader(first), streamParams)
	if err != nil {
		t.Fatal(err)
	}
	for i, ref := range again {
		if !ref.Deduplicated || ref.ID != refs[i].ID {
			t.Fatalf("rewrite chunk %d: %+v, want deduplicated %s", i, ref, refs[i].ID)
		}
	}
	assertNoPlaintext(t, ts, marker)
}

// writeAndCheck writes data as a stream, reads every chunk back and
// records the stored ids.
func writeAndCheck(t *testing.T, w *Writer, data []byte, stored map[ChunkID]bool) []ChunkRef {
	t.Helper()
	refs, err := w.WriteStream(bytes.NewReader(data), streamParams)
	if err != nil {
		t.Fatal(err)
	}
	var back []byte
	for _, ref := range refs {
		stored[ref.ID] = true
		plaintext, report, err := w.ReadChunk(ref)
		if err != nil || report.Degraded() || len(plaintext) != ref.PlaintextBytes {
			t.Fatalf("read chunk %s: report %+v, err %v", ref.ID, report, err)
		}
		back = append(back, plaintext...)
	}
	if !bytes.Equal(back, data) || len(refs) < 2 {
		t.Fatalf("stream of %d bytes in %d chunks did not round-trip", len(data), len(refs))
	}
	return refs
}

func assertNoPlaintext(t *testing.T, ts testStore, marker []byte) {
	t.Helper()
	files := 0
	for _, dir := range ts.dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			files++
			if bytes.Contains(b, marker[:16]) {
				t.Errorf("plaintext marker found in %s", path)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if files == 0 {
		t.Fatal("no device files to search")
	}
}

func TestWriterHMACIDs(t *testing.T) {
	ts := newTestStore(t, 6)
	keys := &fixedKeys{current: 1, keys: map[uint32][]byte{1: testMaster}}
	w, err := NewWriter(WriterConfig{Store: ts.Store, Profile: Replicate(3), Keys: keys, Nonces: rand.NewChaCha8(seedBytes(1)), DedupKey: []byte("tenant-key")})
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("isolated tenant chunk, longer than nothing")
	ref, err := w.WriteChunk(data)
	if err != nil || ref.ID != IDHMAC([]byte("tenant-key"), data) || ref.ID == IDSHA256(data) {
		t.Fatalf("HMAC writer: id %s err %v", ref.ID, err)
	}
	got, _, err := w.ReadChunk(ref)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read: %q %v", got, err)
	}
	if _, err := NewWriter(WriterConfig{Store: ts.Store, Profile: EC(4, 2)}); err == nil {
		t.Fatal("NewWriter accepted a config without Keys")
	}
	keys.keys[1] = make([]byte, 8)
	if _, err := w.WriteChunk(data); !errors.Is(err, ErrMasterKeyInvalid) {
		t.Fatalf("write with an 8-byte master key: %v, want ErrMasterKeyInvalid", err)
	}
}

// Goal: concurrent stream writing changes throughput, not results: with a
// seeded nonce source, 4 chunks in flight produce byte-identical envelopes
// in the same order as 1. A failed device fails the stream.
func TestWriteStreamInFlight(t *testing.T) {
	data := pseudoRandomBytes(11, 2<<20)
	keys := &fixedKeys{current: 1, keys: map[uint32][]byte{1: testMaster}}
	var envelopes [2][][]byte
	for run, inFlight := range []int{1, 4} {
		ts := newTestStore(t, 6)
		w, err := NewWriter(WriterConfig{Store: ts.Store, Profile: EC(4, 2), Keys: keys, Nonces: rand.NewChaCha8(seedBytes(7)), ChunksInFlight: inFlight})
		if err != nil {
			t.Fatal(err)
		}
		refs, err := w.WriteStream(bytes.NewReader(data), streamParams)
		if err != nil {
			t.Fatal(err)
		}
		for _, ref := range refs {
			sealed, _, err := ts.Get(ref.ID, ref.Placement)
			if err != nil {
				t.Fatal(err)
			}
			envelopes[run] = append(envelopes[run], sealed)
		}
		if run == 1 {
			ts.removeDevice(t, "dev3")
			if refs, err := w.WriteStream(bytes.NewReader(data[:1<<20]), streamParams); !errors.Is(err, ErrDeviceFailed) || refs != nil {
				t.Fatalf("stream onto a removed device: %d refs, %v", len(refs), err)
			}
		}
	}
	if len(envelopes[0]) < 8 || !slices.EqualFunc(envelopes[0], envelopes[1], bytes.Equal) {
		t.Fatalf("%d chunks sequentially, %d with 4 in flight, or envelopes differ", len(envelopes[0]), len(envelopes[1]))
	}
}

// Goal: writers racing to store the same new chunk (both missed the dedup
// check) leave it readable. Method: eight writers with convergent nonces
// write the same chunks concurrently onto the same devices; every
// reference any of them returned must read back.
func TestConcurrentWritersOfOneChunk(t *testing.T) {
	ts := newTestStore(t, 6)
	keys := &fixedKeys{current: 1, keys: map[uint32][]byte{1: testMaster}}
	data := pseudoRandomBytes(12, 512<<10)
	var wg sync.WaitGroup
	refs := make([][]ChunkRef, 8)
	for i := range refs {
		w, err := NewWriter(WriterConfig{Store: ts.Store, Profile: EC(4, 2), Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			var err error
			if refs[i], err = w.WriteStream(bytes.NewReader(data), streamParams); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	reader := newTestWriter(t, ts, keys, nil)
	for i := range refs {
		for _, ref := range refs[i] {
			if _, _, err := reader.ReadChunk(ref); err != nil {
				t.Fatalf("writer %d: %v", i, err)
			}
		}
	}
}
