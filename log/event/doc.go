// Package event defines annal's events: the envelope every mutation is
// wrapped in, the typed past-tense bodies, their codec and registry, and
// the guards a proposal may carry.
//
// An envelope has a system-visible header (format version first, type,
// shard, sequence, HLC, tenant, actor, event id, key hash, chunk
// references, sizes, tombstone) and a payload: the msgpack-encoded body,
// sealed under the tenant's payload key once keys exist.
//
// Invariants:
//   - The format version is a big-endian u16 at byte offset 0 of every
//     encoded envelope, and it is the first thing every decoder reads.
//   - Type codes are fixed forever; a retired code is never reused and its
//     decoder is kept. Codes with the high bit (SkippableTypeFlag) may be
//     skipped by binaries that do not know them; any other unknown type is
//     an error the apply path must halt on.
//   - Committed events are immutable: nothing re-encodes a stored event at
//     a different version.
//   - Every registered type has a golden encoding under testdata/golden;
//     a change in encoding fails the tests.
//
// event imports only log/hlc from annal.
package event
