package commands

import (
	"crypto/md5"
	"errors"
	"fmt"

	"github.com/annal-storage/annal/chunks"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/projections/namespace"
)

// The pure pieces of the Service's operations, exported for callers that
// drive the log themselves (the simulator runs many clients in one
// goroutine and cannot block in Service methods). Each does exactly what
// the corresponding step of the Service does.

// Written is the content of one stored body: its size, MD5, content and
// the segments the final event must define.
type Written = written

// InlineContent is data small enough to ride in the event.
func InlineContent(data []byte) Written {
	sum := md5.Sum(data)
	c := event.Content{Size: int64(len(data))}
	if len(data) > 0 {
		c.Inline = append([]byte(nil), data...)
	}
	return Written{Size: int64(len(data)), MD5: sum[:], Content: c}
}

// ChunkExtents maps whole chunks, in order, to the extents referencing
// them, as the write path does.
func ChunkExtents(refs []chunks.ChunkRef) []event.Extent {
	out := make([]event.Extent, 0, len(refs))
	for _, ref := range refs {
		out = append(out, event.Extent{Len: int64(ref.PlaintextBytes), Chunk: event.ChunkID(ref.ID), ChunkLen: int64(ref.PlaintextBytes)})
	}
	return out
}

// ErrTooManySegments: the content would need staged segments, which
// SegmentedContent does not propose.
var ErrTooManySegments = errors.New("content needs staged segments")

// SegmentedContent builds content of at least size bytes from extents
// (bytes past them read as zeros), cut into fresh segments with ids from
// env, as the final event of a write defines them. Content needing more
// segments than one event may define returns ErrTooManySegments: the
// streaming writer stages the earlier ones instead.
func SegmentedContent(env Env, xs []event.Extent, size int64) (Written, error) {
	var out Written
	for len(xs) > 0 {
		k := min(len(xs), namespace.MaxExtentsPerSegment)
		seg := event.Segment{ID: segmentID(env), Extents: append([]event.Extent(nil), xs[:k]...)}
		xs = xs[k:]
		out.Content.Segments = append(out.Content.Segments, event.SegmentRef{ID: seg.ID, Len: seg.Len()})
		out.Fresh = append(out.Fresh, seg)
		out.Size += seg.Len()
	}
	if len(out.Fresh) > maxEventSegments {
		return Written{}, fmt.Errorf("%w: %d segments", ErrTooManySegments, len(out.Fresh))
	}
	out.Size = max(out.Size, size)
	out.Content.Size = out.Size
	return out, nil
}

// DecideRecordChunks decides the ChunksStored event that makes newly
// written chunks known to the chunk shard; nil when every chunk was
// deduplicated. It must commit before any namespace event references the
// chunks (I-L5).
func DecideRecordChunks(env Env, p Principal, refs []chunks.ChunkRef) *Decision {
	var stored []event.ChunkStored
	now := NowNs(env.Clock.Now())
	for _, ref := range refs {
		if !ref.Deduplicated {
			stored = append(stored, event.ChunkStored{Chunk: event.ChunkID(ref.ID), Epoch: ref.Epoch,
				PlaintextBytes: int64(ref.PlaintextBytes), SealedBytes: int64(ref.SealedBytes),
				Placement: placementEvent(ref.Placement), StoredNs: now})
		}
	}
	if len(stored) == 0 {
		return nil
	}
	d := &Decision{Shard: FirstChunkShard, Actor: p.Actor(), Events: []Pending{{Body: &event.ChunksStored{Chunks: stored}}}}
	for _, c := range stored {
		d.Events[0].Header.ChunkRefs = append(d.Events[0].Header.ChunkRefs, c.Chunk)
	}
	return d
}

// PlacementOf converts a recorded placement into the chunk store's form.
func PlacementOf(p event.ChunkPlacement) chunks.Placement { return placementOf(p) }

// LookupObject resolves an object version on a namespace view (the
// current one when versionID is empty), as GetObject does.
func LookupObject(v kv.Reader, key, versionID string) (ObjectInfo, error) {
	return lookupObject(v, key, versionID)
}

// DecideSetVersioning decides a VersioningConfigured event.
func DecideSetVersioning(v kv.Reader, p Principal, shard uint64, status string) (*Decision, error) {
	b := &event.VersioningConfigured{Status: status}
	if err := (namespace.Projection{}).Validate(v, nil, b); err != nil {
		return nil, err
	}
	return &Decision{Shard: shard, Tenant: p.Tenant, Actor: p.Actor(), Events: []Pending{{Body: b}}}, nil
}

// DecideCreateUpload decides a MultipartStarted event with a fresh upload
// id.
func DecideCreateUpload(v kv.Reader, env Env, p Principal, shard uint64, key string, attrs event.ObjectAttrs, posix event.PosixAttrs) (*Decision, error) {
	if posix.Mode == 0 {
		posix.Mode = 0o100644
	}
	b := &event.MultipartStarted{UploadID: env.Token(24), Key: key, Attrs: attrs, Posix: posix, InitiatedNs: NowNs(env.Clock.Now())}
	if err := (namespace.Projection{}).Validate(v, nil, b); err != nil {
		return nil, err
	}
	return &Decision{Shard: shard, Tenant: p.Tenant, Actor: p.Actor(), Events: []Pending{{Body: b, Key: key}}}, nil
}

// DecideRecordPart decides the MultipartPartUploaded event of a part whose
// content is stored.
func DecideRecordPart(v kv.Reader, env Env, p Principal, shard uint64, key, uploadID string, number int32, w Written, etag string) (*Decision, error) {
	if _, err := uploadFor(v, key, uploadID); err != nil {
		return nil, err
	}
	staged := w.Content.Segments[:len(w.Content.Segments)-len(w.Fresh)]
	b := &event.MultipartPartUploaded{UploadID: uploadID, PartNumber: number, ETag: etag, Size: w.Size,
		Segments: w.Fresh, Staged: staged, MtimeNs: NowNs(env.Clock.Now())}
	if err := (namespace.Projection{}).Validate(v, nil, b); err != nil {
		return nil, err
	}
	return &Decision{Shard: shard, Tenant: p.Tenant, Actor: p.Actor(), Events: []Pending{{Body: b, Key: key, Header: contentHeader(w)}}}, nil
}

// DecideAbortUpload decides a MultipartAborted event.
func DecideAbortUpload(v kv.Reader, p Principal, shard uint64, key, uploadID string) (*Decision, error) {
	if _, err := uploadFor(v, key, uploadID); err != nil {
		return nil, err
	}
	b := &event.MultipartAborted{UploadID: uploadID}
	return &Decision{Shard: shard, Tenant: p.Tenant, Actor: p.Actor(), Events: []Pending{{Body: b, Key: key}}}, nil
}
