package sim

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/annal-storage/annal/chunks"
	"github.com/annal-storage/annal/commands"
	annallog "github.com/annal-storage/annal/log"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/projections/chunkstate"
)

// start boots the cluster: nodes with their devices and the control and
// chunk shards, clients, the bootstrap, and the fault schedules.
func (w *world) start() {
	w.versions = map[string][]string{}
	w.etags = map[string][]string{}
	perNode := 2
	if w.cfg.Nodes == 1 {
		perNode = 3
	}
	for i := range w.cfg.Nodes {
		n := newNode(w, i)
		for j := range perNode {
			d := newDisk(w, n, fmt.Sprintf("n%d-d%d", i, j))
			n.devices = append(n.devices, d)
			w.disks = append(w.disks, d)
		}
		w.nodes = append(w.nodes, n)
	}
	for _, n := range w.nodes {
		n.ensureReplica(commands.ControlShard, annallog.KindControl)
		n.ensureReplica(commands.FirstChunkShard, annallog.KindChunk)
		n.start()
	}
	for i := range w.par.clients {
		w.clients = append(w.clients, newClient(w, i))
	}
	maint := newClient(w, len(w.clients))
	maint.maintenance = true
	w.clients = append(w.clients, maint)
	w.tracef("boot seed=%d nodes=%d faults=%s clients=%d profile=%s", w.cfg.Seed, w.cfg.Nodes, w.cfg.Faults, len(w.clients), w.profile())
	w.startBootstrap()
	w.scheduleCrashes()
	w.schedulePartitions()
	w.faults.schedule()
	w.scheduleRefChecks()
	w.scheduleClockJumps()
}

func (w *world) allDisks() []*disk { return w.disks }

// profile is the durability profile of every chunk: EC 2+1 up to three
// nodes (fragments on three of the devices), EC 3+2 from four.
func (w *world) profile() chunks.Profile {
	if w.cfg.Nodes >= 4 {
		return chunks.EC(3, 2)
	}
	return chunks.EC(2, 1)
}

// scheduleRefChecks runs the refcount oracle on a random running node
// every so often.
func (w *world) scheduleRefChecks() {
	w.at(w.between(100, 300), func() {
		if w.phase != phaseSafety {
			return
		}
		if up := w.upNodes(); len(up) > 0 {
			w.checks.checkRefsOn(w.nodes[up[w.rng.IntN(len(up))]])
		}
		w.scheduleRefChecks()
	})
}

// heal ends the safety phase: no new faults, partitions healed, crashed
// nodes restarted, device fault windows closed; clients finish what they
// are doing and start nothing new.
func (w *world) heal() {
	w.phase = phaseLiveness
	w.tracef("heal")
	w.net.heal()
	for _, d := range w.allDisks() {
		d.eioUntilMs, d.fullUntilMs, d.cutStage = 0, 0, 0
	}
	for _, n := range w.nodes {
		if !n.up {
			n.restart()
		}
	}
}

// convergeSteps bounds the liveness phase.
const convergeSteps = 200_000

// converge runs until every client is idle and every replica of every
// shard has applied all its leader's log.
func (w *world) converge() {
	limit := w.step + convergeSteps
	for w.fail == nil {
		why := w.unconverged()
		if why == "" {
			w.tracef("converged")
			return
		}
		if w.step >= limit {
			w.violate(OracleLiveness, "no convergence %d steps after healing: %s", convergeSteps, why)
			return
		}
		w.runStep()
	}
}

// unconverged says why the cluster has not converged ("" when it has).
func (w *world) unconverged() string {
	if w.boot == nil || !w.boot.done {
		return "bootstrap unfinished"
	}
	for _, c := range w.clients {
		if c.busy {
			return fmt.Sprintf("client %d busy", c.id)
		}
	}
	for _, shard := range w.shards() {
		if why := w.shardUnconverged(shard); why != "" {
			return why
		}
	}
	return ""
}

// shards lists every shard any node hosts.
func (w *world) shards() []uint64 {
	var out []uint64
	for _, n := range w.nodes {
		for _, r := range n.replicas {
			if !slices.Contains(out, r.shard) {
				out = append(out, r.shard)
			}
		}
	}
	slices.Sort(out)
	return out
}

func (w *world) shardUnconverged(shard uint64) string {
	var lead *replica
	for _, n := range w.nodes {
		if r, ok := n.byShard[shard]; ok && r.role == leader && (lead == nil || r.term > lead.term) {
			lead = r
		}
	}
	if lead == nil || !lead.committedInTerm() || lead.commit != lead.lastIndex() {
		return fmt.Sprintf("shard %d has no settled leader", shard)
	}
	for _, n := range w.nodes {
		r, ok := n.byShard[shard]
		if !ok || r.applied != lead.commit || r.lastIndex() != lead.lastIndex() {
			return fmt.Sprintf("shard %d: node %d behind", shard, n.id)
		}
	}
	return ""
}

// finish runs the end-of-run oracles on the converged cluster.
func (w *world) finish() {
	w.phase = phaseFinal
	ref := w.nodes[0].store
	steps := []func(){
		func() { w.checks.checkAcked(ref) },
		w.checkConvergence,
		func() {
			for _, n := range w.nodes {
				w.checks.checkRefsOn(n)
			}
		},
		w.checkReplay,
		w.checkChunks,
		w.checkDeletedBuckets,
		w.scanDevices,
		w.finalReads,
		w.checkHistories,
	}
	for _, step := range steps {
		if w.fail != nil {
			return
		}
		step()
	}
}

// checkConvergence: every replica of every shard is byte-identical to
// node 0's (applied indexes aside).
func (w *world) checkConvergence() {
	base := w.nodes[0].store
	for _, shard := range w.shards() {
		for _, n := range w.nodes[1:] {
			diff, err := annallog.DiffShard(base, n.store, shard)
			if err != nil || diff != "" {
				w.violate(OracleConvergence, "shard %d: node 0 vs node %d: %s %v", shard, n.id, diff, err)
				return
			}
		}
	}
}

// checkReplay: on every node, replaying each shard's event store from
// zero rebuilds the live state byte for byte.
func (w *world) checkReplay() {
	for _, n := range w.nodes {
		for _, shard := range w.shards() {
			kind, err := annallog.StoredKind(n.store, shard)
			if err != nil || kind == 0 {
				continue
			}
			fresh := kv.NewMem()
			b := fresh.NewBatch()
			if _, err := annallog.Replay(n.store, shard, kind, w.payloads, b, nil); err != nil {
				w.violate(OracleReplay, "node %d shard %d: %v", n.id, shard, err)
				return
			}
			if err := b.Commit(false); err != nil {
				w.violate(OracleReplay, "node %d shard %d: %v", n.id, shard, err)
				return
			}
			if diff, err := annallog.DiffShard(n.store, fresh, shard); err != nil || diff != "" {
				w.violate(OracleReplay, "node %d shard %d: replay differs from live state: %s %v", n.id, shard, diff, err)
				return
			}
		}
	}
}

// checkChunks: every chunk live content references is recorded in the
// chunk shard and readable from the devices.
func (w *world) checkChunks() {
	store := w.nodes[0].store
	wr, err := chunks.NewWriter(chunks.WriterConfig{Store: w.storeOf(), Profile: w.profile(), Keys: masterKey{}})
	if err != nil {
		panic(err)
	}
	for _, id := range referencedChunks(store) {
		rec, ok, err := chunkstate.Get(annallog.ProjectionReader(store, commands.FirstChunkShard), id)
		if err != nil || !ok {
			w.violate(OracleChunkAvailable, "chunk %s is referenced but not recorded (%v)", id, err)
			return
		}
		ref := chunks.ChunkRef{ID: chunks.ChunkID(id), Epoch: rec.Epoch, PlaintextBytes: int(rec.PlaintextBytes),
			SealedBytes: int(rec.SealedBytes), Placement: commands.PlacementOf(rec.Placement)}
		if _, _, err := wr.ReadChunk(ref); err != nil {
			w.violate(OracleChunkAvailable, "chunk %s is referenced but unreadable: %v", id, err)
			return
		}
	}
}

// scanDevices looks for workload plaintext in every block of every
// device, on the medium and in the cache.
func (w *world) scanDevices() {
	for _, d := range w.allDisks() {
		for _, region := range [][][]byte{d.media, d.journal} {
			for i, b := range region {
				if bytes.Contains(b, plaintextMarker) {
					w.violate(OraclePlaintext, "device %s block %d holds workload plaintext", d.id, i)
					return
				}
			}
		}
		for _, c := range d.cache {
			if bytes.Contains(c.data, plaintextMarker) {
				w.violate(OraclePlaintext, "device %s cached block %d holds workload plaintext", d.id, c.block)
				return
			}
		}
	}
}

// finalReads reads every key, version list, path and file of the
// converged cluster into the histories, after every client operation.
func (w *world) finalReads() {
	c := w.clients[0]
	c.gateway = 0
	store := w.nodes[0].store
	for _, bucket := range s3Buckets {
		v := annallog.ProjectionReader(store, w.boot.shards[bucket])
		lists, err := listVersions(v)
		if err != nil {
			w.violate(OracleChunkAvailable, "final version listing of %s: %v", bucket, err)
			return
		}
		for _, key := range s3Keys {
			out, err := c.getObject(v, key)
			if err != nil {
				w.violate(OracleChunkAvailable, "final read of %s/%s: %v", bucket, key, err)
				return
			}
			w.hist.ok(w, w.hist.begin(w, objName(bucket, key), -1, s3Get{}), out)
			if !isDirKey(key) {
				got := lists[key]
				if got == nil {
					got = []string{}
				}
				w.hist.ok(w, w.hist.begin(w, objName(bucket, key), -1, s3List{}), got)
			}
		}
	}
	w.finalPosixReads(c, annallog.ProjectionReader(store, w.boot.shards[bucketGamma]))
}

func (w *world) finalPosixReads(c *client, v kv.Reader) {
	for _, path := range append(append([]string(nil), posixDirs...), posixFiles...) {
		f := resolvePath(v, path)
		w.hist.ok(w, w.hist.begin(w, posixObject, -1, pxLookup{Path: path}), f)
		if f.Err != "" {
			continue
		}
		if f.Dir {
			w.hist.ok(w, w.hist.begin(w, posixObject, -1, pxReaddir{Ino: f.Ino}), readdir(v, f.Ino))
			continue
		}
		out, err := c.readFile(v, f.Ino)
		if err != nil {
			w.violate(OracleChunkAvailable, "final read of %s: %v", path, err)
			return
		}
		w.hist.ok(w, w.hist.begin(w, posixObject, -1, pxRead{Ino: f.Ino}), out)
		w.hist.ok(w, w.hist.begin(w, posixObject, -1, pxXattrs{Ino: f.Ino}), xattrList(v, f.Ino))
	}
	w.hist.ok(w, w.hist.begin(w, posixObject, -1, pxReaddir{Ino: 1}), readdir(v, 1))
}

// scheduleClockJumps moves a random client's clock, within ±2 s of the
// simulated time, now and then.
func (w *world) scheduleClockJumps() {
	w.at(w.between(200, 2000), func() {
		if w.phase != phaseSafety {
			return
		}
		c := w.clients[w.rng.IntN(len(w.clients))]
		c.skewMs = w.between(-2000, 2000)
		w.tracef("clock c%d skew %dms", c.id, c.skewMs)
		w.scheduleClockJumps()
	})
}
