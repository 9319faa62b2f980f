package chunkstate

import (
	"errors"
	"testing"

	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	p "github.com/annal-storage/annal/projections"
	"github.com/google/go-cmp/cmp"
	"github.com/vmihailenco/msgpack/v5"
)

// The chunk lifecycle, event by event: every transition of ADR-013 from
// every state, accepted ones changing the record as documented and
// rejected ones leaving it untouched with the documented domain error.

var chunkA = event.ChunkID{0xa}

func placement(devices ...string) event.ChunkPlacement {
	return event.ChunkPlacement{ProfileKind: 1, Data: 4, Parity: 2, Devices: devices}
}

var six = placement("dev0", "dev1", "dev2", "dev3", "dev4", "dev5")

func stored(at int64, pl event.ChunkPlacement) *event.ChunksStored {
	return &event.ChunksStored{Chunks: []event.ChunkStored{{Chunk: chunkA, Epoch: 1, PlaintextBytes: 10, SealedBytes: 45, Placement: pl, StoredNs: at}}}
}

// step validates body and, when valid, applies it, as the apply path does.
func step(t *testing.T, w kv.Writer, body event.Body) error {
	t.Helper()
	proj := Projection{}
	if err := proj.Validate(w, nil, body); err != nil {
		return err
	}
	if err := proj.Apply(w, nil, body); err != nil {
		t.Fatalf("apply %s: %v", body.EventType(), err)
	}
	return nil
}

// state builds a record in the named state: "none", "live", "condemned",
// "collecting", "lost".
func state(t *testing.T, name string) kv.Writer {
	t.Helper()
	w := kv.NewMem().NewBatch()
	t.Cleanup(func() { w.Close() })
	var events []event.Body
	switch name {
	case "none":
	case "live":
		events = []event.Body{stored(100, six)}
	case "lost":
		events = []event.Body{stored(100, six), &event.ChunkLost{Chunk: chunkA, Usable: 2, LostNs: 150}}
	case "condemned":
		events = []event.Body{stored(100, six), &event.ChunkCondemned{Chunk: chunkA, CondemnedNs: 200}}
	case "collecting":
		events = []event.Body{stored(100, six), &event.ChunkCondemned{Chunk: chunkA, CondemnedNs: 200},
			&event.ChunkCollected{Chunk: chunkA, CollectedNs: 300}}
	default:
		t.Fatalf("no state %q", name)
	}
	for _, e := range events {
		if err := step(t, w, e); err != nil {
			t.Fatalf("build %s: %s: %v", name, e.EventType(), err)
		}
	}
	return w
}

func record(t *testing.T, r kv.Reader) *Record {
	t.Helper()
	rec, ok, err := Get(r, chunkA)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return nil
	}
	return &rec
}

func TestTransitions(t *testing.T) {
	base := Record{Epoch: 1, PlaintextBytes: 10, SealedBytes: 45, Placement: six, StoredNs: 100}
	with := func(f func(*Record)) *Record { r := base; f(&r); return &r }
	moved := placement("dev0", "dev6", "dev2", "dev3", "dev4", "dev5")
	tests := []struct {
		from    string
		body    event.Body
		wantErr error
		want    *Record // when accepted
	}{
		{"none", stored(100, six), nil, &base},
		{"live", stored(500, moved), nil, &base}, // a concurrent dedup write changes nothing
		{"condemned", stored(500, moved), nil, with(func(r *Record) { r.RevivedNs = 500 })},
		{"collecting", stored(500, six), p.ErrChunkCollecting, nil},
		{"lost", stored(500, moved), nil, with(func(r *Record) { r.Placement, r.StoredNs = moved, 500 })},

		{"none", &event.ChunkCondemned{Chunk: chunkA, CondemnedNs: 9}, p.ErrNotFound, nil},
		{"live", &event.ChunkCondemned{Chunk: chunkA, CondemnedNs: 9}, nil, with(func(r *Record) { r.State, r.StateNs = Condemned, 9 })},
		{"condemned", &event.ChunkCondemned{Chunk: chunkA, CondemnedNs: 9}, p.ErrPreconditionFailed, nil},
		{"collecting", &event.ChunkCondemned{Chunk: chunkA, CondemnedNs: 9}, p.ErrChunkCollecting, nil},

		{"none", &event.ChunkRevived{Chunk: chunkA, RevivedNs: 9}, p.ErrNotFound, nil},
		{"live", &event.ChunkRevived{Chunk: chunkA, RevivedNs: 9}, p.ErrPreconditionFailed, nil},
		{"condemned", &event.ChunkRevived{Chunk: chunkA, RevivedNs: 900}, nil, with(func(r *Record) { r.RevivedNs = 900 })},
		{"collecting", &event.ChunkRevived{Chunk: chunkA, RevivedNs: 9}, p.ErrChunkCollecting, nil},

		{"none", &event.ChunkCollected{Chunk: chunkA, CollectedNs: 9}, p.ErrNotFound, nil},
		{"live", &event.ChunkCollected{Chunk: chunkA, CollectedNs: 9}, p.ErrPreconditionFailed, nil},
		{"condemned", &event.ChunkCollected{Chunk: chunkA, CollectedNs: 900}, nil, with(func(r *Record) { r.State, r.StateNs = Collecting, 900 })},
		{"collecting", &event.ChunkCollected{Chunk: chunkA, CollectedNs: 9}, p.ErrChunkCollecting, nil},

		{"none", &event.ChunkPurged{Chunk: chunkA}, p.ErrNotFound, nil},
		{"live", &event.ChunkPurged{Chunk: chunkA}, p.ErrPreconditionFailed, nil},
		{"condemned", &event.ChunkPurged{Chunk: chunkA}, p.ErrPreconditionFailed, nil},
		{"collecting", &event.ChunkPurged{Chunk: chunkA}, nil, nil},

		{"none", &event.ChunkLost{Chunk: chunkA, LostNs: 9}, p.ErrNotFound, nil},
		{"live", &event.ChunkLost{Chunk: chunkA, Usable: 3, LostNs: 9}, nil, with(func(r *Record) { r.Lost, r.LostNs = true, 9 })},
		{"lost", &event.ChunkLost{Chunk: chunkA, LostNs: 9}, p.ErrPreconditionFailed, nil},
		{"condemned", &event.ChunkLost{Chunk: chunkA, LostNs: 9}, nil, with(func(r *Record) { r.State, r.StateNs, r.Lost, r.LostNs = Condemned, 200, true, 9 })},
		{"collecting", &event.ChunkLost{Chunk: chunkA, LostNs: 9}, p.ErrChunkCollecting, nil},

		{"none", &event.FragmentRepaired{Chunk: chunkA, Placement: moved, Repaired: []uint8{1}}, p.ErrNotFound, nil},
		{"live", &event.FragmentRepaired{Chunk: chunkA, Placement: moved, Repaired: []uint8{1}, RepairedNs: 9}, nil,
			with(func(r *Record) { r.Placement, r.RepairedNs = moved, 9 })},
		{"live", &event.FragmentRepaired{Chunk: chunkA, Placement: six, Repaired: []uint8{0, 5}, RepairedNs: 9}, nil,
			with(func(r *Record) { r.RepairedNs = 9 })}, // rewritten in place
		{"lost", &event.FragmentRepaired{Chunk: chunkA, Placement: moved, Repaired: []uint8{1}, RepairedNs: 9}, nil,
			with(func(r *Record) { r.Placement, r.RepairedNs = moved, 9 })},
		{"condemned", &event.FragmentRepaired{Chunk: chunkA, Placement: moved, Repaired: []uint8{1}, RepairedNs: 9}, nil,
			with(func(r *Record) { r.State, r.StateNs, r.Placement, r.RepairedNs = Condemned, 200, moved, 9 })},
		{"collecting", &event.FragmentRepaired{Chunk: chunkA, Placement: moved, Repaired: []uint8{1}}, p.ErrChunkCollecting, nil},
		{"live", &event.FragmentRepaired{Chunk: chunkA, Placement: moved, Repaired: []uint8{2}}, p.ErrPreconditionFailed, nil},
		{"live", &event.FragmentRepaired{Chunk: chunkA, Placement: moved, Repaired: nil}, p.ErrInvalid, nil},
		{"live", &event.FragmentRepaired{Chunk: chunkA, Placement: moved, Repaired: []uint8{1, 1}}, p.ErrInvalid, nil},
		{"live", &event.FragmentRepaired{Chunk: chunkA, Placement: moved, Repaired: []uint8{6}}, p.ErrInvalid, nil},
		{"live", &event.FragmentRepaired{Chunk: chunkA, Placement: placement("dev0", "dev0", "dev2", "dev3", "dev4", "dev5"), Repaired: []uint8{1}}, p.ErrInvalid, nil},
		{"live", &event.FragmentRepaired{Chunk: chunkA, Placement: event.ChunkPlacement{ProfileKind: 2, Data: 1, Parity: 5, Devices: moved.Devices}, Repaired: []uint8{1}}, p.ErrInvalid, nil},
	}
	for _, tt := range tests {
		t.Run(tt.from+"/"+tt.body.EventType().String(), func(t *testing.T) {
			w := state(t, tt.from)
			before := record(t, w)
			err := step(t, w, tt.body)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if d := cmp.Diff(before, record(t, w)); d != "" {
					t.Fatalf("rejected event changed the record (-before +after):\n%s", d)
				}
				return
			}
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			got := record(t, w)
			if tt.from == "lost" && tt.want != nil {
				tt.want.Lost, tt.want.LostNs = false, 0 // a fresh store or a repair heals a lost chunk
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Fatalf("record (-want +got):\n%s", d)
			}
		})
	}
}

// TestLiveRecordEncodingUnchanged: a Live record's encoding holds only the
// fields that existed before the lifecycle did, so replaying old events
// yields byte-identical projections.
func TestLiveRecordEncodingUnchanged(t *testing.T) {
	w := state(t, "live")
	raw, ok, err := w.Get(chunkKey(chunkA))
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	var fields map[string]any
	if err := msgpack.Unmarshal(raw, &fields); err != nil {
		t.Fatal(err)
	}
	if len(fields) != 5 {
		t.Fatalf("live record encodes fields %v, want the five original ones", fields)
	}
}

func TestScan(t *testing.T) {
	w := kv.NewMem().NewBatch()
	defer w.Close()
	var ids []event.ChunkID
	for i := range 5 {
		id := event.ChunkID{byte(i)}
		ids = append(ids, id)
		ev := &event.ChunksStored{Chunks: []event.ChunkStored{{Chunk: id, SealedBytes: 1, Placement: six}}}
		if err := step(t, w, ev); err != nil {
			t.Fatal(err)
		}
	}
	var got []event.ChunkID
	err := Scan(w, ids[1], func(id event.ChunkID, _ Record) (bool, error) {
		got = append(got, id)
		return len(got) < 3, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(ids[1:4], got); d != "" {
		t.Fatalf("scan from ids[1], stop after 3 (-want +got):\n%s", d)
	}
}

// TestRetention: a retained chunk is neither condemned nor collected
// until every token keeping it is released; tokens are indexed for
// release and a token cannot be added twice or released where absent.
func TestRetention(t *testing.T) {
	tokA, tokB := [16]byte{1}, [16]byte{2}
	w := state(t, "live")
	if err := step(t, w, &event.ChunksRetained{Token: tokA, Chunks: []event.ChunkID{chunkA}, RetainedNs: 150}); err != nil {
		t.Fatal(err)
	}
	if err := step(t, w, &event.ChunksRetained{Token: tokA, Chunks: []event.ChunkID{chunkA}}); !errors.Is(err, p.ErrAlreadyExists) {
		t.Fatalf("second retain with the same token: %v", err)
	}
	if err := step(t, w, &event.ChunksRetained{Token: tokB, Chunks: []event.ChunkID{chunkA}}); err != nil {
		t.Fatal(err)
	}
	if err := step(t, w, &event.ChunkCondemned{Chunk: chunkA, CondemnedNs: 200}); !errors.Is(err, p.ErrPreconditionFailed) {
		t.Fatalf("condemn of a retained chunk: %v", err)
	}
	got, err := RetainedBy(w, tokA, 10)
	if err != nil || len(got) != 1 || got[0] != chunkA {
		t.Fatalf("RetainedBy = %v, %v", got, err)
	}
	if err := step(t, w, &event.ChunkRetentionReleased{Token: tokA, Chunks: []event.ChunkID{chunkA}}); err != nil {
		t.Fatal(err)
	}
	if err := step(t, w, &event.ChunkRetentionReleased{Token: tokA, Chunks: []event.ChunkID{chunkA}}); !errors.Is(err, p.ErrNotFound) {
		t.Fatalf("release of an absent token: %v", err)
	}
	if err := step(t, w, &event.ChunkCondemned{Chunk: chunkA, CondemnedNs: 200}); !errors.Is(err, p.ErrPreconditionFailed) {
		t.Fatalf("condemn while token B still retains: %v", err)
	}
	if err := step(t, w, &event.ChunkRetentionReleased{Token: tokB, Chunks: []event.ChunkID{chunkA}}); err != nil {
		t.Fatal(err)
	}
	if err := step(t, w, &event.ChunkCondemned{Chunk: chunkA, CondemnedNs: 200}); err != nil {
		t.Fatalf("condemn after every release: %v", err)
	}
	rec, _, _ := Get(w, chunkA)
	if rec.Retained != nil {
		t.Fatalf("retained = %v after release", rec.Retained)
	}
	if got, _ := RetainedBy(w, tokB, 10); len(got) != 0 {
		t.Fatalf("index left %v", got)
	}
}
