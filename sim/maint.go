package sim

import (
	"errors"
	"slices"

	"github.com/annal-storage/annal/chunks"
	"github.com/annal-storage/annal/commands"
	annallog "github.com/annal-storage/annal/log"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/projections/chunkstate"
	"github.com/annal-storage/annal/projections/control"
	"github.com/annal-storage/annal/projections/namespace"
)

// The maintenance client runs what a node's background loops run: chunk
// garbage collection (Service.CollectGarbage) and scrub
// (Service.Scrub: check, repair and record, mark lost, reclaim orphan
// fragments), through the same pure decide functions, racing the
// workload's writers.

// maintLoop alternates GC and scrub passes until the safety phase ends.
func (c *client) maintLoop() {
	w := c.w
	if w.phase != phaseSafety || w.fail != nil {
		c.busy = false
		return
	}
	c.busy = true
	w.at(w.between(w.par.maintMinMs, w.par.maintMaxMs), func() {
		pass := c.gcPass
		switch r := c.rng.IntN(5); {
		case r < 2 || w.cfg.Bugs&BugOrphansLocalRead != 0:
			pass = c.scrubPass
		case r == 2:
			pass = c.dropStaged
		}
		pass(func() { c.maintLoop() })
	})
}

// gcPass is one CollectGarbage pass: finish collections, collect or
// revive condemned chunks, finish again, condemn.
func (c *client) gcPass(done func()) {
	c.w.tracef("gc pass")
	c.refTotals(func(refs commands.RefTotal, err error) {
		if err != nil {
			done()
			return
		}
		if c.w.cfg.Bugs&BugGCIgnoresRefs != 0 {
			refs = func(event.ChunkID) (uint64, error) { return 0, nil }
		}
		in := commands.GCParams{CondemnGraceNs: c.w.par.condemnGraceMs * 1e6, CollectGraceNs: c.w.par.collectGraceMs * 1e6, Refs: refs}
		c.purgeCollecting(func(err error) {
			if err != nil {
				done()
				return
			}
			c.gcPhase(in, commands.DecideCollect, func(err error) {
				if err != nil {
					done()
					return
				}
				c.purgeCollecting(func(err error) {
					if err != nil {
						done()
						return
					}
					c.gcPhase(in, commands.DecideCondemn, func(error) { done() })
				})
			})
		})
	})
}

// refTotals reads every live namespace shard linearizably and sums their
// reference counts (the Service's refTotals).
func (c *client) refTotals(k func(commands.RefTotal, error)) {
	c.read(commands.ControlShard, func(cv *shardView, err error) {
		if err != nil {
			k(nil, err)
			return
		}
		owners, ids, err := control.NamespaceShards(cv)
		if err != nil {
			k(nil, err)
			return
		}
		var views []kv.Reader
		var next func(i int)
		next = func(i int) {
			if i == len(ids) {
				k(func(ch event.ChunkID) (uint64, error) { return namespace.TotalChunkRefs(views, ch) }, nil)
				return
			}
			if owners[ids[i]].Deleted {
				next(i + 1)
				return
			}
			c.read(ids[i], func(v *shardView, err error) {
				if err != nil {
					k(nil, err)
					return
				}
				views = append(views, v)
				next(i + 1)
			})
		}
		next(0)
	})
}

// gcPhase runs a decide function over the whole chunk shard.
func (c *client) gcPhase(in commands.GCParams, decide func(kv.Reader, commands.GCParams) (commands.GCStep, error), k func(error)) {
	var step commands.GCStep
	c.run(commands.FirstChunkShard, func(v kv.Reader) (*commands.Decision, error) {
		in.NowNs = commands.NowNs(c.env.Clock.Now())
		var err error
		step, err = decide(v, in)
		return step.Decision, err
	}, func(o outcome) {
		if o.err != nil || step.Done {
			k(o.err)
			return
		}
		in.From = step.Next
		c.gcPhase(in, decide, k)
	})
}

// purgeCollecting deletes the fragments of every Collecting chunk and
// purges its record.
func (c *client) purgeCollecting(k func(error)) {
	c.read(commands.FirstChunkShard, func(v *shardView, err error) {
		if err != nil {
			k(err)
			return
		}
		type victim struct {
			id        event.ChunkID
			placement chunks.Placement
		}
		var victims []victim
		err = chunkstate.Scan(v, event.ChunkID{}, func(id event.ChunkID, rec chunkstate.Record) (bool, error) {
			if rec.State == chunkstate.Collecting {
				victims = append(victims, victim{id, commands.PlacementOf(rec.Placement)})
			}
			return true, nil
		})
		if err != nil {
			k(err)
			return
		}
		var next func(i int)
		next = func(i int) {
			if i == len(victims) {
				k(nil)
				return
			}
			vc := victims[i]
			err := c.writer().Store().Delete(chunks.ChunkID(vc.id), vc.placement)
			if err != nil && !onlyDeviceFailures(err) {
				k(err)
				return
			}
			c.w.tracef("gc deleted fragments of %s (%v)", vc.id, err)
			c.run(commands.FirstChunkShard, func(v kv.Reader) (*commands.Decision, error) {
				return commands.DecidePurge(v, vc.id, commands.NowNs(c.env.Clock.Now()))
			}, func(o outcome) {
				if o.err != nil {
					k(o.err)
					return
				}
				next(i + 1)
			})
		}
		next(0)
	})
}

// onlyDeviceFailures reports whether every error joined in err wraps
// chunks.ErrDeviceFailed.
func onlyDeviceFailures(err error) bool {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			if !onlyDeviceFailures(e) {
				return false
			}
		}
		return true
	}
	if next := errors.Unwrap(err); next != nil {
		return onlyDeviceFailures(next)
	}
	return errors.Is(err, chunks.ErrDeviceFailed)
}

type scrubItem struct {
	id  event.ChunkID
	rec chunkstate.Record
}

// scrubPass is one Scrub pass from the client's gateway node: every
// record of its chunk-shard replica is checked, repaired (recording
// FragmentRepaired) or marked lost, then orphan fragments older than the
// grace are deleted.
func (c *client) scrubPass(done func()) {
	v, err := c.localRead(commands.FirstChunkShard)
	if err != nil {
		done()
		return
	}
	c.w.tracef("scrub pass on n%d", c.gateway)
	if c.w.cfg.Bugs&BugCollectReferenced != 0 {
		c.w.faults.collectReferenced()
	}
	var items []scrubItem
	_ = chunkstate.Scan(v, event.ChunkID{}, func(id event.ChunkID, rec chunkstate.Record) (bool, error) {
		items = append(items, scrubItem{id, rec})
		return true, nil
	})
	store := c.w.storeOf()
	var next func(i int)
	next = func(i int) {
		if i == len(items) {
			c.orphans(store, done)
			return
		}
		c.scrubChunk(store, items[i], func() { next(i + 1) })
	}
	next(0)
}

// scrubChunk checks one chunk and repairs or records it.
func (c *client) scrubChunk(store *chunks.Store, it scrubItem, k func()) {
	if it.rec.State == chunkstate.Collecting {
		k()
		return
	}
	placement := commands.PlacementOf(it.rec.Placement)
	placement.Epoch = it.rec.Epoch // check the envelope the record names (ADR-015)
	report, usable, err := store.Check(chunks.ChunkID(it.id), placement)
	if err != nil || !report.Degraded() || len(report.Missing) == placement.Profile.Fragments() {
		k()
		return
	}
	if usable < placement.Profile.Data {
		c.w.hist.stats.ScrubLost++
		c.run(commands.FirstChunkShard, func(v kv.Reader) (*commands.Decision, error) {
			return commands.DecideChunkLost(v, it.id, usable, commands.NowNs(c.env.Clock.Now()))
		}, func(outcome) { k() })
		return
	}
	after, repaired, _ := store.Repair(chunks.ChunkID(it.id), placement)
	repairStep := c.w.step
	if len(repaired) == 0 {
		k()
		return
	}
	pe := event.ChunkPlacement{ProfileKind: uint8(after.Profile.Kind), Data: uint8(after.Profile.Data),
		Parity: uint8(after.Profile.Parity), Devices: slices.Clone(after.Devices)}
	c.run(commands.FirstChunkShard, func(v kv.Reader) (*commands.Decision, error) {
		return commands.DecideFragmentRepaired(v, it.id, pe, repaired, commands.NowNs(c.env.Clock.Now()))
	}, func(o outcome) {
		if o.err == nil && o.d != nil {
			c.w.faults.repaired(chunks.ChunkID(it.id), repaired, repairStep)
			c.w.tracef("scrub repaired %s fragments %v on %v", it.id, repaired, after.Devices)
		}
		k()
	})
}

// orphans deletes, on every healthy device, fragments no record places
// there, once older than the grace; records are read linearizably (as
// the fixed Service does) after listing.
func (c *client) orphans(store *chunks.Store, done func()) {
	grace := c.w.par.orphanGraceMs * 1_000_000
	now := commands.NowNs(c.env.Clock.Now())
	devs := store.DeviceIDs()
	var next func(i int)
	next = func(i int) {
		if i == len(devs) {
			done()
			return
		}
		dev := devs[i]
		var candidates []chunks.FragmentInfo
		err := store.ListFragments(dev, func(info chunks.FragmentInfo) error {
			if now-info.WrittenUnixNano >= grace {
				candidates = append(candidates, info)
			}
			return nil
		})
		if err != nil || !store.Healthy(dev) || len(candidates) == 0 {
			next(i + 1)
			return
		}
		read := c.read
		if c.w.cfg.Bugs&BugOrphansLocalRead != 0 {
			read = func(shard uint64, k func(*shardView, error)) {
				v, err := c.localRead(shard)
				k(&shardView{Reader: v}, err)
			}
		}
		read(commands.FirstChunkShard, func(v *shardView, err error) {
			if err != nil {
				done()
				return
			}
			for _, info := range candidates {
				if placedAt(v, info.Key, dev) {
					continue
				}
				c.w.checks.checkOrphan(info.Key, dev)
				if err := store.DeleteFragment(dev, info.Key); err == nil {
					c.w.tracef("scrub deleted orphan %s/%d on %s", info.Key.Chunk, info.Key.Index, dev)
				}
			}
			next(i + 1)
		})
	}
	next(0)
}

// placedAt reports whether a chunk-shard view places a fragment on dev.
func placedAt(v kv.Reader, key chunks.FragmentKey, dev string) bool {
	rec, ok, err := chunkstate.Get(v, event.ChunkID(key.Chunk))
	if err != nil {
		return true // unsure: keep it
	}
	i := int(key.Index)
	return ok && i < len(rec.Placement.Devices) && rec.Placement.Devices[i] == dev
}

// OracleGCReferenced: a chunk was collected (or its fragments deleted)
// while live content referenced it, or content came to reference a chunk
// being collected.
const OracleGCReferenced = "gc-referenced"

// checkOrphan: a fragment scrub deletes as an orphan is not one the
// committed chunk record places there (unless the chunk is being
// collected anyway).
func (c *checks) checkOrphan(key chunks.FragmentKey, dev string) {
	rec, ok := c.w.committedChunkRecord(event.ChunkID(key.Chunk))
	i := int(key.Index)
	if ok && rec.State != chunkstate.Collecting && i < len(rec.Placement.Devices) && rec.Placement.Devices[i] == dev {
		c.w.violate(OracleOrphanLive, "scrub deletes fragment %s/%d on %s as an orphan, but the committed record places it there", key.Chunk, key.Index, dev)
	}
}

// OracleOrphanLive: orphan collection deleted a fragment the committed
// placement of a chunk uses.
const OracleOrphanLive = "orphan-live"

// committedRefs sums a chunk's references over the most advanced running
// replica of every live namespace shard.
func (w *world) committedRefs(id event.ChunkID) uint64 {
	var total uint64
	for _, shard := range w.shards() {
		if shard < control.FirstNamespaceShard {
			continue
		}
		var best *node
		var bestApplied uint64
		for _, n := range w.nodes {
			r, ok := n.byShard[shard]
			if n.up && ok && (best == nil || r.applied > bestApplied) {
				best, bestApplied = n, r.applied
			}
		}
		if best == nil {
			continue
		}
		n, err := namespace.ChunkRefs(annallog.ProjectionReader(best.store, shard), id)
		if err == nil {
			total += n
		}
	}
	return total
}

// chunkLifecycle tracks, per chunk, what the first application of each
// chunk-shard entry did, and checks namespace references against it.
func (c *checks) chunkLifecycle(shard, idx uint64, env event.Envelope) {
	isChunkShard := shard == commands.FirstChunkShard
	for _, ch := range env.Header.ChunkRefs {
		switch {
		case isChunkShard && env.Type == event.TypeChunkCollected:
			c.recorded[ch] = false
			if n := c.w.committedRefs(ch); n > 0 {
				c.w.violate(OracleGCReferenced, "chunk %s collected while live content holds %d references", ch, n)
			}
		case isChunkShard && env.Type == event.TypeChunkPurged:
			c.recorded[ch] = false
		case isChunkShard && env.Type == event.TypeChunksStored, isChunkShard && env.Type == event.TypeChunkRevived:
			c.recorded[ch] = true
		case isChunkShard:
		case !c.recorded[ch]:
			if _, known := c.recorded[ch]; known {
				c.w.violate(OracleGCReferenced, "shard %d index %d: %s references chunk %s, which is being collected or gone", shard, idx, env.Type, ch)
			} else {
				c.w.violate(OracleChunkRecorded, "shard %d index %d: %s references chunk %s the chunk shard has not recorded", shard, idx, env.Type, ch)
			}
		}
	}
}
