package chunkstate

import (
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	p "github.com/annal-storage/annal/projections"
)

// Key rotation on the chunk shard (ADR-015). A chunk sealed under an old
// system epoch is sealed again under a newer one (ChunkResealed: new
// epoch, sealed size and placement; the old fragments are deleted after
// it commits). The epoch floor closes old epochs: once raised
// (ChunkEpochFloorRaised), no chunk is placed under an epoch below it, so
// an epoch no record uses is safe to retire on the keys shard.

// Floor is the chunk shard's epoch floor (0 before the first raise).
type Floor struct {
	Floor    uint32 `msgpack:"f"`
	RaisedNs int64  `msgpack:"at"`
}

var floorKey = []byte("F")

// EpochFloor returns the epoch floor.
func EpochFloor(r kv.Reader) (Floor, error) {
	var f Floor
	_, err := p.Get(r, floorKey, &f)
	return f, err
}

// belowFloor refuses an epoch below the floor with ErrEpochRetiring.
func belowFloor(r kv.Reader, c event.ChunkID, epoch uint32) error {
	f, err := EpochFloor(r)
	if err == nil && epoch < f.Floor {
		err = p.Errorf(p.ErrEpochRetiring, "chunk %s under epoch %d, floor %d", c, epoch, f.Floor)
	}
	return err
}

// validateResealed: the record exists and is not being collected, is
// still sealed under FromEpoch (else another reseal or a fresh store won),
// the new epoch is not older nor below the floor, and the new placement
// keeps the profile on distinct devices.
func validateResealed(r kv.Reader, b *event.ChunkResealed) error {
	rec, err := notCollecting(r, b.Chunk, "reseal")
	if err != nil {
		return err
	}
	if rec.Epoch != b.FromEpoch {
		return p.Errorf(p.ErrPreconditionFailed, "reseal chunk %s: sealed under epoch %d, not %d", b.Chunk, rec.Epoch, b.FromEpoch)
	}
	if b.Epoch < b.FromEpoch || b.SealedBytes <= 0 {
		return p.Errorf(p.ErrInvalid, "reseal chunk %s: epoch %d after %d, %d sealed bytes", b.Chunk, b.Epoch, b.FromEpoch, b.SealedBytes)
	}
	old, nw := rec.Placement, b.Placement
	if nw.ProfileKind != old.ProfileKind || nw.Data != old.Data || nw.Parity != old.Parity || len(nw.Devices) != len(old.Devices) {
		return p.Errorf(p.ErrInvalid, "reseal chunk %s: placement changes the profile", b.Chunk)
	}
	seen := map[string]bool{}
	for _, d := range nw.Devices {
		if d == "" || seen[d] {
			return p.Errorf(p.ErrInvalid, "reseal chunk %s: device %q empty or used twice", b.Chunk, d)
		}
		seen[d] = true
	}
	return belowFloor(r, b.Chunk, b.Epoch)
}

// validateFloor: the floor only rises.
func validateFloor(r kv.Reader, b *event.ChunkEpochFloorRaised) error {
	f, err := EpochFloor(r)
	if err == nil && b.Floor <= f.Floor {
		err = p.Errorf(p.ErrPreconditionFailed, "epoch floor %d, not above %d", b.Floor, f.Floor)
	}
	return err
}

// applyResealed records the new seal; a resealed chunk is whole again, so
// it is no longer lost.
func applyResealed(w kv.Writer, b *event.ChunkResealed) error {
	rec, err := mustGet(w, b.Chunk)
	if err != nil {
		return err
	}
	p.Must(rec.State != Collecting && rec.Epoch == b.FromEpoch, "reseal of chunk %s in state %s epoch %d", b.Chunk, rec.State, rec.Epoch)
	rec.Epoch, rec.SealedBytes, rec.Placement, rec.ResealedNs = b.Epoch, b.SealedBytes, b.Placement, b.ResealedNs
	rec.Lost, rec.LostNs = false, 0
	return p.Put(w, chunkKey(b.Chunk), &rec)
}

func applyFloor(w kv.Writer, b *event.ChunkEpochFloorRaised) error {
	return p.Put(w, floorKey, &Floor{Floor: b.Floor, RaisedNs: b.RaisedNs})
}
