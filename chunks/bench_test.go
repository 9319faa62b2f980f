package chunks

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/reedsolomon"
)

// Benchmarks report MB/s of plaintext (or sealed envelope, for the erasure
// coding ones) via b.SetBytes. Raw library baselines sit beside ours so the
// cost of headers, CRCs, copies and key derivation is visible:
//
//	go test ./chunks -run '^$' -bench . -benchtime 2x   (quick)
//	go test ./chunks -run '^$' -bench . -count 5        (for comparisons)

var benchSizes = []int{1 << 20, 4 << 20}

func sizeName(n int) string { return fmt.Sprintf("%dMiB", n>>20) }

func BenchmarkAESGCMRaw(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			block, err := aes.NewCipher(testMaster)
			if err != nil {
				b.Fatal(err)
			}
			gcm, err := cipher.NewGCM(block)
			if err != nil {
				b.Fatal(err)
			}
			plaintext, nonce := pseudoRandomBytes(1, n), testNonce(0)
			dst := make([]byte, 0, n+SealOverheadBytes)
			b.SetBytes(int64(n))
			for b.Loop() {
				dst = gcm.Seal(dst[:0], nonce[:], plaintext, nil)
			}
		})
	}
}

func BenchmarkSeal(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			plaintext := pseudoRandomBytes(1, n)
			id := IDSHA256(plaintext)
			dst := make([]byte, 0, SealedSize(n))
			b.SetBytes(int64(n))
			for b.Loop() {
				dst = Seal(dst[:0], testMaster, 1, id, testNonce(0), plaintext)
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			plaintext := pseudoRandomBytes(1, n)
			id := IDSHA256(plaintext)
			sealed := Seal(nil, testMaster, 1, id, testNonce(0), plaintext)
			dst := make([]byte, 0, n)
			b.SetBytes(int64(n))
			for b.Loop() {
				var err error
				if dst, err = Open(dst[:0], anyEpoch, id, sealed); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkChunkID(b *testing.B) {
	data := pseudoRandomBytes(1, 1<<20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		IDSHA256(data)
	}
}

// forEachECShape runs fn for EC 4+2 and 8+3 on each bench size.
func forEachECShape(b *testing.B, fn func(b *testing.B, p Profile, n int)) {
	for _, p := range []Profile{EC(4, 2), EC(8, 3)} {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("%d+%d/%s", p.Data, p.Parity, sizeName(n)), func(b *testing.B) { fn(b, p, n) })
		}
	}
}

func BenchmarkReedSolomonEncodeRaw(b *testing.B) {
	forEachECShape(b, func(b *testing.B, p Profile, n int) {
		enc, err := reedsolomon.New(p.Data, p.Parity)
		if err != nil {
			b.Fatal(err)
		}
		shards, err := enc.Split(pseudoRandomBytes(1, n))
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(n))
		for b.Loop() {
			if err := enc.Encode(shards); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkEncodeFragments(b *testing.B) {
	forEachECShape(b, func(b *testing.B, p Profile, n int) {
		sealed := pseudoRandomBytes(1, n)
		id := IDSHA256(sealed)
		b.SetBytes(int64(n))
		for b.Loop() {
			if _, err := EncodeFragments(p, id, sealed); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Reconstruction benchmarks lose the first m data shards, the worst case.
func BenchmarkReedSolomonReconstructRaw(b *testing.B) {
	forEachECShape(b, func(b *testing.B, p Profile, n int) {
		enc, err := reedsolomon.New(p.Data, p.Parity)
		if err != nil {
			b.Fatal(err)
		}
		shards, err := enc.Split(pseudoRandomBytes(1, n))
		if err != nil {
			b.Fatal(err)
		}
		if err := enc.Encode(shards); err != nil {
			b.Fatal(err)
		}
		joined := &bytes.Buffer{}
		b.SetBytes(int64(n))
		for b.Loop() {
			for i := 0; i < p.Parity; i++ {
				shards[i] = shards[i][:0] // missing; capacity reused
			}
			if err := enc.ReconstructData(shards); err != nil {
				b.Fatal(err)
			}
			joined.Reset()
			if err := enc.Join(joined, shards, n); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkReconstruct(b *testing.B) {
	forEachECShape(b, func(b *testing.B, p Profile, n int) {
		sealed := pseudoRandomBytes(1, n)
		id := IDSHA256(sealed)
		fragments, err := EncodeFragments(p, id, sealed)
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < p.Parity; i++ {
			fragments[i] = nil
		}
		b.SetBytes(int64(n))
		for b.Loop() {
			if _, _, err := Reconstruct(p, id, fragments); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkChunker(b *testing.B) {
	data := pseudoRandomBytes(1, 64<<20)
	for _, tc := range []struct {
		name   string
		params ChunkerParams
	}{
		{"CDC", DefaultChunkerParams()},
		{"Fixed", FixedChunkerParams(DefaultAvgChunkBytes)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				c, err := NewChunker(bytes.NewReader(data), tc.params)
				if err != nil {
					b.Fatal(err)
				}
				for {
					if _, err := c.Next(); err == io.EOF {
						break
					} else if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// benchWriter is a Writer over six directory devices in temp dirs.
func benchWriter(b *testing.B, chunksInFlight int) (*Writer, testStore) {
	ts := testStore{dirs: map[string]string{}}
	var devices []Device
	for i := 0; i < 6; i++ {
		id := fmt.Sprintf("dev%d", i)
		ts.dirs[id] = filepath.Join(b.TempDir(), id)
		d, err := OpenDirDevice(id, ts.dirs[id], (&testClock{}).now)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { d.Close() })
		devices = append(devices, d)
	}
	s, err := NewStore(devices)
	if err != nil {
		b.Fatal(err)
	}
	ts.Store = s
	w, err := NewWriter(WriterConfig{
		Store: s, Profile: EC(4, 2), Keys: &fixedKeys{current: 1, keys: map[uint32][]byte{1: testMaster}},
		Nonces: rand.NewChaCha8(seedBytes(1)), ChunksInFlight: chunksInFlight,
	})
	if err != nil {
		b.Fatal(err)
	}
	return w, ts
}

// BenchmarkWritePipeline: chunk (FastCDC defaults) + SHA-256 id + seal +
// EC 4+2 encode + write (with fsync) to six directory devices, with one
// and four chunks in flight.
func BenchmarkWritePipeline(b *testing.B) {
	for _, inFlight := range []int{1, 4} {
		b.Run(fmt.Sprintf("InFlight%d", inFlight), func(b *testing.B) {
			w, _ := benchWriter(b, inFlight)
			data := pseudoRandomBytes(2, 32<<20)
			b.SetBytes(int64(len(data)))
			round := uint64(0)
			for b.Loop() {
				round++
				for i := 0; i < len(data); i += 64 << 10 { // new chunk ids each round
					data[i] = byte(round)
				}
				if _, err := w.WriteStream(bytes.NewReader(data), DefaultChunkerParams()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRead reads 16 MiB of 1 MiB chunks back, healthy and with two
// of the six devices removed (degraded: reconstruct on every chunk that
// had data fragments there).
func BenchmarkRead(b *testing.B) {
	for _, degraded := range []bool{false, true} {
		b.Run(map[bool]string{false: "Healthy", true: "Degraded2Missing"}[degraded], func(b *testing.B) {
			w, ts := benchWriter(b, 1)
			refs, err := w.WriteStream(bytes.NewReader(pseudoRandomBytes(3, 16<<20)), FixedChunkerParams(1<<20))
			if err != nil {
				b.Fatal(err)
			}
			if degraded {
				for _, id := range []string{"dev0", "dev1"} {
					if err := os.RemoveAll(ts.dirs[id]); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.SetBytes(16 << 20)
			for b.Loop() {
				for _, ref := range refs {
					if _, report, err := w.ReadChunk(ref); err != nil || (!degraded && report.Degraded()) {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
