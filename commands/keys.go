package commands

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/annal-storage/annal/chunks"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/projections"
	"github.com/annal-storage/annal/projections/chunkstate"
	"github.com/annal-storage/annal/projections/keyring"
)

// Key rotation (ADR-015). RotateSystemEpoch (keyring.go) starts a new
// system epoch: new chunks are sealed under it, older epochs keep
// decrypting. Re-encryption moves old chunks forward, one at a time:
//
//  1. read and open the chunk, seal it under the current epoch (same
//     chunk id, so the DEK derives from the new master key and the same
//     salt; convergent nonce of the new epoch), and write the new
//     envelope's fragments beside the old ones (chunks.Writer.Reseal:
//     fragment i goes to the device of old fragment i+1, so no key is
//     overwritten);
//  2. record ChunkResealed{from, epoch, sealed bytes, placement} on the
//     chunk shard (refused if the record moved on: collected, repaired
//     elsewhere, resealed by someone else);
//  3. delete the old fragments.
//
// A reader holding the old record reads the old envelope until step 3,
// then fails and re-reads the record (readChunk); a crash at any step
// leaves one whole envelope the record names, and at worst orphans.
//
// When every chunk is forward, the pass raises the chunk shard's epoch
// floor to the current epoch (no chunk is placed under a lower one any
// more: a writer that sealed before the rotation seals again), then
// retires every older epoch no chunk record uses (SystemEpochRetired: the
// keyring drops the key, InternalKeys stops serving it).

// KeyEpochStatus describes one system master-key epoch.
type KeyEpochStatus struct {
	Epoch     uint32 `json:"epoch"`
	CreatedNs int64  `json:"created_ns,omitempty"`
	Current   bool   `json:"current,omitempty"`
	Retired   bool   `json:"retired,omitempty"`
	RetiredNs int64  `json:"retired_ns,omitempty"`
	// Chunks counts the chunk records sealed under the epoch (but those
	// being collected), SealedBytes their envelopes; Lost those recorded
	// lost, which re-encryption cannot read (they keep the epoch from
	// retiring).
	Chunks      int64 `json:"chunks"`
	SealedBytes int64 `json:"sealed_bytes"`
	Lost        int64 `json:"lost,omitempty"`
}

// KeyStatus is the key hierarchy's state: the epochs, the current one and
// the chunk shard's epoch floor.
type KeyStatus struct {
	Current       uint32           `json:"current"`
	Floor         uint32           `json:"floor"`
	FloorRaisedNs int64            `json:"floor_raised_ns,omitempty"`
	Epochs        []KeyEpochStatus `json:"epochs"`
}

// KeyStatus reads the keys shard and counts the chunk records per epoch
// (linearizable views; the count scans every chunk record).
func (s *Service) KeyStatus(ctx context.Context) (KeyStatus, error) {
	var st KeyStatus
	keysView, err := s.read(ctx, KeysShard)
	if err != nil {
		return st, err
	}
	st.Current, err = keyring.CurrentEpoch(keysView)
	var epochs []keyring.Epoch
	if err == nil {
		epochs, err = keyring.Epochs(keysView)
	}
	keysView.Close()
	if err != nil {
		return st, err
	}
	counts, floor, err := s.epochCounts(ctx)
	if err != nil {
		return st, err
	}
	st.Floor, st.FloorRaisedNs = floor.Floor, floor.RaisedNs
	for _, ep := range epochs {
		c := counts[ep.Epoch]
		delete(counts, ep.Epoch)
		c.Epoch, c.CreatedNs, c.Current, c.Retired, c.RetiredNs = ep.Epoch, ep.CreatedNs, ep.Epoch == st.Current, ep.Retired, ep.RetiredNs
		st.Epochs = append(st.Epochs, c)
	}
	for _, e := range slices.Sorted(maps.Keys(counts)) { // epochs the keyring does not know (corruption or tests)
		st.Epochs = append(st.Epochs, counts[e])
	}
	return st, nil
}

// epochCounts counts the chunk records per epoch on a linearizable view of
// the chunk shard, and returns its epoch floor.
func (s *Service) epochCounts(ctx context.Context) (map[uint32]KeyEpochStatus, chunkstate.Floor, error) {
	counts := map[uint32]KeyEpochStatus{}
	v, err := s.read(ctx, FirstChunkShard)
	if err != nil {
		return nil, chunkstate.Floor{}, err
	}
	defer v.Close()
	floor, err := chunkstate.EpochFloor(v)
	if err != nil {
		return nil, floor, err
	}
	err = chunkstate.Scan(v, event.ChunkID{}, func(_ event.ChunkID, rec chunkstate.Record) (bool, error) {
		if rec.State == chunkstate.Collecting {
			return true, nil // its fragments are being deleted; no key needed
		}
		c := counts[rec.Epoch]
		c.Epoch = rec.Epoch
		c.Chunks++
		c.SealedBytes += rec.SealedBytes
		if rec.Lost {
			c.Lost++
		}
		counts[rec.Epoch] = c
		return true, nil
	})
	return counts, floor, err
}

// currentEpoch reads the current system epoch on a linearizable view.
func (s *Service) currentEpoch(ctx context.Context) (uint32, error) {
	v, err := s.read(ctx, KeysShard)
	if err != nil {
		return 0, err
	}
	defer v.Close()
	return keyring.CurrentEpoch(v)
}

// DecideChunkResealed records a chunk sealed again as ref, read under
// epoch from. It decides nothing (nil) when the record moved on since the
// chunk was read: purged, being collected, or sealed under another epoch.
func DecideChunkResealed(v kv.Reader, from uint32, ref chunks.ChunkRef, nowNs int64) (*Decision, error) {
	id := event.ChunkID(ref.ID)
	rec, ok, err := chunkstate.Get(v, id)
	if err != nil || !ok || rec.State == chunkstate.Collecting || rec.Epoch != from {
		return nil, err
	}
	b := &event.ChunkResealed{Chunk: id, FromEpoch: from, Epoch: ref.Epoch, SealedBytes: int64(ref.SealedBytes),
		Placement: placementEvent(ref.Placement), ResealedNs: nowNs}
	if err := (chunkstate.Projection{}).Validate(v, nil, b); err != nil {
		return nil, err
	}
	return chunkDecision(b, id), nil
}

// DecideEpochFloor raises the chunk shard's epoch floor to floor; nil when
// it is there already.
func DecideEpochFloor(v kv.Reader, floor uint32, nowNs int64) (*Decision, error) {
	f, err := chunkstate.EpochFloor(v)
	if err != nil || f.Floor >= floor {
		return nil, err
	}
	return &Decision{Shard: FirstChunkShard, Actor: keysActor,
		Events: []Pending{{Body: &event.ChunkEpochFloorRaised{Floor: floor, RaisedNs: nowNs}}}}, nil
}

// DecideEpochRetired retires a system epoch on the keys shard; nil when it
// is retired already or is the current one. The caller must have checked,
// after the chunk shard's floor passed the epoch, that no chunk record
// uses it.
func DecideEpochRetired(v kv.Reader, epoch uint32, nowNs int64) (*Decision, error) {
	b := &event.SystemEpochRetired{Epoch: epoch, RetiredNs: nowNs}
	if err := (keyring.Projection{}).Validate(v, nil, b); err != nil {
		if errors.Is(err, projections.ErrPreconditionFailed) {
			return nil, nil
		}
		return nil, err
	}
	return &Decision{Shard: KeysShard, Actor: keysActor, Events: []Pending{{Body: b}}}, nil
}

// keysActor is the actor of events re-encryption proposes.
const keysActor = "system:key-rotation"

// resealOutcome is what happened to one chunk.
type resealOutcome int

const (
	resealDone    resealOutcome = iota
	resealSkipped               // no fragment on this node, or the record moved on
	resealFailed
)

// resealChunk seals one chunk again under epoch and records it, then
// deletes its old fragments (the steps at the top of this file). allLocal
// says a chunk none of whose fragments this node holds is lost rather
// than another node's.
func (s *Service) resealChunk(ctx context.Context, id event.ChunkID, rec chunkstate.Record, epoch uint32, allLocal bool) (resealOutcome, int64, error) {
	w := s.cfg.Data.Writer
	old := chunks.ChunkRef{ID: chunks.ChunkID(id), Epoch: rec.Epoch, PlaintextBytes: int(rec.PlaintextBytes),
		SealedBytes: int(rec.SealedBytes), Placement: placementOf(rec.Placement)}
	old.Placement.Epoch = rec.Epoch
	now, report, err := w.Reseal(old, epoch)
	if err != nil {
		if !allLocal && len(report.Missing) == old.Placement.Profile.Fragments() {
			return resealSkipped, 0, nil
		}
		return resealFailed, 0, err
	}
	d, _, err := s.run(ctx, ChunkShardOf(id), func(v kv.Reader) (*Decision, error) {
		return DecideChunkResealed(v, rec.Epoch, now, NowNs(s.env.Clock.Now()))
	})
	if err != nil || d == nil {
		// The new fragments stay as orphans: deleting them could remove a
		// racing writer's identical ones (same epoch, same keys).
		return resealSkipped, 0, err
	}
	if err := w.Store().DeleteReplaced(old.ID, old.Placement, now.Placement); err != nil {
		s.cfg.Logger.Warn("reseal: old fragments left for orphan collection", "chunk", id.String(), "err", err)
	}
	return resealDone, int64(now.SealedBytes), nil
}

// resealWindow seals again, under the current epoch, the chunks of a
// writer's window that it sealed under an epoch the chunk shard has since
// closed (ErrEpochRetiring: a rotation and a re-encryption pass ran during
// the write). The old fragments, never recorded, stay as orphans. If the
// old epoch's key is already retired, the write fails retriably
// (ErrConflict): the client writes again under the current epoch.
func (s *Service) resealWindow(ctx context.Context, refs []chunks.ChunkRef) ([]chunks.ChunkRef, error) {
	v, err := s.read(ctx, FirstChunkShard)
	if err != nil {
		return nil, err
	}
	floor, err := chunkstate.EpochFloor(v)
	v.Close()
	if err != nil {
		return nil, err
	}
	target, err := s.currentEpoch(ctx)
	if err != nil {
		return nil, err
	}
	out := slices.Clone(refs)
	for i, ref := range out {
		if ref.Deduplicated || ref.Epoch >= floor.Floor {
			continue
		}
		if out[i], _, err = s.cfg.Data.Writer.Reseal(ref, target); err != nil {
			return nil, fmt.Errorf("%w: chunk %s sealed under closed epoch %d: %v", ErrConflict, ref.ID, ref.Epoch, err)
		}
	}
	return out, nil
}

// isEpochRetiring reports a rejection because a chunk was sealed under a
// closed epoch.
func isEpochRetiring(err error) bool { return errors.Is(err, projections.ErrEpochRetiring) }

// ReencryptOptions configure a re-encryption pass.
type ReencryptOptions struct {
	// RetireGraceNs is how long the epoch floor must have been raised
	// before epochs below it are retired: meanwhile a writer that sealed a
	// chunk under an old epoch before the rotation, and records it after
	// the floor rose, can still read it back and seal it again. 0 retires
	// in the pass that raises the floor.
	RetireGraceNs int64
	// AllLocal says every chunk's fragments live on this node's devices
	// (a single-node cluster); otherwise chunks with no fragment here are
	// skipped (another node holds them and reseals them).
	AllLocal bool
	// Workers bounds chunks resealed at once (default 4).
	Workers int
	// Progress, if set, is called after every chunk and at the end of
	// each phase, serialized; it must not block.
	Progress func(ReencryptProgress)
}

// ReencryptProgress counts a re-encryption pass's work so far.
type ReencryptProgress struct {
	Phase string `json:"phase"` // "chunks", "retire", "done"
	// Epoch is the current epoch, which chunks are moved to.
	Epoch    uint32 `json:"epoch"`
	Total    int64  `json:"total"` // chunk records under older epochs at the start
	Done     int64  `json:"done"`
	Resealed int64  `json:"resealed"`
	Skipped  int64  `json:"skipped"` // not on this node, or moved on meanwhile
	Failed   int64  `json:"failed"`
	// ResealedBytes is the size of the envelopes written.
	ResealedBytes int64 `json:"resealed_bytes"`
	// Remaining counts the chunk records still under older epochs after
	// the pass (lost ones, other nodes' ones, failures).
	Remaining int64    `json:"remaining"`
	Retired   []uint32 `json:"retired,omitempty"`
}

// reencryptPass is one Reencrypt call's shared state.
type reencryptPass struct {
	s    *Service
	opts ReencryptOptions

	passState[ReencryptProgress]

	// passed holds the chunks this pass skipped or failed, so the sweep
	// after the floor does not try (and count) them again.
	passedMu sync.Mutex
	passed   map[event.ChunkID]bool
}

// Reencrypt runs one re-encryption pass: every chunk record sealed under
// an epoch older than the current one is resealed (on this node's
// devices), the epoch floor is raised, and epochs no record uses any more
// are retired. Chunk failures are counted and the pass goes on; the error
// reports what stopped it.
func (s *Service) Reencrypt(ctx context.Context, opts ReencryptOptions) (ReencryptProgress, error) {
	p := &reencryptPass{s: s, opts: opts, passed: map[event.ChunkID]bool{}, passState: passState[ReencryptProgress]{report: opts.Progress}}
	if p.opts.Workers <= 0 {
		p.opts.Workers = 4
	}
	err := p.run(ctx)
	p.update(func(pr *ReencryptProgress) { pr.Phase = "done" })
	return p.current(), err
}

func (p *reencryptPass) run(ctx context.Context) error {
	target, err := p.s.currentEpoch(ctx)
	if err != nil || target == 0 || p.s.cfg.Data == nil {
		return err
	}
	total, err := p.count(target)
	if err != nil {
		return err
	}
	p.update(func(pr *ReencryptProgress) { pr.Epoch, pr.Phase, pr.Total = target, "chunks", total })
	if err := p.sweep(ctx, target, false); err != nil {
		return err
	}
	if _, _, err := p.s.run(ctx, FirstChunkShard, func(v kv.Reader) (*Decision, error) {
		return DecideEpochFloor(v, target, NowNs(p.s.env.Clock.Now()))
	}); err != nil {
		return fmt.Errorf("raise epoch floor: %w", err)
	}
	// Chunks recorded under an old epoch after the sweep's scan and before
	// the floor: the floor now keeps out any more, so one more sweep
	// finds the last of them.
	if err := p.sweep(ctx, target, true); err != nil {
		return err
	}
	p.update(func(pr *ReencryptProgress) { pr.Phase = "retire" })
	return p.retire(ctx, target)
}

// count counts the records the first sweep will reseal.
func (p *reencryptPass) count(target uint32) (int64, error) {
	var n int64
	var from event.ChunkID
	for {
		batch, next, done, err := p.batch(from, target, 4096)
		n += int64(len(batch))
		if err != nil || done {
			return n, err
		}
		from = next
	}
}

// sweep reseals every record under an epoch older than target, a batch at
// a time from a fresh local view, Workers chunks at once. The records of
// a late sweep (after the floor rose) add to the total.
func (p *reencryptPass) sweep(ctx context.Context, target uint32, late bool) error {
	var from event.ChunkID
	for {
		batch, next, done, err := p.batch(from, target, 256)
		if err != nil {
			return err
		}
		if late {
			p.update(func(pr *ReencryptProgress) { pr.Total += int64(len(batch)) })
		}
		if err := eachChunk(ctx, p.opts.Workers, batch, func(it chunkItem) { p.resealOne(ctx, it, target) }); err != nil {
			return err
		}
		if done {
			return nil
		}
		from = next
	}
}

// batch collects up to n records from id from on that need resealing:
// under an older epoch, not being collected, not lost (unreadable), not
// already passed over by this pass.
func (p *reencryptPass) batch(from event.ChunkID, target uint32, n int) ([]chunkItem, event.ChunkID, bool, error) {
	return p.s.chunkBatch(from, n, func(id event.ChunkID, rec chunkstate.Record) bool {
		return rec.Epoch < target && rec.State != chunkstate.Collecting && !rec.Lost && !p.wasPassed(id)
	})
}

func (p *reencryptPass) resealOne(ctx context.Context, it chunkItem, target uint32) {
	outcome, bytes, err := p.s.resealChunk(ctx, it.id, it.rec, target, p.opts.AllLocal)
	if err != nil {
		outcome = resealFailed
		p.s.cfg.Logger.Warn("re-encryption: chunk not resealed", "chunk", it.id.String(), "epoch", it.rec.Epoch, "err", err)
	}
	if outcome != resealDone {
		p.passedMu.Lock()
		p.passed[it.id] = true
		p.passedMu.Unlock()
	}
	p.update(func(pr *ReencryptProgress) {
		pr.Done++
		switch outcome {
		case resealDone:
			pr.Resealed++
			pr.ResealedBytes += bytes
		case resealSkipped:
			pr.Skipped++
		default:
			pr.Failed++
		}
	})
}

func (p *reencryptPass) wasPassed(id event.ChunkID) bool {
	p.passedMu.Lock()
	defer p.passedMu.Unlock()
	return p.passed[id]
}

// retire proposes SystemEpochRetired for every epoch below target that no
// chunk record uses, once the floor has been up RetireGraceNs; it counts
// the records still under older epochs.
func (p *reencryptPass) retire(ctx context.Context, target uint32) error {
	counts, floor, err := p.s.epochCounts(ctx)
	if err != nil {
		return err
	}
	var remaining int64
	for e, c := range counts {
		if e < target {
			remaining += c.Chunks
		}
	}
	p.update(func(pr *ReencryptProgress) { pr.Remaining = remaining })
	if floor.Floor < target || NowNs(p.s.env.Clock.Now())-floor.RaisedNs < p.opts.RetireGraceNs {
		return nil
	}
	candidates, err := p.retirable(ctx, floor.Floor, counts)
	if err != nil {
		return err
	}
	for _, e := range candidates {
		d, _, err := p.s.run(ctx, KeysShard, func(v kv.Reader) (*Decision, error) {
			return DecideEpochRetired(v, e, NowNs(p.s.env.Clock.Now()))
		})
		if err != nil {
			return fmt.Errorf("retire epoch %d: %w", e, err)
		}
		if d != nil {
			p.update(func(pr *ReencryptProgress) { pr.Retired = append(pr.Retired, e) })
		}
	}
	return nil
}

// retirable lists the unretired epochs below floor with no chunk record.
func (p *reencryptPass) retirable(ctx context.Context, floor uint32, counts map[uint32]KeyEpochStatus) ([]uint32, error) {
	v, err := p.s.read(ctx, KeysShard)
	if err != nil {
		return nil, err
	}
	epochs, err := keyring.Epochs(v)
	v.Close()
	var out []uint32
	for _, ep := range epochs {
		if ep.Epoch < floor && !ep.Retired && counts[ep.Epoch].Chunks == 0 {
			out = append(out, ep.Epoch)
		}
	}
	return out, err
}

// ReencryptNeeded reports whether a pass has work: an unretired epoch
// older than the current one (cheap: reads only the keys shard).
func (s *Service) ReencryptNeeded(ctx context.Context) (bool, error) {
	v, err := s.read(ctx, KeysShard)
	if err != nil {
		return false, err
	}
	defer v.Close()
	cur, err := keyring.CurrentEpoch(v)
	if err != nil {
		return false, err
	}
	epochs, err := keyring.Epochs(v)
	for _, ep := range epochs {
		if ep.Epoch < cur && !ep.Retired {
			return true, err
		}
	}
	return false, err
}
