package keys

import (
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
)

// ChunkDEKInfo is the HKDF info label of chunk DEKs. It is part of the
// on-disk format: changing it makes every sealed chunk unreadable.
const ChunkDEKInfo = "annal-chunk-dek-v1"

// MasterKeySizeBytes is the size of a system master key.
const MasterKeySizeBytes = 32

// MinMasterKeySizeBytes is the shortest master key DeriveChunkDEK accepts.
// HKDF itself takes any length, but the FIPS 140-3 module refuses keys
// shorter than 112 bits; refusing them always keeps behaviour identical
// with and without GODEBUG=fips140.
const MinMasterKeySizeBytes = 16

// DeriveChunkDEK returns the data-encryption key of one chunk:
// HKDF-SHA256(key = master, salt = chunk id, info = ChunkDEKInfo), 32 bytes.
//
// The master key must be at least MinMasterKeySizeBytes long; a shorter key
// is a programming error (master keys are generated, never typed) and
// panics. Callers that take master keys from untrusted input check the
// length first (chunks.Open does).
func DeriveChunkDEK(master []byte, chunkID [32]byte) [32]byte {
	if len(master) < MinMasterKeySizeBytes {
		panic(fmt.Sprintf("keys: master key is %d bytes, need at least %d", len(master), MinMasterKeySizeBytes))
	}
	okm, err := hkdf.Key(sha256.New, master, chunkID[:], ChunkDEKInfo, 32)
	if err != nil {
		// Unreachable: SHA-256, 32 output bytes and a key of at least 128
		// bits satisfy every check hkdf.Key makes, FIPS mode included.
		panic(fmt.Sprintf("keys: derive chunk DEK: %v", err))
	}
	var dek [32]byte
	copy(dek[:], okm)
	return dek
}
