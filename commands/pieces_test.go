package commands

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"io"
	"testing"

	"github.com/annal-storage/annal/chunks"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/projections/namespace"
)

// TestPiecesMatchService: content stored and decided with the exported
// pieces (as the simulator does) reads back through the Service exactly
// like content the Service wrote itself.
func TestPiecesMatchService(t *testing.T) {
	svc, ml, p := testService(t, 3)
	ctx := context.Background()
	if err := svc.CreateBucket(ctx, p, "b"); err != nil {
		t.Fatal(err)
	}
	shard, err := svc.bucketShard(ctx, p, "b")
	if err != nil {
		t.Fatal(err)
	}
	propose := func(d *Decision) {
		t.Helper()
		prop, err := Build(svc.env, svc.cfg.KeyHashSecret, d)
		if err != nil {
			t.Fatal(err)
		}
		res, err := ml.Propose(ctx, d.Shard, prop)
		if err == nil {
			err = ResultError(res)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	put := func(key string, w Written, body []byte) {
		t.Helper()
		v, err := ml.Read(ctx, shard)
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		sum := md5.Sum(body)
		d, err := DecidePutObject(v, svc.env, p, shard, key, w, event.ObjectAttrs{ETag: etagHex(sum[:])}, event.PosixAttrs{}, Conditions{})
		if err != nil {
			t.Fatal(err)
		}
		propose(d)
	}
	body := bytes.Repeat([]byte("0123456789abcdef"), 5)
	var refs []chunks.ChunkRef
	for i := 0; i < len(body); i += 8 {
		ref, err := svc.cfg.Data.Writer.WriteChunk(body[i:min(i+8, len(body))])
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, ref)
	}
	propose(DecideRecordChunks(svc.env, p, refs))
	w, err := SegmentedContent(svc.env, ChunkExtents(refs), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	put("chunked", w, body)
	put("inline", InlineContent([]byte("tiny")), []byte("tiny"))
	for key, want := range map[string][]byte{"chunked": body, "inline": []byte("tiny")} {
		o, err := svc.GetObject(ctx, p, "b", key, "")
		if err != nil {
			t.Fatal(err)
		}
		r := o.Open(0, o.Info.Size)
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s = %q (%v), want %q", key, got, err, want)
		}
	}
	dedup := []chunks.ChunkRef{{ID: refs[0].ID, PlaintextBytes: 8, Deduplicated: true}}
	if d := DecideRecordChunks(svc.env, p, dedup); d != nil {
		t.Fatalf("a window of deduplicated chunks records %d events", len(d.Events))
	}
	holes := make([]event.Extent, namespace.MaxExtentsPerSegment*maxEventSegments+1)
	for i := range holes {
		holes[i].Len = 1
	}
	if _, err := SegmentedContent(svc.env, holes, 0); !errors.Is(err, ErrTooManySegments) {
		t.Fatalf("%d extents: %v, want ErrTooManySegments", len(holes), err)
	}
}

func etagHex(sum []byte) string {
	const hexdigits = "0123456789abcdef"
	out := []byte{'"'}
	for _, b := range sum {
		out = append(out, hexdigits[b>>4], hexdigits[b&15])
	}
	return string(append(out, '"'))
}
