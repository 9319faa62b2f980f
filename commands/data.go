package commands

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/annal-storage/annal/chunks"
	annallog "github.com/annal-storage/annal/log"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/projections/chunkstate"
	"github.com/annal-storage/annal/projections/namespace"
)

// FirstChunkShard is the shard id of the (first) chunk shard.
const FirstChunkShard uint64 = 16

// ChunkShardOf routes a chunk to its chunk shard.
func ChunkShardOf(event.ChunkID) uint64 { return FirstChunkShard }

// Data is the chunk data plane: it chunks, seals, erasure-codes and
// stores content, and reads it back.
type Data struct {
	Writer  *chunks.Writer
	Profile chunks.Profile
	Chunker chunks.ChunkerParams
	// InFlight bounds chunks sealed and written at once per stream.
	InFlight int
	// Window is how many chunks are recorded per ChunksStored proposal.
	Window int
	// CacheBytes bounds the read cache of decrypted chunks (0: the
	// default, DefaultChunkCacheBytes; negative: no cache).
	CacheBytes int64

	cacheOnce sync.Once
	cache     *chunkCache
}

// chunkCache returns the read cache (nil when disabled).
func (d *Data) chunkCache() *chunkCache {
	d.cacheOnce.Do(func() {
		n := d.CacheBytes
		if n == 0 {
			n = DefaultChunkCacheBytes
		}
		if n > 0 {
			d.cache = newChunkCache(n)
		}
	})
	return d.cache
}

const (
	// maxEventSegments bounds the segments one event defines; a longer
	// stream stages its earlier segments ahead of the final event.
	maxEventSegments = 4
)

// written is the result of streaming one body into the data plane.
type written struct {
	Size    int64
	MD5     []byte
	Content event.Content
	// Fresh are the segments the final event must define; staged ones are
	// already in Content.Segments.
	Fresh []event.Segment
}

// writeBody streams r: at most inline bytes ride in the event; more are
// chunked. Segments beyond maxEventSegments are staged on shard as they
// fill, so neither memory nor any event grows with the size.
func (s *Service) writeBody(ctx context.Context, shard uint64, p Principal, r io.Reader, forceChunks bool) (written, error) {
	sum := md5.New()
	tee := io.TeeReader(r, sum)
	head := make([]byte, s.cfg.InlineThresholdBytes+1)
	n, err := io.ReadFull(tee, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return written{}, fmt.Errorf("read body: %w", err)
	}
	if n <= s.cfg.InlineThresholdBytes && !forceChunks {
		c := event.Content{Size: int64(n)}
		if n > 0 {
			c.Inline = append([]byte(nil), head[:n]...)
		}
		return written{Size: int64(n), MD5: sum.Sum(nil), Content: c}, nil
	}
	if s.cfg.Data == nil {
		return written{}, fmt.Errorf("%w: data larger than %d bytes needs a chunk store", ErrInvalid, s.cfg.InlineThresholdBytes)
	}
	b := &segmentBuilder{s: s, ctx: ctx, shard: shard, p: p}
	if err := s.storeStream(ctx, p, io.MultiReader(bytes.NewReader(head[:n]), tee), b.add); err != nil {
		return written{}, err
	}
	out, err := b.finish()
	out.MD5 = sum.Sum(nil)
	return out, err
}

// storeStream chunks r, stores every chunk the chunk shard does not hold
// yet, records the new ones there, and hands emit one extent per chunk in
// stream order. The extents reference only durable, recorded chunks.
func (s *Service) storeStream(ctx context.Context, p Principal, r io.Reader, emit func(event.Extent) error) error {
	if s.cfg.Data == nil {
		return fmt.Errorf("%w: chunked data needs a chunk store", ErrInvalid)
	}
	sw := &streamWriter{s: s, ctx: ctx, p: p, emit: emit}
	return sw.run(r)
}

// segmentBuilder gathers extents into segments for one new content,
// staging segments on the namespace shard once the final event would
// define more than maxEventSegments.
type segmentBuilder struct {
	s     *Service
	ctx   context.Context
	shard uint64
	p     Principal

	size    int64
	cur     []event.Extent
	fresh   []event.Segment
	content event.Content
}

// streamWriter is one stream being chunked and stored.
type streamWriter struct {
	s    *Service
	ctx  context.Context
	p    Principal
	emit func(event.Extent) error
}

func (w *streamWriter) run(r io.Reader) error {
	d := w.s.cfg.Data
	chunker, err := chunks.NewChunker(r, d.Chunker)
	if err != nil {
		return err
	}
	window := max(d.Window, 1)
	for {
		refs, done, err := w.storeWindow(chunker, window)
		if err != nil {
			return err
		}
		if len(refs) > 0 {
			if err := w.record(refs); err != nil {
				return err
			}
		}
		if done {
			return nil
		}
	}
}

// storeWindow reads up to n chunks and stores them, InFlight at a time.
// A chunk is copied out of the chunker's buffer only when a slot is
// free, so a stream holds at most InFlight chunks (plus the chunker's
// buffer) in memory whatever the window and the body's size. done
// reports the end of the body.
func (w *streamWriter) storeWindow(c *chunks.Chunker, n int) (refs []chunks.ChunkRef, done bool, err error) {
	d := w.s.cfg.Data
	refs = make([]chunks.ChunkRef, n)
	errs := make([]error, n)
	sem := make(chan struct{}, max(d.InFlight, 1))
	var wg sync.WaitGroup
	count := 0
	for ; count < n; count++ {
		sem <- struct{}{}
		b, nextErr := c.Next()
		if nextErr != nil {
			<-sem
			done = true
			if !errors.Is(nextErr, io.EOF) {
				err = fmt.Errorf("read body: %w", nextErr)
			}
			break
		}
		i, plain := count, append([]byte(nil), b...)
		wg.Go(func() {
			defer func() { <-sem }()
			refs[i], errs[i] = w.storeChunk(plain)
		})
	}
	wg.Wait()
	if err != nil {
		return nil, true, err
	}
	return refs[:count], done, errors.Join(errs[:count]...)
}

func (w *streamWriter) storeChunk(plaintext []byte) (chunks.ChunkRef, error) {
	d := w.s.cfg.Data
	id := d.Writer.ID(plaintext)
	// The dedup check follows the chunk's lifecycle (gc.go): it revives a
	// condemned chunk and waits out one being collected.
	dedup, err := w.s.dedupChunk(w.ctx, event.ChunkID(id))
	if err != nil {
		return chunks.ChunkRef{}, err
	}
	if dedup {
		return chunks.ChunkRef{ID: id, PlaintextBytes: len(plaintext), Deduplicated: true}, nil
	}
	return d.Writer.WriteChunk(plaintext)
}

// record makes a window's new chunks known to the chunk shard, then emits
// their extents.
func (w *streamWriter) record(refs []chunks.ChunkRef) error {
	err := w.s.recordChunks(w.ctx, w.p, storedEvents(refs, NowNs(w.s.env.Clock.Now())))
	for attempt := 0; (isCollecting(err) || isEpochRetiring(err)) && attempt < 3; attempt++ {
		if isCollecting(err) {
			// GC was deleting a chunk of this window under the same
			// fragment keys: rebuild our fragments after the purge and
			// record again (gc.go).
			refs, err = w.s.restoreAfterCollect(w.ctx, refs)
		} else {
			// Sealed under an epoch the chunk shard has closed since (a
			// rotation during this write): seal those chunks again under
			// the current epoch (keys.go).
			refs, err = w.s.resealWindow(w.ctx, refs)
		}
		if err != nil {
			return err
		}
		err = w.s.recordChunks(w.ctx, w.p, storedEvents(refs, NowNs(w.s.env.Clock.Now())))
	}
	if err != nil {
		return err
	}
	for _, ref := range refs {
		x := event.Extent{Len: int64(ref.PlaintextBytes), Chunk: event.ChunkID(ref.ID), ChunkLen: int64(ref.PlaintextBytes)}
		if err := w.emit(x); err != nil {
			return err
		}
	}
	return nil
}

// storedEvents describes the chunks of refs that were written (not
// deduplicated).
func storedEvents(refs []chunks.ChunkRef, now int64) []event.ChunkStored {
	var stored []event.ChunkStored
	for _, ref := range refs {
		if !ref.Deduplicated {
			stored = append(stored, event.ChunkStored{Chunk: event.ChunkID(ref.ID), Epoch: ref.Epoch,
				PlaintextBytes: int64(ref.PlaintextBytes), SealedBytes: int64(ref.SealedBytes),
				Placement: placementEvent(ref.Placement), StoredNs: now})
		}
	}
	return stored
}

// add appends one extent to the content.
func (b *segmentBuilder) add(x event.Extent) error {
	b.cur = append(b.cur, x)
	b.size += x.Len
	if len(b.cur) == namespace.MaxExtentsPerSegment {
		return b.flushSegment()
	}
	return nil
}

func (s *Service) recordChunks(ctx context.Context, p Principal, stored []event.ChunkStored) error {
	if len(stored) == 0 {
		return nil
	}
	d := &Decision{Shard: FirstChunkShard, Actor: p.Actor(), Events: []Pending{{Body: &event.ChunksStored{Chunks: stored}}}}
	for _, c := range stored {
		d.Events[0].Header.ChunkRefs = append(d.Events[0].Header.ChunkRefs, c.Chunk)
	}
	if err := s.log.Ensure(ctx, FirstChunkShard, annallog.KindChunk); err != nil {
		return err
	}
	res, err := s.propose(ctx, d)
	if err != nil {
		return fmt.Errorf("record chunks: %w", err)
	}
	return ResultError(res)
}

// flushSegment closes the current segment; when the event would define
// too many, the oldest is staged on the namespace shard.
func (w *segmentBuilder) flushSegment() error {
	if len(w.cur) == 0 {
		return nil
	}
	seg := event.Segment{ID: segmentID(w.s.env), Extents: w.cur}
	w.cur = nil
	w.content.Segments = append(w.content.Segments, event.SegmentRef{ID: seg.ID, Len: seg.Len()})
	w.fresh = append(w.fresh, seg)
	if len(w.fresh) <= maxEventSegments {
		return nil
	}
	staged := w.fresh[0]
	w.fresh = w.fresh[1:]
	d := &Decision{Shard: w.shard, Tenant: w.p.Tenant, Actor: w.p.Actor(),
		Events: []Pending{{Body: &event.SegmentStaged{Segment: staged, StagedNs: NowNs(w.s.env.Clock.Now())}}}}
	res, err := w.s.propose(w.ctx, d)
	if err != nil {
		return fmt.Errorf("stage segment: %w", err)
	}
	return ResultError(res)
}

// finish closes the last segment and returns the content.
func (b *segmentBuilder) finish() (written, error) {
	if err := b.flushSegment(); err != nil {
		return written{}, err
	}
	b.content.Size = b.size
	return written{Size: b.size, Content: b.content, Fresh: b.fresh}, nil
}

func segmentID(env Env) event.SegmentID {
	var id event.SegmentID
	_, _ = env.Rand.Read(id[:])
	return id
}

func placementEvent(p chunks.Placement) event.ChunkPlacement {
	return event.ChunkPlacement{ProfileKind: uint8(p.Profile.Kind), Data: uint8(p.Profile.Data),
		Parity: uint8(p.Profile.Parity), Devices: append([]string(nil), p.Devices...)}
}

func placementOf(p event.ChunkPlacement) chunks.Placement {
	return chunks.Placement{Profile: chunks.Profile{Kind: chunks.ProfileKind(p.ProfileKind), Data: int(p.Data), Parity: int(p.Parity)},
		Devices: append([]string(nil), p.Devices...)}
}

// contentReader streams bytes [off, off+n) of content, reading segment
// records from view (which it closes) and chunks from the data plane.
type contentReader struct {
	s       *Service
	view    annallog.View
	content event.Content
	pos     int64 // next byte to return
	end     int64
	// buf holds bytes already materialised from pos onward.
	buf []byte
	// segment walking state
	seg    int
	segPos int64
	exts   []event.Extent
	extPos int64
	// one-chunk cache for consecutive extents of the same chunk
	lastID    event.ChunkID
	lastPlain []byte
}

// OpenContent returns a reader of bytes [off, off+n) of content. It takes
// ownership of view.
func (s *Service) openContent(view annallog.View, c event.Content, off, n int64) io.ReadCloser {
	return &contentReader{s: s, view: view, content: c, pos: off, end: off + n}
}

func (r *contentReader) Close() error {
	if r.view == nil {
		return nil
	}
	err := r.view.Close()
	r.view = nil
	return err
}

func (r *contentReader) Read(p []byte) (int, error) {
	if r.pos >= r.end {
		return 0, io.EOF
	}
	if len(r.buf) == 0 {
		if err := r.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.buf[:min(int64(len(r.buf)), r.end-r.pos)])
	r.buf = r.buf[n:]
	r.pos += int64(n)
	return n, nil
}

// fill materialises the bytes of the extent (or inline data or trailing
// hole) that holds r.pos.
func (r *contentReader) fill() error {
	c := r.content
	if len(c.Inline) > 0 || len(c.Segments) == 0 {
		if r.pos < int64(len(c.Inline)) {
			r.buf = c.Inline[r.pos:]
		} else {
			r.buf = make([]byte, min(r.end-r.pos, 1<<20))
		}
		return nil
	}
	x, xOff, ok, err := r.extentAt(r.pos)
	if err != nil {
		return err
	}
	if !ok || x.IsHole() { // past the segments or a hole: zeros
		size := int64(1 << 20)
		if ok {
			size = x.Len - xOff
		}
		r.buf = make([]byte, min(size, r.end-r.pos))
		return nil
	}
	plain, err := r.chunk(x.Chunk)
	if err != nil {
		return err
	}
	from := x.ChunkOff + xOff
	if from+x.Len-xOff > int64(len(plain)) {
		return fmt.Errorf("chunk %s shorter than its extent", x.Chunk)
	}
	r.buf = plain[from : x.ChunkOff+x.Len]
	return nil
}

// extentAt finds the extent covering byte pos and the offset into it.
func (r *contentReader) extentAt(pos int64) (event.Extent, int64, bool, error) {
	for r.seg < len(r.content.Segments) {
		ref := r.content.Segments[r.seg]
		if pos >= r.segPos+ref.Len {
			r.segPos += ref.Len
			r.seg++
			r.exts, r.extPos = nil, 0
			continue
		}
		if r.exts == nil {
			rec, ok, err := namespace.GetSegment(r.view, ref.ID)
			if err != nil {
				return event.Extent{}, 0, false, err
			}
			if !ok {
				return event.Extent{}, 0, false, fmt.Errorf("segment %s missing", ref.ID)
			}
			r.exts, r.extPos = rec.Extents, r.segPos
		}
		for len(r.exts) > 0 {
			x := r.exts[0]
			if pos < r.extPos+x.Len {
				return x, pos - r.extPos, true, nil
			}
			r.extPos += x.Len
			r.exts = r.exts[1:]
		}
		r.segPos += ref.Len
		r.seg++
		r.exts = nil
	}
	return event.Extent{}, 0, false, nil
}

func (r *contentReader) chunk(id event.ChunkID) ([]byte, error) {
	if id == r.lastID && r.lastPlain != nil {
		return r.lastPlain, nil
	}
	plain, err := r.s.readChunk(id)
	if err != nil {
		return nil, err
	}
	r.lastID, r.lastPlain = id, plain
	return plain, nil
}

// ErrChunkLost: a chunk cannot be reconstructed (fewer than k fragments).
var ErrChunkLost = chunks.ErrChunkLost

// chunkRecord finds a chunk's record on the local chunk-shard replica,
// or, when that replica does not know it yet, on a linearizable view: a
// namespace view may name a chunk recorded after the local replica's
// last apply (a lagging or restarting node), and answering ChunkLost
// then would be wrong (found by the simulator).
func (s *Service) chunkRecord(id event.ChunkID) (chunkstate.Record, bool, error) {
	v := s.log.LocalRead(ChunkShardOf(id))
	rec, ok, err := chunkstate.Get(v, id)
	v.Close()
	if err != nil || ok {
		return rec, ok, err
	}
	lv, err := s.read(context.Background(), ChunkShardOf(id))
	if err != nil {
		return rec, false, err
	}
	defer lv.Close()
	return chunkstate.Get(lv, id)
}

func (s *Service) readChunk(id event.ChunkID) ([]byte, error) {
	if s.cfg.Data == nil {
		return nil, fmt.Errorf("chunk %s: no chunk store configured", id)
	}
	cache := s.cfg.Data.chunkCache()
	if plain, ok := cache.get(id); ok {
		return plain, nil
	}
	rec, ok, err := s.chunkRecord(id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("chunk %s has no record: %w", id, ErrChunkLost)
	}
	for attempt := 0; ; attempt++ {
		plain, err := s.readRecorded(id, rec)
		if err == nil {
			cache.put(id, plain)
			return plain, nil
		}
		// A reseal may have replaced the fragments this record names
		// (ADR-015): read the record again, linearizably, and retry if it
		// moved on.
		fresh, ok, ferr := s.linearChunkRecord(id)
		if attempt == 2 || ferr != nil || !ok || sameSeal(fresh, rec) {
			return nil, err
		}
		rec = fresh
	}
}

// readRecorded reads a chunk at the epoch and placement of its record.
func (s *Service) readRecorded(id event.ChunkID, rec chunkstate.Record) ([]byte, error) {
	ref := chunks.ChunkRef{ID: chunks.ChunkID(id), Epoch: rec.Epoch, PlaintextBytes: int(rec.PlaintextBytes),
		SealedBytes: int(rec.SealedBytes), Placement: placementOf(rec.Placement)}
	ref.Placement.Epoch = rec.Epoch
	plain, _, err := s.cfg.Data.Writer.ReadChunk(ref)
	return plain, err
}

// linearChunkRecord reads a chunk's record on a linearizable view.
func (s *Service) linearChunkRecord(id event.ChunkID) (chunkstate.Record, bool, error) {
	v, err := s.read(context.Background(), ChunkShardOf(id))
	if err != nil {
		return chunkstate.Record{}, false, err
	}
	defer v.Close()
	return chunkstate.Get(v, id)
}

// sameSeal reports whether two records of a chunk name the same envelope
// at the same place.
func sameSeal(a, b chunkstate.Record) bool {
	return a.Epoch == b.Epoch && slices.Equal(a.Placement.Devices, b.Placement.Devices)
}
