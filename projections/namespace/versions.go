package namespace

import (
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	p "github.com/annal-storage/annal/projections"
)

// Versions lists an inode's versions, newest first.
func Versions(r kv.Reader, ino uint64) ([]Version, error) {
	var out []Version
	pre := versionPrefix(ino)
	err := kv.Scan(r, pre, kv.PrefixEnd(pre), func(_, v []byte) error {
		var ver Version
		if err := p.Decode(v, &ver); err != nil {
			return err
		}
		out = append(out, ver)
		return nil
	})
	return out, err
}

// CurrentVersion returns the inode's current version, if it has one.
func CurrentVersion(r kv.Reader, in Inode) (Version, bool, error) {
	var v Version
	if in.Cur == 0 {
		return v, false, nil
	}
	ok, err := p.Get(r, versionKey(in.Ino, in.Cur), &v)
	if err == nil {
		p.Must(ok, "inode %d points at missing version %d", in.Ino, in.Cur)
	}
	return v, ok, err
}

// VersionByID finds one version of an inode by its id.
func VersionByID(r kv.Reader, ino uint64, id string) (Version, bool, error) {
	var v Version
	b, ok, err := r.Get(versionIDKey(ino, id))
	if err != nil || !ok {
		return v, false, err
	}
	ok, err = p.Get(r, versionKey(ino, kv.Uint64(b)), &v)
	return v, ok, err
}

func putVersion(w kv.Writer, ino uint64, v *Version) error {
	if err := p.Put(w, versionKey(ino, v.Seq), v); err != nil {
		return err
	}
	return w.Set(versionIDKey(ino, v.ID), p.U64(v.Seq))
}

// deleteVersion removes a version and releases its content.
func deleteVersion(w kv.Writer, ino uint64, v Version) error {
	if err := releaseContent(w, v.Content); err != nil {
		return err
	}
	if err := w.Delete(versionKey(ino, v.Seq)); err != nil {
		return err
	}
	return w.Delete(versionIDKey(ino, v.ID))
}

// addVersion makes v the inode's current version. Outside Enabled
// versioning a version is "null" and replaces the existing null version.
func addVersion(w kv.Writer, in *Inode, v Version) error {
	if v.ID == NullVersion {
		old, ok, err := VersionByID(w, in.Ino, NullVersion)
		if err != nil {
			return err
		}
		if ok {
			if err := deleteVersion(w, in.Ino, old); err != nil {
				return err
			}
		}
	}
	if err := retainContent(w, v.Content); err != nil {
		return err
	}
	if err := putVersion(w, in.Ino, &v); err != nil {
		return err
	}
	in.Cur = v.Seq
	in.Hidden = v.DeleteMarker
	return nil
}

// resetCurrent points the inode at its newest remaining version.
func resetCurrent(r kv.Reader, in *Inode) error {
	vs, err := Versions(r, in.Ino)
	if err != nil {
		return err
	}
	in.Cur, in.Hidden = 0, false
	if len(vs) > 0 {
		in.Cur, in.Hidden = vs[0].Seq, vs[0].DeleteMarker
	}
	return nil
}

// dropInode deletes an inode with all its versions and xattrs.
func dropInode(w kv.Writer, in Inode) error {
	vs, err := Versions(w, in.Ino)
	if err != nil {
		return err
	}
	for _, v := range vs {
		if err := deleteVersion(w, in.Ino, v); err != nil {
			return err
		}
	}
	pre := xattrPrefix(in.Ino)
	if err := w.DeleteRange(pre, kv.PrefixEnd(pre)); err != nil {
		return err
	}
	return w.Delete(inodeKey(in.Ino))
}

// unlinkName removes one name of a non-directory inode; the inode goes
// with its last name.
func unlinkName(w kv.Writer, parent uint64, name string, in Inode, ns int64) error {
	if err := deleteDentry(w, parent, name, in.Kind); err != nil {
		return err
	}
	if err := touchDir(w, parent, ns); err != nil {
		return err
	}
	in.Nlink--
	if in.Nlink == 0 {
		return dropInode(w, in)
	}
	in.CtimeNs = ns
	return putInode(w, &in)
}

// FileContent returns the content of a file's current version (empty for
// a file without one).
func FileContent(r kv.Reader, in Inode) (event.Content, error) {
	v, ok, err := CurrentVersion(r, in)
	if err != nil || !ok {
		return event.Content{}, err
	}
	return v.Content, nil
}
