package chunks

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/annal-storage/annal/keys"
)

// Sealed-chunk envelope, version 1. All integers are big-endian.
//
//	offset  size  field
//	0       2     format version (SealVersion1); always first, read first
//	2       1     algorithm id (SealAlgorithmAES256GCM)
//	3       4     system master-key epoch
//	7       12    nonce
//	19      n     ciphertext (len(plaintext) bytes)
//	19+n    16    GCM tag
//
// The AAD is the first 7 bytes (version, algorithm, epoch) followed by the
// 32-byte chunk id, so an envelope cannot be replayed under another chunk
// id, epoch, version or algorithm. The DEK is keys.DeriveChunkDEK(master
// key of the epoch, chunk id).
const (
	SealVersion1           uint16 = 1
	SealAlgorithmAES256GCM uint8  = 1

	sealNonceOffset   = 7
	sealHeaderBytes   = sealNonceOffset + SealNonceBytes
	SealNonceBytes    = 12
	SealTagBytes      = 16
	SealOverheadBytes = sealHeaderBytes + SealTagBytes // envelope bytes beyond the plaintext
)

var (
	// ErrUnknownSealVersion: the envelope's format version is not one this
	// binary reads (a newer writer, or corruption of the first two bytes).
	ErrUnknownSealVersion = errors.New("unknown sealed-chunk format version")
	// ErrUnknownSealAlgorithm: the algorithm id is not one this binary knows.
	ErrUnknownSealAlgorithm = errors.New("unknown sealed-chunk algorithm")
	// ErrSealTruncated: the envelope is shorter than its fixed fields.
	ErrSealTruncated = errors.New("sealed chunk truncated")
	// ErrMasterKeyInvalid: the master key supplied for an epoch is unusable.
	ErrMasterKeyInvalid = errors.New("master key invalid")
	// ErrDecryptFailed: authentication failed. The envelope was altered,
	// belongs to another chunk id or epoch, or the master key is wrong
	// (ChunkCorrupted in the error taxonomy).
	ErrDecryptFailed = errors.New("sealed chunk failed authentication")
)

// SealedSize returns the envelope size for a plaintext of n bytes.
func SealedSize(plaintextBytes int) int {
	return plaintextBytes + SealOverheadBytes
}

// Seal appends to dst the envelope of plaintext sealed for chunk id under
// the master key of epoch, and returns the extended slice. The plaintext is
// encrypted in exactly one AES-256-GCM pass.
//
// The nonce must come from crypto/rand in production; it is a parameter so
// tests and the simulator can make sealing deterministic. Because the DEK
// is derived from the chunk id, which is itself a function of the
// plaintext, a repeated nonce can only ever re-encrypt the same plaintext.
//
// master must be at least keys.MinMasterKeySizeBytes long; a shorter key
// is a programming error and panics. dst and plaintext must not overlap.
func Seal(dst []byte, master []byte, epoch uint32, id ChunkID, nonce [SealNonceBytes]byte, plaintext []byte) []byte {
	aead := newChunkAEAD(master, id)
	start := len(dst)
	dst = binary.BigEndian.AppendUint16(dst, SealVersion1)
	dst = append(dst, SealAlgorithmAES256GCM)
	dst = binary.BigEndian.AppendUint32(dst, epoch)
	dst = append(dst, nonce[:]...)
	aad := sealAAD(dst[start:start+sealNonceOffset], id)
	return aead.Seal(dst, nonce[:], plaintext, aad[:])
}

// Open authenticates and decrypts a sealed envelope of chunk id, appending
// the plaintext to dst. masterFor returns the master key of an epoch; its
// error is returned wrapped. The version is checked before anything else.
func Open(dst []byte, masterFor func(epoch uint32) ([]byte, error), id ChunkID, sealed []byte) ([]byte, error) {
	if len(sealed) < 2 {
		return nil, fmt.Errorf("open chunk %s: %d bytes: %w", id, len(sealed), ErrSealTruncated)
	}
	if v := binary.BigEndian.Uint16(sealed); v != SealVersion1 {
		return nil, fmt.Errorf("open chunk %s: version %d: %w", id, v, ErrUnknownSealVersion)
	}
	if len(sealed) < SealOverheadBytes {
		return nil, fmt.Errorf("open chunk %s: %d bytes: %w", id, len(sealed), ErrSealTruncated)
	}
	if alg := sealed[2]; alg != SealAlgorithmAES256GCM {
		return nil, fmt.Errorf("open chunk %s: algorithm %d: %w", id, alg, ErrUnknownSealAlgorithm)
	}
	epoch := binary.BigEndian.Uint32(sealed[3:])
	master, err := masterFor(epoch)
	if err != nil {
		return nil, fmt.Errorf("open chunk %s: master key of epoch %d: %w", id, epoch, err)
	}
	if len(master) < keys.MinMasterKeySizeBytes {
		return nil, fmt.Errorf("open chunk %s: epoch %d key is %d bytes: %w", id, epoch, len(master), ErrMasterKeyInvalid)
	}
	aad := sealAAD(sealed[:sealNonceOffset], id)
	nonce := sealed[sealNonceOffset:sealHeaderBytes]
	plaintext, err := newChunkAEAD(master, id).Open(dst, nonce, sealed[sealHeaderBytes:], aad[:])
	if err != nil {
		return nil, fmt.Errorf("open chunk %s epoch %d: %w", id, epoch, ErrDecryptFailed)
	}
	return plaintext, nil
}

// ConvergentNonce returns the nonce derived from the epoch and chunk id:
// the first 12 bytes of SHA-256("annal-chunk-nonce-v1" || epoch || id).
//
// A fixed nonce per (epoch, chunk id) is safe here because the DEK is
// already unique per (master key of the epoch, chunk id), and the chunk id
// is a collision-resistant function of the plaintext: a (key, nonce) pair
// can only ever repeat with the same plaintext, producing the same
// ciphertext, which reveals nothing the chunk id does not. In exchange,
// every writer of a chunk under one epoch produces a byte-identical
// envelope, so concurrent writers of the same chunk (a dedup race) write
// identical fragments instead of interleaving two different envelopes.
func ConvergentNonce(epoch uint32, id ChunkID) [SealNonceBytes]byte {
	h := sha256.New()
	h.Write([]byte("annal-chunk-nonce-v1"))
	h.Write(binary.BigEndian.AppendUint32(nil, epoch))
	h.Write(id[:])
	var sum [sha256.Size]byte
	var nonce [SealNonceBytes]byte
	copy(nonce[:], h.Sum(sum[:0]))
	return nonce
}

// sealAAD is the envelope's fixed prefix (version, algorithm, epoch)
// followed by the chunk id.
func sealAAD(prefix []byte, id ChunkID) [sealNonceOffset + len(ChunkID{})]byte {
	var aad [sealNonceOffset + len(ChunkID{})]byte
	copy(aad[:], prefix)
	copy(aad[sealNonceOffset:], id[:])
	return aad
}

func newChunkAEAD(master []byte, id ChunkID) cipher.AEAD {
	dek := keys.DeriveChunkDEK(master, id)
	block, err := aes.NewCipher(dek[:])
	if err != nil {
		panic(fmt.Sprintf("chunks: AES with a 32-byte key: %v", err)) // unreachable
	}
	// NewGCM fails only under GODEBUG=fips140=only, which refuses
	// caller-chosen nonces; annal supports fips140=on, not "only".
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(fmt.Sprintf("chunks: GCM over AES: %v", err))
	}
	return aead
}
