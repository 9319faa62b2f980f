package sim

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/annal-storage/annal/chunks"
	"github.com/annal-storage/annal/commands"
	annallog "github.com/annal-storage/annal/log"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/projections"
	"github.com/annal-storage/annal/projections/chunkstate"
	"github.com/annal-storage/annal/projections/namespace"
)

// plaintextMarker is embedded in every 32-byte unit of chunked workload
// content, so every chunk of at least 63 bytes carries it; no sealed
// byte string should ever contain it.
var plaintextMarker = []byte("PLAINTEXT!")

const (
	inlineThresholdBytes = 64
	unitBytes            = 32
	libraryBlocks        = 6
)

// chunkerParams: small content-defined chunks, so short bodies span
// several chunks and shared blocks deduplicate.
var chunkerParams = chunks.ChunkerParams{Mode: chunks.ContentDefined, MinSizeBytes: 64, AvgSizeBytes: 128, MaxSizeBytes: 256}

// library holds the blocks large bodies are assembled from: few blocks,
// many bodies, so chunks deduplicate heavily.
var library = func() [][]byte {
	var out [][]byte
	for b := range libraryBlocks {
		var blk []byte
		for u := range 4 + 2*b {
			unit := append([]byte(nil), plaintextMarker...)
			unit = fmt.Appendf(unit, "blk%02d-unit%03d", b, u)
			for len(unit) < unitBytes {
				unit = append(unit, byte('a'+(b*7+u+len(unit))%26))
			}
			blk = append(blk, unit...)
		}
		out = append(out, blk)
	}
	return out
}()

// largeBody assembles 1–5 library blocks.
func (c *client) largeBody() []byte {
	var b []byte
	for range 1 + c.rng.IntN(5) {
		b = append(b, library[c.rng.IntN(len(library))]...)
	}
	return b
}

// smallBody is inline-sized (possibly empty).
func (c *client) smallBody() []byte {
	n := c.rng.IntN(inlineThresholdBytes + 1)
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('A' + (c.id*13+i+int(c.rng.Uint32()%3))%26)
	}
	return b
}

// contentHash names content in histories.
func contentHash(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:6])
}

func etagOf(sum []byte) string { return `"` + hex.EncodeToString(sum) + `"` }

// masterKey is the simulated cluster's system master key (epoch 1).
type masterKey struct{}

var simMasterKey = bytes.Repeat([]byte{0x5e}, 32)

func (masterKey) Current() (uint32, []byte) { return 1, simMasterKey }
func (masterKey) Key(epoch uint32) ([]byte, error) {
	if epoch != 1 {
		return nil, fmt.Errorf("unknown epoch %d", epoch)
	}
	return simMasterKey, nil
}

// writer returns a chunk writer over every device, as the client's
// gateway sees them: devices of nodes it knows are down are marked
// failed, so placement avoids them.
func (c *client) writer() *chunks.Writer {
	w := c.w
	devs := make([]chunks.Device, 0, len(w.allDisks()))
	for _, d := range w.allDisks() {
		devs = append(devs, d)
	}
	store, err := chunks.NewStoreWithOptions(devs, chunks.StoreOptions{Sequential: true})
	if err != nil {
		panic(err) // device ids are distinct by construction
	}
	for _, d := range w.allDisks() {
		if !d.node.up {
			store.SetDeviceFailed(d.id, true)
		}
	}
	wr, err := chunks.NewWriter(chunks.WriterConfig{Store: store, Profile: w.profile(), Keys: masterKey{}})
	if err != nil {
		panic(err)
	}
	return wr
}

// chunkRecord finds a chunk's record on the gateway's chunk-shard
// replica.
func (c *client) chunkRecord(id event.ChunkID) (chunkstate.Record, bool) {
	v, err := c.localRead(commands.FirstChunkShard)
	if err != nil {
		return chunkstate.Record{}, false
	}
	rec, ok, err := chunkstate.Get(v, id)
	return rec, ok && err == nil
}

// storeBody does what the Service's writeBody does for a body held in
// memory: inline when small (unless forced), else chunk, deduplicate
// against the chunk shard (following the chunk's lifecycle), seal,
// erasure-code, write every fragment, record the new chunks on the chunk
// shard, then build the segments.
func (c *client) storeBody(body []byte, force bool, k func(commands.Written, error)) {
	if len(body) <= inlineThresholdBytes && !force {
		k(commands.InlineContent(body), nil)
		return
	}
	c.storeChunks(body, func(refs []chunks.ChunkRef, err error) {
		if err != nil {
			k(commands.Written{}, err)
			return
		}
		w, err := commands.SegmentedContent(c.env, commands.ChunkExtents(refs), int64(len(body)))
		sum := md5.Sum(body)
		w.MD5 = sum[:]
		k(w, err)
	})
}

// storeChunks writes and records a body's chunks.
func (c *client) storeChunks(body []byte, k func([]chunks.ChunkRef, error)) {
	c.writeChunks(body, func(refs []chunks.ChunkRef, err error) {
		if err != nil {
			k(nil, err)
			return
		}
		c.recordChunks(refs, 0, k)
	})
}

// writeChunks chunks body and stores, in order, each chunk the chunk
// shard does not hold (dedupChunk).
func (c *client) writeChunks(body []byte, k func([]chunks.ChunkRef, error)) {
	chunker, err := chunks.NewChunker(bytes.NewReader(body), chunkerParams)
	if err != nil {
		k(nil, err)
		return
	}
	var pieces [][]byte
	for {
		b, err := chunker.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			k(nil, err)
			return
		}
		pieces = append(pieces, append([]byte(nil), b...))
	}
	wr := c.writer()
	refs := make([]chunks.ChunkRef, 0, len(pieces))
	var next func(i int)
	next = func(i int) {
		if i == len(pieces) {
			k(refs, nil)
			return
		}
		b := pieces[i]
		id := wr.ID(b)
		c.dedupChunk(event.ChunkID(id), 0, func(dedup bool, err error) {
			if err != nil {
				k(nil, err)
				return
			}
			if dedup {
				refs = append(refs, chunks.ChunkRef{ID: id, PlaintextBytes: len(b), Deduplicated: true})
				next(i + 1)
				return
			}
			ref, err := wr.WriteChunk(b)
			if err != nil {
				c.w.tracef("client c%d chunk write failed: %v", c.id, err)
				k(nil, err)
				return
			}
			if c.w.cfg.Bugs&BugLeakPlaintext != 0 {
				_ = c.w.allDisks()[0].PutFragment(chunks.FragmentKey{Chunk: id, Index: 250}, append([]byte(nil), b...))
			}
			refs = append(refs, ref)
			next(i + 1)
		})
	}
	next(0)
}

// maxDedupWaits bounds how long a writer waits out a chunk being
// collected (the Service's backoff gives up too).
const maxDedupWaits = 30

// dedupChunk is the Service's dedupChunk: on a linearizable view of the
// chunk shard, an absent chunk is written; a Live one is referenced
// (rewritten when lost); a Condemned one is revived first; a Collecting
// one is waited out.
func (c *client) dedupChunk(id event.ChunkID, attempt int, k func(bool, error)) {
	c.read(commands.ChunkShardOf(id), func(v *shardView, err error) {
		if err != nil {
			k(false, err)
			return
		}
		rec, ok, err := chunkstate.Get(v, id)
		switch {
		case err != nil:
			k(false, err)
		case !ok:
			k(false, nil)
		case rec.State == chunkstate.Live:
			k(!rec.Lost, nil)
		case rec.State == chunkstate.Condemned:
			d := chunkDecision(&event.ChunkRevived{Chunk: id, RevivedNs: commands.NowNs(c.env.Clock.Now())}, id)
			c.submit(d, func(o outcome) {
				switch {
				case o.err != nil:
					k(false, fmt.Errorf("revive chunk %s: %w", id, o.err))
				case o.res.Status == annallog.StatusRejected:
					c.dedupChunk(id, attempt, k) // the state moved: look again
				default:
					k(!rec.Lost, nil)
				}
			})
		default:
			if attempt >= maxDedupWaits {
				k(false, fmt.Errorf("%w: chunk %s stayed being collected", commands.ErrConflict, id))
				return
			}
			c.w.at(c.w.between(backoffMinMs, backoffMaxMs), func() { c.dedupChunk(id, attempt+1, k) })
		}
	})
}

// chunkDecision is one chunk-lifecycle event on the chunk's shard.
func chunkDecision(body event.Body, id event.ChunkID) *commands.Decision {
	return &commands.Decision{Shard: commands.ChunkShardOf(id), Actor: "system:chunk-lifecycle",
		Events: []commands.Pending{{Body: body, Header: event.Header{ChunkRefs: []event.ChunkID{id}}}}}
}

// recordChunks proposes the ChunksStored of new chunks and waits for it
// to commit (I-L5: before anything references them). Refused because GC
// was collecting one of them, it waits out the purge, rebuilds the
// written chunks' fragments and records again (the Service's
// restoreAfterCollect), up to three times.
func (c *client) recordChunks(refs []chunks.ChunkRef, attempt int, k func([]chunks.ChunkRef, error)) {
	d := commands.DecideRecordChunks(c.env, c.p, refs)
	if d == nil || c.w.cfg.Bugs&BugReferenceBeforeRecord != 0 {
		k(refs, nil)
		return
	}
	c.submit(d, func(o outcome) {
		err := o.err
		if err == nil && o.res.Status == annallog.StatusRejected {
			err = commands.ResultError(o.res)
		}
		switch {
		case err == nil:
			k(refs, nil)
		case errors.Is(err, projections.ErrChunkCollecting) && attempt < 3:
			c.restoreAfterCollect(refs, func(refs []chunks.ChunkRef, err error) {
				if err != nil {
					k(nil, err)
					return
				}
				c.recordChunks(refs, attempt+1, k)
			})
		default:
			k(nil, fmt.Errorf("record chunks: %w", err))
		}
	})
}

// restoreAfterCollect waits until none of the written chunks is being
// collected, then rebuilds their fragments from the survivors.
func (c *client) restoreAfterCollect(refs []chunks.ChunkRef, k func([]chunks.ChunkRef, error)) {
	c.waitPurged(refs, 0, func(err error) {
		if err != nil {
			k(nil, err)
			return
		}
		out := append([]chunks.ChunkRef(nil), refs...)
		store := c.writer().Store()
		for i, ref := range out {
			if ref.Deduplicated {
				continue
			}
			placement, _, err := store.Repair(ref.ID, ref.Placement)
			if err != nil {
				k(nil, fmt.Errorf("%w: chunk %s was collected while being written: %v", commands.ErrConflict, ref.ID, err))
				return
			}
			out[i].Placement = placement
		}
		k(out, nil)
	})
}

func (c *client) waitPurged(refs []chunks.ChunkRef, attempt int, k func(error)) {
	c.read(commands.FirstChunkShard, func(v *shardView, err error) {
		if err != nil {
			k(err)
			return
		}
		for _, ref := range refs {
			rec, ok, err := chunkstate.Get(v, event.ChunkID(ref.ID))
			if err != nil {
				k(err)
				return
			}
			if !ref.Deduplicated && ok && rec.State == chunkstate.Collecting {
				if attempt >= maxDedupWaits {
					k(fmt.Errorf("%w: chunks stayed being collected", commands.ErrConflict))
					return
				}
				c.w.at(c.w.between(backoffMinMs, backoffMaxMs), func() { c.waitPurged(refs, attempt+1, k) })
				return
			}
		}
		k(nil)
	})
}

// readContent reads a version's bytes as GetObject streams them: inline
// bytes, or each extent's chunk from the data plane, holes and the tail
// past the segments as zeros.
func (c *client) readContent(v kv.Reader, content event.Content) ([]byte, error) {
	out := make([]byte, 0, content.Size)
	if len(content.Inline) > 0 || len(content.Segments) == 0 {
		out = append(out, content.Inline...)
		return append(out, make([]byte, content.Size-int64(len(out)))...), nil
	}
	xs, err := namespace.ContentExtents(v, content, 0, content.Size)
	if err != nil {
		return nil, err
	}
	wr := c.writer()
	for _, x := range xs {
		if x.IsHole() {
			out = append(out, make([]byte, x.Len)...)
			continue
		}
		plain, err := c.readChunk(wr, x.Chunk)
		if err != nil {
			return nil, err
		}
		if x.ChunkOff+x.Len > int64(len(plain)) {
			return nil, fmt.Errorf("chunk %s shorter than its extent", x.Chunk)
		}
		out = append(out, plain[x.ChunkOff:x.ChunkOff+x.Len]...)
	}
	return append(out, make([]byte, content.Size-int64(len(out)))...), nil
}

// readChunk reads one chunk via its record on the gateway's chunk-shard
// replica, or, when that replica does not know the chunk yet (it lags
// the namespace view that named it), via the committed record, as the
// Service does since the simulator found it answering ChunkLost there.
// Stats.LaggingChunkRecords counts the fallbacks.
func (c *client) readChunk(wr *chunks.Writer, id event.ChunkID) ([]byte, error) {
	rec, ok := c.chunkRecord(id)
	if !ok {
		c.w.hist.stats.LaggingChunkRecords++
		rec, ok = c.w.committedChunkRecord(id)
		if !ok {
			return nil, fmt.Errorf("chunk %s has no record: %w", id, chunks.ErrChunkLost)
		}
	}
	ref := chunks.ChunkRef{ID: chunks.ChunkID(id), Epoch: rec.Epoch, PlaintextBytes: int(rec.PlaintextBytes),
		SealedBytes: int(rec.SealedBytes), Placement: commands.PlacementOf(rec.Placement)}
	plain, _, err := wr.ReadChunk(ref)
	return plain, err
}
