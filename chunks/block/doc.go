// Package block owns annal's file-backed raw block device (ADR-029): one
// file or block device holding a superblock, a mirrored allocation bitmap,
// an allocation journal, a checkpointed fragment index and a data region,
// exposed as a chunks.Device.
//
// On-disk layout, in 4 KiB blocks (all integers big-endian):
//
//	block 0                superblock, primary copy
//	bitmap A, bitmap B     1 bit per data block, CRC32-C per page, mirrored
//	journal ring           append-only blocks of allocation records
//	checkpoint A, B        index snapshots, written alternately
//	data region            extents, each fragment + CRC32-C trailer
//	last block             superblock, secondary copy
//
// Every checksum except the superblock's is seeded with the device UUID,
// so metadata left behind by an earlier format never validates.
//
// Invariants:
//   - The checkpoint plus the journal chained to it is the truth about
//     which key owns which extent. The bitmap is a mirrored summary of it,
//     rebuilt from it at open wherever the two disagree.
//   - A commit record is written only after the fragment's data is on
//     stable storage, so every replayed commit names readable bytes.
//   - An extent returns to the free set only after the record that frees
//     it is on stable storage, so no crash can hand one extent to two keys.
//   - Extents are 4 KiB aligned and sized; all I/O is whole blocks (I-C7).
//   - The in-memory index changes in the same critical section that assigns
//     the record's sequence number, so memory order equals journal order.
//   - Decoders of on-disk structures never panic on any input (fuzzed).
//   - No clock is read except the injected one, no randomness is used at
//     all: the device UUID is supplied by the caller.
//
// Locking, outermost first: lifecycle (RLock per operation, Lock by
// Close), then bitmapMu (orders bitmap page writes) or syncMu (journal
// writer and fsync), then mu (in-memory index, free set, bitmap, pending
// records). No I/O happens under mu, and nothing acquires an outer lock
// while holding an inner one. Reads take no lock during I/O: a reader
// whose extent was freed and reused under it sees a CRC mismatch, finds
// the index entry changed, and looks again.
//
// Must not import: anything from annal except chunks (for the Device
// contract), net/http, math/rand, time.Now, the standard log package.
package block
