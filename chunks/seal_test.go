package chunks

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"

	"github.com/annal-storage/annal/keys"
	"pgregory.net/rapid"
)

var testMaster = func() []byte {
	b := make([]byte, 32)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}()

// anyEpoch returns testMaster for every epoch, so a failure to open after
// the epoch field changes can only come from the AAD binding the epoch.
func anyEpoch(uint32) ([]byte, error) { return testMaster, nil }

func testNonce(seed byte) [SealNonceBytes]byte {
	var n [SealNonceBytes]byte
	for i := range n {
		n[i] = seed + byte(i)
	}
	return n
}

func TestSealOpenRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		plaintext := rapid.SliceOfN(rapid.Byte(), 0, 5000).Draw(t, "plaintext")
		epoch := rapid.Uint32().Draw(t, "epoch")
		id := IDSHA256(plaintext)
		prefix := rapid.SliceOfN(rapid.Byte(), 0, 8).Draw(t, "dstPrefix")

		sealed := Seal(bytes.Clone(prefix), testMaster, epoch, id, testNonce(3), plaintext)
		if !bytes.Equal(sealed[:len(prefix)], prefix) {
			t.Fatal("Seal overwrote dst's existing bytes")
		}
		sealed = sealed[len(prefix):]
		if len(sealed) != SealedSize(len(plaintext)) {
			t.Fatalf("sealed %d bytes, SealedSize says %d", len(sealed), SealedSize(len(plaintext)))
		}
		if len(plaintext) >= 16 && bytes.Contains(sealed, plaintext[:16]) {
			t.Fatal("plaintext visible in the envelope")
		}
		masterFor := func(e uint32) ([]byte, error) {
			if e != epoch {
				return nil, fmt.Errorf("asked for epoch %d, sealed under %d", e, epoch)
			}
			return testMaster, nil
		}
		got, err := Open(nil, masterFor, id, sealed)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if !bytes.Equal(got, plaintext) {
			t.Fatal("round trip changed the plaintext")
		}
	})
}

// Goal: every bit of the envelope is authenticated. Method: flip each bit
// of a sealed chunk in turn and require Open to fail, with masterFor
// returning the right key for any epoch.
func TestOpenRejectsEveryBitFlip(t *testing.T) {
	plaintext := []byte("one AEAD pass over every chunk, and the header bound in the AAD")
	id := IDSHA256(plaintext)
	sealed := Seal(nil, testMaster, 7, id, testNonce(1), plaintext)
	for bit := 0; bit < 8*len(sealed); bit++ {
		flipped := bytes.Clone(sealed)
		flipped[bit/8] ^= 1 << (bit % 8)
		if got, err := Open(nil, anyEpoch, id, flipped); err == nil {
			t.Fatalf("flipping bit %d still opened (%q)", bit, got)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	plaintext := []byte("payload")
	id := IDSHA256(plaintext)
	sealed := Seal(nil, testMaster, 2, id, testNonce(0), plaintext)
	unknownVersion := bytes.Clone(sealed)
	binary.BigEndian.PutUint16(unknownVersion, 99)
	unknownAlgorithm := bytes.Clone(sealed)
	unknownAlgorithm[2] = 2
	noEpoch := errors.New("no such epoch")

	for _, tc := range []struct {
		name      string
		id        ChunkID
		sealed    []byte
		masterFor func(uint32) ([]byte, error)
		want      error
	}{
		{"wrong chunk id", IDSHA256([]byte("other")), sealed, anyEpoch, ErrDecryptFailed},
		{"wrong master key", id, sealed, func(uint32) ([]byte, error) { return bytes.Repeat([]byte{9}, 32), nil }, ErrDecryptFailed},
		{"unknown version", id, unknownVersion, anyEpoch, ErrUnknownSealVersion},
		{"unknown algorithm", id, unknownAlgorithm, anyEpoch, ErrUnknownSealAlgorithm},
		{"empty", id, nil, anyEpoch, ErrSealTruncated},
		{"header only", id, sealed[:sealHeaderBytes], anyEpoch, ErrSealTruncated},
		{"tag cut", id, sealed[:len(sealed)-1], anyEpoch, ErrDecryptFailed},
		{"epoch unknown", id, sealed, func(uint32) ([]byte, error) { return nil, noEpoch }, noEpoch},
		{"short master", id, sealed, func(uint32) ([]byte, error) { return make([]byte, 8), nil }, ErrMasterKeyInvalid},
	} {
		if _, err := Open(nil, tc.masterFor, tc.id, tc.sealed); !errors.Is(err, tc.want) {
			t.Errorf("%s: Open error = %v, want %v", tc.name, err, tc.want)
		}
	}
}

// Goal: the envelope is what its documentation says and never drifts.
// Method: open a sealed chunk with crypto/cipher directly, building the DEK
// and AAD by hand from the documented layout; then compare the bytes with a
// committed golden envelope.
func TestSealGolden(t *testing.T) {
	plaintext := []byte("annal golden chunk")
	id := IDSHA256([]byte("annal"))
	sealed := Seal(nil, testMaster, 1, id, testNonce(0), plaintext)

	dek := keys.DeriveChunkDEK(testMaster, id)
	block, err := aes.NewCipher(dek[:])
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	header := []byte{0, 1, 1, 0, 0, 0, 1} // version 1, AES-256-GCM, epoch 1
	nonce := testNonce(0)
	if !bytes.Equal(sealed[:7], header) || !bytes.Equal(sealed[7:19], nonce[:]) {
		t.Fatalf("header %x, want %x then nonce %x", sealed[:19], header, nonce)
	}
	got, err := gcm.Open(nil, nonce[:], sealed[19:], append(header, id[:]...))
	if err != nil || !bytes.Equal(got, plaintext) {
		t.Fatalf("independent open: %q, %v", got, err)
	}

	const want = "00010100000001000102030405060708090a0b05a855bde3b97f5dc3a798f5439b92493ba06315b3621629e9fc781514872870ff09"
	if got := hex.EncodeToString(sealed); got != want {
		t.Fatalf("envelope\n got %s\nwant %s", got, want)
	}
}

// FuzzOpen: Open never panics, and whatever it accepts is exactly what Seal
// produces for the recovered plaintext (no envelope but a genuine one opens).
func FuzzOpen(f *testing.F) {
	id := IDSHA256([]byte("fuzz"))
	f.Add(Seal(nil, testMaster, 1, id, testNonce(0), []byte("fuzz")))
	f.Add(Seal(nil, testMaster, 0, id, testNonce(5), nil))
	f.Add([]byte{0, 1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, sealed []byte) {
		plaintext, err := Open(nil, anyEpoch, id, sealed)
		if err != nil {
			return
		}
		var nonce [SealNonceBytes]byte
		copy(nonce[:], sealed[sealNonceOffset:])
		epoch := binary.BigEndian.Uint32(sealed[3:])
		if again := Seal(nil, testMaster, epoch, id, nonce, plaintext); !bytes.Equal(again, sealed) {
			t.Fatalf("opened an envelope Seal would not produce: %x", sealed)
		}
	})
}

func TestConvergentNonce(t *testing.T) {
	a, b := IDSHA256([]byte("a")), IDSHA256([]byte("b"))
	if first, second := ConvergentNonce(1, a), ConvergentNonce(1, a); first != second {
		t.Fatal("ConvergentNonce is not deterministic")
	}
	if ConvergentNonce(1, a) == ConvergentNonce(2, a) || ConvergentNonce(1, a) == ConvergentNonce(1, b) {
		t.Fatal("ConvergentNonce ignores the epoch or the chunk id")
	}
}
