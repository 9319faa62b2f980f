package commands

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/projections/namespace"
)

// errNeedChunks: a write cannot stay inline and its bytes are not stored
// as chunks yet.
var errNeedChunks = errors.New("write needs chunked data")

// needCoverError: an extent write into inline content must rewrite that
// content as extents first; Inline is the content to store.
type needCoverError struct{ Inline []byte }

func (e *needCoverError) Error() string {
	return fmt.Sprintf("write must cover %d inline bytes", len(e.Inline))
}

// WriteSpan places Len bytes of a write batch at Offset in a file.
type WriteSpan struct {
	Offset int64
	Len    int64
}

// WriteInput is a batch of writes into one file; the batch becomes one
// FileWritten event, its spans applied in order.
type WriteInput struct {
	Ino   uint64
	Spans []WriteSpan
	// Data holds the spans' bytes, one span after another.
	Data io.Reader
	// Append: the batch is one span that lands at the file's size as of
	// apply (O_APPEND); its Offset is ignored.
	Append bool
}

// MaxWriteSpans bounds the spans of one batch, and so the event's size.
const MaxWriteSpans = 16384

// PreparedWrite is a write batch whose bytes are in memory (Inline, at
// most the inline threshold) and/or stored as chunks (Extents, one list
// per span). Cover and CoverExtents rewrite a file's inline content as
// extents, which an extent write into inline content must do first.
type PreparedWrite struct {
	Ino          uint64
	Spans        []WriteSpan
	Append       bool
	Inline       []byte
	Extents      [][]event.Extent
	Cover        []byte
	CoverExtents []event.Extent
}

// Total is the number of bytes the batch writes.
func (w *PreparedWrite) Total() int64 {
	var n int64
	for _, s := range w.Spans {
		n += s.Len
	}
	return n
}

// end is the file size after the batch, given the size before it.
func (w *PreparedWrite) end(size int64) int64 {
	if w.Append {
		return size + w.Total()
	}
	for _, s := range w.Spans {
		size = max(size, s.Offset+s.Len)
	}
	return size
}

func (w *PreparedWrite) inlineWrites() []event.WriteRange {
	out := make([]event.WriteRange, 0, len(w.Spans))
	pos := int64(0)
	for _, s := range w.Spans {
		out = append(out, event.WriteRange{Offset: s.Offset, Inline: w.Inline[pos : pos+s.Len]})
		pos += s.Len
	}
	return out
}

func (w *PreparedWrite) extentWrites() []event.WriteRange {
	out := make([]event.WriteRange, 0, len(w.Spans))
	for i, s := range w.Spans {
		out = append(out, event.WriteRange{Offset: s.Offset, Extents: w.Extents[i]})
	}
	return out
}

// DecideWrite decides the FileWritten of a prepared batch. Content that
// stays within the inline threshold is written inline; anything else
// needs the batch's extents (errNeedChunks) and, over inline content, a
// cover of exactly the current inline bytes (*needCoverError). An append
// over inline content first converts the content to extents without
// changing a byte (converted is true; decide again for the append).
func DecideWrite(v kv.Reader, env Env, p Principal, shard uint64, w *PreparedWrite, thresholdBytes int) (d *Decision, converted bool, err error) {
	in, err := fileInode(v, w.Ino)
	if err != nil {
		return nil, false, err
	}
	c, err := namespace.FileContent(v, in)
	if err != nil {
		return nil, false, err
	}
	b := &event.FileWritten{Ino: w.Ino, Append: w.Append, MtimeNs: NowNs(env.Clock.Now())}
	switch {
	case len(c.Segments) == 0 && w.end(c.Size) <= int64(thresholdBytes) && w.Inline != nil:
		b.Writes = w.inlineWrites()
	case w.Extents == nil:
		return nil, false, errNeedChunks
	case len(c.Inline) > 0:
		if w.CoverExtents == nil || !bytes.Equal(w.Cover, c.Inline) {
			return nil, false, &needCoverError{Inline: append([]byte(nil), c.Inline...)}
		}
		cover := event.WriteRange{Offset: 0, Extents: w.CoverExtents}
		if w.Append {
			b.Append, b.Writes, converted = false, []event.WriteRange{cover}, true
		} else {
			b.Writes = append([]event.WriteRange{cover}, w.extentWrites()...)
		}
	default:
		b.Writes = w.extentWrites()
	}
	if w.Append && !converted {
		b.Writes[0].Offset = 0
	}
	if err := (namespace.Projection{}).Validate(v, nil, b); err != nil {
		return nil, false, err
	}
	return &Decision{Shard: shard, Tenant: p.Tenant, Actor: p.Actor(),
		Events: []Pending{{Body: b, Header: writeHeader(b, w.Total())}}}, converted, nil
}

// writeHeader lists the chunks a write references (for GC and refcounts
// without tenant keys).
func writeHeader(b *event.FileWritten, size int64) event.Header {
	h := event.Header{SizeBytes: size}
	seen := map[event.ChunkID]bool{}
	for _, wr := range b.Writes {
		for _, x := range wr.Extents {
			if !x.IsHole() && !seen[x.Chunk] {
				seen[x.Chunk] = true
				h.ChunkRefs = append(h.ChunkRefs, x.Chunk)
			}
		}
	}
	return h
}

// checkSpans validates a batch's shape.
func checkSpans(in WriteInput) error {
	if len(in.Spans) > MaxWriteSpans || (in.Append && len(in.Spans) != 1) {
		return fmt.Errorf("%w: %d spans (append: %v)", ErrInvalid, len(in.Spans), in.Append)
	}
	for _, s := range in.Spans {
		if s.Offset < 0 || s.Len < 0 || s.Offset > 1<<62 || s.Len > 1<<40 {
			return fmt.Errorf("%w: span of %d bytes at %d", ErrInvalid, s.Len, s.Offset)
		}
	}
	return nil
}

// WriteFile writes a batch into a file as one FileWritten event and
// returns the file's attributes after it. The bytes become inline data
// when the file stays within the inline threshold, chunks otherwise: the
// batch's bytes are chunked as one stream, so many small writes share
// chunks, and only the written ranges change (other bytes keep their
// chunks). It returns after the event is committed and applied.
func (s *Service) WriteFile(ctx context.Context, p Principal, bucket string, in WriteInput) (Attr, error) {
	shard, err := s.bucketShard(ctx, p, bucket)
	if err != nil {
		return Attr{}, err
	}
	if err := checkSpans(in); err != nil {
		return Attr{}, err
	}
	w := &PreparedWrite{Ino: in.Ino, Append: in.Append}
	for _, sp := range in.Spans {
		if sp.Len > 0 {
			w.Spans = append(w.Spans, sp)
		}
	}
	if w.Total() == 0 {
		return s.GetAttr(ctx, p, bucket, in.Ino)
	}
	if err := s.prepareWrite(ctx, p, w, in.Data); err != nil {
		return Attr{}, err
	}
	return s.proposeWrite(ctx, p, shard, w)
}

// prepareWrite buffers a small batch or stores a large one as chunks.
func (s *Service) prepareWrite(ctx context.Context, p Principal, w *PreparedWrite, data io.Reader) error {
	total := w.Total()
	if total > int64(s.cfg.InlineThresholdBytes) {
		return s.storeWrite(ctx, p, w, data)
	}
	w.Inline = make([]byte, total)
	if _, err := io.ReadFull(data, w.Inline); err != nil {
		return fmt.Errorf("%w: write body shorter than its %d bytes: %v", ErrInvalid, total, err)
	}
	return nil
}

// proposeWrite decides and proposes until the batch is applied, storing
// chunks and covers as the decisions ask for them.
func (s *Service) proposeWrite(ctx context.Context, p Principal, shard uint64, w *PreparedWrite) (Attr, error) {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		var converted bool
		_, _, err := s.run(ctx, shard, func(v kv.Reader) (*Decision, error) {
			d, c, err := DecideWrite(v, s.env, p, shard, w, s.cfg.InlineThresholdBytes)
			converted = c
			return d, err
		})
		var cover *needCoverError
		switch {
		case errors.Is(err, errNeedChunks):
			err = s.storeWrite(ctx, p, w, bytes.NewReader(w.Inline))
		case errors.As(err, &cover):
			w.Cover = cover.Inline
			w.CoverExtents, err = s.storeBytes(ctx, p, cover.Inline)
		case err == nil && !converted:
			return s.localAttr(shard, w.Ino)
		}
		if err != nil {
			return Attr{}, err
		}
	}
	return Attr{}, fmt.Errorf("%w: write into inode %d", ErrConflict, w.Ino)
}

// storeWrite stores the batch's bytes as one chunk stream and gives each
// span the extents covering its part of the stream.
func (s *Service) storeWrite(ctx context.Context, p Principal, w *PreparedWrite, data io.Reader) error {
	total := w.Total()
	xs, n, err := s.storeExtents(ctx, p, io.LimitReader(data, total))
	if err != nil {
		return err
	}
	if n != total {
		return fmt.Errorf("%w: write body of %d bytes, spans say %d", ErrInvalid, n, total)
	}
	w.Extents = make([][]event.Extent, len(w.Spans))
	pos := int64(0)
	for i, sp := range w.Spans {
		w.Extents[i] = sliceStream(xs, pos, pos+sp.Len)
		pos += sp.Len
	}
	return nil
}

// storeBytes stores b as chunks and returns the extents covering it.
func (s *Service) storeBytes(ctx context.Context, p Principal, b []byte) ([]event.Extent, error) {
	xs, _, err := s.storeExtents(ctx, p, bytes.NewReader(b))
	return xs, err
}

func (s *Service) storeExtents(ctx context.Context, p Principal, r io.Reader) ([]event.Extent, int64, error) {
	var xs []event.Extent
	var n int64
	err := s.storeStream(ctx, p, r, func(x event.Extent) error {
		xs = append(xs, x)
		n += x.Len
		return nil
	})
	return xs, n, err
}

// sliceStream returns the extents covering bytes [from, to) of the
// stream xs covers.
func sliceStream(xs []event.Extent, from, to int64) []event.Extent {
	var out []event.Extent
	pos := int64(0)
	for _, x := range xs {
		end := pos + x.Len
		if end > from && pos < to {
			cut := max(from-pos, 0)
			y := x
			y.Len = min(to-pos, x.Len) - cut
			y.ChunkOff += cut
			out = append(out, y)
		}
		pos = end
		if pos >= to {
			break
		}
	}
	return out
}
