package namespace

import (
	"fmt"

	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	p "github.com/annal-storage/annal/projections"
)

// Apply implements projections.Projection.
func (Projection) Apply(w kv.Writer, env *event.Envelope, body event.Body) error {
	switch b := body.(type) {
	case *event.NamespaceOpened:
		return applyOpened(w, b)
	case *event.NamespaceSealed:
		return updateMeta(w, func(m *Meta) { m.Sealed = true })
	case *event.EventsCompacted:
		return nil // state is unchanged; the log folds the base
	case *event.NamespaceShredStarted:
		m, err := GetMeta(w)
		if err != nil && !isNotFound(err) {
			return err
		}
		m.Shredding = true
		return p.Put(w, metaKey, &m)
	case *event.NamespacePurged:
		// Everything goes: names, inodes, versions, segments and the
		// chunk reference counts (GC may now collect chunks no other
		// namespace references). The meta keeps no name.
		if err := w.DeleteRange(nil, nil); err != nil {
			return err
		}
		return p.Put(w, metaKey, &Meta{Shredding: true, Purged: true})
	case *event.VersioningConfigured:
		return updateMeta(w, func(m *Meta) { m.Versioning = b.Status })
	case *event.ObjectPut:
		return applyObjectPut(w, env, b)
	case *event.ObjectDeleted:
		return applyObjectDeleted(w, env, b)
	case *event.ObjectTagsSet:
		in, v, err := resolveVersion(w, b.Key, b.VersionID)
		p.Must(err == nil, "tags on missing version: %v", err)
		v.Attrs.Tags = b.Tags
		return p.Put(w, versionKey(in.Ino, v.Seq), &v)
	case *event.SegmentStaged:
		return createSegment(w, b.Segment, true, b.StagedNs)
	case *event.StagedSegmentsDropped:
		for _, id := range b.IDs {
			if err := dropStaged(w, id); err != nil {
				return err
			}
		}
		return nil
	}
	if ok, err := applyMultipart(w, env, body); ok {
		return err
	}
	if ok, err := applyPosix(w, env, body); ok {
		return err
	}
	panic(fmt.Sprintf("namespace: apply of unexpected %s", body.EventType()))
}

func applyOpened(w kv.Writer, b *event.NamespaceOpened) error {
	if err := p.Put(w, metaKey, &Meta{Name: b.Name, CreatedNs: b.CreatedNs}); err != nil {
		return err
	}
	root := Inode{Ino: RootIno, Kind: KindDir, Posix: event.PosixAttrs{Mode: 0o040755}, Nlink: 2,
		AtimeNs: b.CreatedNs, MtimeNs: b.CreatedNs, CtimeNs: b.CreatedNs}
	return putInode(w, &root)
}

func updateMeta(w kv.Writer, change func(*Meta)) error {
	m, err := GetMeta(w)
	p.Must(err == nil, "meta missing: %v", err)
	change(&m)
	return p.Put(w, metaKey, &m)
}

func applyObjectPut(w kv.Writer, env *event.Envelope, b *event.ObjectPut) error {
	res, err := Resolve(w, b.Key)
	p.Must(err == nil, "put to unresolvable key: %v", err)
	parent, made, err := mkdirs(w, env, res, b.Posix, b.MtimeNs)
	if err != nil {
		return err
	}
	for _, s := range b.NewSegments {
		if err := createSegment(w, s, false, 0); err != nil {
			return err
		}
	}
	var in Inode
	if res.Found && len(res.Missing) == 0 {
		in, err = GetInode(w, res.Entry.Ino)
		p.Must(err == nil, "entry without inode: %v", err)
	} else {
		in = Inode{Ino: DeriveIno(env.ID, made), Kind: KindFile, Posix: b.Posix, Nlink: 1,
			AtimeNs: b.MtimeNs, MtimeNs: b.MtimeNs, CtimeNs: b.MtimeNs}
		if res.DirKey {
			in.Kind, in.Nlink = KindDir, 2
			in.Posix.Mode = dirMode(b.Posix.Mode)
		}
		if err := newNode(w, parent, res.Name, &in); err != nil {
			return err
		}
	}
	if in.Kind == KindDir {
		in.Implicit = false
	}
	v := Version{ID: b.VersionID, Seq: env.Seq, Content: b.Content, Attrs: b.Attrs, MtimeNs: b.MtimeNs}
	if err := addVersion(w, &in, v); err != nil {
		return err
	}
	in.MtimeNs, in.CtimeNs = b.MtimeNs, b.MtimeNs
	return putInode(w, &in)
}

func applyObjectDeleted(w kv.Writer, env *event.Envelope, b *event.ObjectDeleted) error {
	res, err := Resolve(w, b.Key)
	p.Must(err == nil && res.Found, "delete of unresolvable key %q: %v", b.Key, err)
	in, err := GetInode(w, res.Entry.Ino)
	p.Must(err == nil, "entry without inode: %v", err)
	if res.DirKey {
		return deleteFolder(w, res.Parent, in, b.MtimeNs)
	}
	switch {
	case b.VersionID != "":
		v, ok, err := VersionByID(w, in.Ino, b.VersionID)
		p.Must(err == nil && ok, "delete of missing version %q: %v", b.VersionID, err)
		if err := deleteVersion(w, in.Ino, v); err != nil {
			return err
		}
		if err := resetCurrent(w, &in); err != nil {
			return err
		}
		if in.Cur == 0 {
			return unlinkAndCascade(w, res.Parent, res.Name, in, b.MtimeNs)
		}
		return putInode(w, &in)
	case b.MarkerVersionID != "":
		marker := Version{ID: b.MarkerVersionID, Seq: env.Seq, DeleteMarker: true, MtimeNs: b.MtimeNs}
		if err := addVersion(w, &in, marker); err != nil {
			return err
		}
		in.CtimeNs = b.MtimeNs
		return putInode(w, &in)
	}
	return unlinkAndCascade(w, res.Parent, res.Name, in, b.MtimeNs)
}

func unlinkAndCascade(w kv.Writer, parent uint64, name string, in Inode, ns int64) error {
	if err := unlinkName(w, parent, name, in, ns); err != nil {
		return err
	}
	return removeEmptyImplicit(w, parent, ns)
}

// deleteFolder handles an S3 delete of a folder key "a/b/": the folder
// object goes; the directory stays (implicit) while it has entries.
func deleteFolder(w kv.Writer, parent uint64, in Inode, ns int64) error {
	vs, err := Versions(w, in.Ino)
	if err != nil {
		return err
	}
	for _, v := range vs {
		if err := deleteVersion(w, in.Ino, v); err != nil {
			return err
		}
	}
	in.Cur, in.Hidden, in.Implicit = 0, false, true
	if err := putInode(w, &in); err != nil {
		return err
	}
	return removeEmptyImplicit(w, in.Ino, ns)
}
