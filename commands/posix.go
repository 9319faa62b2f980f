package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/projections/namespace"
)

// POSIX operations address a namespace by inode, the way a file system
// client does: lookups and attributes are read through a linearizable
// view (read-your-writes across clients, I-V3); every change is one
// proposal of the namespace events FileCreated … XattrRemoved.

// File type bits of Attr.Mode (the POSIX S_IFMT values).
const (
	ModeTypeMask uint32 = 0o170000
	ModeDir      uint32 = 0o040000
	ModeFile     uint32 = 0o100000
	ModeSymlink  uint32 = 0o120000
	// modePermMask: permission, sticky, setuid and setgid bits.
	modePermMask uint32 = 0o7777
	modeSetgid   uint32 = 0o2000
)

// Inode kinds, re-exported for gateways.
const (
	KindFile    = namespace.KindFile
	KindDir     = namespace.KindDir
	KindSymlink = namespace.KindSymlink
	// RootIno is the root directory of every namespace.
	RootIno = namespace.RootIno
)

// DirSizeBytes is the size reported for directories.
const DirSizeBytes = 4096

// Attr is what POSIX sees of one inode.
type Attr struct {
	Ino  uint64
	Kind uint8
	// Mode carries the file type bits and the permission bits.
	Mode    uint32
	Nlink   uint32
	Uid     uint32
	Gid     uint32
	Size    int64
	AtimeNs int64
	MtimeNs int64
	CtimeNs int64
	// Target is a symbolic link's target.
	Target string
}

func typeBits(kind uint8) uint32 {
	switch kind {
	case namespace.KindDir:
		return ModeDir
	case namespace.KindSymlink:
		return ModeSymlink
	}
	return ModeFile
}

// attrOf describes an inode; a file's size is its current version's.
func attrOf(v kv.Reader, in namespace.Inode) (Attr, error) {
	a := Attr{Ino: in.Ino, Kind: in.Kind, Mode: typeBits(in.Kind) | in.Posix.Mode&modePermMask, Nlink: in.Nlink,
		Uid: in.Posix.Uid, Gid: in.Posix.Gid, AtimeNs: in.AtimeNs, MtimeNs: in.MtimeNs, CtimeNs: in.CtimeNs, Target: in.Target}
	switch in.Kind {
	case namespace.KindFile:
		c, err := namespace.FileContent(v, in)
		if err != nil {
			return a, err
		}
		a.Size = c.Size
	case namespace.KindSymlink:
		a.Size = int64(len(in.Target))
	default:
		a.Size = DirSizeBytes
	}
	return a, nil
}

// visibleInode returns an inode that POSIX can see: a file whose current
// version is a delete marker is absent.
func visibleInode(v kv.Reader, ino uint64) (namespace.Inode, error) {
	in, err := namespace.GetInode(v, ino)
	if err != nil {
		return in, err
	}
	if in.Hidden {
		return in, fmt.Errorf("%w: inode %d (delete marker)", ErrNotFound, ino)
	}
	return in, nil
}

func fileInode(v kv.Reader, ino uint64) (namespace.Inode, error) {
	in, err := visibleInode(v, ino)
	if err != nil {
		return in, err
	}
	switch in.Kind {
	case namespace.KindDir:
		return in, fmt.Errorf("%w: inode %d", ErrIsDirectory, ino)
	case namespace.KindSymlink:
		return in, fmt.Errorf("%w: inode %d is a symbolic link", ErrInvalid, ino)
	}
	return in, nil
}

// InodeAttr reads one inode's attributes from a view.
func InodeAttr(v kv.Reader, ino uint64) (Attr, error) {
	in, err := visibleInode(v, ino)
	if err != nil {
		return Attr{}, err
	}
	return attrOf(v, in)
}

// LookupAttr resolves a name in a directory.
func LookupAttr(v kv.Reader, parent uint64, name string) (Attr, error) {
	dir, err := visibleInode(v, parent)
	if err != nil {
		return Attr{}, err
	}
	if dir.Kind != namespace.KindDir {
		return Attr{}, fmt.Errorf("%w: inode %d", ErrNotDirectory, parent)
	}
	in, ok, err := namespace.LookupVisible(v, parent, name)
	if err != nil {
		return Attr{}, err
	}
	if !ok {
		return Attr{}, fmt.Errorf("%w: %q in directory %d", ErrNotFound, name, parent)
	}
	return attrOf(v, in)
}

// GetAttr returns an inode's attributes.
func (s *Service) GetAttr(ctx context.Context, p Principal, bucket string, ino uint64) (Attr, error) {
	v, _, err := s.readNamespace(ctx, p, bucket)
	if err != nil {
		return Attr{}, err
	}
	defer v.Close()
	return InodeAttr(v, ino)
}

// Lookup resolves a name in a directory.
func (s *Service) Lookup(ctx context.Context, p Principal, bucket string, parent uint64, name string) (Attr, error) {
	v, _, err := s.readNamespace(ctx, p, bucket)
	if err != nil {
		return Attr{}, err
	}
	defer v.Close()
	return LookupAttr(v, parent, name)
}

// DirEntry is one directory entry with its attributes.
type DirEntry struct {
	Name string
	Attr Attr
	// Cursor resumes a listing after this entry.
	Cursor string
}

// MaxReadDirEntries bounds one page of a directory listing.
const MaxReadDirEntries = 10000

// ReadDirAttrs lists up to limit visible entries of a directory after the
// entry whose Cursor is after ("" from the start), in key order.
func ReadDirAttrs(v kv.Reader, dir uint64, after string, limit int) ([]DirEntry, error) {
	d, err := visibleInode(v, dir)
	if err != nil {
		return nil, err
	}
	if d.Kind != namespace.KindDir {
		return nil, fmt.Errorf("%w: inode %d", ErrNotDirectory, dir)
	}
	if limit <= 0 || limit > MaxReadDirEntries {
		limit = MaxReadDirEntries
	}
	es, err := namespace.ReadDir(v, dir, after, limit)
	if err != nil {
		return nil, err
	}
	out := make([]DirEntry, 0, len(es))
	for _, e := range es {
		in, err := namespace.GetInode(v, e.Ino)
		if err != nil {
			return nil, err
		}
		a, err := attrOf(v, in)
		if err != nil {
			return nil, err
		}
		out = append(out, DirEntry{Name: e.Name, Attr: a, Cursor: namespace.SortName(e.Name, e.Kind)})
	}
	return out, nil
}

// ReadDir lists a directory page (see ReadDirAttrs).
func (s *Service) ReadDir(ctx context.Context, p Principal, bucket string, dir uint64, after string, limit int) ([]DirEntry, error) {
	v, _, err := s.readNamespace(ctx, p, bucket)
	if err != nil {
		return nil, err
	}
	defer v.Close()
	return ReadDirAttrs(v, dir, after, limit)
}

// ReadFile streams bytes [off, off+n) of a file, clamped to its size,
// from one consistent view; it also returns the file's attributes as of
// that view.
func (s *Service) ReadFile(ctx context.Context, p Principal, bucket string, ino uint64, off, n int64) (io.ReadCloser, Attr, error) {
	if off < 0 || n < 0 {
		return nil, Attr{}, fmt.Errorf("%w: read of %d bytes at %d", ErrInvalid, n, off)
	}
	v, _, err := s.readNamespace(ctx, p, bucket)
	if err != nil {
		return nil, Attr{}, err
	}
	in, err := fileInode(v, ino)
	if err != nil {
		v.Close()
		return nil, Attr{}, err
	}
	a, err := attrOf(v, in)
	if err != nil {
		v.Close()
		return nil, Attr{}, err
	}
	c, err := namespace.FileContent(v, in)
	if err != nil {
		v.Close()
		return nil, Attr{}, err
	}
	n = max(min(n, c.Size-off), 0)
	return s.openContent(v, c, off, n), a, nil
}

// keyOf is the S3 key of name in directory parent (directories end in
// "/"), for the key hash in event headers. Directories know their one
// parent, so the path is a walk to the root.
func keyOf(v kv.Reader, parent uint64, name string, kind uint8) string {
	parts := []string{namespace.SortName(name, kind)}
	for cur := parent; cur != namespace.RootIno; {
		in, err := namespace.GetInode(v, cur)
		if err != nil {
			return ""
		}
		parts = append(parts, in.Name+"/")
		cur = in.Parent
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteString(parts[i])
	}
	return b.String()
}

// NodeInput describes a new file, directory or symbolic link.
type NodeInput struct {
	Parent uint64
	Name   string
	// Mode: the permission bits (type bits are ignored).
	Mode   uint32
	Uid    uint32
	Gid    uint32
	Target string
}

// DecideCreateNode decides FileCreated, DirectoryCreated or
// SymlinkCreated. It returns the new inode's number, which derives from
// the event id chosen here (or, reviving a file hidden by a delete
// marker, that file's number). A directory with the setgid bit passes its
// group (and, to new directories, the bit) on.
func DecideCreateNode(v kv.Reader, env Env, p Principal, shard uint64, kind uint8, in NodeInput) (*Decision, uint64, error) {
	posix := event.PosixAttrs{Mode: typeBits(kind) | in.Mode&modePermMask, Uid: in.Uid, Gid: in.Gid}
	if parent, err := namespace.GetInode(v, in.Parent); err == nil && parent.Posix.Mode&modeSetgid != 0 {
		posix.Gid = parent.Posix.Gid
		if kind == namespace.KindDir {
			posix.Mode |= modeSetgid
		}
	}
	nc := event.NodeCreated{Parent: in.Parent, Name: in.Name, Posix: posix, MtimeNs: NowNs(env.Clock.Now())}
	var body event.Body
	switch kind {
	case namespace.KindFile:
		body = &event.FileCreated{NodeCreated: nc}
	case namespace.KindDir:
		body = &event.DirectoryCreated{NodeCreated: nc}
	case namespace.KindSymlink:
		body = &event.SymlinkCreated{NodeCreated: nc, Target: in.Target}
	default:
		return nil, 0, fmt.Errorf("%w: inode kind %d", ErrInvalid, kind)
	}
	if err := (namespace.Projection{}).Validate(v, nil, body); err != nil {
		return nil, 0, err
	}
	id := env.EventID()
	ino := namespace.DeriveIno(id, 0)
	if d, exists, err := namespace.Lookup(v, in.Parent, in.Name); err != nil {
		return nil, 0, err
	} else if exists { // validated: a hidden file that the create revives
		ino = d.Ino
	}
	return &Decision{Shard: shard, Tenant: p.Tenant, Actor: p.Actor(),
		Events: []Pending{{Body: body, ID: id, Key: keyOf(v, in.Parent, in.Name, kind)}}}, ino, nil
}

// CreateNode creates a file, directory or symbolic link and returns its
// attributes. An existing name is ErrAlreadyExists (O_EXCL semantics; the
// caller decides what a plain O_CREAT does with it).
func (s *Service) CreateNode(ctx context.Context, p Principal, bucket string, kind uint8, in NodeInput) (Attr, error) {
	shard, err := s.bucketShard(ctx, p, bucket)
	if err != nil {
		return Attr{}, err
	}
	var ino uint64
	_, _, err = s.run(ctx, shard, func(v kv.Reader) (*Decision, error) {
		d, n, err := DecideCreateNode(v, s.env, p, shard, kind, in)
		ino = n
		return d, err
	})
	if err != nil {
		return Attr{}, err
	}
	return s.localAttr(shard, ino)
}

// localAttr reads an inode from this replica, where the proposal that
// changed it has just applied.
func (s *Service) localAttr(shard, ino uint64) (Attr, error) {
	v := s.log.LocalRead(shard)
	defer v.Close()
	return InodeAttr(v, ino)
}

// DecideLink decides HardLinkCreated: a new name for an existing file.
func DecideLink(v kv.Reader, env Env, p Principal, shard, ino, parent uint64, name string) (*Decision, error) {
	if _, err := visibleInode(v, ino); err != nil {
		return nil, err
	}
	b := &event.HardLinkCreated{Ino: ino, Parent: parent, Name: name, MtimeNs: NowNs(env.Clock.Now())}
	if err := (namespace.Projection{}).Validate(v, nil, b); err != nil {
		return nil, err
	}
	return &Decision{Shard: shard, Tenant: p.Tenant, Actor: p.Actor(),
		Events: []Pending{{Body: b, Key: keyOf(v, parent, name, namespace.KindFile)}}}, nil
}

// Link gives a file another name and returns its attributes.
func (s *Service) Link(ctx context.Context, p Principal, bucket string, ino, parent uint64, name string) (Attr, error) {
	shard, err := s.bucketShard(ctx, p, bucket)
	if err != nil {
		return Attr{}, err
	}
	if _, _, err := s.run(ctx, shard, func(v kv.Reader) (*Decision, error) {
		return DecideLink(v, s.env, p, shard, ino, parent, name)
	}); err != nil {
		return Attr{}, err
	}
	return s.localAttr(shard, ino)
}

// DecideRemove decides EntryUnlinked (a non-directory) or, with dir,
// DirectoryRemoved (an empty directory).
func DecideRemove(v kv.Reader, env Env, p Principal, shard, parent uint64, name string, dir bool) (*Decision, error) {
	now := NowNs(env.Clock.Now())
	var b event.Body = &event.EntryUnlinked{Parent: parent, Name: name, MtimeNs: now}
	kind := namespace.KindFile
	if dir {
		b, kind = &event.DirectoryRemoved{Parent: parent, Name: name, MtimeNs: now}, namespace.KindDir
	}
	if err := (namespace.Projection{}).Validate(v, nil, b); err != nil {
		return nil, err
	}
	return &Decision{Shard: shard, Tenant: p.Tenant, Actor: p.Actor(),
		Events: []Pending{{Body: b, Key: keyOf(v, parent, name, kind), Header: event.Header{Tombstone: true}}}}, nil
}

// Remove unlinks a name (unlink) or removes an empty directory (rmdir).
func (s *Service) Remove(ctx context.Context, p Principal, bucket string, parent uint64, name string, dir bool) error {
	shard, err := s.bucketShard(ctx, p, bucket)
	if err != nil {
		return err
	}
	_, _, err = s.run(ctx, shard, func(v kv.Reader) (*Decision, error) {
		return DecideRemove(v, s.env, p, shard, parent, name, dir)
	})
	if errors.Is(err, ErrUnderRetention) && !dir {
		return s.removeHeld(ctx, p, bucket, shard, parent, name, err)
	}
	return err
}

// removeHeld turns an unlink of held content into what versioning allows
// (ADR-014): with versioning enabled, a delete marker hides the name and
// the bytes stay as a noncurrent version until the hold ends; without it
// the unlink stays refused.
func (s *Service) removeHeld(ctx context.Context, p Principal, bucket string, shard, parent uint64, name string, refused error) error {
	v, err := s.read(ctx, shard)
	if err != nil {
		return err
	}
	meta, err := namespace.GetMeta(v)
	key := keyOf(v, parent, name, namespace.KindFile)
	v.Close()
	if err != nil || meta.Versioning != namespace.VersioningEnabled || key == "" {
		return refused
	}
	_, err = s.DeleteObject(ctx, p, bucket, key, "")
	return err
}

// RenameInput moves a name within a namespace.
type RenameInput struct {
	SourceParent uint64
	SourceName   string
	TargetParent uint64
	TargetName   string
	// NoReplace: fail with ErrAlreadyExists when the target exists
	// (RENAME_NOREPLACE).
	NoReplace bool
}

// DecideRename decides EntryRenamed: atomic, replacing the target per
// POSIX (an empty directory by a directory, a non-directory by a
// non-directory).
func DecideRename(v kv.Reader, env Env, p Principal, shard uint64, in RenameInput) (*Decision, error) {
	if in.NoReplace {
		if _, ok, err := namespace.LookupVisible(v, in.TargetParent, in.TargetName); err != nil {
			return nil, err
		} else if ok {
			return nil, fmt.Errorf("%w: %q", ErrAlreadyExists, in.TargetName)
		}
	}
	b := &event.EntryRenamed{SourceParent: in.SourceParent, SourceName: in.SourceName,
		TargetParent: in.TargetParent, TargetName: in.TargetName, MtimeNs: NowNs(env.Clock.Now())}
	if err := (namespace.Projection{}).Validate(v, nil, b); err != nil {
		return nil, err
	}
	kind := namespace.KindFile
	if d, ok, _ := namespace.Lookup(v, in.SourceParent, in.SourceName); ok {
		kind = d.Kind
	}
	return &Decision{Shard: shard, Tenant: p.Tenant, Actor: p.Actor(),
		Events: []Pending{{Body: b, Key: keyOf(v, in.TargetParent, in.TargetName, kind)}}}, nil
}

// Rename moves a name atomically.
func (s *Service) Rename(ctx context.Context, p Principal, bucket string, in RenameInput) error {
	shard, err := s.bucketShard(ctx, p, bucket)
	if err != nil {
		return err
	}
	_, _, err = s.run(ctx, shard, func(v kv.Reader) (*Decision, error) {
		return DecideRename(v, s.env, p, shard, in)
	})
	return err
}

// SetAttrInput changes attributes; nil fields stay as they are.
type SetAttrInput struct {
	Mode *uint32
	Uid  *uint32
	Gid  *uint32
	// Size truncates or extends (with a hole) a regular file.
	Size    *int64
	AtimeNs *int64
	MtimeNs *int64
	// AtimeNow and MtimeNow set the time to the decision's time
	// (UTIME_NOW), overriding AtimeNs and MtimeNs.
	AtimeNow bool
	MtimeNow bool
}

func (in SetAttrInput) changesAttrs() bool {
	return in.Mode != nil || in.Uid != nil || in.Gid != nil || in.AtimeNs != nil || in.MtimeNs != nil || in.AtimeNow || in.MtimeNow
}

// DecideSetAttr decides FileTruncated and/or AttrsChanged in one
// proposal: the size first, so explicit times win over the truncation's.
func DecideSetAttr(v kv.Reader, env Env, p Principal, shard, ino uint64, in SetAttrInput) (*Decision, error) {
	if _, err := visibleInode(v, ino); err != nil {
		return nil, err
	}
	now := NowNs(env.Clock.Now())
	var events []Pending
	if in.Size != nil {
		if _, err := fileInode(v, ino); err != nil {
			return nil, err
		}
		events = append(events, Pending{Body: &event.FileTruncated{Ino: ino, Size: *in.Size, MtimeNs: now},
			Header: event.Header{SizeBytes: *in.Size}})
	}
	if in.changesAttrs() {
		b := &event.AttrsChanged{Ino: ino, Mode: in.Mode, Uid: in.Uid, Gid: in.Gid, AtimeNs: in.AtimeNs, MtimeNs: in.MtimeNs, CtimeNs: now}
		if in.AtimeNow {
			b.AtimeNs = &now
		}
		if in.MtimeNow {
			b.MtimeNs = &now
		}
		events = append(events, Pending{Body: b})
	}
	if len(events) == 0 {
		return nil, nil
	}
	for _, e := range events {
		if err := (namespace.Projection{}).Validate(v, nil, e.Body); err != nil {
			return nil, err
		}
	}
	return &Decision{Shard: shard, Tenant: p.Tenant, Actor: p.Actor(), Events: events}, nil
}

// SetAttr applies chmod, chown, utimens and truncate, and returns the
// resulting attributes.
func (s *Service) SetAttr(ctx context.Context, p Principal, bucket string, ino uint64, in SetAttrInput) (Attr, error) {
	shard, err := s.bucketShard(ctx, p, bucket)
	if err != nil {
		return Attr{}, err
	}
	if _, _, err := s.run(ctx, shard, func(v kv.Reader) (*Decision, error) {
		return DecideSetAttr(v, s.env, p, shard, ino, in)
	}); err != nil {
		return Attr{}, err
	}
	return s.localAttr(shard, ino)
}

// XattrMode says what SetXattr requires of the existing attribute.
type XattrMode uint8

const (
	// XattrAny creates or replaces.
	XattrAny XattrMode = 0
	// XattrCreate fails with ErrAlreadyExists when the attribute exists
	// (XATTR_CREATE).
	XattrCreate XattrMode = 1
	// XattrReplace fails with ErrNoData when it does not (XATTR_REPLACE).
	XattrReplace XattrMode = 2
)

// DecideSetXattr decides XattrSet.
func DecideSetXattr(v kv.Reader, p Principal, shard, ino uint64, name string, value []byte, mode XattrMode) (*Decision, error) {
	if _, err := visibleInode(v, ino); err != nil {
		return nil, err
	}
	_, exists, err := namespace.Xattr(v, ino, name)
	if err != nil {
		return nil, err
	}
	switch {
	case mode == XattrCreate && exists:
		return nil, fmt.Errorf("%w: xattr %q", ErrAlreadyExists, name)
	case mode == XattrReplace && !exists:
		return nil, fmt.Errorf("%w: xattr %q", ErrNoData, name)
	}
	b := &event.XattrSet{Ino: ino, Name: name, Value: append([]byte{}, value...)}
	if err := (namespace.Projection{}).Validate(v, nil, b); err != nil {
		return nil, err
	}
	return &Decision{Shard: shard, Tenant: p.Tenant, Actor: p.Actor(), Events: []Pending{{Body: b}}}, nil
}

// SetXattr sets an extended attribute.
func (s *Service) SetXattr(ctx context.Context, p Principal, bucket string, ino uint64, name string, value []byte, mode XattrMode) error {
	shard, err := s.bucketShard(ctx, p, bucket)
	if err != nil {
		return err
	}
	_, _, err = s.run(ctx, shard, func(v kv.Reader) (*Decision, error) {
		return DecideSetXattr(v, p, shard, ino, name, value, mode)
	})
	return err
}

// DecideRemoveXattr decides XattrRemoved; a missing attribute is
// ErrNoData.
func DecideRemoveXattr(v kv.Reader, p Principal, shard, ino uint64, name string) (*Decision, error) {
	if _, err := visibleInode(v, ino); err != nil {
		return nil, err
	}
	b := &event.XattrRemoved{Ino: ino, Name: name}
	if err := (namespace.Projection{}).Validate(v, nil, b); err != nil {
		return nil, err
	}
	return &Decision{Shard: shard, Tenant: p.Tenant, Actor: p.Actor(), Events: []Pending{{Body: b}}}, nil
}

// RemoveXattr removes an extended attribute.
func (s *Service) RemoveXattr(ctx context.Context, p Principal, bucket string, ino uint64, name string) error {
	shard, err := s.bucketShard(ctx, p, bucket)
	if err != nil {
		return err
	}
	_, _, err = s.run(ctx, shard, func(v kv.Reader) (*Decision, error) {
		return DecideRemoveXattr(v, p, shard, ino, name)
	})
	return err
}

// GetXattr reads an extended attribute; a missing one is ErrNoData.
func (s *Service) GetXattr(ctx context.Context, p Principal, bucket string, ino uint64, name string) ([]byte, error) {
	v, _, err := s.readNamespace(ctx, p, bucket)
	if err != nil {
		return nil, err
	}
	defer v.Close()
	if _, err := visibleInode(v, ino); err != nil {
		return nil, err
	}
	val, ok, err := namespace.Xattr(v, ino, name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: xattr %q", ErrNoData, name)
	}
	return val, nil
}

// ListXattrs lists an inode's extended attribute names in order.
func (s *Service) ListXattrs(ctx context.Context, p Principal, bucket string, ino uint64) ([]string, error) {
	v, _, err := s.readNamespace(ctx, p, bucket)
	if err != nil {
		return nil, err
	}
	defer v.Close()
	if _, err := visibleInode(v, ino); err != nil {
		return nil, err
	}
	return namespace.Xattrs(v, ino)
}
