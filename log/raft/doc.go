// Package raft runs annal's shards on dragonboat: one NodeHost per
// process hosting many Raft groups, each an on-disk state machine whose
// Update calls the one apply function (log.Applier) over a single Pebble
// store shared by every shard of the node.
//
// Invariants:
//   - One Update = one Pebble batch: the effects of every entry in it and
//     the applied index commit together, so a restart re-applies exactly
//     the entries after the stored applied index (exactly-once apply).
//     Batches commit without fsync; the Raft log (fsynced by dragonboat,
//     group-committed) is the durability point, and Sync makes the state
//     durable before dragonboat compacts the log.
//   - A snapshot streams one shard's key space with the applied index
//     written last; recovery replaces the shard's key space.
//   - A shard that meets an event it cannot read halts: it stops applying,
//     refuses snapshots, and its replica is stopped until a binary that
//     understands the event restarts it.
//
// raft may import log, log/event, log/kv; never commands or gateways.
package raft
