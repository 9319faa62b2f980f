package namespace

import (
	"fmt"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	p "github.com/annal-storage/annal/projections"
)

// LookupVisible finds a visible entry: names whose current version is a
// delete marker are absent to POSIX.
func LookupVisible(r kv.Reader, parent uint64, name string) (Inode, bool, error) {
	d, ok, err := Lookup(r, parent, name)
	if err != nil || !ok {
		return Inode{}, false, err
	}
	in, err := GetInode(r, d.Ino)
	if err != nil {
		return in, false, err
	}
	return in, !in.Hidden, nil
}

func mustDir(r kv.Reader, ino uint64) (Inode, error) {
	in, err := GetInode(r, ino)
	if err != nil {
		return in, err
	}
	if in.Kind != KindDir {
		return in, p.Errorf(p.ErrNotDirectory, "inode %d", ino)
	}
	return in, nil
}

// checkFreeName: parent is a directory and name is valid and free. A
// hidden file (delete marker current) may be revived by FileCreated.
func checkFreeName(r kv.Reader, parent uint64, name string, reviveOK bool) error {
	if _, err := mustDir(r, parent); err != nil {
		return err
	}
	if err := ValidName(name); err != nil {
		return err
	}
	d, exists, err := Lookup(r, parent, name)
	if err != nil || !exists {
		return err
	}
	in, err := GetInode(r, d.Ino)
	if err != nil {
		return err
	}
	if reviveOK && in.Hidden {
		return nil
	}
	return p.Errorf(p.ErrAlreadyExists, "%q", name)
}

func mustVisible(r kv.Reader, parent uint64, name string) (Inode, error) {
	if _, err := mustDir(r, parent); err != nil {
		return Inode{}, err
	}
	in, ok, err := LookupVisible(r, parent, name)
	if err != nil {
		return in, err
	}
	if !ok {
		return in, p.Errorf(p.ErrNotFound, "%q", name)
	}
	return in, nil
}

func validatePosix(r kv.Reader, env *event.Envelope, body event.Body) error {
	switch b := body.(type) {
	case *event.FileCreated:
		return checkFreeName(r, b.Parent, b.Name, true)
	case *event.DirectoryCreated:
		return checkFreeName(r, b.Parent, b.Name, false)
	case *event.SymlinkCreated:
		if b.Target == "" || len(b.Target) > 4096 {
			return p.Errorf(p.ErrInvalid, "symlink target of %d bytes", len(b.Target))
		}
		return checkFreeName(r, b.Parent, b.Name, false)
	case *event.HardLinkCreated:
		in, err := GetInode(r, b.Ino)
		if err != nil {
			return err
		}
		if in.Kind == KindDir {
			return p.Errorf(p.ErrIsDirectory, "cannot hard-link a directory")
		}
		return checkFreeName(r, b.Parent, b.Name, false)
	case *event.EntryUnlinked:
		in, err := mustVisible(r, b.Parent, b.Name)
		if err == nil && in.Kind == KindDir {
			return p.Errorf(p.ErrIsDirectory, "%q", b.Name)
		}
		return err
	case *event.DirectoryRemoved:
		return validateRmdir(r, b)
	case *event.EntryRenamed:
		return validateRename(r, b)
	case *event.AttrsChanged:
		_, err := GetInode(r, b.Ino)
		return err
	case *event.FileTruncated:
		if b.Size < 0 {
			return p.Errorf(p.ErrInvalid, "negative size")
		}
		_, err := mustFile(r, b.Ino)
		return err
	case *event.FileWritten:
		return validateWrite(r, b)
	case *event.XattrSet:
		_, err := GetInode(r, b.Ino)
		if err == nil && (b.Name == "" || len(b.Name) > MaxNameBytes || len(b.Value) > MaxInlineBytes) {
			return p.Errorf(p.ErrInvalid, "xattr name or value too large")
		}
		return err
	case *event.XattrRemoved:
		if _, ok, err := r.Get(xattrKey(b.Ino, b.Name)); err != nil || !ok {
			return orErr(err, p.Errorf(p.ErrNoData, "%q", b.Name))
		}
		return nil
	}
	return p.Errorf(p.ErrInvalid, "%s is not a namespace event", body.EventType())
}

func mustFile(r kv.Reader, ino uint64) (Inode, error) {
	in, err := GetInode(r, ino)
	if err != nil {
		return in, err
	}
	if in.Kind != KindFile {
		return in, p.Errorf(p.ErrIsDirectory, "inode %d is not a regular file", ino)
	}
	return in, nil
}

func validateRmdir(r kv.Reader, b *event.DirectoryRemoved) error {
	in, err := mustVisible(r, b.Parent, b.Name)
	if err != nil {
		return err
	}
	if in.Kind != KindDir {
		return p.Errorf(p.ErrNotDirectory, "%q", b.Name)
	}
	empty, err := isEmptyDir(r, in.Ino)
	if err == nil && !empty {
		return p.Errorf(p.ErrNotEmpty, "%q", b.Name)
	}
	return err
}

func validateRename(r kv.Reader, b *event.EntryRenamed) error {
	src, err := mustVisible(r, b.SourceParent, b.SourceName)
	if err != nil {
		return err
	}
	if _, err := mustDir(r, b.TargetParent); err != nil {
		return err
	}
	if err := ValidName(b.TargetName); err != nil {
		return err
	}
	if src.Kind == KindDir {
		inside, err := isAncestor(r, src.Ino, b.TargetParent)
		if err != nil {
			return err
		}
		if inside {
			return p.Errorf(p.ErrLoop, "%q", b.SourceName)
		}
	}
	d, exists, err := Lookup(r, b.TargetParent, b.TargetName)
	if err != nil || !exists || d.Ino == src.Ino {
		return err
	}
	switch {
	case src.Kind == KindDir && d.Kind != KindDir:
		return p.Errorf(p.ErrNotDirectory, "%q", b.TargetName)
	case src.Kind != KindDir && d.Kind == KindDir:
		return p.Errorf(p.ErrIsDirectory, "%q", b.TargetName)
	case d.Kind == KindDir:
		empty, err := isEmptyDir(r, d.Ino)
		if err == nil && !empty {
			return p.Errorf(p.ErrNotEmpty, "%q", b.TargetName)
		}
		return err
	}
	return nil
}

func validateWrite(r kv.Reader, b *event.FileWritten) error {
	in, err := mustFile(r, b.Ino)
	if err != nil {
		return err
	}
	if len(b.Writes) == 0 || (b.Append && len(b.Writes) != 1) {
		return p.Errorf(p.ErrInvalid, "%d writes (append: %v)", len(b.Writes), b.Append)
	}
	c, err := FileContent(r, in)
	if err != nil {
		return err
	}
	for _, wr := range b.Writes {
		if wr.Offset < 0 || (len(wr.Inline) > 0) == (len(wr.Extents) > 0) {
			return p.Errorf(p.ErrInvalid, "a write needs an offset and either inline bytes or extents")
		}
		off := wr.Offset
		if b.Append {
			off = c.Size
		}
		if len(wr.Inline) > 0 {
			if len(c.Segments) > 0 || off+int64(len(wr.Inline)) > MaxInlineBytes {
				return p.Errorf(p.ErrInvalid, "inline write into segmented or oversized content")
			}
			c = writeInline(c, off, wr.Inline)
			continue
		}
		if err := validExtents(wr.Extents); err != nil {
			return err
		}
		if len(c.Inline) > 0 && (off != 0 || extentsLen(wr.Extents) < int64(len(c.Inline))) {
			return p.Errorf(p.ErrInvalid, "an extent write into inline content must cover it")
		}
		// From here on the content is segmented; only its size and that
		// fact matter to the checks of later writes.
		c = event.Content{Size: max(c.Size, off+extentsLen(wr.Extents)), Segments: []event.SegmentRef{{}}}
	}
	return nil
}

func applyPosix(w kv.Writer, env *event.Envelope, body event.Body) (bool, error) {
	switch b := body.(type) {
	case *event.FileCreated:
		return true, applyCreate(w, env, b.NodeCreated, KindFile, "")
	case *event.DirectoryCreated:
		return true, applyCreate(w, env, b.NodeCreated, KindDir, "")
	case *event.SymlinkCreated:
		return true, applyCreate(w, env, b.NodeCreated, KindSymlink, b.Target)
	case *event.HardLinkCreated:
		return true, applyLink(w, b)
	case *event.EntryUnlinked:
		in, err := mustVisible(w, b.Parent, b.Name)
		p.Must(err == nil, "unlink of missing name: %v", err)
		return true, unlinkName(w, b.Parent, b.Name, in, b.MtimeNs)
	case *event.DirectoryRemoved:
		in, err := mustVisible(w, b.Parent, b.Name)
		p.Must(err == nil, "rmdir of missing name: %v", err)
		return true, removeDir(w, b.Parent, in, b.MtimeNs)
	case *event.EntryRenamed:
		return true, applyRename(w, b)
	case *event.AttrsChanged:
		return true, applyAttrs(w, b)
	case *event.FileTruncated:
		return true, changeContent(w, env, b.Ino, b.MtimeNs, func(sg *segmenter, c event.Content) (event.Content, error) {
			return truncateContent(w, sg, c, b.Size)
		})
	case *event.FileWritten:
		return true, changeContent(w, env, b.Ino, b.MtimeNs, func(sg *segmenter, c event.Content) (event.Content, error) {
			return applyWrites(w, sg, c, b)
		})
	case *event.XattrSet:
		return true, w.Set(xattrKey(b.Ino, b.Name), b.Value)
	case *event.XattrRemoved:
		return true, w.Delete(xattrKey(b.Ino, b.Name))
	}
	return false, nil
}

func applyCreate(w kv.Writer, env *event.Envelope, n event.NodeCreated, kind uint8, target string) error {
	if d, exists, err := Lookup(w, n.Parent, n.Name); err != nil {
		return err
	} else if exists {
		// Reviving a hidden file: a new empty current version.
		in, err := GetInode(w, d.Ino)
		p.Must(err == nil && in.Hidden, "create over a visible name")
		if err := addVersion(w, &in, Version{ID: NullVersion, Seq: env.Seq, MtimeNs: n.MtimeNs}); err != nil {
			return err
		}
		in.Posix, in.MtimeNs, in.CtimeNs = n.Posix, n.MtimeNs, n.MtimeNs
		return putInode(w, &in)
	}
	in := Inode{Ino: DeriveIno(env.ID, 0), Kind: kind, Posix: n.Posix, Nlink: 1,
		AtimeNs: n.MtimeNs, MtimeNs: n.MtimeNs, CtimeNs: n.MtimeNs, Target: target}
	if kind == KindDir {
		in.Nlink = 2
	}
	if err := newNode(w, n.Parent, n.Name, &in); err != nil {
		return err
	}
	if kind != KindFile {
		return nil
	}
	in.Nlink = 1
	if err := addVersion(w, &in, Version{ID: NullVersion, Seq: env.Seq, MtimeNs: n.MtimeNs}); err != nil {
		return err
	}
	return putInode(w, &in)
}

func applyLink(w kv.Writer, b *event.HardLinkCreated) error {
	in, err := GetInode(w, b.Ino)
	p.Must(err == nil, "link to missing inode: %v", err)
	in.Nlink++
	in.CtimeNs = b.MtimeNs
	if err := putInode(w, &in); err != nil {
		return err
	}
	if err := putDentry(w, b.Parent, b.Name, Dentry{Ino: in.Ino, Kind: in.Kind}); err != nil {
		return err
	}
	return touchDir(w, b.Parent, b.MtimeNs)
}

func removeDir(w kv.Writer, parent uint64, in Inode, ns int64) error {
	if err := deleteDentry(w, parent, in.Name, KindDir); err != nil {
		return err
	}
	if err := dropInode(w, in); err != nil {
		return err
	}
	return touchDir(w, parent, ns)
}

func applyRename(w kv.Writer, b *event.EntryRenamed) error {
	src, err := mustVisible(w, b.SourceParent, b.SourceName)
	p.Must(err == nil, "rename of missing name: %v", err)
	if d, exists, err := Lookup(w, b.TargetParent, b.TargetName); err != nil {
		return err
	} else if exists {
		if d.Ino == src.Ino {
			return nil // POSIX: renaming onto another name of the same file does nothing
		}
		target, err := GetInode(w, d.Ino)
		p.Must(err == nil, "target entry without inode: %v", err)
		if target.Kind == KindDir {
			err = removeDir(w, b.TargetParent, target, b.MtimeNs)
		} else {
			err = unlinkName(w, b.TargetParent, b.TargetName, target, b.MtimeNs)
		}
		if err != nil {
			return err
		}
	}
	if err := deleteDentry(w, b.SourceParent, b.SourceName, src.Kind); err != nil {
		return err
	}
	if err := putDentry(w, b.TargetParent, b.TargetName, Dentry{Ino: src.Ino, Kind: src.Kind}); err != nil {
		return err
	}
	src, _ = GetInode(w, src.Ino)
	src.CtimeNs = b.MtimeNs
	if src.Kind == KindDir {
		src.Parent, src.Name = b.TargetParent, b.TargetName
	}
	if err := putInode(w, &src); err != nil {
		return err
	}
	if err := touchDir(w, b.SourceParent, b.MtimeNs); err != nil {
		return err
	}
	return touchDir(w, b.TargetParent, b.MtimeNs)
}

func applyAttrs(w kv.Writer, b *event.AttrsChanged) error {
	in, err := GetInode(w, b.Ino)
	p.Must(err == nil, "attrs of missing inode: %v", err)
	if b.Mode != nil {
		in.Posix.Mode = in.Posix.Mode&^0o7777 | *b.Mode&0o7777
	}
	if b.Uid != nil {
		in.Posix.Uid = *b.Uid
	}
	if b.Gid != nil {
		in.Posix.Gid = *b.Gid
	}
	if b.AtimeNs != nil {
		in.AtimeNs = *b.AtimeNs
	}
	if b.MtimeNs != nil {
		in.MtimeNs = *b.MtimeNs
	}
	in.CtimeNs = b.CtimeNs
	return putInode(w, &in)
}

// changeContent rewrites the current version's content of a file in place.
func changeContent(w kv.Writer, env *event.Envelope, ino uint64, ns int64, change func(*segmenter, event.Content) (event.Content, error)) error {
	in, err := GetInode(w, ino)
	p.Must(err == nil, "content change of missing inode: %v", err)
	v, ok, err := CurrentVersion(w, in)
	if err != nil {
		return err
	}
	if !ok {
		v = Version{ID: NullVersion, Seq: env.Seq}
	}
	sg := &segmenter{w: w, id: env.ID}
	next, err := change(sg, v.Content)
	if err != nil {
		return err
	}
	v.Content, v.MtimeNs = next, ns
	// The bytes are no longer what an S3 PUT stored, so the ETag cannot be
	// their MD5. A tag with a dash (as multipart ETags have) tells S3
	// clients not to check it as one; it changes with every write.
	v.Attrs.ETag = fmt.Sprintf(`"%x-1"`, env.ID[:])
	if !ok {
		if err := addVersion(w, &in, v); err != nil {
			return err
		}
	} else if err := p.Put(w, versionKey(in.Ino, v.Seq), &v); err != nil {
		return err
	}
	in.MtimeNs, in.CtimeNs = ns, ns
	return putInode(w, &in)
}

func applyWrites(w kv.Writer, sg *segmenter, c event.Content, b *event.FileWritten) (event.Content, error) {
	for _, wr := range b.Writes {
		off := wr.Offset
		if b.Append {
			off = c.Size
		}
		if len(wr.Inline) > 0 {
			c = writeInline(c, off, wr.Inline)
			continue
		}
		if len(c.Inline) > 0 {
			c = event.Content{Size: c.Size}
		}
		var err error
		if c, err = rewriteRange(w, sg, c, off, wr.Extents); err != nil {
			return c, err
		}
	}
	return c, nil
}
