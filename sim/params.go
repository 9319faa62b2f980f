package sim

import "math/rand/v2"

// params are the rates and timings of one run, drawn from its seed (the
// seed fixes the fault rates, the workload and the schedule).
type params struct {
	dropP, dupP      float64
	delayMinMs       int64
	delayMaxMs       int64
	crashMeanMs      int64 // 0: no crashes
	downMinMs        int64
	downMaxMs        int64
	partitionMeanMs  int64 // 0: no partitions
	partitionMinMs   int64
	partitionMaxMs   int64
	diskMeanMs       int64 // 0: no device faults
	powerCutP        float64
	storeSyncMinMs   int64
	storeSyncMaxMs   int64
	logSyncMinMs     int64
	logSyncMaxMs     int64
	clients          int
	thinkMaxMs       int64
	requestTimeoutMs int64
	// Chunk maintenance: GC and scrub passes, grace periods.
	maintMinMs, maintMaxMs int64
	condemnGraceMs         int64
	collectGraceMs         int64
	orphanGraceMs          int64
	stagedGraceMs          int64
}

func drawParams(r *rand.Rand, cfg Config) params {
	p := params{
		delayMinMs: 1, delayMaxMs: 1,
		storeSyncMinMs: 50, storeSyncMaxMs: 50 + r.Int64N(400),
		logSyncMinMs: 1, logSyncMaxMs: 1 + r.Int64N(4),
		clients:          2 + r.IntN(3),
		thinkMaxMs:       5 + r.Int64N(40),
		requestTimeoutMs: 150 + r.Int64N(150),
		maintMinMs:       200,
		maintMaxMs:       200 + r.Int64N(1500),
		condemnGraceMs:   2000 + r.Int64N(4000),
		collectGraceMs:   10000 + r.Int64N(10000),
		orphanGraceMs:    orphanGraceMs,
		stagedGraceMs:    1000 + r.Int64N(5000),
	}
	f := cfg.Faults
	if f&FaultDrop != 0 {
		p.dropP = 0.005 + 0.06*r.Float64()
	}
	if f&FaultDup != 0 {
		p.dupP = 0.005 + 0.04*r.Float64()
	}
	if f&FaultReorder != 0 {
		p.delayMaxMs = 2 + r.Int64N(25)
	}
	if f&FaultCrash != 0 {
		p.crashMeanMs = 300 + r.Int64N(1500)
		p.downMinMs = 20 + r.Int64N(100)
		p.downMaxMs = p.downMinMs + r.Int64N(1200)
	}
	if f&FaultPartition != 0 {
		p.partitionMeanMs = 400 + r.Int64N(2000)
		p.partitionMinMs = 50 + r.Int64N(200)
		p.partitionMaxMs = p.partitionMinMs + r.Int64N(1200)
	}
	if cfg.GCGraceMs > 0 {
		p.condemnGraceMs, p.collectGraceMs = cfg.GCGraceMs, cfg.GCGraceMs
	}
	if cfg.OrphanGraceMs > 0 {
		p.orphanGraceMs = cfg.OrphanGraceMs
	}
	if cfg.Bugs&BugOrphansLocalRead != 0 {
		p.orphanGraceMs = 800
		p.maintMinMs, p.maintMaxMs = 50, 200
	}
	if cfg.Bugs&BugGCIgnoresRefs != 0 {
		p.condemnGraceMs, p.collectGraceMs = 300, 300
	}
	if f&FaultDisk != 0 {
		p.diskMeanMs = 150 + r.Int64N(1000)
		p.powerCutP = 0.002 + 0.01*r.Float64()
	}
	return p
}

// orphanGraceMs is how old an unplaced fragment must be before scrub
// deletes it, in simulated time: longer than any run, because scrub
// cannot tell a fragment whose writer is still recording it from an
// orphan except by its age (see the report of the orphan-grace race).
const orphanGraceMs = 3_600_000
