// Package chunkstate is the projection of a chunk shard: per chunk, its
// key epoch, sizes and fragment placement, and its lifecycle state. It
// records no tenant and no per-tenant reference: reference counts live in
// the namespace shards (tenant state), totals are summed from them.
//
// Lifecycle (ADR-013):
//
//	         ChunksStored
//	(none) ───────────────▶ Live ◀──────────────┐
//	                         │ ChunkCondemned    │ ChunkRevived,
//	                         ▼                   │ ChunksStored
//	                     Condemned ──────────────┘
//	                         │ ChunkCollected
//	                         ▼
//	                     Collecting ──ChunkPurged──▶ (none)
//
// Lost is a flag beside the state: ChunkLost sets it, FragmentRepaired or
// a fresh ChunksStored (which replaces the placement) clears it.
//
// Invariants: a Collecting chunk is never stored, revived or repaired
// (Validate answers ErrChunkCollecting), so nothing new lands under a
// tombstone whose fragments are being deleted; only a Collecting record is
// purged; placements keep their profile and hold distinct devices.
//
// Retention (ADR-014): ChunksRetained adds an opaque token to a chunk
// (one per hold that covered a crypto-shredded tenant's data); a chunk
// with a token is never condemned or collected. ChunkRetentionReleased
// removes the token when its hold ends. Tokens name no tenant.
//
// Key rotation (ADR-015, epochs.go): ChunkResealed moves a chunk to a
// newer key epoch and a new placement; ChunkEpochFloorRaised closes the
// epochs below a floor, under which no chunk is placed any more.
//
// Key space (under the shard's projection prefix):
//
//	c/<chunk id>              Record
//	R/<token 16><chunk id>    the chunks a retention token keeps
//	F                         Floor (the epoch floor)
//
// chunkstate must not import anything but log/event, log/kv and
// projections.
package chunkstate

import (
	"errors"
	"fmt"
	"sort"

	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	p "github.com/annal-storage/annal/projections"
)

// State is a chunk's lifecycle state. Its values are stored in records and
// never reused.
type State uint8

const (
	// Live: readable and deduplicable.
	Live State = 0
	// Condemned: unreferenced past the first grace period; still readable,
	// revived by any writer that deduplicates against it.
	Condemned State = 1
	// Collecting: tombstone while the collector deletes the fragments.
	Collecting State = 2
)

// String names the state.
func (s State) String() string {
	switch s {
	case Live:
		return "Live"
	case Condemned:
		return "Condemned"
	case Collecting:
		return "Collecting"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Record is what the cluster knows of one chunk. The lifecycle fields are
// omitted when zero, so records of Live chunks encode as before they
// existed.
type Record struct {
	Epoch          uint32               `msgpack:"e"`
	PlaintextBytes int64                `msgpack:"n"`
	SealedBytes    int64                `msgpack:"s"`
	Placement      event.ChunkPlacement `msgpack:"p"`
	StoredNs       int64                `msgpack:"at"`
	State          State                `msgpack:"st,omitempty"`
	// StateNs is when the chunk was condemned or collected (0 when Live).
	StateNs int64 `msgpack:"sn,omitempty"`
	// RevivedNs is the last revival: the condemn grace counts from it too.
	RevivedNs  int64 `msgpack:"rv,omitempty"`
	Lost       bool  `msgpack:"l,omitempty"`
	LostNs     int64 `msgpack:"ln,omitempty"`
	RepairedNs int64 `msgpack:"rp,omitempty"`
	// Retained lists the retention tokens keeping the chunk (sorted).
	Retained [][16]byte `msgpack:"rt,omitempty"`
	// ResealedNs is when the chunk was last sealed again (key rotation).
	ResealedNs int64 `msgpack:"rs,omitempty"`
}

// ActiveSinceNs is when the chunk last became Live (stored or revived):
// GC condemns only chunks unreferenced and inactive for a grace period
// counted from here.
func (r Record) ActiveSinceNs() int64 { return max(r.StoredNs, r.RevivedNs) }

func chunkKey(c event.ChunkID) []byte { return p.Key([]byte("c/"), c[:]) }
func retainKey(token [16]byte, c event.ChunkID) []byte {
	return p.Key([]byte("R/"), token[:], c[:])
}

// RetainedBy lists up to limit chunks a retention token keeps, in id
// order.
func RetainedBy(r kv.Reader, token [16]byte, limit int) ([]event.ChunkID, error) {
	pre := p.Key([]byte("R/"), token[:])
	var out []event.ChunkID
	err := kv.Scan(r, pre, kv.PrefixEnd(pre), func(k, _ []byte) error {
		if len(out) == limit {
			return errStop
		}
		var c event.ChunkID
		copy(c[:], k[len(pre):])
		out = append(out, c)
		return nil
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	return out, err
}

// Get returns a chunk's record.
func Get(r kv.Reader, c event.ChunkID) (Record, bool, error) {
	var rec Record
	ok, err := p.Get(r, chunkKey(c), &rec)
	return rec, ok, err
}

// errStop ends a Scan early without an error.
var errStop = errors.New("stop")

// Scan calls fn for every record with id ≥ from, in id order, until fn
// returns false or an error.
func Scan(r kv.Reader, from event.ChunkID, fn func(event.ChunkID, Record) (more bool, err error)) error {
	err := kv.Scan(r, chunkKey(from), kv.PrefixEnd([]byte("c/")), func(k, v []byte) error {
		var id event.ChunkID
		copy(id[:], k[2:])
		var rec Record
		if err := p.Decode(v, &rec); err != nil {
			return fmt.Errorf("chunk %s: %w", id, err)
		}
		more, err := fn(id, rec)
		if err == nil && !more {
			return errStop
		}
		return err
	})
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

// Projection is the chunk shard projection.
type Projection struct{}

// Validate implements projections.Projection: every precondition of every
// chunk shard event, so commands and the apply path agree.
func (Projection) Validate(r kv.Reader, _ *event.Envelope, body event.Body) error {
	switch b := body.(type) {
	case *event.ChunksStored:
		return validateStored(r, b)
	case *event.ChunkCondemned:
		return validateUnretained(r, b.Chunk, "condemn", Live)
	case *event.ChunkRevived:
		return validateState(r, b.Chunk, "revive", Condemned)
	case *event.ChunkCollected:
		return validateUnretained(r, b.Chunk, "collect", Condemned)
	case *event.ChunksRetained:
		return validateRetained(r, b)
	case *event.ChunkRetentionReleased:
		return validateReleased(r, b)
	case *event.ChunkPurged:
		return validateState(r, b.Chunk, "purge", Collecting)
	case *event.FragmentRepaired:
		return validateRepaired(r, b)
	case *event.ChunkResealed:
		return validateResealed(r, b)
	case *event.ChunkEpochFloorRaised:
		return validateFloor(r, b)
	case *event.ChunkLost:
		rec, err := notCollecting(r, b.Chunk, "mark lost")
		if err == nil && rec.Lost {
			err = p.Errorf(p.ErrPreconditionFailed, "chunk %s is already lost", b.Chunk)
		}
		return err
	}
	return p.Errorf(p.ErrInvalid, "%s is not a chunk shard event", body.EventType())
}

func validateStored(r kv.Reader, b *event.ChunksStored) error {
	for _, c := range b.Chunks {
		if len(c.Placement.Devices) == 0 || c.SealedBytes <= 0 {
			return p.Errorf(p.ErrInvalid, "chunk %s stored without placement", c.Chunk)
		}
		rec, ok, err := Get(r, c.Chunk)
		if err != nil {
			return err
		}
		if ok && rec.State == Collecting {
			return p.Errorf(p.ErrChunkCollecting, "chunk %s stored while being collected", c.Chunk)
		}
		if !ok || rec.Lost { // the record takes this placement (applyStored)
			if err := belowFloor(r, c.Chunk, c.Epoch); err != nil {
				return err
			}
		}
	}
	return nil
}

// validateState checks that a chunk exists and is in state want. A
// Collecting chunk that is not wanted answers ErrChunkCollecting, so a
// writer knows to wait for the purge.
func validateState(r kv.Reader, c event.ChunkID, op string, want State) error {
	rec, ok, err := Get(r, c)
	switch {
	case err != nil:
		return err
	case !ok:
		return p.Errorf(p.ErrNotFound, "%s chunk %s: no record", op, c)
	case rec.State == want:
		return nil
	case rec.State == Collecting:
		return p.Errorf(p.ErrChunkCollecting, "%s chunk %s: being collected", op, c)
	}
	return p.Errorf(p.ErrPreconditionFailed, "%s chunk %s: state %s, want %s", op, c, rec.State, want)
}

// validateUnretained is validateState for GC steps: a retained chunk is
// never condemned or collected.
func validateUnretained(r kv.Reader, c event.ChunkID, op string, want State) error {
	if err := validateState(r, c, op, want); err != nil {
		return err
	}
	rec, _, err := Get(r, c)
	if err == nil && len(rec.Retained) > 0 {
		err = p.Errorf(p.ErrPreconditionFailed, "%s chunk %s: retained by a hold", op, c)
	}
	return err
}

func validateRetained(r kv.Reader, b *event.ChunksRetained) error {
	for _, c := range b.Chunks {
		rec, err := notCollecting(r, c, "retain")
		if err != nil {
			return err
		}
		if hasToken(rec.Retained, b.Token) {
			return p.Errorf(p.ErrAlreadyExists, "chunk %s already retained by this token", c)
		}
	}
	return nil
}

func validateReleased(r kv.Reader, b *event.ChunkRetentionReleased) error {
	for _, c := range b.Chunks {
		rec, ok, err := Get(r, c)
		if err != nil {
			return err
		}
		if !ok || !hasToken(rec.Retained, b.Token) {
			return p.Errorf(p.ErrNotFound, "chunk %s is not retained by this token", c)
		}
	}
	return nil
}

func hasToken(ts [][16]byte, t [16]byte) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

func notCollecting(r kv.Reader, c event.ChunkID, op string) (Record, error) {
	rec, ok, err := Get(r, c)
	switch {
	case err != nil:
		return rec, err
	case !ok:
		return rec, p.Errorf(p.ErrNotFound, "%s chunk %s: no record", op, c)
	case rec.State == Collecting:
		return rec, p.Errorf(p.ErrChunkCollecting, "%s chunk %s: being collected", op, c)
	}
	return rec, nil
}

// validateRepaired checks a repair against the record: same profile, one
// distinct device per fragment, and only the repaired fragments moved.
func validateRepaired(r kv.Reader, b *event.FragmentRepaired) error {
	rec, err := notCollecting(r, b.Chunk, "repair")
	if err != nil {
		return err
	}
	old, nw := rec.Placement, b.Placement
	if nw.ProfileKind != old.ProfileKind || nw.Data != old.Data || nw.Parity != old.Parity || len(nw.Devices) != len(old.Devices) {
		return p.Errorf(p.ErrInvalid, "repair chunk %s: placement changes the profile", b.Chunk)
	}
	if len(b.Repaired) == 0 {
		return p.Errorf(p.ErrInvalid, "repair chunk %s: no fragment repaired", b.Chunk)
	}
	repaired := make([]bool, len(nw.Devices))
	for i, index := range b.Repaired {
		if int(index) >= len(nw.Devices) || (i > 0 && index <= b.Repaired[i-1]) {
			return p.Errorf(p.ErrInvalid, "repair chunk %s: fragment indexes %v", b.Chunk, b.Repaired)
		}
		repaired[index] = true
	}
	seen := map[string]bool{}
	for i, d := range nw.Devices {
		if d == "" || seen[d] {
			return p.Errorf(p.ErrInvalid, "repair chunk %s: device %q empty or used twice", b.Chunk, d)
		}
		seen[d] = true
		if !repaired[i] && d != old.Devices[i] {
			return p.Errorf(p.ErrPreconditionFailed, "repair chunk %s: fragment %d moved from %s to %s without repair", b.Chunk, i, old.Devices[i], d)
		}
	}
	return nil
}

// CheckGuard implements projections.Projection; chunk shards take no
// guards.
func (Projection) CheckGuard(_ kv.Reader, g event.Guard) error {
	return p.Errorf(p.ErrInvalid, "chunk shard has no guard kind %d", g.Kind)
}

// Apply implements projections.Projection.
func (Projection) Apply(w kv.Writer, _ *event.Envelope, body event.Body) error {
	switch b := body.(type) {
	case *event.ChunksStored:
		for _, c := range b.Chunks {
			if err := applyStored(w, c); err != nil {
				return err
			}
		}
		return nil
	case *event.ChunkPurged:
		rec, err := mustGet(w, b.Chunk)
		if err != nil {
			return err
		}
		p.Must(rec.State == Collecting, "purge of chunk %s in state %s", b.Chunk, rec.State)
		return w.Delete(chunkKey(b.Chunk))
	case *event.ChunksRetained:
		return applyRetention(w, b.Token, b.Chunks, true)
	case *event.ChunkRetentionReleased:
		return applyRetention(w, b.Token, b.Chunks, false)
	case *event.ChunkResealed:
		return applyResealed(w, b)
	case *event.ChunkEpochFloorRaised:
		return applyFloor(w, b)
	}
	return applyUpdate(w, body)
}

// applyRetention adds (or removes) a retention token on chunks and its
// index entries.
func applyRetention(w kv.Writer, token [16]byte, ids []event.ChunkID, add bool) error {
	for _, c := range ids {
		rec, err := mustGet(w, c)
		if err != nil {
			return err
		}
		kept := rec.Retained[:0:0]
		for _, t := range rec.Retained {
			if t != token {
				kept = append(kept, t)
			}
		}
		var err2 error
		if add {
			kept = append(kept, token)
			sort.Slice(kept, func(i, j int) bool { return string(kept[i][:]) < string(kept[j][:]) })
			err2 = w.Set(retainKey(token, c), []byte{1})
		} else {
			err2 = w.Delete(retainKey(token, c))
		}
		if err2 != nil {
			return err2
		}
		rec.Retained = kept
		if len(kept) == 0 {
			rec.Retained = nil
		}
		if err := p.Put(w, chunkKey(c), &rec); err != nil {
			return err
		}
	}
	return nil
}

// applyStored records a stored chunk. A second store of a chunk changes
// nothing (a concurrent dedup write), except that it revives a Condemned
// chunk and replaces the placement of a lost one: the writer saw it so and
// wrote fresh fragments.
func applyStored(w kv.Writer, c event.ChunkStored) error {
	rec, ok, err := Get(w, c.Chunk)
	if err != nil {
		return err
	}
	p.Must(!ok || rec.State != Collecting, "store of collecting chunk %s", c.Chunk)
	if ok && !rec.Lost && rec.State == Live {
		return nil
	}
	if ok && rec.State == Condemned {
		rec.State, rec.StateNs, rec.RevivedNs = Live, 0, c.StoredNs
	}
	if !ok || rec.Lost {
		rec.Epoch, rec.PlaintextBytes, rec.SealedBytes = c.Epoch, c.PlaintextBytes, c.SealedBytes
		rec.Placement, rec.StoredNs, rec.Lost, rec.LostNs = c.Placement, c.StoredNs, false, 0
	}
	return p.Put(w, chunkKey(c.Chunk), &rec)
}

// applyUpdate folds the events that change one existing record.
func applyUpdate(w kv.Writer, body event.Body) error {
	var id event.ChunkID
	var change func(*Record)
	switch b := body.(type) {
	case *event.ChunkCondemned:
		id, change = b.Chunk, func(r *Record) { r.State, r.StateNs = Condemned, b.CondemnedNs }
	case *event.ChunkRevived:
		id, change = b.Chunk, func(r *Record) { r.State, r.StateNs, r.RevivedNs = Live, 0, b.RevivedNs }
	case *event.ChunkCollected:
		id, change = b.Chunk, func(r *Record) { r.State, r.StateNs = Collecting, b.CollectedNs }
	case *event.FragmentRepaired:
		id, change = b.Chunk, func(r *Record) {
			r.Placement, r.RepairedNs, r.Lost, r.LostNs = b.Placement, b.RepairedNs, false, 0
		}
	case *event.ChunkLost:
		id, change = b.Chunk, func(r *Record) { r.Lost, r.LostNs = true, b.LostNs }
	default:
		panic(fmt.Sprintf("chunkstate: apply of unexpected %s", body.EventType()))
	}
	rec, err := mustGet(w, id)
	if err != nil {
		return err
	}
	change(&rec)
	return p.Put(w, chunkKey(id), &rec)
}

// mustGet returns a record Validate has seen: a missing one here is a
// broken invariant.
func mustGet(r kv.Reader, c event.ChunkID) (Record, error) {
	rec, ok, err := Get(r, c)
	if err != nil {
		return rec, err
	}
	p.Must(ok, "chunk %s: record missing at apply", c)
	return rec, nil
}
