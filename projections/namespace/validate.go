package namespace

import (
	"errors"

	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	p "github.com/annal-storage/annal/projections"
)

// Projection is the namespace shard projection.
type Projection struct{}

// Validate implements projections.Projection: the preconditions of every
// namespace event, checked by commands on their view and again at apply.
func (Projection) Validate(r kv.Reader, env *event.Envelope, body event.Body) error {
	switch body.(type) {
	case *event.NamespaceShredStarted, *event.NamespacePurged:
		return validateShred(r, body)
	case *event.EventsCompacted:
		return nil // the apply path (log) checks and performs event GC
	}
	if _, ok := body.(*event.NamespaceOpened); ok {
		if _, err := GetMeta(r); err == nil {
			return p.Errorf(p.ErrAlreadyExists, "namespace already opened")
		}
		return nil
	}
	meta, err := GetMeta(r)
	if err != nil {
		return err
	}
	if meta.Sealed {
		return p.Errorf(p.ErrNamespaceSealed, "%s", meta.Name)
	}
	return validateOpen(r, meta, env, body)
}

func validateOpen(r kv.Reader, meta Meta, env *event.Envelope, body event.Body) error {
	switch b := body.(type) {
	case *event.NamespaceSealed:
		return validateSealed(r)
	case *event.VersioningConfigured:
		if b.Status != VersioningEnabled && b.Status != VersioningSuspended {
			return p.Errorf(p.ErrInvalid, "versioning status %q", b.Status)
		}
		return nil
	case *event.ObjectPut:
		return validateObjectPut(r, meta, b)
	case *event.ObjectDeleted:
		return validateObjectDeleted(r, meta, b)
	case *event.ObjectTagsSet:
		_, _, err := resolveVersion(r, b.Key, b.VersionID)
		return err
	case *event.MultipartStarted:
		return validateMultipartStarted(r, b)
	case *event.MultipartPartUploaded:
		return validatePartUploaded(r, b)
	case *event.MultipartCompleted:
		return validateMultipartCompleted(r, meta, b)
	case *event.MultipartAborted:
		_, err := GetUpload(r, b.UploadID)
		return err
	case *event.SegmentStaged:
		return validateNewSegments(r, []event.Segment{b.Segment})
	case *event.StagedSegmentsDropped:
		return validateStagedDrop(r, b)
	}
	return validatePosix(r, env, body)
}

// validateShred: a shard is frozen once, then purged once.
func validateShred(r kv.Reader, body event.Body) error {
	meta, err := GetMeta(r)
	if err != nil && !isNotFound(err) {
		return err
	}
	_, purge := body.(*event.NamespacePurged)
	switch {
	case purge && !meta.Shredding:
		return p.Errorf(p.ErrPreconditionFailed, "purge of a namespace not being shredded")
	case purge && meta.Purged, !purge && meta.Shredding:
		return p.Errorf(p.ErrAlreadyExists, "namespace already %s", map[bool]string{true: "purged", false: "being shredded"}[purge])
	}
	return nil
}

func validateSealed(r kv.Reader) error {
	empty, err := isEmptyDir(r, RootIno)
	if err != nil {
		return err
	}
	if !empty {
		return p.Errorf(p.ErrNotEmpty, "namespace has entries")
	}
	n, err := countUploads(r)
	if err != nil {
		return err
	}
	if n > 0 {
		return p.Errorf(p.ErrNotEmpty, "namespace has %d multipart uploads in progress", n)
	}
	return nil
}

// checkVersionID enforces that writes outside Enabled versioning use the
// null version and writes under it use a fresh id.
func checkVersionID(meta Meta, id string) error {
	if (meta.Versioning == VersioningEnabled) != (id != NullVersion) || id == "" {
		return p.Errorf(p.ErrPreconditionFailed, "version id %q does not match versioning state %q", id, meta.Versioning)
	}
	return nil
}

// checkPutTarget checks that key can hold a new object version.
func checkPutTarget(r kv.Reader, key string) (Resolved, error) {
	res, err := Resolve(r, key)
	if err != nil {
		return res, err
	}
	if !res.Found {
		return res, nil
	}
	switch {
	case res.DirKey && res.Entry.Kind != KindDir:
		return res, p.Errorf(p.ErrParentNotDirectory, "%q is an object", res.Name)
	case !res.DirKey && res.Entry.Kind == KindDir:
		return res, p.Errorf(p.ErrIsDirectory, "%q is a directory", key)
	case res.Entry.Kind == KindSymlink:
		return res, p.Errorf(p.ErrInvalid, "%q is a symbolic link", key)
	}
	return res, nil
}

func validateObjectPut(r kv.Reader, meta Meta, b *event.ObjectPut) error {
	if err := checkVersionID(meta, b.VersionID); err != nil {
		return err
	}
	res, err := checkPutTarget(r, b.Key)
	if err != nil {
		return err
	}
	if res.DirKey && (b.Content.Size != 0 || len(b.NewSegments) > 0) {
		return p.Errorf(p.ErrInvalid, "folder key %q cannot hold data", b.Key)
	}
	if res.Found {
		if _, dup, err := VersionByID(r, res.Entry.Ino, b.VersionID); err != nil || (dup && b.VersionID != NullVersion) {
			return orErr(err, p.Errorf(p.ErrAlreadyExists, "version %q", b.VersionID))
		}
	}
	return validateContent(r, b.Content, b.NewSegments)
}

// validateContent checks that content is well formed and that every
// segment it references is new in this event or already stored (staged
// ahead of this event, or shared with another version by a copy).
func validateContent(r kv.Reader, c event.Content, fresh []event.Segment) error {
	if err := validateNewSegments(r, fresh); err != nil {
		return err
	}
	if len(c.Inline) > 0 && len(c.Segments) > 0 {
		return p.Errorf(p.ErrInvalid, "content is both inline and segmented")
	}
	if len(c.Inline) > MaxInlineBytes || c.Size < segmentsLen(c.Segments) || c.Size < int64(len(c.Inline)) {
		return p.Errorf(p.ErrInvalid, "content size %d inconsistent", c.Size)
	}
	lens := map[event.SegmentID]int64{}
	for _, s := range fresh {
		lens[s.ID] = s.Len()
	}
	seen := map[event.SegmentID]bool{}
	for _, ref := range c.Segments {
		if seen[ref.ID] {
			return p.Errorf(p.ErrInvalid, "segment %s referenced twice", ref.ID)
		}
		seen[ref.ID] = true
		n, ok := lens[ref.ID]
		if !ok {
			s, found, err := GetSegment(r, ref.ID)
			if err != nil {
				return err
			}
			if !found {
				return p.Errorf(p.ErrInvalid, "segment %s is neither new nor stored", ref.ID)
			}
			n = extentsLen(s.Extents)
		}
		if n != ref.Len {
			return p.Errorf(p.ErrInvalid, "segment %s length %d, reference says %d", ref.ID, n, ref.Len)
		}
	}
	for _, s := range fresh {
		if !seen[s.ID] {
			return p.Errorf(p.ErrInvalid, "new segment %s is not referenced", s.ID)
		}
	}
	return nil
}

func validateNewSegments(r kv.Reader, segs []event.Segment) error {
	for _, s := range segs {
		if len(s.Extents) == 0 || len(s.Extents) > MaxExtentsPerSegment {
			return p.Errorf(p.ErrInvalid, "segment %s has %d extents", s.ID, len(s.Extents))
		}
		if err := validExtents(s.Extents); err != nil {
			return p.Errorf(p.ErrInvalid, "segment %s: %v", s.ID, err)
		}
		if _, exists, err := GetSegment(r, s.ID); err != nil || exists {
			return orErr(err, p.Errorf(p.ErrAlreadyExists, "segment %s", s.ID))
		}
	}
	return nil
}

// validExtents checks that every extent is non-empty and lies inside its
// chunk.
func validExtents(xs []event.Extent) error {
	for _, x := range xs {
		if x.Len <= 0 || x.ChunkOff < 0 || (!x.IsHole() && x.ChunkOff+x.Len > x.ChunkLen) {
			return p.Errorf(p.ErrInvalid, "bad extent (len %d, chunk offset %d of %d)", x.Len, x.ChunkOff, x.ChunkLen)
		}
	}
	return nil
}

func validateStagedDrop(r kv.Reader, b *event.StagedSegmentsDropped) error {
	for _, id := range b.IDs {
		s, ok, err := GetSegment(r, id)
		if err != nil {
			return err
		}
		if !ok || !s.Staged || s.Refs != 0 {
			return p.Errorf(p.ErrPreconditionFailed, "segment %s is not an unreferenced staged segment", id)
		}
	}
	return nil
}

func orErr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

func validateObjectDeleted(r kv.Reader, meta Meta, b *event.ObjectDeleted) error {
	res, err := Resolve(r, b.Key)
	if err != nil {
		return err
	}
	if !res.Found || res.DirKey != (res.Entry.Kind == KindDir) {
		return p.Errorf(p.ErrNotFound, "key %q", b.Key)
	}
	if res.DirKey {
		if b.VersionID != "" || b.MarkerVersionID != "" {
			return p.Errorf(p.ErrInvalid, "folder keys are not versioned")
		}
		in, err := GetInode(r, res.Entry.Ino)
		if err != nil {
			return err
		}
		if in.Implicit {
			return p.Errorf(p.ErrNotFound, "key %q", b.Key)
		}
		return nil
	}
	if b.VersionID != "" {
		_, ok, err := VersionByID(r, res.Entry.Ino, b.VersionID)
		if err != nil || !ok {
			return orErr(err, p.Errorf(p.ErrNoSuchVersion, "%q of %q", b.VersionID, b.Key))
		}
		return nil
	}
	if b.MarkerVersionID != "" {
		return checkVersionID(meta, b.MarkerVersionID)
	}
	if meta.Versioning != "" {
		return p.Errorf(p.ErrPreconditionFailed, "delete without a marker in a versioned namespace")
	}
	return nil
}

// resolveVersion finds the inode and the version (current when id is
// empty) of a key.
func resolveVersion(r kv.Reader, key, id string) (Inode, Version, error) {
	res, err := Resolve(r, key)
	if err != nil {
		return Inode{}, Version{}, err
	}
	if !res.Found || res.DirKey != (res.Entry.Kind == KindDir) {
		return Inode{}, Version{}, p.Errorf(p.ErrNotFound, "key %q", key)
	}
	in, err := GetInode(r, res.Entry.Ino)
	if err != nil {
		return in, Version{}, err
	}
	var v Version
	var ok bool
	if id == "" {
		v, ok, err = CurrentVersion(r, in)
		if err == nil && ok && v.DeleteMarker {
			return in, v, p.Errorf(p.ErrNotFound, "key %q (delete marker)", key)
		}
	} else {
		v, ok, err = VersionByID(r, in.Ino, id)
	}
	if err != nil {
		return in, v, err
	}
	if !ok {
		if id != "" {
			return in, v, p.Errorf(p.ErrNoSuchVersion, "%q of %q", id, key)
		}
		return in, v, p.Errorf(p.ErrNotFound, "key %q", key)
	}
	return in, v, nil
}

// CheckGuard implements projections.Projection.
func (Projection) CheckGuard(r kv.Reader, g event.Guard) error {
	_, v, err := resolveVersion(r, g.Key, "")
	exists := err == nil
	if err != nil && !isNotFound(err) {
		return err
	}
	switch g.Kind {
	case event.GuardObjectAbsent:
		if exists {
			return p.Errorf(p.ErrPreconditionFailed, "%q exists", g.Key)
		}
	case event.GuardObjectETag:
		if !exists {
			return p.Errorf(p.ErrNotFound, "key %q", g.Key)
		}
		if v.Attrs.ETag != g.Value {
			return p.Errorf(p.ErrPreconditionFailed, "%q has a different ETag", g.Key)
		}
	case event.GuardObjectVersion:
		if (g.Value == "" && exists) || (g.Value != "" && (!exists || v.ID != g.Value)) {
			return p.Errorf(p.ErrPreconditionFailed, "%q changed", g.Key)
		}
	default:
		return p.Errorf(p.ErrInvalid, "guard kind %d", g.Kind)
	}
	return nil
}

func isNotFound(err error) bool {
	return errors.Is(err, p.ErrNotFound)
}
