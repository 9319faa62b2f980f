package chunks

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"sort"
	"sync"
	"testing"
)

// Tests of envelope identities in fragment headers and of reading chunks
// whose fragments belong to several envelopes (ADR-015).

// memStoreDevice is an in-memory Device, so the exhaustive tests below
// run without fsync.
type memStoreDevice struct {
	id    string
	mu    sync.Mutex
	frags map[FragmentKey][]byte
}

func newMemStoreDevice(id string) *memStoreDevice {
	return &memStoreDevice{id: id, frags: map[FragmentKey][]byte{}}
}

func (d *memStoreDevice) ID() string { return d.id }
func (d *memStoreDevice) PutFragment(k FragmentKey, b []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.frags[k] = bytes.Clone(b)
	return nil
}
func (d *memStoreDevice) GetFragment(k FragmentKey) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	b, ok := d.frags[k]
	if !ok {
		return nil, ErrFragmentNotFound
	}
	return bytes.Clone(b), nil
}
func (d *memStoreDevice) DeleteFragment(k FragmentKey) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.frags, k)
	return nil
}
func (d *memStoreDevice) ListFragments(fn func(FragmentInfo) error) error {
	d.mu.Lock()
	var keys []FragmentKey
	for k := range d.frags {
		keys = append(keys, k)
	}
	d.mu.Unlock()
	sort.Slice(keys, func(i, j int) bool {
		return string(keys[i].Chunk[:]) < string(keys[j].Chunk[:]) || keys[i].Chunk == keys[j].Chunk && keys[i].Index < keys[j].Index
	})
	for _, k := range keys {
		if err := fn(FragmentInfo{Key: k}); err != nil {
			return err
		}
	}
	return nil
}
func (d *memStoreDevice) Stat() (DeviceStat, error) { return DeviceStat{}, nil }
func (d *memStoreDevice) Close() error              { return nil }

func newMemStore(t *testing.T, n int) (*Store, []*memStoreDevice) {
	t.Helper()
	var devs []*memStoreDevice
	var devices []Device
	for i := range n {
		d := newMemStoreDevice(fmt.Sprintf("dev%d", i))
		devs = append(devs, d)
		devices = append(devices, d)
	}
	s, err := NewStoreWithOptions(devices, StoreOptions{Sequential: true})
	if err != nil {
		t.Fatal(err)
	}
	return s, devs
}

var testMaster2 = bytes.Repeat([]byte{0x22}, 32)

func twoEpochKeys() *fixedKeys {
	return &fixedKeys{current: 1, keys: map[uint32][]byte{1: testMaster, 2: testMaster2}}
}

// twoEnvelopes seals one plaintext under epochs 1 and 2 (convergent
// nonces) and encodes both under profile.
func twoEnvelopes(t *testing.T, profile Profile, n int) (id ChunkID, plaintext []byte, sealed [3][]byte, fragments [3][][]byte) {
	t.Helper()
	plaintext = pseudoRandomBytes(uint64(n), n)
	id = IDSHA256(plaintext)
	for epoch, master := range map[uint32][]byte{1: testMaster, 2: testMaster2} {
		sealed[epoch] = Seal(nil, master, epoch, id, ConvergentNonce(epoch, id), plaintext)
		var err error
		if fragments[epoch], err = EncodeFragments(profile, id, sealed[epoch]); err != nil {
			t.Fatal(err)
		}
	}
	return id, plaintext, sealed, fragments
}

// asVersion1 rewrites a version-2 fragment as the version-1 format wrote
// it: same payload, no envelope identity.
func asVersion1(t *testing.T, f []byte) []byte {
	t.Helper()
	h, _, err := DecodeFragment(f)
	if err != nil {
		t.Fatal(err)
	}
	out := bytes.Clone(f)
	h.Version, h.Envelope = FragmentVersion1, Envelope{}
	putFragmentHeader(out[:FragmentHeaderBytes], h)
	return out
}

// Goal: version-2 headers round-trip the envelope identity; version-1
// fragments (no identity, reserved bytes zero) still decode, byte for
// byte as the old format wrote them. Method: golden bytes of both
// versions, and the reserved-bytes rule of version 1.
func TestFragmentHeaderVersions(t *testing.T) {
	sealed := make([]byte, 100)
	for i := range sealed {
		sealed[i] = byte(i)
	}
	fragments, err := EncodeFragments(EC(4, 2), IDSHA256(sealed), sealed)
	if err != nil {
		t.Fatal(err)
	}
	// The version-1 golden of the format before envelope identities.
	const v1 = "414e46470001010402050000bce0aff19cf5aa6a7469a30d61d04e4376e4bbf6381052ee9e7f33925c954d5200000064000000197af3f6de000000009b3a319ef3a8e996f701e0ad2c77364928e38c2b772c6d1273ff1e1495"
	old := asVersion1(t, fragments[5])
	if got := hex.EncodeToString(old[:FragmentHeaderBytes+25]); got != v1 {
		t.Fatalf("version-1 fragment\n got %s\nwant %s", got, v1)
	}
	h, payload, err := DecodeFragment(old)
	if err != nil || h.Version != FragmentVersion1 || h.Envelope.Known() || !bytes.Equal(payload, fragments[5][FragmentHeaderBytes:FragmentHeaderBytes+h.PayloadBytes]) {
		t.Fatalf("version-1 decode: %+v err %v", h, err)
	}
	withReserved := bytes.Clone(old)
	withReserved[57] = 1
	binary.BigEndian.PutUint32(withReserved[60:], crc32.Checksum(withReserved[:60], castagnoli))
	if _, _, err := DecodeFragment(withReserved); !errors.Is(err, ErrFragmentCorrupt) {
		t.Fatalf("version 1 with reserved bytes set: %v", err)
	}

	plaintext := []byte("envelope identity round trip")
	id := IDSHA256(plaintext)
	nonce := testNonce(9)
	env := Seal(nil, testMaster, 0x01020304, id, nonce, plaintext)
	fragments, err = EncodeFragments(EC(4, 2), id, env)
	if err != nil {
		t.Fatal(err)
	}
	want := Envelope{Epoch: 0x01020304, NonceTag: binary.BigEndian.Uint16(nonce[:])}
	for i, f := range fragments {
		h, _, err := DecodeFragment(f)
		if err != nil || h.Version != FragmentVersion2 || h.Envelope != want {
			t.Fatalf("fragment %d: %+v err %v, want %v", i, h, err, want)
		}
	}
	const v2 = "414e4647000201040203090a"
	if got := hex.EncodeToString(fragments[3][:12]); got != v2 || hex.EncodeToString(fragments[3][56:60]) != "01020304" {
		t.Fatalf("version-2 header %x, epoch bytes %x", fragments[3][:12], fragments[3][56:60])
	}
	if EnvelopeOf([]byte("not an envelope at all")).Known() {
		t.Fatal("EnvelopeOf names an identity for bytes that are no envelope")
	}
}

// fragmentState is what one fragment slot holds in a mixed-envelope
// test: nothing, the epoch-1 fragment, or the epoch-2 fragment.
type fragmentState int

const (
	slotMissing fragmentState = iota
	slotOld
	slotNew
)

// Goal: a read never combines fragments of two envelopes. Method: for
// EC 4+2, every assignment of {missing, epoch 1, epoch 2} to the six
// fragment slots (3^6), read with the record naming epoch 1 and then
// epoch 2. Expect the preferred envelope when it has ≥ 4 fragments,
// otherwise the other one when it has ≥ 4 (a fallback), otherwise
// ErrChunkLost; the bytes returned equal that envelope exactly and open
// to the plaintext.
func TestStoreReadsOneEnvelope(t *testing.T) {
	profile := EC(4, 2)
	id, plaintext, sealed, fragments := twoEnvelopes(t, profile, 5000)
	forEachMix(t, id, fragments[1], fragments[2], func(s *Store, placement Placement, states []fragmentState, counts [3]int) {
		for _, preferred := range []uint32{1, 2} {
			other := 3 - preferred
			want := uint32(0)
			if counts[preferred] >= 4 {
				want = preferred
			} else if counts[other] >= 4 {
				want = other
			}
			checkMixedRead(t, s, twoEpochKeys(), id, plaintext, sealed, placement, preferred, want, states)
		}
	})
}

// Goal: version-1 fragments, which carry no identity, are read as the
// envelope the record names (they were written when a chunk only ever
// had one), next to version-2 fragments of the same envelope (a repair by
// this release) and apart from another envelope's. Method: as
// TestStoreReadsOneEnvelope with the epoch-1 fragments in version 1 and
// the record naming epoch 1: ≥ 4 version-1 fragments read as epoch 1,
// else ≥ 4 epoch-2 fragments as epoch 2; and every mix of version-1 and
// version-2 fragments of epoch 1 reads while ≥ 4 are present.
func TestStoreReadsVersion1Fragments(t *testing.T) {
	profile := EC(4, 2)
	id, plaintext, sealed, fragments := twoEnvelopes(t, profile, 5000)
	legacy := make([][]byte, len(fragments[1]))
	for i, f := range fragments[1] {
		legacy[i] = asVersion1(t, f)
	}
	forEachMix(t, id, legacy, fragments[2], func(s *Store, placement Placement, states []fragmentState, counts [3]int) {
		want := uint32(0)
		if counts[slotOld] >= 4 {
			want = 1
		} else if counts[slotNew] >= 4 {
			want = 2
		}
		checkMixedRead(t, s, twoEpochKeys(), id, plaintext, sealed, placement, 1, want, states)
	})
	forEachMix(t, id, legacy, fragments[1], func(s *Store, placement Placement, states []fragmentState, counts [3]int) {
		want := uint32(0)
		if counts[slotOld]+counts[slotNew] >= 4 {
			want = 1
		}
		checkMixedRead(t, s, twoEpochKeys(), id, plaintext, sealed, placement, 1, want, states)
	})
}

// forEachMix stores every assignment of {missing, old[i], new[i]} to the
// six slots of an EC 4+2 chunk on six devices and calls check.
func forEachMix(t *testing.T, id ChunkID, old, new [][]byte, check func(*Store, Placement, []fragmentState, [3]int)) {
	t.Helper()
	s, devs := newMemStore(t, 6)
	placement := Placement{Profile: EC(4, 2), Devices: []string{"dev0", "dev1", "dev2", "dev3", "dev4", "dev5"}}
	for code := range 729 {
		states := make([]fragmentState, 6)
		counts := [3]int{}
		for i, c := 0, code; i < 6; i, c = i+1, c/3 {
			states[i] = fragmentState(c % 3)
			counts[states[i]]++
			key := FragmentKey{Chunk: id, Index: uint8(i)}
			delete(devs[i].frags, key)
			switch states[i] {
			case slotOld:
				devs[i].frags[key] = old[i]
			case slotNew:
				devs[i].frags[key] = new[i]
			}
		}
		check(s, placement, states, counts)
	}
}

func checkMixedRead(t *testing.T, s *Store, keys *fixedKeys, id ChunkID, plaintext []byte, sealed [3][]byte,
	placement Placement, preferred, want uint32, states []fragmentState) {
	t.Helper()
	placement.Epoch = preferred
	got, report, err := s.Get(id, placement)
	if want == 0 {
		if !errors.Is(err, ErrChunkLost) {
			t.Fatalf("states %v, record epoch %d: err %v, want ErrChunkLost", states, preferred, err)
		}
		return
	}
	if err != nil || !bytes.Equal(got, sealed[want]) {
		t.Fatalf("states %v, record epoch %d: got envelope %v err %v, want epoch %d", states, preferred, EnvelopeOf(got), err, want)
	}
	if report.Fallback != (want != preferred) || report.Envelope.Epoch != want {
		t.Fatalf("states %v, record epoch %d: report %+v", states, preferred, report)
	}
	opened, err := Open(nil, keys.Key, id, got)
	if err != nil || !bytes.Equal(opened, plaintext) {
		t.Fatalf("states %v: open: %v", states, err)
	}
	_, usable, _ := s.Check(id, placement)
	if usable < 4 {
		t.Fatalf("states %v: Check finds %d usable, Get read the chunk", states, usable)
	}
}

// Goal: Repair never mixes envelopes. Method: EC 4+2 with epoch-2
// fragments at 0..3 and epoch-1 at 4..5, record naming epoch 2: Repair
// rewrites 4..5 as epoch 2. Record naming epoch 1: Repair writes nothing
// (ErrForeignEnvelope), and the chunk stays readable.
func TestRepairOneEnvelope(t *testing.T) {
	profile := EC(4, 2)
	id, _, sealed, fragments := twoEnvelopes(t, profile, 3000)
	s, devs := newMemStore(t, 6)
	placement := Placement{Profile: profile, Devices: []string{"dev0", "dev1", "dev2", "dev3", "dev4", "dev5"}}
	load := func() {
		for i := range 6 {
			f := fragments[2][i]
			if i >= 4 {
				f = fragments[1][i]
			}
			devs[i].frags[FragmentKey{Chunk: id, Index: uint8(i)}] = f
		}
	}
	load()
	placement.Epoch = 1
	if _, repaired, err := s.Repair(id, placement); !errors.Is(err, ErrForeignEnvelope) || len(repaired) != 0 {
		t.Fatalf("repair under the stale record: repaired %v err %v", repaired, err)
	}
	if !bytes.Equal(devs[4].frags[FragmentKey{Chunk: id, Index: 4}], fragments[1][4]) {
		t.Fatal("refused repair wrote a fragment")
	}
	placement.Epoch = 2
	report, _, _ := s.Check(id, placement)
	if !slices.Equal(report.Foreign, []int{4, 5}) || !report.Degraded() {
		t.Fatalf("check: %+v", report)
	}
	if _, repaired, err := s.Repair(id, placement); err != nil || !slices.Equal(repaired, []int{4, 5}) {
		t.Fatalf("repair: repaired %v err %v", repaired, err)
	}
	for i := range 6 {
		if !bytes.Equal(devs[i].frags[FragmentKey{Chunk: id, Index: uint8(i)}], fragments[2][i]) {
			t.Fatalf("fragment %d is not the epoch-2 fragment after repair", i)
		}
	}
	if got, report, err := s.Get(id, placement); err != nil || !bytes.Equal(got, sealed[2]) || report.Degraded() {
		t.Fatalf("after repair: report %+v err %v", report, err)
	}
}

// Goal: Reseal writes the new envelope beside the old one, never over it,
// so every state of the rewrite reads right. Method: EC 4+2 on six
// devices and Rep-1 on one; after Reseal both placements read (old and
// new envelope); after DeleteReplaced only the new one; the new placement
// shares no (device, index) with the old one unless in place.
func TestWriterReseal(t *testing.T) {
	for _, tc := range []struct {
		profile Profile
		devices int
	}{{EC(4, 2), 6}, {EC(4, 2), 8}, {Replicate(3), 3}, {Replicate(1), 1}} {
		t.Run(fmt.Sprintf("%s on %d", tc.profile, tc.devices), func(t *testing.T) {
			s, _ := newMemStore(t, tc.devices)
			keys := twoEpochKeys()
			w, err := NewWriter(WriterConfig{Store: s, Profile: tc.profile, Keys: keys})
			if err != nil {
				t.Fatal(err)
			}
			plaintext := pseudoRandomBytes(77, 20_000)
			old, err := w.WriteChunk(plaintext)
			if err != nil || old.Placement.Epoch != 1 {
				t.Fatalf("write: %+v %v", old.Placement, err)
			}
			now, _, err := w.Reseal(old, 2)
			if err != nil || now.Epoch != 2 || now.Placement.Epoch != 2 {
				t.Fatalf("reseal: %+v %v", now, err)
			}
			inPlace := 0
			for i := range now.Placement.Devices {
				if now.Placement.Devices[i] == old.Placement.Devices[i] {
					inPlace++
				}
			}
			if inPlace > 0 && tc.profile.Fragments() > 1 {
				t.Fatalf("reseal placement %v reuses keys of %v", now.Placement.Devices, old.Placement.Devices)
			}
			readsAs(t, w, old, plaintext, map[bool]uint32{true: 2, false: 1}[inPlace > 0])
			readsAs(t, w, now, plaintext, 2)
			if err := s.DeleteReplaced(old.ID, old.Placement, now.Placement); err != nil {
				t.Fatal(err)
			}
			readsAs(t, w, now, plaintext, 2)
			if inPlace == 0 {
				if _, _, err := w.ReadChunk(old); !errors.Is(err, ErrChunkLost) {
					t.Fatalf("old placement after delete: %v", err)
				}
			}
		})
	}
}

func readsAs(t *testing.T, w *Writer, ref ChunkRef, plaintext []byte, epoch uint32) {
	t.Helper()
	got, report, err := w.ReadChunk(ref)
	if err != nil || !bytes.Equal(got, plaintext) || report.Envelope.Epoch != epoch {
		t.Fatalf("read %v: envelope %v err %v, want epoch %d", ref.Placement.Devices, report.Envelope, err, epoch)
	}
}

// Goal: a reseal avoids failed devices and refuses rather than reuse a
// key when no device is left. Method: fail the device fragment 0 would
// move to, with and without a spare.
func TestResealPlacementAvoidsFailedDevices(t *testing.T) {
	s, _ := newMemStore(t, 7)
	id := IDSHA256([]byte("x"))
	old := Placement{Profile: EC(4, 2), Devices: []string{"dev0", "dev1", "dev2", "dev3", "dev4", "dev5"}}
	s.SetDeviceFailed("dev1", true)
	got, err := s.ResealPlacement(id, old)
	if err != nil || !slices.Equal(got.Devices, []string{"dev6", "dev2", "dev3", "dev4", "dev5", "dev0"}) {
		t.Fatalf("with a spare: %v %v", got.Devices, err)
	}
	s.SetDeviceFailed("dev6", true)
	if _, err := s.ResealPlacement(id, old); !errors.Is(err, ErrInsufficientDevices) {
		t.Fatalf("without a spare: %v", err)
	}
}
