package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/annal-storage/annal/chunks"
	annallog "github.com/annal-storage/annal/log"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/projections"
	"github.com/annal-storage/annal/projections/chunkstate"
	"github.com/annal-storage/annal/projections/control"
	"github.com/annal-storage/annal/projections/namespace"
)

// Chunk garbage collection (ADR-013). Two phases on the chunk shard, each
// a pure decide function over the chunk shard's view:
//
//   - DecideCondemn: a Live chunk with no reference in any namespace shard,
//     no retention hold, stored or revived at least CondemnGraceNs ago →
//     ChunkCondemned.
//   - DecideCollect: a Condemned chunk referenced or held again →
//     ChunkRevived; still unreferenced CollectGraceNs after condemnation →
//     ChunkCollected (the tombstone under which fragments are deleted).
//   - DecidePurge: a Collecting chunk whose fragments are deleted →
//     ChunkPurged.
//
// Writers revive a Condemned chunk before deduplicating against it and
// never store under a Collecting one (chunkstate.Validate), so a chunk is
// collected only if no writer referenced it within CollectGraceNs of its
// condemnation. Service.CollectGarbage runs a whole pass; only the node
// leading the chunk shard runs it.

// RefTotal returns how many references the namespace shards hold to a
// chunk, summed over every shard.
type RefTotal func(event.ChunkID) (uint64, error)

// Held reports whether a retention hold keeps a chunk (retention holds,
// issue 7). A nil Held holds nothing.
type Held func(event.ChunkID) bool

func (h Held) holds(c event.ChunkID) bool { return h != nil && h(c) }

// GCParams are the inputs of one decide step of a GC pass.
type GCParams struct {
	NowNs          int64
	CondemnGraceNs int64
	CollectGraceNs int64
	Refs           RefTotal
	Held           Held
	// From resumes the scan at this chunk id (inclusive).
	From event.ChunkID
	// Limit bounds the events of one decision (default 256).
	Limit int
}

// GCStep is a decide step's outcome: the decision (nil when nothing is to
// be done in the range scanned) and where the next step resumes.
type GCStep struct {
	Decision *Decision
	Next     event.ChunkID
	Done     bool
}

const defaultGCLimit = 256

// DecideCondemn condemns unreferenced, unheld chunks that have been Live
// for at least CondemnGraceNs.
func DecideCondemn(v kv.Reader, in GCParams) (GCStep, error) {
	return gcScan(v, in, func(id event.ChunkID, rec chunkstate.Record) (event.Body, error) {
		if rec.State != chunkstate.Live || in.NowNs-rec.ActiveSinceNs() < in.CondemnGraceNs || held(in, id, rec) {
			return nil, nil
		}
		refs, err := in.Refs(id)
		if err != nil || refs > 0 {
			return nil, err
		}
		return &event.ChunkCondemned{Chunk: id, CondemnedNs: in.NowNs}, nil
	})
}

// DecideCollect re-checks Condemned chunks: referenced or held again →
// revived (at once, whatever the grace); still unreferenced
// CollectGraceNs after condemnation → collected.
func DecideCollect(v kv.Reader, in GCParams) (GCStep, error) {
	return gcScan(v, in, func(id event.ChunkID, rec chunkstate.Record) (event.Body, error) {
		if rec.State != chunkstate.Condemned {
			return nil, nil
		}
		refs, err := in.Refs(id)
		if err != nil {
			return nil, err
		}
		if refs > 0 || held(in, id, rec) {
			return &event.ChunkRevived{Chunk: id, RevivedNs: in.NowNs}, nil
		}
		if in.NowNs-rec.StateNs < in.CollectGraceNs {
			return nil, nil
		}
		return &event.ChunkCollected{Chunk: id, CollectedNs: in.NowNs}, nil
	})
}

// held reports a chunk a retention hold keeps: retained on the chunk
// shard (held data of a shredded tenant, ADR-014) or held by the hook.
func held(in GCParams, id event.ChunkID, rec chunkstate.Record) bool {
	return len(rec.Retained) > 0 || in.Held.holds(id)
}

// DecidePurge removes the record of a Collecting chunk whose fragments
// the caller has deleted; nil when the chunk is not Collecting.
func DecidePurge(v kv.Reader, id event.ChunkID, nowNs int64) (*Decision, error) {
	rec, ok, err := chunkstate.Get(v, id)
	if err != nil || !ok || rec.State != chunkstate.Collecting {
		return nil, err
	}
	return chunkDecision(&event.ChunkPurged{Chunk: id, PurgedNs: nowNs}, id), nil
}

// gcScan walks records from in.From, collecting the events judge decides,
// up to in.Limit.
func gcScan(v kv.Reader, in GCParams, judge func(event.ChunkID, chunkstate.Record) (event.Body, error)) (GCStep, error) {
	limit := in.Limit
	if limit <= 0 {
		limit = defaultGCLimit
	}
	step := GCStep{Done: true}
	var d *Decision
	err := chunkstate.Scan(v, in.From, func(id event.ChunkID, rec chunkstate.Record) (bool, error) {
		if d != nil && len(d.Events) == limit {
			step.Next, step.Done = id, false
			return false, nil
		}
		body, err := judge(id, rec)
		if err != nil || body == nil {
			return true, err
		}
		if d == nil {
			d = &Decision{Shard: ChunkShardOf(id), Actor: gcActor}
		}
		d.Events = append(d.Events, chunkEvent(body, id))
		return true, nil
	})
	step.Decision = d
	return step, err
}

// gcActor is the actor of events the collector and the scrubber propose.
const gcActor = "system:chunk-lifecycle"

func chunkEvent(body event.Body, id event.ChunkID) Pending {
	return Pending{Body: body, Header: event.Header{ChunkRefs: []event.ChunkID{id}}}
}

func chunkDecision(body event.Body, id event.ChunkID) *Decision {
	return &Decision{Shard: ChunkShardOf(id), Actor: gcActor, Events: []Pending{chunkEvent(body, id)}}
}

// GCOptions configure a GC pass.
type GCOptions struct {
	CondemnGraceNs int64
	CollectGraceNs int64
	Held           Held
	// Limit bounds the events per proposal (default 256).
	Limit int
}

// GCReport counts what a pass did.
type GCReport struct {
	Condemned int `json:"condemned"`
	Revived   int `json:"revived"`
	Collected int `json:"collected"`
	Purged    int `json:"purged"`
	// Unreachable counts fragments of purged chunks left on failed
	// devices (orphans, reclaimed when the device is back).
	Unreachable int `json:"unreachable_fragments"`
}

// CollectGarbage runs one GC pass on the chunk shard: finish collections
// left half done, collect (or revive) condemned chunks, then condemn. It
// must run on one node at a time (the chunk shard's leader): the
// proposals are safe anyway, but two collectors would delete fragments
// twice. Reference totals come from linearizable views of every namespace
// shard; a shard that cannot be read aborts the pass rather than count as
// zero references.
func (s *Service) CollectGarbage(ctx context.Context, opts GCOptions) (GCReport, error) {
	var rep GCReport
	if s.cfg.Data == nil {
		return rep, nil
	}
	refs, done, err := s.refTotals(ctx)
	if err != nil {
		return rep, fmt.Errorf("gc: %w", err)
	}
	defer done()
	in := GCParams{CondemnGraceNs: opts.CondemnGraceNs, CollectGraceNs: opts.CollectGraceNs, Refs: refs, Held: opts.Held, Limit: opts.Limit}
	if err := s.purgeCollecting(ctx, &rep); err != nil {
		return rep, err
	}
	if err := s.gcPhase(ctx, in, DecideCollect, &rep); err != nil {
		return rep, err
	}
	if err := s.purgeCollecting(ctx, &rep); err != nil {
		return rep, err
	}
	return rep, s.gcPhase(ctx, in, DecideCondemn, &rep)
}

// gcPhase runs decide over the whole chunk shard, proposing each step.
func (s *Service) gcPhase(ctx context.Context, in GCParams, decide func(kv.Reader, GCParams) (GCStep, error), rep *GCReport) error {
	shard := FirstChunkShard
	for {
		var step GCStep
		d, _, err := s.run(ctx, shard, func(v kv.Reader) (*Decision, error) {
			in.NowNs = NowNs(s.env.Clock.Now())
			var err error
			step, err = decide(v, in)
			return step.Decision, err
		})
		if err != nil {
			return fmt.Errorf("gc: %w", err)
		}
		if d != nil {
			countGC(d, rep)
		}
		if step.Done {
			return nil
		}
		in.From = step.Next
	}
}

func countGC(d *Decision, rep *GCReport) {
	for _, e := range d.Events {
		switch e.Body.(type) {
		case *event.ChunkCondemned:
			rep.Condemned++
		case *event.ChunkRevived:
			rep.Revived++
		case *event.ChunkCollected:
			rep.Collected++
		}
	}
}

// purgeCollecting deletes the fragments of every Collecting chunk and
// purges its record.
func (s *Service) purgeCollecting(ctx context.Context, rep *GCReport) error {
	v, err := s.read(ctx, FirstChunkShard)
	if err != nil {
		return fmt.Errorf("gc: %w", err)
	}
	type victim struct {
		id        event.ChunkID
		placement chunks.Placement
	}
	var victims []victim
	err = chunkstate.Scan(v, event.ChunkID{}, func(id event.ChunkID, rec chunkstate.Record) (bool, error) {
		if rec.State == chunkstate.Collecting {
			victims = append(victims, victim{id, placementOf(rec.Placement)})
		}
		return true, nil
	})
	v.Close()
	if err != nil {
		return fmt.Errorf("gc: %w", err)
	}
	for _, vc := range victims {
		if err := s.purgeChunk(ctx, vc.id, vc.placement, rep); err != nil {
			return err
		}
	}
	return nil
}

// purgeChunk deletes a Collecting chunk's fragments, then its record. A
// Collecting record's placement no longer changes (repairs are refused),
// so every fragment it names is deleted or on an unreachable device.
func (s *Service) purgeChunk(ctx context.Context, id event.ChunkID, placement chunks.Placement, rep *GCReport) error {
	err := s.cfg.Data.Writer.Store().Delete(chunks.ChunkID(id), placement)
	if err != nil && !onlyDeviceFailures(err) {
		return fmt.Errorf("gc: %w", err) // retried by the next pass
	}
	if err != nil {
		rep.Unreachable += countJoined(err)
	}
	d, _, err := s.run(ctx, FirstChunkShard, func(v kv.Reader) (*Decision, error) {
		return DecidePurge(v, id, NowNs(s.env.Clock.Now()))
	})
	if err != nil {
		return fmt.Errorf("gc: purge %s: %w", id, err)
	}
	if d != nil {
		rep.Purged++
	}
	return nil
}

// onlyDeviceFailures reports whether every error joined in err wraps
// ErrDeviceFailed.
func onlyDeviceFailures(err error) bool {
	for _, e := range unjoin(err) {
		if !errors.Is(e, chunks.ErrDeviceFailed) {
			return false
		}
	}
	return true
}

func countJoined(err error) int { return len(unjoin(err)) }

// unjoin flattens wrapped errors.Join trees into their leaves.
func unjoin(err error) []error {
	for {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			var out []error
			for _, e := range j.Unwrap() {
				out = append(out, unjoin(e)...)
			}
			return out
		}
		next := errors.Unwrap(err)
		if next == nil {
			return []error{err}
		}
		err = next
	}
}

// refTotals opens a linearizable view of every live namespace shard and
// returns the sum of their reference counts; done closes the views.
func (s *Service) refTotals(ctx context.Context) (RefTotal, func(), error) {
	cv, err := s.read(ctx, ControlShard)
	if err != nil {
		return nil, nil, err
	}
	owners, ids, err := control.NamespaceShards(cv)
	cv.Close()
	if err != nil {
		return nil, nil, err
	}
	var views []annallog.View
	done := func() {
		for _, v := range views {
			v.Close()
		}
	}
	for _, id := range ids {
		if owners[id].Deleted {
			continue // its references died with the namespace
		}
		v, err := s.read(ctx, id)
		if err != nil {
			done()
			return nil, nil, fmt.Errorf("namespace shard %d: %w", id, err)
		}
		views = append(views, v)
	}
	return func(c event.ChunkID) (uint64, error) { return namespace.TotalChunkRefs(views, c) }, done, nil
}

// dedupChunk decides, for a chunk a writer is about to store, whether the
// chunk shard already holds it (true: reference it, write nothing) or the
// writer must write it (false). It reads a linearizable view: a stale
// replica could call Live a chunk that is gone.
//
//   - absent → write;
//   - Live → deduplicate, or write when it is lost (the record then takes
//     the new placement);
//   - Condemned → revive it first (ChunkRevived), then as Live: the
//     revival restarts the condemn grace, so the collector leaves it alone
//     while the writer references it or rewrites its lost fragments;
//   - Collecting → wait, with the service's backoff, until it is purged,
//     then write it afresh.
func (s *Service) dedupChunk(ctx context.Context, id event.ChunkID) (bool, error) {
	for attempt := 0; ; attempt++ {
		v, err := s.read(ctx, ChunkShardOf(id))
		if err != nil {
			return false, err
		}
		rec, ok, err := chunkstate.Get(v, id)
		v.Close()
		switch {
		case err != nil:
			return false, err
		case !ok:
			return false, nil
		case rec.State == chunkstate.Live:
			return !rec.Lost, nil
		case rec.State == chunkstate.Condemned:
			revived, err := s.revive(ctx, id)
			if err != nil || revived {
				return revived && !rec.Lost, err
			}
			continue // the state moved: look again
		}
		if err := s.cfg.Backoff(ctx, attempt); err != nil {
			return false, fmt.Errorf("%w: chunk %s stayed being collected: %v", ErrConflict, id, err)
		}
	}
}

// revive proposes ChunkRevived; false when the chunk was no longer
// Condemned at apply.
func (s *Service) revive(ctx context.Context, id event.ChunkID) (bool, error) {
	d := chunkDecision(&event.ChunkRevived{Chunk: id, RevivedNs: NowNs(s.env.Clock.Now())}, id)
	res, err := s.propose(ctx, d)
	if err != nil {
		return false, fmt.Errorf("revive chunk %s: %w", id, err)
	}
	if res.Status == annallog.StatusRejected {
		return false, nil
	}
	return true, ResultError(res)
}

// waitPurged waits, with the service's backoff, until no chunk of ids is
// Collecting.
func (s *Service) waitPurged(ctx context.Context, ids []event.ChunkID) error {
	for attempt := 0; ; attempt++ {
		v, err := s.read(ctx, FirstChunkShard)
		if err != nil {
			return err
		}
		collecting := false
		for _, id := range ids {
			rec, ok, err := chunkstate.Get(v, id)
			if err != nil {
				v.Close()
				return err
			}
			collecting = collecting || ok && rec.State == chunkstate.Collecting
		}
		v.Close()
		if !collecting {
			return nil
		}
		if err := s.cfg.Backoff(ctx, attempt); err != nil {
			return fmt.Errorf("%w: chunks stayed being collected: %v", ErrConflict, err)
		}
	}
}

// restoreAfterCollect handles a ChunksStored refused because some chunk
// was being collected (ErrChunkCollecting): the collector may be deleting
// the very fragments this writer just wrote (same keys, same devices).
// It waits for the purge, then rebuilds every written chunk's missing
// fragments from the survivors (Store.Repair). A chunk whose fragments
// the collector already took below the read threshold cannot be rebuilt
// without its plaintext, which the stream no longer holds: the write
// fails with ErrConflict and the client retries.
func (s *Service) restoreAfterCollect(ctx context.Context, refs []chunks.ChunkRef) ([]chunks.ChunkRef, error) {
	var ids []event.ChunkID
	for _, ref := range refs {
		if !ref.Deduplicated {
			ids = append(ids, event.ChunkID(ref.ID))
		}
	}
	if err := s.waitPurged(ctx, ids); err != nil {
		return nil, err
	}
	out := append([]chunks.ChunkRef(nil), refs...)
	for i, ref := range out {
		if ref.Deduplicated {
			continue
		}
		placement, _, err := s.cfg.Data.Writer.Store().Repair(ref.ID, ref.Placement)
		if err != nil {
			return nil, fmt.Errorf("%w: chunk %s was collected while being written: %v", ErrConflict, ref.ID, err)
		}
		out[i].Placement = placement
	}
	return out, nil
}

// isCollecting reports a rejection because a chunk is being collected.
func isCollecting(err error) bool { return errors.Is(err, projections.ErrChunkCollecting) }
