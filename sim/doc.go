// Package sim is annal's deterministic simulator: N simulated nodes in one
// goroutine, driven by a seeded PRNG and a simulated clock, running the
// real apply path, projections, decide functions and chunk code over a
// simulated log, disks and network, with oracles checking safety and
// convergence. A seed reproduces a run bit for bit.
//
// sim must not import net/http, go-fuse, log/raft, time.Now or global
// math/rand; everything it runs receives the simulated clock and source.
//
// What it models:
//
//   - The world (world.go): an event queue ordered by (simulated ms,
//     sequence); one event per step. Every happening adds a line to the
//     trace, whose SHA-256 is the run's fingerprint.
//   - The log (raft.go, node.go): one Raft group per shard (control, chunk,
//     every namespace), a replica on every node: terms and votes durable
//     at once, log-matching appends, truncation on conflict, commit of
//     own-term entries by quorum, a no-op per new leader, check-quorum,
//     ReadIndex reads. Followers acknowledge only what their synced log
//     holds; a crash keeps the hard state and the synced log prefix. Each
//     replica applies committed entries with log.Applier.Apply and
//     log.SetAppliedIndex in one batch to its node's kv.Mem, whose
//     durable image is the last Sync (kv.Mem.Clone); a restart resumes
//     from the image's applied index.
//   - The network (network.go): drop, duplicate, delay (reorder) and
//     partitions of node-to-node links.
//   - Devices (disk.go): 4 KiB blocks behind a volatile cache, data synced
//     before a checksummed journal record; power cuts keep, drop or tear
//     unsynced writes; bit flips, EIO and ENOSPC windows, whole-device
//     loss, all within a damage budget (no chunk beyond its parity) so
//     that every loss an oracle reports is the code's, not the fault
//     injector's. Under the real chunks.Store (sequential mode), Writer,
//     fragments and Reed-Solomon.
//   - Clients (client.go, workload*.go, posix.go, content.go): state
//     machines doing what commands.Service does with its exported decide
//     functions and pieces: S3 puts (inline and chunked, deduplicating),
//     gets, deletes, versions, conditional puts, copies, multipart,
//     listings, tags, bucket creation and deletion; POSIX mkdir, create,
//     write, append, truncate, rename, link, unlink, rmdir, symlink,
//     xattrs, chmod. Ambiguous proposals are retried with the same bytes
//     until the log answers. A maintenance client (maint.go) runs GC and
//     scrub through the real decide functions.
//
// Oracles (checks.go, maint.go, workload2.go, history.go): apply
// divergence and commit durability (continuous, every apply and commit),
// chunk recorded before referenced, chunk not collected while
// referenced, no live fragment collected as an orphan, bucket released
// only when sealed, listing pages agree, refcounts against live
// segments (periodically and at the end), no plaintext on any device
// (every write and at the end); after healing and convergence:
// acknowledged writes present, replicas byte-identical, refcounts,
// replay from zero equals live, referenced chunks readable, and
// linearizability of every object's history (per S3 key, and per POSIX
// namespace) with a Wing–Gong checker.
//
// Planted bugs (Config.Bugs, TestPlantedBugs) prove each oracle fails
// when what it guards breaks.
package sim
