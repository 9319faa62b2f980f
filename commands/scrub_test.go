package commands

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/annal-storage/annal/chunks"
	"github.com/annal-storage/annal/log/event"
)

func (f *gcFixture) scrub(t *testing.T, opts ScrubOptions) ScrubProgress {
	t.Helper()
	var last ScrubProgress
	opts.Progress = func(p ScrubProgress) { last = p }
	got, err := f.svc.Scrub(context.Background(), opts)
	if err != nil {
		t.Fatalf("scrub: %v", err)
	}
	if got != last || got.Phase != "done" {
		t.Fatalf("scrub returned %+v, last progress %+v", got, last)
	}
	return got
}

// fragment returns the device and bytes of fragment index of a chunk.
func (f *gcFixture) fragment(t *testing.T, id event.ChunkID, index int) (*memDevice, chunks.FragmentKey) {
	t.Helper()
	pl := f.placementOf(id)
	key := chunks.FragmentKey{Chunk: chunks.ChunkID(id), Index: uint8(index)}
	for _, d := range f.devs {
		if d.id == pl.Devices[index] {
			return d, key
		}
	}
	t.Fatalf("fragment %d of %s not found", index, id)
	return nil, key
}

// Goal: scrub finds a fragment whose payload fails its CRC, rewrites it in
// place and records FragmentRepaired; a second pass finds nothing.
func TestScrubRepairsCorruptFragment(t *testing.T) {
	f := newGCFixture(t)
	f.put(t, "obj", body(pieceA, pieceB, pieceC))
	d, key := f.fragment(t, idA, 1)
	d.mu.Lock()
	d.frags[key][chunks.FragmentHeaderBytes+1] ^= 0x40
	d.mu.Unlock()
	raw, _ := d.GetFragment(key)
	if _, _, err := chunks.DecodeFragment(raw); !errors.Is(err, chunks.ErrFragmentCorrupt) {
		t.Fatalf("damaged fragment decodes: %v", err)
	}
	got := f.scrub(t, ScrubOptions{AllLocal: true})
	if got.Total != 3 || got.Done != 3 || got.Repaired != 1 || got.Lost != 0 || got.Failed != 0 || got.CheckedBytes == 0 {
		t.Fatalf("scrub: %+v", got)
	}
	raw, _ = d.GetFragment(key)
	if _, _, err := chunks.DecodeFragment(raw); err != nil {
		t.Fatalf("repaired fragment: %v", err)
	}
	if rec, _ := f.record(t, idA); rec.RepairedNs == 0 {
		t.Fatalf("no FragmentRepaired recorded: %+v", rec)
	}
	if got := f.scrub(t, ScrubOptions{AllLocal: true}); got.Repaired != 0 {
		t.Fatalf("second scrub repaired %d", got.Repaired)
	}
}

// Goal: a chunk with fewer than k usable fragments is recorded lost, its
// object fails to read with ErrChunkLost, and writing the same content
// again heals it (the record takes the new placement).
func TestScrubRecordsLostChunkAndRewriteHeals(t *testing.T) {
	f := newGCFixture(t)
	f.put(t, "obj", body(pieceA, pieceB, pieceC))
	for _, i := range []int{0, 2, 5} {
		d, key := f.fragment(t, idB, i)
		d.DeleteFragment(key)
	}
	got := f.scrub(t, ScrubOptions{AllLocal: true})
	if got.Lost != 1 || got.LostRecorded != 1 || got.Repaired != 0 {
		t.Fatalf("scrub: %+v", got)
	}
	if rec, _ := f.record(t, idB); !rec.Lost {
		t.Fatalf("B not recorded lost: %+v", rec)
	}
	o, err := f.svc.GetObject(context.Background(), f.p, "b", "obj", "")
	if err != nil {
		t.Fatal(err)
	}
	r := o.Open(0, o.Info.Size)
	if _, err := io.ReadAll(r); !errors.Is(err, ErrChunkLost) {
		t.Fatalf("read of a lost chunk: %v", err)
	}
	r.Close()
	if got := f.scrub(t, ScrubOptions{AllLocal: true}); got.Lost != 1 || got.LostRecorded != 0 {
		t.Fatalf("second scrub: %+v", got) // counted, not recorded twice
	}
	f.put(t, "again", body(pieceB, pieceB, pieceB))
	if rec, _ := f.record(t, idB); rec.Lost || f.fragments(idB) < 6 {
		t.Fatalf("B after rewrite: %+v, %d fragments", rec, f.fragments(idB))
	}
	if got := f.get(t, "obj"); !bytes.Equal(got, body(pieceA, pieceB, pieceC)) {
		t.Fatalf("obj reads %q after heal", got)
	}
}

// Goal: a chunk that is unreadable only because a device is down (two
// fragments gone, a third on a failed device) is not recorded lost: that
// is an outage, and ChunkLost is permanent.
func TestScrubDoesNotRecordOutageAsLoss(t *testing.T) {
	f := newGCFixture(t)
	f.put(t, "obj", body(pieceA, pieceB, pieceC))
	for _, i := range []int{0, 2} {
		d, key := f.fragment(t, idB, i)
		d.DeleteFragment(key)
	}
	down, _ := f.fragment(t, idB, 5)
	down.mu.Lock()
	down.down = true
	down.mu.Unlock()
	got := f.scrub(t, ScrubOptions{AllLocal: true})
	if got.LostRecorded != 0 {
		t.Fatalf("scrub recorded an outage as loss: %+v", got)
	}
	if rec, _ := f.record(t, idB); rec.Lost {
		t.Fatalf("B recorded lost: %+v", rec)
	}
}

// Goal: orphan collection deletes fragments no record places where they
// are (never recorded; moved), keeps every placed one, and respects the
// grace. Without AllLocal, a chunk with no local fragment is skipped, not
// lost.
func TestScrubOrphansAndSkips(t *testing.T) {
	f := newGCFixture(t)
	f.put(t, "obj", body(pieceA, pieceB, pieceC))
	stray := chunks.FragmentKey{Chunk: chunks.ChunkID{0xee}, Index: 0}
	f.devs[3].PutFragment(stray, []byte("never recorded"))
	pl := f.placementOf(idA)
	var wrong *memDevice
	for _, d := range f.devs {
		if d.id != pl.Devices[4] {
			wrong = d
			break
		}
	}
	misplaced := chunks.FragmentKey{Chunk: chunks.ChunkID(idA), Index: 4}
	wrong.PutFragment(misplaced, []byte("old copy of fragment 4"))
	if got := f.scrub(t, ScrubOptions{AllLocal: true, OrphanGraceNs: 1 << 62}); got.Orphans != 0 {
		t.Fatalf("orphans deleted within the grace: %+v", got)
	}
	got := f.scrub(t, ScrubOptions{AllLocal: true, OrphanGraceNs: 1})
	if got.Orphans != 2 || got.Repaired != 0 {
		t.Fatalf("scrub: %+v", got)
	}
	if _, err := f.devs[3].GetFragment(stray); !errors.Is(err, chunks.ErrFragmentNotFound) {
		t.Fatalf("stray fragment: %v", err)
	}
	if _, err := wrong.GetFragment(misplaced); !errors.Is(err, chunks.ErrFragmentNotFound) {
		t.Fatalf("misplaced fragment: %v", err)
	}
	if f.fragments(idA) != 6 {
		t.Fatalf("A has %d fragments", f.fragments(idA))
	}
	for i := range 6 {
		d, key := f.fragment(t, idC, i)
		d.DeleteFragment(key)
	}
	if got := f.scrub(t, ScrubOptions{}); got.Skipped != 1 || got.Lost != 0 {
		t.Fatalf("scrub of a chunk held elsewhere: %+v", got)
	}
}
