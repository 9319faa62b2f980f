package chunks

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
	"testing/iotest"

	"pgregory.net/rapid"
)

// smallCDC keeps property tests fast while exercising every code path of
// the default sizes (min < avg < max, both masks).
var smallCDC = ChunkerParams{Mode: ContentDefined, MinSizeBytes: 64, AvgSizeBytes: 256, MaxSizeBytes: 1024}

// pseudoRandomBytes returns n deterministic bytes from seed.
func pseudoRandomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8(seedBytes(seed)).Read(b)
	return b
}

func seedBytes(seed uint64) [32]byte {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	return s
}

// testingT is what helpers need from *testing.T and *rapid.T alike.
type testingT interface {
	Helper()
	Fatalf(format string, args ...any)
}

// chunkAll runs a chunker to the end and returns copies of the chunks.
func chunkAll(t testingT, r io.Reader, p ChunkerParams) [][]byte {
	t.Helper()
	c, err := NewChunker(r, p)
	if err != nil {
		t.Fatalf("NewChunker: %v", err)
	}
	var out [][]byte
	for {
		chunk, err := c.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		out = append(out, bytes.Clone(chunk))
	}
}

// boundaries returns the cumulative end offsets of chunks.
func boundaries(chunks [][]byte) []int {
	var out []int
	offset := 0
	for _, c := range chunks {
		offset += len(c)
		out = append(out, offset)
	}
	return out
}

// drawInput draws a test input: random bytes, or runs of repeated bytes
// (low entropy, where FastCDC falls back to max-size cuts).
func drawInput(t *rapid.T, maxLen int) []byte {
	n := rapid.IntRange(0, maxLen).Draw(t, "len")
	seed := rapid.Uint64().Draw(t, "seed")
	data := pseudoRandomBytes(seed, n)
	if rapid.Bool().Draw(t, "lowEntropy") {
		for i := range data {
			data[i] = byte(i / 700)
		}
	}
	return data
}

func drawReader(t *rapid.T, data []byte) io.Reader {
	switch rapid.IntRange(0, 2).Draw(t, "reader") {
	case 0:
		return bytes.NewReader(data)
	case 1:
		return iotest.OneByteReader(bytes.NewReader(data))
	default:
		return iotest.HalfReader(bytes.NewReader(data))
	}
}

// Goal: chunking loses, duplicates and reorders nothing, and respects the
// size bounds. Method: random inputs and reader behaviours (short reads),
// concatenate chunks and compare; check every size.
func TestChunkerProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		params := smallCDC
		if rapid.Bool().Draw(t, "fixed") {
			params = FixedChunkerParams(rapid.IntRange(1, 700).Draw(t, "fixedSize"))
		}
		data := drawInput(t, 20_000)
		chunks := chunkAll(t, drawReader(t, data), params)

		if got := bytes.Join(chunks, nil); !bytes.Equal(got, data) {
			t.Fatalf("concatenation differs from input (%d vs %d bytes)", len(got), len(data))
		}
		for i, c := range chunks {
			last := i == len(chunks)-1
			if len(c) == 0 || len(c) > params.MaxSizeBytes || (!last && len(c) < params.MinSizeBytes) {
				t.Fatalf("chunk %d of %d has %d bytes, bounds [%d, %d]", i, len(chunks), len(c), params.MinSizeBytes, params.MaxSizeBytes)
			}
			if params.Mode == Fixed && !last && len(c) != params.AvgSizeBytes {
				t.Fatalf("fixed chunk %d has %d bytes, want %d", i, len(c), params.AvgSizeBytes)
			}
		}
	})
}

// sharedShifted counts the boundaries of original past skipBytes that
// reappear in shifted moved by shiftBytes, and how many were examined.
func sharedShifted(original, shifted []int, skipBytes, shiftBytes int) (shared, total int) {
	set := make(map[int]bool, len(shifted))
	for _, b := range shifted {
		set[b] = true
	}
	for _, b := range original {
		if b <= skipBytes {
			continue
		}
		total++
		if set[b+shiftBytes] {
			shared++
		}
	}
	return shared, total
}

// Goal: boundaries are content-defined, so inserting bytes near the start
// leaves later boundaries in place (shifted by the insertion). Method:
// chunk random data, insert 1..64 bytes within the first two average
// chunks, and require that at least 80% of the boundaries beyond the first
// few maximum-size chunks reappear shifted.
func TestChunkerBoundariesSurviveInsertion(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		data := pseudoRandomBytes(rapid.Uint64().Draw(t, "seed"), 256*smallCDC.AvgSizeBytes)
		at := rapid.IntRange(0, 2*smallCDC.AvgSizeBytes).Draw(t, "at")
		insert := pseudoRandomBytes(rapid.Uint64().Draw(t, "insertSeed"), rapid.IntRange(1, 64).Draw(t, "insertLen"))
		shifted := append(append(bytes.Clone(data[:at]), insert...), data[at:]...)

		original := boundaries(chunkAll(t, bytes.NewReader(data), smallCDC))
		moved := boundaries(chunkAll(t, bytes.NewReader(shifted), smallCDC))
		shared, total := sharedShifted(original, moved, at+4*smallCDC.MaxSizeBytes, len(insert))
		if shared*5 < total*4 {
			t.Fatalf("only %d of %d boundaries survived a %d-byte insertion at %d", shared, total, len(insert), at)
		}
	})
}

// Goal: show the insertion measure above can fail: fixed-size chunking
// loses nearly every boundary after an insertion that is not a multiple of
// its size.
func TestFixedChunkerBoundariesDoNotSurviveInsertion(t *testing.T) {
	data := pseudoRandomBytes(1, 256*smallCDC.AvgSizeBytes)
	shifted := append(append(bytes.Clone(data[:100]), 1, 2, 3), data[100:]...)
	p := FixedChunkerParams(smallCDC.AvgSizeBytes)
	original := boundaries(chunkAll(t, bytes.NewReader(data), p))
	moved := boundaries(chunkAll(t, bytes.NewReader(shifted), p))
	if shared, total := sharedShifted(original, moved, 100+4*smallCDC.MaxSizeBytes, 3); shared*5 >= total {
		t.Fatalf("fixed chunking kept %d of %d boundaries; the measure does not discriminate", shared, total)
	}
}

// Goal: the gear table never changes (it defines every chunk boundary).
// Method: check splitmix64 against its published first output for seed 0,
// then pin the table's digest.
func TestGearTableGolden(t *testing.T) {
	if _, out := splitmix64(0); out != 0xe220a8397b1dcdaf {
		t.Fatalf("splitmix64(0) = %#x, want 0xe220a8397b1dcdaf", out)
	}
	var buf []byte
	for _, g := range gear {
		buf = binary.LittleEndian.AppendUint64(buf, g)
	}
	const want = "7f2759a8d7cd53676128c4303e6c7911f128e547f0aca71ce5e70248e940c287"
	if got := fmt.Sprintf("%x", sha256.Sum256(buf)); got != want {
		t.Fatalf("gear table digest = %s, want %s", got, want)
	}
}

// Goal: the default parameters cut a fixed input at the same places in
// every release (dedup against old chunks depends on it). Method: chunk
// 24 MiB of seeded pseudo-random data and compare the chunk lengths with a
// committed list.
func TestDefaultChunkerGolden(t *testing.T) {
	data := pseudoRandomBytes(0x5eed, 24<<20)
	var got []int
	for _, c := range chunkAll(t, bytes.NewReader(data), DefaultChunkerParams()) {
		got = append(got, len(c))
	}
	want := []int{
		1075938, 1136864, 1558238, 1386043, 1712174, 1148271, 1087969,
		1224723, 1099681, 1257890, 1167005, 1483836, 1078077, 1295387,
		558435, 1122515, 1128280, 1402555, 460930, 1330498, 1450515,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("chunk lengths\n got %v\nwant %v", got, want)
	}
}

// generatedReader yields n pseudo-random bytes without holding them.
type generatedReader struct {
	source    *rand.ChaCha8
	remaining int
}

func (r *generatedReader) Read(p []byte) (int, error) {
	if r.remaining == 0 {
		return 0, io.EOF
	}
	p = p[:min(len(p), r.remaining)]
	r.source.Read(p)
	r.remaining -= len(p)
	return len(p), nil
}

// Goal: memory stays bounded by the buffer, not the stream. Method: chunk a
// 64 MiB generated stream and require the bytes allocated meanwhile to
// stay under three maximum chunk sizes (the buffer is two).
func TestChunkerMemoryBounded(t *testing.T) {
	const streamBytes = 64 << 20
	p := DefaultChunkerParams()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	c, err := NewChunker(&generatedReader{source: rand.NewChaCha8(seedBytes(9)), remaining: streamBytes}, p)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for {
		chunk, err := c.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		total += len(chunk)
	}
	runtime.ReadMemStats(&after)
	if total != streamBytes {
		t.Fatalf("chunked %d bytes, want %d", total, streamBytes)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > uint64(3*p.MaxSizeBytes) {
		t.Fatalf("allocated %d bytes while chunking %d, bound %d", grew, streamBytes, 3*p.MaxSizeBytes)
	}
}

func TestChunkerReadErrorIsSticky(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(bytes.NewReader(make([]byte, 100)), iotest.ErrReader(boom))
	c, err := NewChunker(r, smallCDC)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if _, err := c.Next(); !errors.Is(err, boom) {
			t.Fatalf("call %d: err = %v, want %v", i, err, boom)
		}
	}
}

func TestChunkerParamsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    ChunkerParams
		ok   bool
	}{
		{"default", DefaultChunkerParams(), true},
		{"fixed", FixedChunkerParams(4096), true},
		{"small", smallCDC, true},
		{"fixed zero", FixedChunkerParams(0), false},
		{"min below gear window", ChunkerParams{ContentDefined, 32, 256, 1024}, false},
		{"avg not power of two", ChunkerParams{ContentDefined, 64, 300, 1024}, false},
		{"min above avg", ChunkerParams{ContentDefined, 512, 256, 1024}, false},
		{"avg above max", ChunkerParams{ContentDefined, 64, 2048, 1024}, false},
		{"unknown mode", ChunkerParams{Mode: 9, MinSizeBytes: 64, AvgSizeBytes: 256, MaxSizeBytes: 1024}, false},
	} {
		err := tc.p.Validate()
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalidChunkerParams)) {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestChunkIDs(t *testing.T) {
	data := []byte("hello annal")
	if IDSHA256(data) != ChunkID(sha256.Sum256(data)) {
		t.Fatal("IDSHA256 differs from SHA-256")
	}
	// RFC 4231 test case 2 (HMAC-SHA256, key "Jefe").
	id := IDHMAC([]byte("Jefe"), []byte("what do ya want for nothing?"))
	if want := "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"; id.String() != want {
		t.Fatalf("IDHMAC = %s, want %s", id, want)
	}
	if IDHMAC([]byte("tenant-a"), data) == IDHMAC([]byte("tenant-b"), data) {
		t.Fatal("two tenants' dedup keys gave the same id")
	}
}
