package commands

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/annal-storage/annal/chunks"
	annallog "github.com/annal-storage/annal/log"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/projections/chunkstate"
)

// The chunk lifecycle through the Service on a memLog: GC passes, the
// races between deduplicating writers and the collector, and scrub. The
// chunker cuts 8-byte chunks and the inline threshold is 16 bytes, so a
// 24-byte body is three chunks.

// hookLog is a memLog that calls before ahead of every proposal, so a
// test can let the collector act at an exact point of a write.
type hookLog struct {
	*memLog
	mu     sync.Mutex
	before func(shard uint64, p annallog.Proposal)
}

func (h *hookLog) Propose(ctx context.Context, shard uint64, p annallog.Proposal) (annallog.Result, error) {
	h.mu.Lock()
	before := h.before
	h.mu.Unlock()
	if before != nil {
		before(shard, p)
	}
	return h.memLog.Propose(ctx, shard, p)
}

// arm sets a hook that fires once, for the first proposal match accepts.
func (h *hookLog) arm(match func(shard uint64, p annallog.Proposal) bool, fire func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.before = func(shard uint64, p annallog.Proposal) {
		if !match(shard, p) {
			return
		}
		h.mu.Lock()
		h.before = nil
		h.mu.Unlock()
		fire()
	}
}

type gcFixture struct {
	svc   *Service
	log   *hookLog
	devs  []*memDevice
	p     Principal
	store *chunks.Store
	// onBackoff, when set, runs in the service's backoff (a writer waiting
	// for a purge) before it returns.
	mu        sync.Mutex
	onBackoff func()
}

// newGCFixture is testService with a hookLog, a backoff the test can
// hook, and bucket "b".
func newGCFixture(t *testing.T) *gcFixture {
	t.Helper()
	svc, ml, p := testService(t, 7)
	f := &gcFixture{svc: svc, log: &hookLog{memLog: ml}, p: p, store: svc.cfg.Data.Writer.Store()}
	svc.log, svc.cfg.Log, svc.cfg.Backoff = f.log, f.log, f.backoff
	for _, id := range f.store.DeviceIDs() {
		d, _ := f.store.Device(id)
		f.devs = append(f.devs, d.(*memDevice))
	}
	if err := svc.CreateBucket(context.Background(), p, "b"); err != nil {
		t.Fatal(err)
	}
	return f
}

// backoff runs onBackoff (serialized, every call: a hook must be
// idempotent, since writers of several chunks may wait at once) and gives
// up after a few attempts.
func (f *gcFixture) backoff(ctx context.Context, attempt int) error {
	f.mu.Lock()
	if f.onBackoff != nil {
		f.onBackoff()
	}
	f.mu.Unlock()
	if attempt >= 5 {
		return errors.New("giving up")
	}
	return ctx.Err()
}

func (f *gcFixture) put(t *testing.T, key string, body []byte) {
	t.Helper()
	if _, err := f.svc.PutObject(context.Background(), f.p, PutInput{Bucket: "b", Key: key, Body: bytes.NewReader(body)}); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func (f *gcFixture) get(t *testing.T, key string) []byte {
	t.Helper()
	o, err := f.svc.GetObject(context.Background(), f.p, "b", key, "")
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	r := o.Open(0, o.Info.Size)
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b
}

func (f *gcFixture) del(t *testing.T, key string) {
	t.Helper()
	if _, err := f.svc.DeleteObject(context.Background(), f.p, "b", key, ""); err != nil {
		t.Fatalf("delete %s: %v", key, err)
	}
}

// gc runs one pass with zero graces: anything unreferenced is condemned,
// anything condemned and unreferenced is collected.
func (f *gcFixture) gc(t *testing.T) GCReport {
	t.Helper()
	rep, err := f.svc.CollectGarbage(context.Background(), GCOptions{})
	if err != nil {
		t.Fatalf("gc: %v", err)
	}
	return rep
}

func (f *gcFixture) record(t *testing.T, id event.ChunkID) (chunkstate.Record, bool) {
	t.Helper()
	v := f.log.LocalRead(FirstChunkShard)
	defer v.Close()
	rec, ok, err := chunkstate.Get(v, id)
	if err != nil {
		t.Fatal(err)
	}
	return rec, ok
}

// fragments counts the fragments of a chunk on all devices.
func (f *gcFixture) fragments(id event.ChunkID) int {
	n := 0
	for _, d := range f.devs {
		d.mu.Lock()
		for k := range d.frags {
			if k.Chunk == chunks.ChunkID(id) {
				n++
			}
		}
		d.mu.Unlock()
	}
	return n
}

// decide proposes a pure decision on the chunk shard, as the collector
// would at that moment.
func (f *gcFixture) decide(t *testing.T, decide func(v kv.Reader) (*Decision, error)) {
	t.Helper()
	if _, _, err := f.svc.run(context.Background(), FirstChunkShard, decide); err != nil {
		t.Fatal(err)
	}
}

func (f *gcFixture) condemn(t *testing.T, id event.ChunkID) {
	f.decide(t, func(kv.Reader) (*Decision, error) {
		return chunkDecision(&event.ChunkCondemned{Chunk: id, CondemnedNs: 1}, id), nil
	})
}

// collect takes a condemned chunk to Collecting without deleting anything.
func (f *gcFixture) collect(t *testing.T, id event.ChunkID) {
	f.decide(t, func(kv.Reader) (*Decision, error) {
		return chunkDecision(&event.ChunkCollected{Chunk: id, CollectedNs: 2}, id), nil
	})
}

// purge deletes a Collecting chunk's fragments and its record. It runs
// inside hooks, on the writer's goroutines, so it reports instead of
// failing the test.
func (f *gcFixture) purge(id event.ChunkID) error {
	v := f.log.LocalRead(FirstChunkShard)
	rec, ok, err := chunkstate.Get(v, id)
	v.Close()
	if err != nil {
		return err
	}
	if !ok {
		return nil // purged already
	}
	if rec.State != chunkstate.Collecting {
		return fmt.Errorf("purge of %s in state %v", id, rec.State)
	}
	var rep GCReport
	if err := f.svc.purgeChunk(context.Background(), id, placementOf(rec.Placement), &rep); err != nil || rep.Purged != 1 {
		return fmt.Errorf("purge: %+v %v", rep, err)
	}
	return nil
}

var (
	pieceA = []byte("AAAAAAAA")
	pieceB = []byte("BBBBBBBB")
	pieceC = []byte("CCCCCCCC")
	idA    = event.ChunkID(chunks.IDSHA256(pieceA))
	idB    = event.ChunkID(chunks.IDSHA256(pieceB))
	idC    = event.ChunkID(chunks.IDSHA256(pieceC))
)

func body(pieces ...[]byte) []byte { return bytes.Join(pieces, nil) }

func isProposalOf(want event.Type) func(uint64, annallog.Proposal) bool {
	return func(_ uint64, p annallog.Proposal) bool {
		env, err := event.Decode(p.Events[0])
		return err == nil && env.Type == want
	}
}

// Goal: GC end to end. An unreferenced chunk is condemned by one pass,
// collected and purged (fragments gone) by the next; a chunk another key
// still references survives both.
func TestGCCollectsUnreferencedChunks(t *testing.T) {
	f := newGCFixture(t)
	f.put(t, "one", body(pieceA, pieceB, pieceC))
	f.put(t, "two", body(pieceC, pieceC, pieceC)) // shares chunk C
	f.del(t, "one")

	if rep := f.gc(t); rep.Condemned != 2 || rep.Collected != 0 {
		t.Fatalf("first pass %+v: want A and B condemned", rep)
	}
	if rec, _ := f.record(t, idA); rec.State != chunkstate.Condemned {
		t.Fatalf("A is %s after the first pass", rec.State)
	}
	if rep := f.gc(t); rep.Collected != 2 || rep.Purged != 2 || rep.Condemned != 0 {
		t.Fatalf("second pass %+v: want A and B collected and purged", rep)
	}
	for _, id := range []event.ChunkID{idA, idB} {
		if _, ok := f.record(t, id); ok || f.fragments(id) != 0 {
			t.Fatalf("chunk %s: record or %d fragments left", id, f.fragments(id))
		}
	}
	if got := f.get(t, "two"); !bytes.Equal(got, body(pieceC, pieceC, pieceC)) {
		t.Fatalf("two reads %q", got)
	}
	if rep := f.gc(t); rep != (GCReport{}) {
		t.Fatalf("third pass did something: %+v", rep)
	}
}

// Goal: graces and holds keep chunks. Method: with a long condemn grace
// nothing is condemned; with a hold, a condemned chunk is revived rather
// than collected.
func TestGCGracesAndHolds(t *testing.T) {
	f := newGCFixture(t)
	f.put(t, "one", body(pieceA, pieceB, pieceC))
	f.del(t, "one")
	ctx := context.Background()
	rep, err := f.svc.CollectGarbage(ctx, GCOptions{CondemnGraceNs: 1 << 62})
	if err != nil || rep.Condemned != 0 {
		t.Fatalf("condemned within the grace: %+v %v", rep, err)
	}
	f.gc(t) // condemn all three
	held := func(c event.ChunkID) bool { return c == idA }
	rep, err = f.svc.CollectGarbage(ctx, GCOptions{Held: held, CondemnGraceNs: 1 << 62})
	if err != nil || rep.Revived != 1 || rep.Collected != 2 {
		t.Fatalf("pass with A held: %+v %v", rep, err)
	}
	if rec, ok := f.record(t, idA); !ok || rec.State != chunkstate.Live || f.fragments(idA) != 6 {
		t.Fatalf("held chunk A: %+v %v", rec, ok)
	}
	rep, err = f.svc.CollectGarbage(ctx, GCOptions{CollectGraceNs: 1 << 62})
	if err != nil || rep.Condemned != 1 || rep.Collected != 0 {
		t.Fatalf("A condemned but kept for the collect grace: %+v %v", rep, err)
	}
}

// Goal: the GC race, dedup versus condemn. A writer deduplicates chunk A
// while it is Live and unreferenced; GC condemns A before the writer's
// ObjectPut commits. The collector's re-check must see the new reference
// and revive A instead of collecting it.
func TestGCRaceDedupThenCondemn(t *testing.T) {
	f := newGCFixture(t)
	f.put(t, "old", body(pieceA, pieceA, pieceA))
	f.del(t, "old")
	f.log.arm(isProposalOf(event.TypeObjectPut), func() {
		if rep := f.gc(t); rep.Condemned != 1 {
			t.Errorf("gc in the window condemned %d", rep.Condemned)
		}
	})
	f.put(t, "new", body(pieceA, pieceA, pieceA))
	if rec, _ := f.record(t, idA); rec.State != chunkstate.Condemned {
		t.Fatalf("A is %s: the hook did not run in the window", rec.State)
	}
	for range 3 {
		f.gc(t)
	}
	if rec, ok := f.record(t, idA); !ok || rec.State != chunkstate.Live || f.fragments(idA) != 6 {
		t.Fatalf("A after GC: %+v exists %v, %d fragments", rec, ok, f.fragments(idA))
	}
	if got := f.get(t, "new"); !bytes.Equal(got, body(pieceA, pieceA, pieceA)) {
		t.Fatalf("new reads %q", got)
	}
}

// Goal: a writer that deduplicates against a condemned chunk revives it
// first, so the collector's next pass leaves it alone.
func TestDedupRevivesCondemnedChunk(t *testing.T) {
	f := newGCFixture(t)
	f.put(t, "old", body(pieceA, pieceB, pieceC))
	f.del(t, "old")
	f.gc(t)
	if rec, _ := f.record(t, idA); rec.State != chunkstate.Condemned {
		t.Fatalf("A is %s", rec.State)
	}
	f.put(t, "new", body(pieceA, pieceA, pieceA))
	rec, _ := f.record(t, idA)
	if rec.State != chunkstate.Live || rec.RevivedNs == 0 {
		t.Fatalf("A after a dedup write: %+v", rec)
	}
	if rep := f.gc(t); rep.Collected != 2 || rep.Revived != 0 {
		t.Fatalf("pass after revival: %+v (B and C collected, A kept)", rep)
	}
	if got := f.get(t, "new"); !bytes.Equal(got, body(pieceA, pieceA, pieceA)) {
		t.Fatalf("new reads %q", got)
	}
}

// Goal: collect versus re-store. A writer meets chunk A Collecting: it
// waits for the purge, then writes A afresh; the object reads back and A
// has all its fragments.
func TestWriterWaitsForPurgeOfCollectingChunk(t *testing.T) {
	f := newGCFixture(t)
	f.put(t, "old", body(pieceA, pieceB, pieceC))
	f.del(t, "old")
	f.condemn(t, idA)
	f.collect(t, idA)
	var waits int
	var purgeErr error
	f.onBackoff = func() { waits++; purgeErr = errors.Join(purgeErr, f.purge(idA)) }
	f.put(t, "new", body(pieceA, pieceA, pieceA))
	if waits == 0 || purgeErr != nil {
		t.Fatalf("the writer waited %d times; purge: %v", waits, purgeErr)
	}
	if rec, ok := f.record(t, idA); !ok || rec.State != chunkstate.Live || f.fragments(idA) != 6 {
		t.Fatalf("A after re-store: %+v exists %v, %d fragments", rec, ok, f.fragments(idA))
	}
	if got := f.get(t, "new"); !bytes.Equal(got, body(pieceA, pieceA, pieceA)) {
		t.Fatalf("new reads %q", got)
	}
}

// placementOf returns where the devices hold a chunk's fragments.
func (f *gcFixture) placementOf(id event.ChunkID) event.ChunkPlacement {
	pl := event.ChunkPlacement{ProfileKind: 1, Data: 4, Parity: 2, Devices: make([]string, 6)}
	for _, d := range f.devs {
		d.mu.Lock()
		for k := range d.frags {
			if k.Chunk == chunks.ChunkID(id) {
				pl.Devices[k.Index] = d.id
			}
		}
		d.mu.Unlock()
	}
	return pl
}

// Goal: collect versus re-store when the tombstone appears after the
// writer's dedup check (possible only if a write outlasts the grace
// periods). The writer found A absent and wrote it; before its
// ChunksStored commits, another writer's A is stored, condemned and
// collected, and the collector deletes the fragments that record names.
// The refused ChunksStored makes the writer wait for the purge, then
// rebuild its fragments from the survivors and record A again; when the
// collector took too many (the same placement: every one), the write
// fails with ErrConflict and stores no reference to A.
func TestChunksStoredRefusedWhileCollecting(t *testing.T) {
	for _, tt := range []struct {
		name    string
		rotate  int // the other record's placement is ours rotated by this
		wantErr error
	}{
		{"rebuilt", 1, nil},
		{"lost", 0, ErrConflict},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newGCFixture(t)
			var hookErr error
			f.log.arm(isProposalOf(event.TypeChunksStored), func() {
				ours := f.placementOf(idA)
				theirs := ours
				theirs.Devices = append(append([]string(nil), ours.Devices[tt.rotate:]...), ours.Devices[:tt.rotate]...)
				f.decide(t, func(kv.Reader) (*Decision, error) {
					return chunkDecision(&event.ChunksStored{Chunks: []event.ChunkStored{{Chunk: idA, Epoch: 1, PlaintextBytes: 8, SealedBytes: 43, Placement: theirs}}}, idA), nil
				})
				f.condemn(t, idA)
				f.collect(t, idA)
				// The collector crashed after deleting one fragment of
				// ours, too.
				hookErr = f.store.DeleteFragment(ours.Devices[2], chunks.FragmentKey{Chunk: chunks.ChunkID(idA), Index: 2})
			})
			var waits int
			f.onBackoff = func() { waits++; hookErr = errors.Join(hookErr, f.purge(idA)) }
			_, err := f.svc.PutObject(context.Background(), f.p, PutInput{Bucket: "b", Key: "new", Body: bytes.NewReader(body(pieceA, pieceB, pieceC))})
			if hookErr != nil || waits == 0 {
				t.Fatalf("hooks did not run as planned: %d waits, %v", waits, hookErr)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("put: %v, want %v", err, tt.wantErr)
				}
				if _, err := f.svc.GetObject(context.Background(), f.p, "b", "new", ""); !errors.Is(err, ErrNotFound) {
					t.Fatalf("failed put left an object: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rec, ok := f.record(t, idA); !ok || rec.State != chunkstate.Live || f.fragments(idA) != 6 {
				t.Fatalf("A after the refused record: %+v exists %v, %d fragments", rec, ok, f.fragments(idA))
			}
			if got := f.get(t, "new"); !bytes.Equal(got, body(pieceA, pieceB, pieceC)) {
				t.Fatalf("new reads %q", got)
			}
		})
	}
}
