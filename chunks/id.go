package chunks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// DefaultInlineThresholdBytes is the default inline threshold: data with
// len(data) <= threshold rides sealed inside the event payload and is never
// chunked. Callers apply it; nothing in this package does.
const DefaultInlineThresholdBytes = 4096

// IDSHA256 names a chunk under the default, cross-tenant dedup policy:
// identical plaintext in any tenant gets the same id and is stored once.
func IDSHA256(plaintext []byte) ChunkID {
	return sha256.Sum256(plaintext)
}

// IDHMAC names a chunk for a tenant that opts out of cross-tenant dedup:
// HMAC-SHA256(tenantDedupKey, plaintext). Dedup then happens only within
// the tenant, and the id reveals nothing to someone without the key.
func IDHMAC(tenantDedupKey, plaintext []byte) ChunkID {
	mac := hmac.New(sha256.New, tenantDedupKey)
	mac.Write(plaintext)
	var id ChunkID
	mac.Sum(id[:0])
	return id
}

// String returns the id in lowercase hex.
func (id ChunkID) String() string {
	return hex.EncodeToString(id[:])
}
