package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/annal-storage/annal/chunks"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/projections"
	"github.com/annal-storage/annal/projections/chunkstate"
)

// Scrub (ADR-013): verify every fragment of every recorded chunk (header
// and payload CRCs), rebuild missing or corrupt ones (chunks.Store.Repair)
// and record FragmentRepaired with the placement afterwards; record
// ChunkLost when fewer fragments than the profile needs survive. Then
// reclaim orphan fragments: fragments no record places where they are
// (written but never recorded, F-D7; left behind by a repair that moved
// them or by GC on an unreachable device), once older than a grace
// period.

// ScrubOptions configure a scrub pass.
type ScrubOptions struct {
	// OrphanGraceNs is how old (by its written time) a fragment no record
	// places must be before it is deleted; 0 skips orphan collection. It
	// must exceed the longest write (fragments are written before their
	// ChunksStored commits).
	OrphanGraceNs int64
	// AllLocal says every chunk's fragments live on this node's devices
	// (a single-node cluster). Otherwise, until fragments move between
	// nodes, a chunk none of whose fragments is on this node is skipped
	// (another node wrote it) rather than reported lost.
	AllLocal bool
	// Workers bounds chunks checked at once (default 4).
	Workers int
	// Progress, if set, is called after every chunk and at the end of
	// each phase, serialized; it must not block.
	Progress func(ScrubProgress)
}

// ScrubProgress counts a scrub pass's work so far.
type ScrubProgress struct {
	Phase    string `json:"phase"` // "chunks", "orphans", "done"
	Total    int64  `json:"total"` // chunk records to check
	Done     int64  `json:"done"`
	Repaired int64  `json:"repaired"` // fragments rewritten
	Lost     int64  `json:"lost"`     // chunks with too few usable fragments
	// LostRecorded counts the lost chunks this pass recorded (ChunkLost);
	// the others were recorded before.
	LostRecorded int64 `json:"lost_recorded"`
	Failed       int64 `json:"failed"` // chunks whose repair could not finish
	// Resealed counts chunks whose fragments held another envelope than
	// their record names, sealed again and recorded (ADR-015).
	Resealed int64 `json:"resealed,omitempty"`
	Skipped  int64 `json:"skipped"` // chunks with no fragment on this node
	Orphans  int64 `json:"orphans"` // orphan fragments deleted
	// CheckedBytes is the fragment bytes read and verified.
	CheckedBytes int64 `json:"checked_bytes"`
}

// DecideFragmentRepaired records rebuilt fragments; a domain error when
// the chunk moved on (collected, or repaired differently meanwhile).
func DecideFragmentRepaired(v kv.Reader, id event.ChunkID, placement event.ChunkPlacement, repaired []int, nowNs int64) (*Decision, error) {
	b := &event.FragmentRepaired{Chunk: id, Placement: placement, RepairedNs: nowNs}
	for _, i := range repaired {
		b.Repaired = append(b.Repaired, uint8(i))
	}
	if err := (chunkstate.Projection{}).Validate(v, nil, b); err != nil {
		return nil, err
	}
	return chunkDecision(b, id), nil
}

// DecideChunkLost records a chunk that cannot be read; nil when it is
// already recorded lost.
func DecideChunkLost(v kv.Reader, id event.ChunkID, usable int, nowNs int64) (*Decision, error) {
	b := &event.ChunkLost{Chunk: id, Usable: uint8(usable), LostNs: nowNs}
	err := (chunkstate.Projection{}).Validate(v, nil, b)
	if errors.Is(err, projections.ErrPreconditionFailed) {
		return nil, nil // already lost
	}
	if err != nil {
		return nil, err
	}
	return chunkDecision(b, id), nil
}

// scrubPass is one Scrub call's shared state.
type scrubPass struct {
	s     *Service
	opts  ScrubOptions
	store *chunks.Store

	passState[ScrubProgress]
}

// Scrub runs one scrub pass over this node's devices and returns its
// counts. Chunk failures (no spare device, a rejected proposal) are
// counted and the pass goes on; the error reports storage or log
// failures that stopped it.
func (s *Service) Scrub(ctx context.Context, opts ScrubOptions) (ScrubProgress, error) {
	if s.cfg.Data == nil {
		return ScrubProgress{Phase: "done"}, nil
	}
	p := &scrubPass{s: s, opts: opts, store: s.cfg.Data.Writer.Store(), passState: passState[ScrubProgress]{report: opts.Progress}}
	if p.opts.Workers <= 0 {
		p.opts.Workers = 4
	}
	err := p.chunks(ctx)
	if err == nil && opts.OrphanGraceNs > 0 {
		p.update(func(pr *ScrubProgress) { pr.Phase = "orphans" })
		err = p.orphans(ctx)
	}
	p.update(func(pr *ScrubProgress) { pr.Phase = "done" })
	return p.current(), err
}

// chunks checks every record, a batch at a time from a fresh local view
// (no long-lived snapshot), Workers chunks at once.
func (p *scrubPass) chunks(ctx context.Context) error {
	total, err := p.count()
	if err != nil {
		return err
	}
	p.update(func(pr *ScrubProgress) { pr.Phase, pr.Total = "chunks", total })
	var from event.ChunkID
	for {
		batch, next, done, err := p.s.chunkBatch(from, 256, func(event.ChunkID, chunkstate.Record) bool { return true })
		if err != nil {
			return err
		}
		if err := eachChunk(ctx, p.opts.Workers, batch, func(it chunkItem) { p.checkChunk(ctx, it) }); err != nil {
			return err
		}
		if done {
			return nil
		}
		from = next
	}
}

func (p *scrubPass) count() (int64, error) {
	v := p.s.log.LocalRead(FirstChunkShard)
	defer v.Close()
	var n int64
	err := chunkstate.Scan(v, event.ChunkID{}, func(event.ChunkID, chunkstate.Record) (bool, error) {
		n++
		return true, nil
	})
	return n, err
}

// checkChunk verifies one chunk and repairs or records it.
func (p *scrubPass) checkChunk(ctx context.Context, it chunkItem) {
	outcome, bytes, err := p.scrubChunk(ctx, it)
	p.update(func(pr *ScrubProgress) {
		pr.Done++
		pr.CheckedBytes += bytes
		switch {
		case outcome.lost:
			pr.Lost++
			if outcome.lostRecorded {
				pr.LostRecorded++
			}
		case outcome.skipped:
			pr.Skipped++
		}
		pr.Repaired += int64(outcome.repaired)
		if outcome.resealed {
			pr.Resealed++
		}
		if err != nil {
			pr.Failed++
		}
	})
	if err != nil {
		p.s.cfg.Logger.Warn("scrub: chunk not repaired", "chunk", it.id.String(), "err", err)
	}
}

type scrubOutcome struct {
	repaired     int
	resealed     bool
	lost         bool
	lostRecorded bool
	skipped      bool
}

func (p *scrubPass) scrubChunk(ctx context.Context, it chunkItem) (scrubOutcome, int64, error) {
	var out scrubOutcome
	if it.rec.State == chunkstate.Collecting {
		return out, 0, nil // GC is deleting it
	}
	placement := placementOf(it.rec.Placement)
	placement.Epoch = it.rec.Epoch
	report, usable, err := p.store.Check(chunks.ChunkID(it.id), placement)
	bytes := report.ReadBytes
	if err == nil && report.Fallback {
		// Readable only as another envelope than the record names (a
		// writer straddling a rotation): repair would rewrite it under
		// the wrong record; seal it again instead (ADR-015).
		out.resealed, err = p.reseal(ctx, it)
		return out, bytes, err
	}
	if err != nil || !report.Degraded() {
		return out, bytes, err
	}
	if !p.opts.AllLocal && len(report.Missing) == placement.Profile.Fragments() {
		out.skipped = true
		return out, bytes, nil
	}
	if usable < placement.Profile.Data && usable+len(report.Unreachable) >= placement.Profile.Data {
		// Enough fragments sit on devices that are down now: the chunk is
		// unreadable for the moment, not lost. Recording ChunkLost (a
		// permanent fact) for an outage would be wrong; the next pass
		// looks again.
		out.skipped = true
		return out, bytes, nil
	}
	if usable < placement.Profile.Data {
		out.lost = true
		out.lostRecorded, err = p.propose(ctx, func(v kv.Reader) (*Decision, error) {
			if moved, err := recordMoved(v, it); moved || err != nil {
				return nil, err // resealed or repaired since: not lost
			}
			return DecideChunkLost(v, it.id, usable, NowNs(p.s.env.Clock.Now()))
		})
		return out, bytes, err
	}
	after, repaired, repairErr := p.store.Repair(chunks.ChunkID(it.id), placement)
	out.repaired = len(repaired)
	if len(repaired) > 0 {
		_, err = p.propose(ctx, func(v kv.Reader) (*Decision, error) {
			if moved, err := recordMoved(v, it); moved || err != nil {
				return nil, err // the repair wrote a stale envelope: orphans
			}
			return DecideFragmentRepaired(v, it.id, placementEvent(after), repaired, NowNs(p.s.env.Clock.Now()))
		})
	}
	return out, bytes, errors.Join(repairErr, err)
}

// recordMoved reports whether the chunk's record names another envelope
// or placement than the one the pass checked (a reseal replaced its
// fragments meanwhile), so what the pass saw says nothing about it now.
func recordMoved(v kv.Reader, it chunkItem) (bool, error) {
	rec, ok, err := chunkstate.Get(v, it.id)
	return ok && !sameSeal(rec, it.rec), err
}

// reseal seals a chunk again under the current epoch and records it.
func (p *scrubPass) reseal(ctx context.Context, it chunkItem) (bool, error) {
	target, err := p.s.currentEpoch(ctx)
	if err != nil {
		return false, err
	}
	outcome, _, err := p.s.resealChunk(ctx, it.id, it.rec, max(target, it.rec.Epoch), p.opts.AllLocal)
	return outcome == resealDone, err
}

// propose runs a scrub decision and reports whether it recorded an event;
// a domain rejection (the chunk moved on) is not an error of the pass.
func (p *scrubPass) propose(ctx context.Context, decide func(kv.Reader) (*Decision, error)) (bool, error) {
	d, _, err := p.s.run(ctx, FirstChunkShard, decide)
	if err != nil && projections.ErrorCode(err) != "" {
		return false, nil
	}
	return d != nil && err == nil, err
}

// orphans deletes, on every healthy device, fragments that no record
// places there and that are older than the orphan grace.
func (p *scrubPass) orphans(ctx context.Context) error {
	for _, dev := range p.store.DeviceIDs() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !p.store.Healthy(dev) {
			continue
		}
		keys, err := p.orphansOn(ctx, dev)
		if err != nil {
			return fmt.Errorf("orphans on %s: %w", dev, err)
		}
		for _, k := range keys {
			if err := p.store.DeleteFragment(dev, k); err != nil {
				return fmt.Errorf("orphans on %s: %w", dev, err)
			}
			p.update(func(pr *ScrubProgress) { pr.Orphans++ })
		}
	}
	return nil
}

// orphansOn lists a device's orphan fragments. The chunk view is taken
// after listing starts, so a fragment recorded meanwhile is seen placed;
// one written but not yet recorded is young, which the grace protects.
// The view is linearizable: a lagging local replica would not know
// chunks recorded recently and call their fragments orphans (found by
// the simulator; its planted bug orphans-local-read replays it).
func (p *scrubPass) orphansOn(ctx context.Context, dev string) ([]chunks.FragmentKey, error) {
	now := NowNs(p.s.env.Clock.Now())
	var candidates []chunks.FragmentInfo
	err := p.store.ListFragments(dev, func(info chunks.FragmentInfo) error {
		if now-info.WrittenUnixNano >= p.opts.OrphanGraceNs {
			candidates = append(candidates, info)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	v, err := p.s.read(ctx, FirstChunkShard)
	if err != nil {
		return nil, err
	}
	defer v.Close()
	var keys []chunks.FragmentKey
	for _, info := range candidates {
		rec, ok, err := chunkstate.Get(v, event.ChunkID(info.Key.Chunk))
		if err != nil {
			return nil, err
		}
		i := int(info.Key.Index)
		if !ok || i >= len(rec.Placement.Devices) || rec.Placement.Devices[i] != dev {
			keys = append(keys, info.Key)
		}
	}
	return keys, nil
}
