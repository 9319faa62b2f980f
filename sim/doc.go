// Package sim is annal's deterministic simulator: N simulated nodes in one
// goroutine, driven by a seeded PRNG and a simulated clock, running the
// real apply path, projections, decide functions and chunk code over a
// simulated log, disks and network, with oracles checking safety and
// convergence. A seed reproduces a run bit for bit.
//
// sim must not import net/http, go-fuse, log/raft, time.Now or global
// math/rand; everything it runs receives the simulated clock and source.
package sim
