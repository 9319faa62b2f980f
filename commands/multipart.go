package commands

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/projections/namespace"
)

// MinPartBytes is S3's minimum size of every part but the last.
const MinPartBytes = 5 << 20

// CreateUpload starts a multipart upload and returns its id.
func (s *Service) CreateUpload(ctx context.Context, p Principal, bucket, key string, attrs event.ObjectAttrs, posix event.PosixAttrs) (string, error) {
	shard, err := s.bucketShard(ctx, p, bucket)
	if err != nil {
		return "", err
	}
	if posix.Mode == 0 {
		posix.Mode = 0o100644
	}
	d, _, err := s.run(ctx, shard, func(v kv.Reader) (*Decision, error) {
		b := &event.MultipartStarted{UploadID: s.env.Token(24), Key: key, Attrs: attrs, Posix: posix, InitiatedNs: NowNs(s.env.Clock.Now())}
		if err := (namespace.Projection{}).Validate(v, nil, b); err != nil {
			return nil, err
		}
		return &Decision{Shard: shard, Tenant: p.Tenant, Actor: p.Actor(), Events: []Pending{{Body: b, Key: key}}}, nil
	})
	if err != nil {
		return "", err
	}
	return d.Events[0].Body.(*event.MultipartStarted).UploadID, nil
}

// uploadFor checks that an upload exists for key.
func uploadFor(v kv.Reader, key, uploadID string) (namespace.Upload, error) {
	u, err := namespace.GetUpload(v, uploadID)
	if err != nil {
		return u, err
	}
	if u.Key != key {
		return u, fmt.Errorf("%w: upload %q is for another key", ErrNoSuchUpload, uploadID)
	}
	return u, nil
}

// PartInfo describes an uploaded part.
type PartInfo struct {
	Number  int32
	ETag    string
	Size    int64
	MtimeNs int64
}

// UploadPart stores one part.
func (s *Service) UploadPart(ctx context.Context, p Principal, bucket, key, uploadID string, number int32, body io.Reader, expectMD5 []byte) (PartInfo, error) {
	shard, err := s.bucketShard(ctx, p, bucket)
	if err != nil {
		return PartInfo{}, err
	}
	if err := s.checkUpload(ctx, shard, key, uploadID); err != nil {
		return PartInfo{}, err
	}
	w, err := s.writeBody(ctx, shard, p, body, true)
	if err != nil {
		return PartInfo{}, err
	}
	if expectMD5 != nil && string(expectMD5) != string(w.MD5) {
		return PartInfo{}, ErrBadDigest
	}
	return s.recordPart(ctx, p, shard, key, uploadID, number, w, `"`+hex.EncodeToString(w.MD5)+`"`)
}

func (s *Service) checkUpload(ctx context.Context, shard uint64, key, uploadID string) error {
	v, err := s.read(ctx, shard)
	if err != nil {
		return err
	}
	defer v.Close()
	_, err = uploadFor(v, key, uploadID)
	return err
}

func (s *Service) recordPart(ctx context.Context, p Principal, shard uint64, key, uploadID string, number int32, w written, etag string) (PartInfo, error) {
	staged := w.Content.Segments[:len(w.Content.Segments)-len(w.Fresh)]
	b := &event.MultipartPartUploaded{UploadID: uploadID, PartNumber: number, ETag: etag, Size: w.Size,
		Segments: w.Fresh, Staged: staged, MtimeNs: NowNs(s.env.Clock.Now())}
	_, _, err := s.run(ctx, shard, func(v kv.Reader) (*Decision, error) {
		if _, err := uploadFor(v, key, uploadID); err != nil {
			return nil, err
		}
		if err := (namespace.Projection{}).Validate(v, nil, b); err != nil {
			return nil, err
		}
		return &Decision{Shard: shard, Tenant: p.Tenant, Actor: p.Actor(), Events: []Pending{{Body: b, Key: key, Header: contentHeader(w)}}}, nil
	})
	return PartInfo{Number: number, ETag: etag, Size: w.Size, MtimeNs: b.MtimeNs}, err
}

// CopyRange selects bytes of a source object.
type CopyRange struct {
	Set      bool
	Off, Len int64
}

// UploadPartCopy stores a part whose bytes come from an existing object:
// its extents are referenced, no data is copied.
// It consumes src, on failure too.
func (s *Service) UploadPartCopy(ctx context.Context, p Principal, bucket, key, uploadID string, number int32, src *Object, rng CopyRange) (PartInfo, error) {
	shard, err := s.bucketShard(ctx, p, bucket)
	if err != nil {
		src.Close()
		return PartInfo{}, err
	}
	if err := s.checkUpload(ctx, shard, key, uploadID); err != nil {
		src.Close()
		return PartInfo{}, err
	}
	off, n := int64(0), src.Info.Size
	if rng.Set {
		off, n = rng.Off, rng.Len
	}
	w, err := s.copyContent(ctx, shard, p, src, off, n, true)
	if err != nil {
		return PartInfo{}, err
	}
	return s.recordPart(ctx, p, shard, key, uploadID, number, w, `"`+hex.EncodeToString(w.MD5)+`"`)
}

// CompletedPart is one entry of a CompleteMultipartUpload request.
type CompletedPart struct {
	Number int32
	ETag   string
}

// CompleteUpload binds the listed parts into a new object version.
func (s *Service) CompleteUpload(ctx context.Context, p Principal, bucket, key, uploadID string, parts []CompletedPart, cond Conditions) (ObjectInfo, error) {
	shard, err := s.bucketShard(ctx, p, bucket)
	if err != nil {
		return ObjectInfo{}, err
	}
	var size int64
	d, _, err := s.run(ctx, shard, func(v kv.Reader) (*Decision, error) {
		var err error
		var d *Decision
		d, size, err = DecideCompleteUpload(v, s.env, p, shard, key, uploadID, parts, cond)
		return d, err
	})
	if err != nil {
		return ObjectInfo{}, err
	}
	b := d.Events[0].Body.(*event.MultipartCompleted)
	return ObjectInfo{Key: key, VersionID: b.VersionID, Size: size, MtimeNs: b.MtimeNs, Attrs: event.ObjectAttrs{ETag: b.ETag}, IsLatest: true}, nil
}

// DecideCompleteUpload checks the part list (order, ETags, sizes) and
// decides a MultipartCompleted.
func DecideCompleteUpload(v kv.Reader, env Env, p Principal, shard uint64, key, uploadID string, parts []CompletedPart, cond Conditions) (*Decision, int64, error) {
	if _, err := uploadFor(v, key, uploadID); err != nil {
		return nil, 0, err
	}
	gs := cond.guards(key)
	if err := checkGuards(v, gs); err != nil {
		return nil, 0, err
	}
	if len(parts) == 0 {
		return nil, 0, fmt.Errorf("%w: no parts", ErrInvalid)
	}
	var numbers []int32
	var etags []string
	var size int64
	for i, cp := range parts {
		if i > 0 && cp.Number <= parts[i-1].Number {
			return nil, 0, fmt.Errorf("%w: part %d after part %d", ErrInvalidPartOrder, cp.Number, parts[i-1].Number)
		}
		pt, ok, err := namespace.GetPart(v, uploadID, cp.Number)
		if err != nil {
			return nil, 0, err
		}
		if !ok || trimQuotes(pt.ETag) != trimQuotes(cp.ETag) {
			return nil, 0, fmt.Errorf("%w: part %d", ErrInvalidPart, cp.Number)
		}
		if i < len(parts)-1 && pt.Size < MinPartBytes {
			return nil, 0, fmt.Errorf("%w: part %d has %d bytes", ErrEntityTooSmall, cp.Number, pt.Size)
		}
		numbers = append(numbers, cp.Number)
		etags = append(etags, pt.ETag)
		size += pt.Size
	}
	etag, err := multipartETag(etags)
	if err != nil {
		return nil, 0, err
	}
	vid, err := newVersionID(v, env)
	if err != nil {
		return nil, 0, err
	}
	b := &event.MultipartCompleted{UploadID: uploadID, VersionID: vid, Parts: numbers, ETag: etag, MtimeNs: NowNs(env.Clock.Now())}
	if err := (namespace.Projection{}).Validate(v, nil, b); err != nil {
		return nil, 0, err
	}
	return &Decision{Shard: shard, Tenant: p.Tenant, Actor: p.Actor(), Guards: gs,
		Events: []Pending{{Body: b, Key: key, Header: event.Header{SizeBytes: size}}}}, size, nil
}

// AbortUpload discards an upload and its parts.
func (s *Service) AbortUpload(ctx context.Context, p Principal, bucket, key, uploadID string) error {
	shard, err := s.bucketShard(ctx, p, bucket)
	if err != nil {
		return err
	}
	_, _, err = s.run(ctx, shard, func(v kv.Reader) (*Decision, error) {
		if _, err := uploadFor(v, key, uploadID); err != nil {
			return nil, err
		}
		b := &event.MultipartAborted{UploadID: uploadID}
		return &Decision{Shard: shard, Tenant: p.Tenant, Actor: p.Actor(), Events: []Pending{{Body: b, Key: key}}}, nil
	})
	return err
}

// ListUploads lists uploads in progress.
func (s *Service) ListUploads(ctx context.Context, p Principal, bucket, prefix, keyMarker, uploadMarker string, limit int) ([]namespace.Upload, bool, error) {
	v, _, err := s.readNamespace(ctx, p, bucket)
	if err != nil {
		return nil, false, err
	}
	defer v.Close()
	return namespace.Uploads(v, prefix, keyMarker, uploadMarker, limit)
}

// ListParts lists an upload's parts after a part number.
func (s *Service) ListParts(ctx context.Context, p Principal, bucket, key, uploadID string, after int32, limit int) (namespace.Upload, []PartInfo, bool, error) {
	v, _, err := s.readNamespace(ctx, p, bucket)
	if err != nil {
		return namespace.Upload{}, nil, false, err
	}
	defer v.Close()
	u, err := uploadFor(v, key, uploadID)
	if err != nil {
		return u, nil, false, err
	}
	parts, more, err := namespace.Parts(v, uploadID, after, limit)
	out := make([]PartInfo, 0, len(parts))
	for _, pt := range parts {
		out = append(out, PartInfo{Number: pt.Number, ETag: pt.ETag, Size: pt.Size, MtimeNs: pt.MtimeNs})
	}
	return u, out, more, err
}
