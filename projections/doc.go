// Package projections holds the read side: pure folds of events into the
// state the gateways and commands read. Each shard kind has one
// projection (control, namespace, …) in a sub-package; this package holds
// what they share: the Projection contract, domain errors and the record
// codec.
//
// Invariants:
//   - Apply is a pure fold: (state, event) → state'. No clock, no
//     randomness, no goroutines, no map iteration that affects output.
//     Everything it needs is in the event.
//   - Validate is the single source of truth for an event's
//     preconditions. Commands call it on their read view to produce domain
//     errors; the apply path calls it again at apply time and rejects the
//     proposal (with no event) when it fails. Apply itself therefore never
//     meets a domain "no": if it does, that is a bug and it panics.
//   - Records are msgpack-encoded structs without maps, so the same events
//     give byte-identical state on every replica and on replay.
//
// projections must not import net/http, os, time.Now, math/rand, or any
// gateway, command or log (apply) package; it may import log/event and
// log/kv.
package projections
