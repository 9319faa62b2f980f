// Package keys owns annal's key hierarchy: system master-key epochs, the
// HKDF derivation of per-chunk data-encryption keys (DEKs), tenant KEK
// providers (internal first, external KMS behind the same interface) and
// the caches that hold unwrapped keys for a bounded time.
//
// Only the derivation part exists today (derive.go). The rest of the
// hierarchy is described here so the boundary is clear:
//
//   - A system master key exists per epoch. Rotation starts a new epoch;
//     older epochs stay readable until re-encryption finishes, so every
//     sealed chunk names the epoch it was sealed under; an epoch no chunk
//     uses is then retired and its key dropped (ADR-015).
//   - A chunk's DEK is derived on the storage node from the cached master
//     key and the chunk id (DeriveChunkDEK). DEKs are never stored and the
//     key service never sees chunk ids.
//   - Tenant KEKs wrap (epoch, chunk id) derivation parameters, never DEK
//     bytes; they come from a provider interface and are cached with a TTL.
//
// Invariants:
//   - Derivation is deterministic: the same (master key, chunk id) always
//     yields the same DEK, on every machine and in every release. The
//     labels (ChunkDEKInfo) are part of the on-disk format and never change;
//     a new derivation gets a new label ("-v2"), the old one stays.
//   - Key bytes are never logged, formatted or written to configuration.
//   - Crypto comes only from the Go standard library (FIPS 140-3 module:
//     crypto/hkdf, crypto/sha256, crypto/hmac).
//
// Must not import: anything else from annal (keys is a leaf used by
// chunks, commands and the key shard's projections), net/http, time.Now or
// math/rand.
package keys
