package sim

import (
	"bytes"
	"math"
	"slices"

	"github.com/annal-storage/annal/chunks"
	"github.com/annal-storage/annal/commands"
	annallog "github.com/annal-storage/annal/log"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/projections"
	"github.com/annal-storage/annal/projections/chunkstate"
	"github.com/annal-storage/annal/projections/namespace"
)

// expDelay draws an exponentially distributed delay with the given mean.
func (w *world) expDelay(meanMs int64) int64 {
	return 1 + int64(-math.Log(1-w.rng.Float64())*float64(meanMs))
}

// crashNode crashes a running node and schedules its restart.
func (w *world) crashNode(n *node) {
	if !n.up {
		return
	}
	n.crash()
	w.at(w.between(w.par.downMinMs, w.par.downMaxMs), func() {
		if !n.up {
			n.restart()
		}
	})
}

func (w *world) scheduleCrashes() {
	if w.par.crashMeanMs == 0 {
		return
	}
	w.at(w.expDelay(w.par.crashMeanMs), func() {
		if w.phase != phaseSafety {
			return
		}
		if up := w.upNodes(); len(up) > 0 {
			w.crashNode(w.nodes[up[w.rng.IntN(len(up))]])
		}
		w.scheduleCrashes()
	})
}

func (w *world) schedulePartitions() {
	if w.par.partitionMeanMs == 0 {
		return
	}
	w.at(w.expDelay(w.par.partitionMeanMs), func() {
		if w.phase != phaseSafety {
			return
		}
		w.net.partition()
		w.checks.partitions++
		w.at(w.between(w.par.partitionMinMs, w.par.partitionMaxMs), func() {
			if w.phase == phaseSafety {
				w.net.heal()
			}
			w.schedulePartitions()
		})
	})
}

// diskFaults injects device faults within a damage budget: no chunk ever
// has more damaged fragments than its profile's parity, so every
// acknowledged chunk stays readable once the scrubber has repaired it.
type diskFaults struct {
	w *world
	// damage holds, per chunk and fragment index, the step of the latest
	// damage (0: none).
	damage   map[chunks.ChunkID]*[16]int
	injected int
}

func newDiskFaults(w *world) *diskFaults {
	return &diskFaults{w: w, damage: map[chunks.ChunkID]*[16]int{}}
}

// damaged counts a chunk's damaged fragments, with extra ones added.
func (f *diskFaults) damaged(id chunks.ChunkID, extra uint16) int {
	n := 0
	d := f.damage[id]
	for i := range 16 {
		if (d != nil && d[i] != 0) || extra&(1<<i) != 0 {
			n++
		}
	}
	return n
}

func (f *diskFaults) schedule() {
	w := f.w
	if w.par.diskMeanMs == 0 {
		return
	}
	w.at(w.expDelay(w.par.diskMeanMs), func() {
		if w.phase != phaseSafety {
			return
		}
		f.inject()
		f.schedule()
	})
}

// fits reports whether damaging these fragments keeps every chunk within
// its parity.
func (f *diskFaults) fits(keys []chunks.FragmentKey) bool {
	parity := f.w.profile().Parity
	extra := map[chunks.ChunkID]uint16{}
	for _, k := range keys {
		extra[k.Chunk] |= 1 << k.Index
	}
	for id, m := range extra {
		if f.damaged(id, m) > parity {
			return false
		}
	}
	return true
}

func (f *diskFaults) mark(keys []chunks.FragmentKey) {
	for _, k := range keys {
		d := f.damage[k.Chunk]
		if d == nil {
			d = new([16]int)
			f.damage[k.Chunk] = d
		}
		d[k.Index] = f.w.step
	}
}

func (f *diskFaults) inject() {
	w := f.w
	disks := w.allDisks()
	d := disks[w.rng.IntN(len(disks))]
	switch w.rng.IntN(6) {
	case 0, 1:
		keys := d.keys()
		if len(keys) == 0 {
			return
		}
		k := keys[d.rng.IntN(len(keys))]
		if !f.fits([]chunks.FragmentKey{k}) {
			return
		}
		if fk, ok := d.flipKey(k); ok {
			f.mark([]chunks.FragmentKey{fk})
			w.tracef("disk %s bit flip in %s/%d", d.id, fk.Chunk, fk.Index)
		}
	case 2:
		keys := d.keys()
		if !f.fits(keys) {
			return
		}
		f.mark(keys)
		d.wipe()
		w.tracef("disk %s lost (%d fragments)", d.id, len(keys))
	case 3:
		d.eioUntilMs = w.now + w.between(20, 400)
		w.tracef("disk %s EIO until %d", d.id, d.eioUntilMs)
	case 4:
		d.fullUntilMs = w.now + w.between(20, 600)
		w.tracef("disk %s ENOSPC until %d", d.id, d.fullUntilMs)
	case 5:
		if d.node.up {
			d.cutStage = 1 + w.rng.IntN(2)
			w.tracef("disk %s power cut armed at stage %d", d.id, d.cutStage)
		}
	}
	f.injected++
}

// repaired clears the damage of fragments a recorded repair rebuilt at
// step atStep, unless they were damaged again since.
func (f *diskFaults) repaired(id chunks.ChunkID, indexes []int, atStep int) {
	d := f.damage[id]
	if d == nil {
		return
	}
	for _, i := range indexes {
		if d[i] < atStep {
			d[i] = 0
		}
	}
	if f.damaged(id, 0) == 0 {
		delete(f.damage, id)
	}
}

// collectReferenced deletes every fragment of one referenced chunk.
func (f *diskFaults) collectReferenced() {
	w := f.w
	n := w.nodes[0]
	for _, id := range referencedChunks(n.store) {
		rec, ok := w.committedChunkRecord(id)
		if !ok || !w.reachable(rec.Placement.Devices) {
			continue
		}
		for i, dev := range rec.Placement.Devices {
			_ = w.disk(dev).DeleteFragment(chunks.FragmentKey{Chunk: chunks.ChunkID(id), Index: uint8(i)})
		}
		w.tracef("BUG collected referenced chunk %s", id)
		w.cfg.Bugs &^= BugCollectReferenced
		return
	}
}

// referencedChunks lists, in order, the chunks the live segments of every
// namespace shard of a store reference.
func referencedChunks(store kv.Reader) []event.ChunkID {
	seen := map[event.ChunkID]bool{}
	var out []event.ChunkID
	for _, shard := range namespaceShards(store) {
		r := annallog.ProjectionReader(store, shard)
		_ = kv.Scan(r, []byte("s/"), kv.PrefixEnd([]byte("s/")), func(_, v []byte) error {
			var rec namespace.SegmentRecord
			if err := projections.Decode(v, &rec); err != nil {
				return err
			}
			for _, x := range rec.Extents {
				if !x.IsHole() && !seen[x.Chunk] {
					seen[x.Chunk] = true
					out = append(out, x.Chunk)
				}
			}
			return nil
		})
	}
	slices.SortFunc(out, func(a, b event.ChunkID) int { return bytes.Compare(a[:], b[:]) })
	return out
}

// committedChunkRecord reads a chunk's record from the most advanced
// running replica of the chunk shard (what a linearizable read returns).
func (w *world) committedChunkRecord(id event.ChunkID) (chunkstate.Record, bool) {
	var best *node
	var bestApplied uint64
	for _, n := range w.nodes {
		r, ok := n.byShard[commands.FirstChunkShard]
		if n.up && ok && (best == nil || r.applied > bestApplied) {
			best, bestApplied = n, r.applied
		}
	}
	if best == nil {
		return chunkstate.Record{}, false
	}
	rec, ok, err := chunkstate.Get(annallog.ProjectionReader(best.store, commands.FirstChunkShard), id)
	return rec, ok && err == nil
}

// reachable reports whether every listed device can serve I/O now.
func (w *world) reachable(devices []string) bool {
	for _, id := range devices {
		d := w.disk(id)
		if d == nil || d.usable() != nil {
			return false
		}
	}
	return true
}

func (w *world) disk(id string) *disk {
	for _, d := range w.allDisks() {
		if d.id == id {
			return d
		}
	}
	return nil
}

// storeOf is a chunk store over every device, for the scrubber and the
// final checks.
func (w *world) storeOf() *chunks.Store {
	devs := make([]chunks.Device, 0, len(w.allDisks()))
	for _, d := range w.allDisks() {
		devs = append(devs, d)
	}
	s, err := chunks.NewStoreWithOptions(devs, chunks.StoreOptions{Sequential: true})
	if err != nil {
		panic(err)
	}
	return s
}
