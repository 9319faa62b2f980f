package namespace

import (
	"fmt"

	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	p "github.com/annal-storage/annal/projections"
)

// GetSegment returns a segment record.
func GetSegment(r kv.Reader, id event.SegmentID) (SegmentRecord, bool, error) {
	var s SegmentRecord
	ok, err := p.Get(r, segmentKey(id), &s)
	return s, ok, err
}

func putSegment(w kv.Writer, id event.SegmentID, s *SegmentRecord) error {
	return p.Put(w, segmentKey(id), s)
}

// createSegment stores a new segment with no referrers and counts its
// chunk references.
func createSegment(w kv.Writer, seg event.Segment, staged bool, stagedNs int64) error {
	_, exists, err := GetSegment(w, seg.ID)
	if err != nil {
		return err
	}
	p.Must(!exists, "segment %s created twice", seg.ID)
	rec := SegmentRecord{Extents: seg.Extents, Staged: staged}
	if staged {
		rec.StagedNs = stagedNs
		if err := w.Set(stagedKey(stagedNs, seg.ID), nil); err != nil {
			return err
		}
	}
	if err := putSegment(w, seg.ID, &rec); err != nil {
		return err
	}
	return countChunks(w, seg.Extents, +1)
}

func countChunks(w kv.Writer, xs []event.Extent, delta int64) error {
	for _, x := range xs {
		if x.IsHole() {
			continue
		}
		if err := addChunkRef(w, x.Chunk, delta); err != nil {
			return err
		}
	}
	return nil
}

func addChunkRef(w kv.Writer, c event.ChunkID, delta int64) error {
	n, err := ChunkRefs(w, c)
	if err != nil {
		return err
	}
	next := int64(n) + delta
	p.Must(next >= 0, "chunk %s refcount would go below zero", c)
	if next == 0 {
		return w.Delete(refKey(c))
	}
	return w.Set(refKey(c), p.U64(uint64(next)))
}

// ChunkRefs returns this shard's reference count for a chunk.
func ChunkRefs(r kv.Reader, c event.ChunkID) (uint64, error) {
	b, ok, err := r.Get(refKey(c))
	if err != nil || !ok {
		return 0, err
	}
	return kv.Uint64(b), nil
}

// TotalChunkRefs is a chunk's reference count summed over the views of
// every namespace shard (the total the garbage collector compares with
// zero; no shard alone knows it).
func TotalChunkRefs[V kv.Reader](views []V, c event.ChunkID) (uint64, error) {
	var total uint64
	for _, v := range views {
		n, err := ChunkRefs(v, c)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// retainContent adds one referrer to every segment of c; a staged segment
// stops being staged.
func retainContent(w kv.Writer, c event.Content) error {
	for _, ref := range c.Segments {
		s, ok, err := GetSegment(w, ref.ID)
		if err != nil {
			return err
		}
		p.Must(ok, "retain of missing segment %s", ref.ID)
		if s.Staged {
			if err := w.Delete(stagedKey(s.StagedNs, ref.ID)); err != nil {
				return err
			}
			s.Staged, s.StagedNs = false, 0
		}
		s.Refs++
		if err := putSegment(w, ref.ID, &s); err != nil {
			return err
		}
	}
	return nil
}

// releaseContent drops one referrer from every segment of c; a segment
// without referrers is dropped and its chunk references released.
func releaseContent(w kv.Writer, c event.Content) error {
	for _, ref := range c.Segments {
		if err := releaseSegment(w, ref.ID); err != nil {
			return err
		}
	}
	return nil
}

func releaseSegment(w kv.Writer, id event.SegmentID) error {
	s, ok, err := GetSegment(w, id)
	if err != nil {
		return err
	}
	p.Must(ok && s.Refs > 0, "release of segment %s with no referrers", id)
	s.Refs--
	if s.Refs > 0 || s.Staged {
		return putSegment(w, id, &s)
	}
	if err := w.Delete(segmentKey(id)); err != nil {
		return err
	}
	return countChunks(w, s.Extents, -1)
}

// dropStaged drops an unreferenced staged segment.
func dropStaged(w kv.Writer, id event.SegmentID) error {
	s, ok, err := GetSegment(w, id)
	if err != nil {
		return err
	}
	p.Must(ok && s.Staged && s.Refs == 0, "drop of segment %s that is not an unreferenced staged segment", id)
	if err := w.Delete(stagedKey(s.StagedNs, id)); err != nil {
		return err
	}
	if err := w.Delete(segmentKey(id)); err != nil {
		return err
	}
	return countChunks(w, s.Extents, -1)
}

// ContentExtents returns the extents of content c covering [off, off+n)
// (clamped to the segments; bytes past them up to Size are a hole the
// caller fills with zeros).
func ContentExtents(r kv.Reader, c event.Content, off, n int64) ([]event.Extent, error) {
	var out []event.Extent
	pos := int64(0)
	end := off + n
	for _, ref := range c.Segments {
		if pos >= end {
			break
		}
		if pos+ref.Len > off {
			s, ok, err := GetSegment(r, ref.ID)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, fmt.Errorf("content references missing segment %s", ref.ID)
			}
			from := max(off-pos, 0)
			to := min(end-pos, ref.Len)
			out = append(out, sliceExtents(s.Extents, from, to)...)
		}
		pos += ref.Len
	}
	return out, nil
}

// sliceExtents returns the extents covering [from, to) of xs, where
// positions are relative to the start of xs.
func sliceExtents(xs []event.Extent, from, to int64) []event.Extent {
	var out []event.Extent
	pos := int64(0)
	for _, x := range xs {
		xEnd := pos + x.Len
		if xEnd > from && pos < to {
			cutFrom := max(from-pos, 0)
			cutTo := min(to-pos, x.Len)
			y := x
			y.Len = cutTo - cutFrom
			if !y.IsHole() {
				y.ChunkOff += cutFrom
			}
			out = append(out, y)
		}
		pos = xEnd
		if pos >= to {
			break
		}
	}
	return out
}

func extentsLen(xs []event.Extent) int64 {
	var n int64
	for _, x := range xs {
		n += x.Len
	}
	return n
}

func segmentsLen(refs []event.SegmentRef) int64 {
	var n int64
	for _, r := range refs {
		n += r.Len
	}
	return n
}

// segmenter creates new segments for content rewritten by one event; ids
// derive from the event id so every replica creates the same ones.
type segmenter struct {
	w   kv.Writer
	id  event.ID
	n   int
	out []event.SegmentRef
}

func (s *segmenter) add(xs []event.Extent) error {
	for len(xs) > 0 {
		k := min(len(xs), MaxExtentsPerSegment)
		seg := event.Segment{ID: DeriveSegmentID(s.id, s.n), Extents: append([]event.Extent(nil), xs[:k]...)}
		s.n++
		if err := createSegment(s.w, seg, false, 0); err != nil {
			return err
		}
		s.out = append(s.out, event.SegmentRef{ID: seg.ID, Len: seg.Len()})
		xs = xs[k:]
	}
	return nil
}

// rewriteRange replaces bytes [off, off+len(xs)) of content c with the
// extents xs. Only segments overlapping the range are rewritten; the new
// segments are retained and the replaced ones released.
func rewriteRange(w kv.Writer, sg *segmenter, c event.Content, off int64, xs []event.Extent) (event.Content, error) {
	segEnd := segmentsLen(c.Segments)
	if off > segEnd {
		xs = append([]event.Extent{{Len: off - segEnd}}, xs...)
		off = segEnd
	}
	end := off + extentsLen(xs)
	first, last := -1, -1
	pos, firstPos, lastEnd := int64(0), int64(0), int64(0)
	for i, ref := range c.Segments {
		if pos+ref.Len > off && pos < end {
			if first < 0 {
				first, firstPos = i, pos
			}
			last, lastEnd = i, pos+ref.Len
		}
		pos += ref.Len
	}
	if first < 0 { // appending: fold the write into the last segment
		first, last, firstPos, lastEnd = len(c.Segments), len(c.Segments)-1, off, off
		if n := len(c.Segments); n > 0 {
			first, firstPos = n-1, segEnd-c.Segments[n-1].Len
		}
	}
	affected := event.Content{Segments: c.Segments[first : last+1]}
	old, err := ContentExtents(w, affected, 0, lastEnd-firstPos)
	if err != nil {
		return c, err
	}
	merged := sliceExtents(old, 0, off-firstPos)
	merged = append(merged, xs...)
	merged = append(merged, sliceExtents(old, end-firstPos, lastEnd-firstPos)...)
	sg.out = nil
	if err := sg.add(merged); err != nil {
		return c, err
	}
	fresh := event.Content{Segments: sg.out}
	if err := retainContent(w, fresh); err != nil {
		return c, err
	}
	if err := releaseContent(w, affected); err != nil {
		return c, err
	}
	next := event.Content{Size: max(c.Size, end)}
	next.Segments = append(append(append([]event.SegmentRef(nil), c.Segments[:first]...), sg.out...), c.Segments[last+1:]...)
	return next, nil
}

// truncateContent cuts or extends content to size.
func truncateContent(w kv.Writer, sg *segmenter, c event.Content, size int64) (event.Content, error) {
	if len(c.Inline) > 0 || len(c.Segments) == 0 {
		if int64(len(c.Inline)) > size {
			c.Inline = append([]byte(nil), c.Inline[:size]...)
		}
		c.Size = size
		return c, nil
	}
	pos := int64(0)
	for i, ref := range c.Segments {
		if pos+ref.Len <= size {
			pos += ref.Len
			continue
		}
		// Segment i straddles or lies past the new end.
		keep := c.Segments[:i]
		if size > pos {
			part, err := ContentExtents(w, event.Content{Segments: c.Segments[i : i+1]}, 0, size-pos)
			if err != nil {
				return c, err
			}
			sg.out = nil
			if err := sg.add(part); err != nil {
				return c, err
			}
			if err := retainContent(w, event.Content{Segments: sg.out}); err != nil {
				return c, err
			}
			keep = append(append([]event.SegmentRef(nil), keep...), sg.out...)
		}
		if err := releaseContent(w, event.Content{Segments: c.Segments[i:]}); err != nil {
			return c, err
		}
		return event.Content{Size: size, Segments: keep}, nil
	}
	c.Size = size
	return c, nil
}

// writeInline writes bytes into inline content.
func writeInline(c event.Content, off int64, data []byte) event.Content {
	end := off + int64(len(data))
	buf := append([]byte(nil), c.Inline...)
	if int64(len(buf)) < end {
		buf = append(buf, make([]byte, end-int64(len(buf)))...)
	}
	copy(buf[off:], data)
	return event.Content{Size: max(c.Size, end), Inline: buf}
}
