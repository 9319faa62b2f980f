package chunks

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"testing"
)

// indexSets returns every subset of 0..n-1 with exactly size members.
func indexSets(n, size int) [][]int {
	var out [][]int
	for mask := 0; mask < 1<<n; mask++ {
		if bits.OnesCount(uint(mask)) != size {
			continue
		}
		var set []int
		for i := 0; i < n; i++ {
			if mask&(1<<i) != 0 {
				set = append(set, i)
			}
		}
		out = append(out, set)
	}
	return out
}

var testProfiles = []Profile{EC(4, 2), EC(8, 3), Replicate(3)}

// Sealed lengths: tiny, not divisible by any k, exactly aligned, ~1 MiB.
var testSealedLengths = []int{1, SealOverheadBytes, 4093, 8 * 4096, 1<<20 + 35}

func encodeTest(t *testing.T, p Profile, sealedBytes int) (ChunkID, []byte, [][]byte) {
	t.Helper()
	sealed := pseudoRandomBytes(uint64(sealedBytes), sealedBytes)
	id := IDSHA256(sealed)
	fragments, err := EncodeFragments(p, id, sealed)
	if err != nil {
		t.Fatalf("EncodeFragments(%s, %d bytes): %v", p, sealedBytes, err)
	}
	return id, sealed, fragments
}

// corrupt returns a copy of fragment with one byte changed: in the header
// when which is even, in the payload when odd.
func corrupt(fragment []byte, which int) []byte {
	out := bytes.Clone(fragment)
	if which%2 == 0 {
		out[20] ^= 0x40
	} else {
		out[FragmentHeaderBytes] ^= 0x01
	}
	return out
}

func TestEncodeFragmentsLayout(t *testing.T) {
	for _, p := range testProfiles {
		for _, n := range testSealedLengths {
			id, _, fragments := encodeTest(t, p, n)
			if len(fragments) != p.Fragments() {
				t.Fatalf("%s: %d fragments, want %d", p, len(fragments), p.Fragments())
			}
			for i, f := range fragments {
				h, payload, err := DecodeFragment(f)
				if err != nil {
					t.Fatalf("%s fragment %d: %v", p, i, err)
				}
				padding := len(f) - FragmentHeaderBytes - len(payload)
				if len(f)%FragmentAlignBytes != 0 || padding < 0 || padding >= FragmentAlignBytes {
					t.Fatalf("%s fragment %d: %d bytes, padding %d", p, i, len(f), padding)
				}
				if h.Chunk != id || int(h.Index) != i || h.Profile != p || h.SealedBytes != n {
					t.Fatalf("%s fragment %d: header %+v", p, i, h)
				}
			}
		}
	}
}

// Goal: any m losses are survivable, whether fragments are missing or
// corrupt, and the corrupt ones are reported. Method: for 4+2, 8+3 and
// Rep-3, every subset of up to m fragment positions is dropped, then
// corrupted (header or payload byte), and the result compared.
func TestReconstructEveryLossUpToParity(t *testing.T) {
	for _, p := range testProfiles {
		for _, n := range []int{4093, 200_003} {
			id, sealed, fragments := encodeTest(t, p, n)
			for size := 0; size <= p.Parity; size++ {
				for _, lost := range indexSets(p.Fragments(), size) {
					checkReconstruct(t, p, id, sealed, fragments, lost, false)
					checkReconstruct(t, p, id, sealed, fragments, lost, true)
				}
			}
		}
	}
}

func checkReconstruct(t *testing.T, p Profile, id ChunkID, sealed []byte, fragments [][]byte, lost []int, corrupted bool) {
	t.Helper()
	given := slices.Clone(fragments)
	for n, i := range lost {
		given[i] = nil
		if corrupted {
			given[i] = corrupt(fragments[i], n)
		}
	}
	got, bad, err := Reconstruct(p, id, given)
	if err != nil {
		t.Fatalf("%s lost %v (corrupt=%v): %v", p, lost, corrupted, err)
	}
	if !bytes.Equal(got, sealed) {
		t.Fatalf("%s lost %v (corrupt=%v): wrong bytes", p, lost, corrupted)
	}
	wantBad := []int(nil)
	if corrupted {
		wantBad = lost
	}
	if !slices.Equal(bad, wantBad) {
		t.Fatalf("%s lost %v (corrupt=%v): bad = %v, want %v", p, lost, corrupted, bad, wantBad)
	}
}

// Goal: one loss beyond parity is reported as ErrChunkLost, never as
// wrong data. Method: every subset of m+1 positions, half of them
// corrupted rather than dropped.
func TestReconstructBeyondParityIsChunkLost(t *testing.T) {
	for _, p := range testProfiles {
		id, _, fragments := encodeTest(t, p, 4093)
		for _, lost := range indexSets(p.Fragments(), p.Parity+1) {
			given := slices.Clone(fragments)
			for n, i := range lost {
				given[i] = nil
				if n%2 == 1 {
					given[i] = corrupt(fragments[i], n)
				}
			}
			if got, _, err := Reconstruct(p, id, given); !errors.Is(err, ErrChunkLost) || got != nil {
				t.Fatalf("%s lost %v: got %d bytes, err %v; want ErrChunkLost", p, lost, len(got), err)
			}
		}
	}
}

// Goal: fragments in the wrong place, of another chunk or another profile
// count as bad, not as data.
func TestReconstructRejectsForeignFragments(t *testing.T) {
	p := EC(4, 2)
	id, sealed, fragments := encodeTest(t, p, 10_000)
	_, _, other := encodeTest(t, p, 10_001)
	_, _, otherProfile := encodeTest(t, EC(2, 4), 10_000)

	given := slices.Clone(fragments)
	given[0], given[1] = fragments[1], fragments[0] // swapped positions
	given[2] = other[2]                             // another chunk
	if _, bad, err := Reconstruct(p, id, given); !errors.Is(err, ErrChunkLost) || !slices.Equal(bad, []int{0, 1, 2}) {
		t.Fatalf("swapped/foreign: bad %v err %v", bad, err)
	}
	given = slices.Clone(fragments)
	given[3] = otherProfile[3]
	got, bad, err := Reconstruct(p, id, given)
	if err != nil || !bytes.Equal(got, sealed) || !slices.Equal(bad, []int{3}) {
		t.Fatalf("other profile: bad %v err %v", bad, err)
	}
	if _, _, err := Reconstruct(p, id, fragments[:5]); err == nil {
		t.Fatal("Reconstruct accepted 5 fragments for EC 4+2")
	}
}

func TestDecodeFragmentRejects(t *testing.T) {
	_, _, fragments := encodeTest(t, EC(4, 2), 5000)
	f := fragments[0]
	withVersion := bytes.Clone(f)
	withVersion[5] = 9
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrFragmentCorrupt},
		{"short header", f[:FragmentHeaderBytes-1], ErrFragmentCorrupt},
		{"bad magic", append([]byte("XNFG"), f[4:]...), ErrFragmentCorrupt},
		{"unknown version", withVersion, ErrUnknownFragmentVersion},
		{"header bit flip", corrupt(f, 0), ErrFragmentCorrupt},
		{"payload bit flip", corrupt(f, 1), ErrFragmentCorrupt},
		{"truncated payload", f[:FragmentHeaderBytes+10], ErrFragmentCorrupt},
		{"over-long", append(bytes.Clone(f), make([]byte, FragmentAlignBytes)...), ErrFragmentCorrupt},
	} {
		if _, _, err := DecodeFragment(tc.b); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
}

// Goal: the fragment header format never drifts. Method: golden bytes of
// a version-2 fragment of bytes that are no envelope (identity zero); the
// version-1 golden and real identities are in TestFragmentHeaderVersions.
func TestFragmentHeaderGolden(t *testing.T) {
	sealed := make([]byte, 100)
	for i := range sealed {
		sealed[i] = byte(i)
	}
	fragments, err := EncodeFragments(EC(4, 2), IDSHA256(sealed), sealed)
	if err != nil {
		t.Fatal(err)
	}
	const want = "414e46470002010402050000bce0aff19cf5aa6a7469a30d61d04e4376e4bbf6381052ee9e7f33925c954d5200000064000000197af3f6de00000000f1c2c30bf3a8e996f701e0ad2c77364928e38c2b772c6d1273ff1e1495"
	if got := hex.EncodeToString(fragments[5][:FragmentHeaderBytes+25]); got != want {
		t.Fatalf("fragment 5 header+payload\n got %s\nwant %s", got, want)
	}
}

func TestProfileValidate(t *testing.T) {
	for _, tc := range []struct {
		p    Profile
		ok   bool
		text string
	}{
		{EC(4, 2), true, "EC 4+2"},
		{EC(8, 3), true, "EC 8+3"},
		{Replicate(3), true, "Rep-3"},
		{Replicate(1), true, "Rep-1"},
		{EC(1, 2), false, "EC 1+2"},
		{EC(4, 0), false, "EC 4+0"},
		{EC(17, 2), false, "EC 17+2"},
		{Replicate(6), false, "Rep-6"},
		{Profile{Kind: KindReplicate, Data: 2, Parity: 1}, false, "Rep-3"},
		{Profile{}, false, "Profile(kind=0, 0+0)"},
	} {
		err := tc.p.Validate()
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalidProfile)) || tc.p.String() != tc.text {
			t.Errorf("%v: Validate() = %v, String() = %q; want ok=%v %q", tc.p, err, tc.p.String(), tc.ok, tc.text)
		}
	}
}

// FuzzDecodeFragment: DecodeFragment never panics, and whatever it accepts
// is self-consistent: re-encoding its header reproduces the bytes.
func FuzzDecodeFragment(f *testing.F) {
	for _, p := range testProfiles {
		sealed := []byte(fmt.Sprintf("sealed envelope for %s", p))
		fragments, err := EncodeFragments(p, IDSHA256(sealed), sealed)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(fragments[0])
		f.Add(fragments[len(fragments)-1][:FragmentHeaderBytes+8])
	}
	f.Add([]byte("ANFG"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, payload, err := DecodeFragment(b)
		if err != nil {
			return
		}
		if len(payload) != h.PayloadBytes || int(h.Index) >= h.Profile.Fragments() {
			t.Fatalf("accepted inconsistent fragment %+v with %d payload bytes", h, len(payload))
		}
		header := make([]byte, FragmentHeaderBytes)
		putFragmentHeader(header, h)
		if !bytes.Equal(header, b[:FragmentHeaderBytes]) {
			t.Fatalf("header does not round-trip: %x vs %x", header, b[:FragmentHeaderBytes])
		}
	})
}
