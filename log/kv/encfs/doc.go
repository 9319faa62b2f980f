// Package encfs encrypts Pebble's files at rest: the state store holds
// projections and the event store, which name tenant content. (The Raft
// log holds only sealed payloads, and snapshot streams are encrypted by
// log/raft; dragonboat's log store accepts no custom file system.) Every
// file starts with a 32-byte header (magic, format version, random IV);
// the rest is AES-256-CTR keyed by the data-at-rest key with the counter
// at the logical byte offset, so random reads, positioned writes, appends
// and recycled files all work without rewriting. Integrity is the
// engines' own (block and record checksums); confidentiality is ours.
//
// Invariants:
//   - No byte a caller writes reaches the disk unencrypted; an IV is
//     never reused for a different file: Create and ReuseForWrite draw a
//     fresh one from crypto/rand.
//   - Logical sizes and offsets hide the header.
//
// encfs imports only the standard library and Pebble's vfs interface.
package encfs
