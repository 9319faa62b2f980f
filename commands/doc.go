// Package commands is the write side. Every operation is a pure decide
// function — (read view, input, env) → a Decision (guards and event
// bodies) or a typed domain error — plus a Service method that runs it
// against the replicated log: read a linearizable view, decide, propose,
// and on a rejected proposal (the state moved under it) decide again.
// Chunk writes happen in the Service before deciding; the events only
// reference chunks that are already durable.
//
// Compliance (ADR-014) lives here too: retention holds and their
// enforcement on every namespace decision (compliance.go), the
// crypto-shred sequence (shred.go), the audit consumer, security records
// and export (audit.go), and event GC gated by the audit export
// (eventgc.go).
//
// Invariants:
//   - A namespace decision that would drop content under an active
//     retention hold is refused (ErrUnderRetention) before it is proposed.
//   - Decide functions read nothing but their view and env: no clock, no
//     randomness, no I/O. Event ids, version ids, upload ids and times
//     come from env, chosen once and carried in the events.
//   - A retried proposal after an ambiguous failure reuses its bytes, so
//     its event ids make it exactly-once.
//   - Domain errors are projections' sentinels (re-exported here);
//     gateways map them to protocol errors in one table each.
//
// commands must not import net/http, go-fuse or any gateway; it may import
// log (proposals), log/event, log/kv, projections and chunks.
package commands
