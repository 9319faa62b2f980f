// Package kv is the small ordered key-value interface that everything
// under the apply path writes through, with two implementations: Pebble on
// disk (production) and an in-memory ordered store (tests, simulator,
// offline replay scratch space).
//
// Invariants:
//   - Both implementations give identical results for the same sequence of
//     operations: same keys, same values, same iteration order (bytewise
//     ascending). The differential test in this package enforces it.
//   - A Batch is indexed: reads through a batch see the batch's own writes,
//     so later events in one apply call see earlier ones.
//   - Values returned by Get are copies the caller owns; Key and Value of an
//     Iterator are valid only until the iterator moves.
//
// kv must not import any other annal package.
package kv
