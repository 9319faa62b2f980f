package commands

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	annallog "github.com/annal-storage/annal/log"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/projections/namespace"
)

// ErrBadDigest: the body does not match the MD5 the client sent.
var ErrBadDigest = errors.New("body does not match Content-MD5")

// EmptyETag is the ETag of an empty body.
const EmptyETag = `"d41d8cd98f00b204e9800998ecf8427e"`

// ObjectInfo describes one object version.
type ObjectInfo struct {
	Key          string
	VersionID    string
	Size         int64
	MtimeNs      int64
	Attrs        event.ObjectAttrs
	DeleteMarker bool
	IsLatest     bool
	Content      event.Content
}

// ETag returns the version's ETag.
func (o ObjectInfo) ETag() string {
	if o.Attrs.ETag == "" {
		return EmptyETag
	}
	return o.Attrs.ETag
}

func infoOf(key string, v namespace.Version, latest bool) ObjectInfo {
	return ObjectInfo{Key: key, VersionID: v.ID, Size: v.Content.Size, MtimeNs: v.MtimeNs, Attrs: v.Attrs,
		DeleteMarker: v.DeleteMarker, IsLatest: latest, Content: v.Content}
}

// Conditions are S3 write preconditions on the current version of a key.
type Conditions struct {
	// IfNoneMatchStar: the key must not exist (If-None-Match: *).
	IfNoneMatchStar bool
	// IfMatch: the current version's ETag must equal it.
	IfMatch string
}

func (c Conditions) guards(key string) []event.Guard {
	var gs []event.Guard
	if c.IfNoneMatchStar {
		gs = append(gs, event.Guard{Kind: event.GuardObjectAbsent, Key: key})
	}
	if c.IfMatch != "" {
		gs = append(gs, event.Guard{Kind: event.GuardObjectETag, Key: key, Value: c.IfMatch})
	}
	return gs
}

// checkGuards evaluates guards on a view (they are evaluated again at
// apply).
func checkGuards(v kv.Reader, gs []event.Guard) error {
	for _, g := range gs {
		if err := (namespace.Projection{}).CheckGuard(v, g); err != nil {
			return err
		}
	}
	return nil
}

// PutInput is an object write.
type PutInput struct {
	Bucket string
	Key    string
	Body   io.Reader
	// Attrs are stored as given, except the ETag, which is computed.
	Attrs      event.ObjectAttrs
	Posix      event.PosixAttrs
	Conditions Conditions
	// ExpectMD5, when set, must equal the body's MD5 (Content-MD5).
	ExpectMD5 []byte
	// Checksums, when set, is called once the body has been read to its
	// end; the pairs it returns (algorithm, value) become Attrs.Checksums.
	// Gateways use it for checksums that are only known at the end of the
	// stream, such as aws-chunked trailers.
	Checksums func() []event.Pair
}

// newVersionID picks the id of a new version under the namespace's
// versioning state.
func newVersionID(v kv.Reader, env Env) (string, error) {
	m, err := namespace.GetMeta(v)
	if err != nil {
		return "", err
	}
	if m.Versioning == namespace.VersioningEnabled {
		return env.Token(16), nil
	}
	return namespace.NullVersion, nil
}

// DecidePutObject decides an ObjectPut of already-stored content.
func DecidePutObject(v kv.Reader, env Env, p Principal, shard uint64, key string, w written, attrs event.ObjectAttrs, posix event.PosixAttrs, cond Conditions) (*Decision, error) {
	gs := cond.guards(key)
	if err := checkGuards(v, gs); err != nil {
		return nil, err
	}
	vid, err := newVersionID(v, env)
	if err != nil {
		return nil, err
	}
	if posix.Mode == 0 {
		posix.Mode = 0o100644
	}
	b := &event.ObjectPut{Key: key, VersionID: vid, Content: w.Content, NewSegments: w.Fresh, Attrs: attrs,
		Posix: posix, MtimeNs: NowNs(env.Clock.Now())}
	if err := (namespace.Projection{}).Validate(v, nil, b); err != nil {
		return nil, err
	}
	return &Decision{Shard: shard, Tenant: p.Tenant, Actor: p.Actor(), Guards: gs,
		Events: []Pending{{Body: b, Key: key, Header: contentHeader(w)}}}, nil
}

func contentHeader(w written) event.Header {
	h := event.Header{SizeBytes: w.Size}
	for _, s := range w.Fresh {
		for _, x := range s.Extents {
			if !x.IsHole() {
				h.ChunkRefs = append(h.ChunkRefs, x.Chunk)
			}
		}
	}
	return h
}

// PutObject stores a new object version.
func (s *Service) PutObject(ctx context.Context, p Principal, in PutInput) (ObjectInfo, error) {
	shard, err := s.bucketShard(ctx, p, in.Bucket)
	if err != nil {
		return ObjectInfo{}, err
	}
	if err := s.precheck(ctx, shard, in.Key, in.Conditions); err != nil {
		return ObjectInfo{}, err
	}
	if _, _, err := namespace.SplitKey(in.Key); err != nil {
		return ObjectInfo{}, err
	}
	w, err := s.writeBody(ctx, shard, p, in.Body, false)
	if err != nil {
		return ObjectInfo{}, err
	}
	if in.ExpectMD5 != nil && !bytes.Equal(in.ExpectMD5, w.MD5) {
		return ObjectInfo{}, ErrBadDigest
	}
	attrs := in.Attrs
	attrs.ETag = `"` + hex.EncodeToString(w.MD5) + `"`
	if in.Checksums != nil {
		attrs.Checksums = in.Checksums()
	}
	d, _, err := s.run(ctx, shard, func(v kv.Reader) (*Decision, error) {
		return DecidePutObject(v, s.env, p, shard, in.Key, w, attrs, in.Posix, in.Conditions)
	})
	if err != nil {
		return ObjectInfo{}, err
	}
	b := d.Events[0].Body.(*event.ObjectPut)
	return ObjectInfo{Key: b.Key, VersionID: b.VersionID, Size: w.Size, MtimeNs: b.MtimeNs, Attrs: b.Attrs, IsLatest: true, Content: b.Content}, nil
}

// precheck evaluates write conditions before any data is stored.
func (s *Service) precheck(ctx context.Context, shard uint64, key string, cond Conditions) error {
	gs := cond.guards(key)
	if len(gs) == 0 {
		return nil
	}
	v, err := s.read(ctx, shard)
	if err != nil {
		return err
	}
	defer v.Close()
	return checkGuards(v, gs)
}

// Object is an open object version: its description and a way to read it
// from the same consistent view.
type Object struct {
	Info ObjectInfo
	s    *Service
	view annallog.View
}

// Open streams bytes [off, off+n) of the object; the Object must not be
// used afterwards except to Close the returned reader.
func (o *Object) Open(off, n int64) io.ReadCloser {
	r := o.s.openContent(o.view, o.Info.Content, off, n)
	o.view = nil
	return r
}

// Close releases an Object that was not opened.
func (o *Object) Close() error {
	if o.view == nil {
		return nil
	}
	err := o.view.Close()
	o.view = nil
	return err
}

// GetObject looks up an object version (the current one when versionID is
// empty). A current delete marker is ErrNotFound; asking for a delete
// marker by version id returns it with DeleteMarker set.
func (s *Service) GetObject(ctx context.Context, p Principal, bucket, key, versionID string) (*Object, error) {
	v, _, err := s.readNamespace(ctx, p, bucket)
	if err != nil {
		return nil, err
	}
	info, err := lookupObject(v, key, versionID)
	if err != nil {
		v.Close()
		if info.DeleteMarker {
			return nil, &DeleteMarkerError{VersionID: info.VersionID, Err: err}
		}
		return nil, err
	}
	return &Object{Info: info, s: s, view: v}, nil
}

// DeleteMarkerError is GetObject's ErrNotFound when the key's current
// version is a delete marker; S3 reports the marker with the 404.
type DeleteMarkerError struct {
	VersionID string
	Err       error // wraps ErrNotFound
}

func (e *DeleteMarkerError) Error() string { return e.Err.Error() }
func (e *DeleteMarkerError) Unwrap() error { return e.Err }

func lookupObject(v kv.Reader, key, versionID string) (ObjectInfo, error) {
	res, err := namespace.Resolve(v, key)
	if errors.Is(err, ErrParentNotDirectory) || errors.Is(err, ErrInvalid) {
		// No object can exist under a file or at an impossible path.
		return ObjectInfo{}, fmt.Errorf("%w: key %q", ErrNotFound, key)
	}
	if err != nil {
		return ObjectInfo{}, err
	}
	if !res.Found || res.DirKey != (res.Entry.Kind == namespace.KindDir) {
		return ObjectInfo{}, fmt.Errorf("%w: key %q", ErrNotFound, key)
	}
	in, err := namespace.GetInode(v, res.Entry.Ino)
	if err != nil {
		return ObjectInfo{}, err
	}
	if in.Kind == namespace.KindDir {
		return folderInfo(v, key, in, versionID)
	}
	if in.Kind != namespace.KindFile {
		return ObjectInfo{}, fmt.Errorf("%w: key %q is a symbolic link", ErrNotFound, key)
	}
	var ver namespace.Version
	var ok bool
	if versionID == "" {
		ver, ok, err = namespace.CurrentVersion(v, in)
		if err == nil && ok && ver.DeleteMarker {
			return infoOf(key, ver, true), fmt.Errorf("%w: key %q (delete marker)", ErrNotFound, key)
		}
	} else {
		ver, ok, err = namespace.VersionByID(v, in.Ino, versionID)
	}
	if err != nil {
		return ObjectInfo{}, err
	}
	if !ok {
		if versionID != "" {
			return ObjectInfo{}, fmt.Errorf("%w: %q of %q", ErrNoSuchVersion, versionID, key)
		}
		return ObjectInfo{Key: key, VersionID: namespace.NullVersion, MtimeNs: in.MtimeNs, IsLatest: true}, nil
	}
	return infoOf(key, ver, ver.Seq == in.Cur), nil
}

// folderInfo describes an explicit directory as the zero-byte object
// "dir/".
func folderInfo(v kv.Reader, key string, in namespace.Inode, versionID string) (ObjectInfo, error) {
	if in.Implicit {
		return ObjectInfo{}, fmt.Errorf("%w: key %q", ErrNotFound, key)
	}
	cur, ok, err := namespace.CurrentVersion(v, in)
	if err != nil {
		return ObjectInfo{}, err
	}
	if !ok {
		cur = namespace.Version{ID: namespace.NullVersion, MtimeNs: in.MtimeNs}
	}
	if versionID != "" && versionID != cur.ID {
		return ObjectInfo{}, fmt.Errorf("%w: %q of %q", ErrNoSuchVersion, versionID, key)
	}
	return infoOf(key, cur, true), nil
}

// DeleteResult says what a delete did.
type DeleteResult struct {
	VersionID    string
	DeleteMarker bool
}

// DecideDeleteObject decides an S3 delete; a nil decision means there was
// nothing to delete (S3 answers success all the same).
func DecideDeleteObject(v kv.Reader, env Env, p Principal, shard uint64, key, versionID string) (*Decision, DeleteResult, error) {
	info, err := lookupObject(v, key, versionID)
	var out DeleteResult
	switch {
	case errors.Is(err, ErrNotFound) && !info.DeleteMarker:
		return nil, out, nil
	case errors.Is(err, ErrNoSuchVersion):
		return nil, DeleteResult{VersionID: versionID}, nil
	case err != nil && !errors.Is(err, ErrNotFound):
		return nil, out, err
	}
	b := &event.ObjectDeleted{Key: key, VersionID: versionID, MtimeNs: NowNs(env.Clock.Now())}
	if versionID != "" {
		out = DeleteResult{VersionID: versionID, DeleteMarker: info.DeleteMarker}
	} else if m, err := namespace.GetMeta(v); err != nil {
		return nil, out, err
	} else if m.Versioning != "" && !strings.HasSuffix(key, "/") {
		b.MarkerVersionID = namespace.NullVersion
		if m.Versioning == namespace.VersioningEnabled {
			b.MarkerVersionID = env.Token(16)
		}
		out = DeleteResult{VersionID: b.MarkerVersionID, DeleteMarker: true}
	}
	if err := (namespace.Projection{}).Validate(v, nil, b); err != nil {
		return nil, out, err
	}
	return &Decision{Shard: shard, Tenant: p.Tenant, Actor: p.Actor(),
		Events: []Pending{{Body: b, Key: key, Header: event.Header{Tombstone: true}}}}, out, nil
}

// DeleteObject deletes a key or one version of it.
func (s *Service) DeleteObject(ctx context.Context, p Principal, bucket, key, versionID string) (DeleteResult, error) {
	shard, err := s.bucketShard(ctx, p, bucket)
	if err != nil {
		return DeleteResult{}, err
	}
	var out DeleteResult
	_, _, err = s.run(ctx, shard, func(v kv.Reader) (*Decision, error) {
		if _, err := namespace.GetMeta(v); err != nil {
			return nil, fmt.Errorf("%w: %q", ErrNoSuchBucket, bucket)
		}
		d, res, err := DecideDeleteObject(v, s.env, p, shard, key, versionID)
		out = res
		return d, err
	})
	return out, err
}

// SetVersioning sets a bucket's versioning state ("Enabled"/"Suspended").
func (s *Service) SetVersioning(ctx context.Context, p Principal, bucket, status string) error {
	shard, err := s.bucketShard(ctx, p, bucket)
	if err != nil {
		return err
	}
	_, _, err = s.run(ctx, shard, func(v kv.Reader) (*Decision, error) {
		b := &event.VersioningConfigured{Status: status}
		if err := (namespace.Projection{}).Validate(v, nil, b); err != nil {
			return nil, err
		}
		return &Decision{Shard: shard, Tenant: p.Tenant, Actor: p.Actor(), Events: []Pending{{Body: b}}}, nil
	})
	return err
}

// Versioning returns a bucket's versioning state ("" when never enabled).
func (s *Service) Versioning(ctx context.Context, p Principal, bucket string) (string, error) {
	v, _, err := s.readNamespace(ctx, p, bucket)
	if err != nil {
		return "", err
	}
	defer v.Close()
	m, err := namespace.GetMeta(v)
	return m.Versioning, err
}

// SetTags replaces the tags of an object version.
func (s *Service) SetTags(ctx context.Context, p Principal, bucket, key, versionID string, tags []event.Pair) (string, error) {
	shard, err := s.bucketShard(ctx, p, bucket)
	if err != nil {
		return "", err
	}
	var vid string
	_, _, err = s.run(ctx, shard, func(v kv.Reader) (*Decision, error) {
		info, err := lookupObject(v, key, versionID)
		if err != nil {
			return nil, err
		}
		vid = info.VersionID
		b := &event.ObjectTagsSet{Key: key, VersionID: info.VersionID, Tags: tags}
		if err := (namespace.Projection{}).Validate(v, nil, b); err != nil {
			return nil, err
		}
		return &Decision{Shard: shard, Tenant: p.Tenant, Actor: p.Actor(), Events: []Pending{{Body: b, Key: key}}}, nil
	})
	return vid, err
}

// multipartETag is S3's ETag of a multipart object: the MD5 of the
// concatenated binary part MD5s, a dash and the part count.
func multipartETag(partETags []string) (string, error) {
	h := md5.New()
	for _, e := range partETags {
		raw, err := hex.DecodeString(trimQuotes(e))
		if err != nil {
			return "", fmt.Errorf("%w: part ETag %q", ErrInvalidPart, e)
		}
		h.Write(raw)
	}
	return fmt.Sprintf(`"%s-%d"`, hex.EncodeToString(h.Sum(nil)), len(partETags)), nil
}

func trimQuotes(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}
