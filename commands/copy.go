package commands

import (
	"context"
	"crypto/md5"
	"io"

	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/projections/namespace"
)

// CopyInput is a server-side copy to a destination key.
type CopyInput struct {
	Bucket string
	Key    string
	// ReplaceAttrs: use Attrs (metadata directive REPLACE) instead of the
	// source's attributes.
	ReplaceAttrs bool
	Attrs        event.ObjectAttrs
	Conditions   Conditions
}

// CopyObject writes a new version whose content is the source's: extents
// are referenced, no chunk data moves (chunks are shared by content).
func (s *Service) CopyObject(ctx context.Context, p Principal, src *Object, in CopyInput) (ObjectInfo, error) {
	shard, err := s.bucketShard(ctx, p, in.Bucket)
	if err != nil {
		src.Close()
		return ObjectInfo{}, err
	}
	if err := s.precheck(ctx, shard, in.Key, in.Conditions); err != nil {
		src.Close()
		return ObjectInfo{}, err
	}
	w, err := s.copyContent(ctx, shard, p, src, 0, src.Info.Size, false)
	if err != nil {
		return ObjectInfo{}, err
	}
	attrs := src.Info.Attrs
	if in.ReplaceAttrs {
		attrs = in.Attrs
	}
	attrs.ETag = src.Info.ETag()
	if src.Info.Size == 0 {
		attrs.ETag = EmptyETag
	}
	d, _, err := s.run(ctx, shard, func(v kv.Reader) (*Decision, error) {
		return DecidePutObject(v, s.env, p, shard, in.Key, w, attrs, event.PosixAttrs{}, in.Conditions)
	})
	if err != nil {
		return ObjectInfo{}, err
	}
	b := d.Events[0].Body.(*event.ObjectPut)
	return ObjectInfo{Key: b.Key, VersionID: b.VersionID, Size: w.Size, MtimeNs: b.MtimeNs, Attrs: b.Attrs, IsLatest: true, Content: b.Content}, nil
}

// copyContent turns bytes [off, off+n) of a source object into content
// for the destination shard: inline bytes are copied, extents are
// referenced in new segments. It consumes src. The MD5 is computed only
// for inline content and for parts (forPart), where S3 needs it.
func (s *Service) copyContent(ctx context.Context, shard uint64, p Principal, src *Object, off, n int64, forPart bool) (written, error) {
	c := src.Info.Content
	if len(c.Segments) == 0 && !forPart {
		r := src.Open(off, n)
		defer r.Close()
		data, err := io.ReadAll(r)
		if err != nil {
			return written{}, err
		}
		sum := md5.Sum(data)
		out := written{Size: int64(len(data)), MD5: sum[:], Content: event.Content{Size: int64(len(data))}}
		if len(data) > 0 {
			out.Content.Inline = data
		}
		return out, nil
	}
	if len(c.Segments) == 0 { // an inline source copied into a part: chunk it
		r := src.Open(off, n)
		defer r.Close()
		return s.writeBody(ctx, shard, p, r, true)
	}
	b := &segmentBuilder{s: s, ctx: ctx, shard: shard, p: p}
	xs, err := namespace.ContentExtents(src.view, c, off, n)
	if err != nil {
		src.Close()
		return written{}, err
	}
	covered := int64(0)
	for _, x := range xs {
		covered += x.Len
		if err := b.add(x); err != nil {
			src.Close()
			return written{}, err
		}
	}
	if covered < n { // bytes past the segments up to Size read as zeros
		if err := b.add(event.Extent{Len: n - covered}); err != nil {
			src.Close()
			return written{}, err
		}
	}
	out, err := b.finish()
	if err != nil || !forPart {
		src.Close()
		return out, err
	}
	h := md5.New()
	r := src.Open(off, n)
	defer r.Close()
	if _, err := io.Copy(h, r); err != nil {
		return written{}, err
	}
	out.MD5 = h.Sum(nil)
	return out, nil
}
