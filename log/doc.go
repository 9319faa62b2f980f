// Package log is annal's replicated log: the per-shard proposal format,
// the shard key space, and the one pure apply function every replica runs
// (guards → validate → append events → fold projections → applied index,
// all in one batch). The dragonboat-backed implementation of Shards lives
// in log/raft; the simulator drives the same Applier through its own
// simulated log.
//
// Invariants:
//   - Apply is deterministic: the same proposals at the same indexes into
//     the same state give byte-identical state. No clock, no randomness,
//     no map iteration that affects output.
//   - A proposal is all or nothing: if a guard or any event's validation
//     fails, nothing of it is written and no sequence number is used.
//   - An event id is applied at most once; a proposal whose events were
//     all applied before reports Duplicate with the original sequence.
//   - An envelope newer than this binary halts the shard (SchemaTooNew):
//     the applied index stops there and nothing after it is applied until
//     a binary that understands it restarts the replica.
//   - Sequence numbers within a shard are dense, starting at 1.
//
// log may import log/event, log/kv and projections; never gateways,
// commands or chunks, and it never uses the standard library "log"
// package (the project logs with log/slog).
package log
