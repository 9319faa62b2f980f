package chunkstate

import (
	"errors"
	"testing"

	"github.com/annal-storage/annal/log/event"
	p "github.com/annal-storage/annal/projections"
	"github.com/google/go-cmp/cmp"
)

// Key rotation on the chunk shard (ADR-015): ChunkResealed from every
// state and with every stale or malformed field, and the epoch floor,
// which refuses placing a chunk under a closed epoch.

var rotated = placement("dev1", "dev2", "dev3", "dev4", "dev5", "dev0")

func resealed(from, to uint32, pl event.ChunkPlacement) *event.ChunkResealed {
	return &event.ChunkResealed{Chunk: chunkA, FromEpoch: from, Epoch: to, SealedBytes: 46, Placement: pl, ResealedNs: 700}
}

func TestResealed(t *testing.T) {
	base := Record{Epoch: 1, PlaintextBytes: 10, SealedBytes: 45, Placement: six, StoredNs: 100}
	after := func(f func(*Record)) *Record {
		r := base
		r.Epoch, r.SealedBytes, r.Placement, r.ResealedNs = 2, 46, rotated, 700
		if f != nil {
			f(&r)
		}
		return &r
	}
	tests := []struct {
		name, from string
		body       event.Body
		wantErr    error
		want       *Record
	}{
		{"live", "live", resealed(1, 2, rotated), nil, after(nil)},
		{"condemned stays condemned", "condemned", resealed(1, 2, rotated), nil, after(func(r *Record) { r.State, r.StateNs = Condemned, 200 })},
		{"lost is healed", "lost", resealed(1, 2, rotated), nil, after(nil)},
		{"same epoch, new placement", "live", resealed(1, 1, rotated), nil, after(func(r *Record) { r.Epoch = 1 })},
		{"collecting", "collecting", resealed(1, 2, rotated), p.ErrChunkCollecting, nil},
		{"absent", "none", resealed(1, 2, rotated), p.ErrNotFound, nil},
		{"stale from", "live", resealed(3, 4, rotated), p.ErrPreconditionFailed, nil},
		{"backwards", "live", resealed(1, 0, rotated), p.ErrInvalid, nil},
		{"profile change", "live", resealed(1, 2, event.ChunkPlacement{ProfileKind: 2, Data: 1, Parity: 5, Devices: rotated.Devices}), p.ErrInvalid, nil},
		{"device twice", "live", resealed(1, 2, placement("dev1", "dev1", "dev3", "dev4", "dev5", "dev0")), p.ErrInvalid, nil},
		{"too few devices", "live", resealed(1, 2, placement("dev1", "dev2")), p.ErrInvalid, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := state(t, tt.from)
			before := record(t, w)
			err := step(t, w, tt.body)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if d := cmp.Diff(before, record(t, w)); d != "" {
					t.Fatalf("rejected event changed the record:\n%s", d)
				}
				return
			}
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if d := cmp.Diff(tt.want, record(t, w)); d != "" {
				t.Fatalf("record (-want +got):\n%s", d)
			}
		})
	}
}

// Goal: the floor only rises, and once raised no chunk is placed under a
// lower epoch (fresh store, store over a lost record, reseal), while a
// store that places nothing (a dedup race, a revival) still goes through.
func TestEpochFloor(t *testing.T) {
	w := state(t, "live")
	if err := step(t, w, &event.ChunkEpochFloorRaised{Floor: 2, RaisedNs: 5}); err != nil {
		t.Fatal(err)
	}
	if f, err := EpochFloor(w); err != nil || f != (Floor{Floor: 2, RaisedNs: 5}) {
		t.Fatalf("floor %+v %v", f, err)
	}
	for _, floor := range []uint32{2, 1} {
		if err := step(t, w, &event.ChunkEpochFloorRaised{Floor: floor}); !errors.Is(err, p.ErrPreconditionFailed) {
			t.Fatalf("floor %d after 2: %v", floor, err)
		}
	}
	if err := step(t, w, stored(500, rotated)); err != nil {
		t.Fatalf("epoch-1 store of a live chunk (places nothing): %v", err)
	}
	fresh := &event.ChunksStored{Chunks: []event.ChunkStored{{Chunk: event.ChunkID{0xb}, Epoch: 1, SealedBytes: 45, Placement: six}}}
	if err := step(t, w, fresh); !errors.Is(err, p.ErrEpochRetiring) {
		t.Fatalf("fresh epoch-1 store under floor 2: %v", err)
	}
	fresh.Chunks[0].Epoch = 2
	if err := step(t, w, fresh); err != nil {
		t.Fatalf("fresh epoch-2 store: %v", err)
	}
	if err := step(t, w, &event.ChunkLost{Chunk: chunkA, LostNs: 600}); err != nil {
		t.Fatal(err)
	}
	if err := step(t, w, stored(700, rotated)); !errors.Is(err, p.ErrEpochRetiring) {
		t.Fatalf("epoch-1 store over a lost record under floor 2: %v", err)
	}
	if err := step(t, w, resealed(1, 1, rotated)); !errors.Is(err, p.ErrEpochRetiring) {
		t.Fatalf("reseal to epoch 1 under floor 2: %v", err)
	}
	if err := step(t, w, resealed(1, 2, rotated)); err != nil {
		t.Fatalf("reseal to epoch 2: %v", err)
	}
}
