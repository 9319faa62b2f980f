package namespace

import (
	"strings"
	"unicode/utf8"

	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	p "github.com/annal-storage/annal/projections"
)

// MaxNameBytes is the POSIX name length limit.
const MaxNameBytes = 255

// GetMeta returns the namespace meta; ErrNotFound before NamespaceOpened.
func GetMeta(r kv.Reader) (Meta, error) {
	var m Meta
	ok, err := p.Get(r, metaKey, &m)
	if err != nil {
		return m, err
	}
	if !ok {
		return m, p.Errorf(p.ErrNotFound, "namespace not opened")
	}
	return m, nil
}

// GetInode returns an inode or ErrNotFound.
func GetInode(r kv.Reader, ino uint64) (Inode, error) {
	var in Inode
	ok, err := p.Get(r, inodeKey(ino), &in)
	if err != nil {
		return in, err
	}
	if !ok {
		return in, p.Errorf(p.ErrNotFound, "inode %d", ino)
	}
	return in, nil
}

// Lookup finds the entry called name in directory parent, whatever its
// kind.
func Lookup(r kv.Reader, parent uint64, name string) (Dentry, bool, error) {
	var d Dentry
	for _, sn := range []string{name, name + "/"} {
		ok, err := p.Get(r, dentryKey(parent, sn), &d)
		if err != nil || ok {
			return d, ok, err
		}
	}
	return d, false, nil
}

// ValidName checks a POSIX name.
func ValidName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return p.Errorf(p.ErrInvalid, "name %q", name)
	case len(name) > MaxNameBytes:
		return p.Errorf(p.ErrInvalid, "name longer than %d bytes", MaxNameBytes)
	case strings.ContainsAny(name, "/\x00"):
		return p.Errorf(p.ErrInvalid, "name contains '/' or NUL")
	}
	return nil
}

// SplitKey splits an S3 key into path components. dirKey reports a
// trailing "/" (an S3 folder key). Keys that cannot name a POSIX path
// (empty components, "." or "..", NUL, invalid UTF-8, over 1024 bytes)
// are invalid.
func SplitKey(key string) (parts []string, dirKey bool, err error) {
	if key == "" || len(key) > MaxKeyBytes || !utf8.ValidString(key) {
		return nil, false, p.Errorf(p.ErrInvalid, "key must be 1..%d bytes of UTF-8", MaxKeyBytes)
	}
	dirKey = strings.HasSuffix(key, "/")
	parts = strings.Split(strings.TrimSuffix(key, "/"), "/")
	for _, c := range parts {
		if err := ValidName(c); err != nil {
			return nil, false, p.Errorf(p.ErrInvalid, "key %q: component %q cannot be a path name", key, c)
		}
	}
	return parts, dirKey, nil
}

// Resolved is where an S3 key lands in the tree.
type Resolved struct {
	// Parent is the directory that holds the final name; when Missing is
	// not empty it is the deepest existing ancestor instead.
	Parent uint64
	// Missing lists intermediate directories that do not exist yet.
	Missing []string
	Name    string
	DirKey  bool
	Entry   Dentry
	Found   bool
}

// Resolve walks an S3 key. A component that exists as a non-directory
// returns ErrParentNotDirectory; a final name whose kind disagrees with
// the key (file key, directory entry or the reverse) is reported through
// Entry and Found for the caller to judge.
func Resolve(r kv.Reader, key string) (Resolved, error) {
	parts, dirKey, err := SplitKey(key)
	if err != nil {
		return Resolved{}, err
	}
	res := Resolved{Parent: RootIno, DirKey: dirKey, Name: parts[len(parts)-1]}
	for i, c := range parts[:len(parts)-1] {
		d, ok, err := Lookup(r, res.Parent, c)
		if err != nil {
			return res, err
		}
		if !ok {
			res.Missing = parts[i : len(parts)-1]
			return res, nil
		}
		if d.Kind != KindDir {
			return res, p.Errorf(p.ErrParentNotDirectory, "%q", strings.Join(parts[:i+1], "/"))
		}
		res.Parent = d.Ino
	}
	res.Entry, res.Found, err = Lookup(r, res.Parent, res.Name)
	return res, err
}

// isEmptyDir reports whether a directory has no entries.
func isEmptyDir(r kv.Reader, ino uint64) (bool, error) {
	pre := dirPrefix(ino)
	it := r.NewIter(pre, kv.PrefixEnd(pre))
	empty := !it.First()
	return empty, it.Close()
}

// isAncestor reports whether dir a is dir b or one of b's ancestors.
func isAncestor(r kv.Reader, a, b uint64) (bool, error) {
	for cur := b; ; {
		if cur == a {
			return true, nil
		}
		if cur == RootIno {
			return false, nil
		}
		in, err := GetInode(r, cur)
		if err != nil {
			return false, err
		}
		cur = in.Parent
	}
}

func putInode(w kv.Writer, in *Inode) error { return p.Put(w, inodeKey(in.Ino), in) }

func putDentry(w kv.Writer, parent uint64, name string, d Dentry) error {
	return p.Put(w, dentryKey(parent, sortName(name, d.Kind)), &d)
}

func deleteDentry(w kv.Writer, parent uint64, name string, kind uint8) error {
	return w.Delete(dentryKey(parent, sortName(name, kind)))
}

// touchDir updates a directory's mtime and ctime.
func touchDir(w kv.Writer, ino uint64, ns int64) error {
	in, err := GetInode(w, ino)
	p.Must(err == nil, "touch missing directory %d: %v", ino, err)
	in.MtimeNs, in.CtimeNs = ns, ns
	return putInode(w, &in)
}

// newNode creates an inode and its entry in parent; for a directory it
// records the parent and name in *in.
func newNode(w kv.Writer, parent uint64, name string, in *Inode) error {
	if _, err := GetInode(w, in.Ino); err == nil {
		panic("namespace: derived inode number collides with a live inode")
	}
	if in.Kind == KindDir {
		in.Parent, in.Name = parent, name
	}
	if err := putInode(w, in); err != nil {
		return err
	}
	if err := putDentry(w, parent, name, Dentry{Ino: in.Ino, Kind: in.Kind}); err != nil {
		return err
	}
	return touchDir(w, parent, in.MtimeNs)
}

// mkdirs creates the implicit directories of a resolved key, returning the
// directory that holds the final name.
func mkdirs(w kv.Writer, env *event.Envelope, res Resolved, posix event.PosixAttrs, ns int64) (uint64, int, error) {
	parent := res.Parent
	for i, name := range res.Missing {
		ino := DeriveIno(env.ID, i)
		dir := Inode{Ino: ino, Kind: KindDir, Posix: event.PosixAttrs{Mode: dirMode(posix.Mode), Uid: posix.Uid, Gid: posix.Gid},
			Nlink: 2, AtimeNs: ns, MtimeNs: ns, CtimeNs: ns, Implicit: true}
		if err := newNode(w, parent, name, &dir); err != nil {
			return 0, 0, err
		}
		parent = ino
	}
	return parent, len(res.Missing), nil
}

// dirMode derives a directory mode from a file mode: execute bits where
// read bits are set.
func dirMode(fileMode uint32) uint32 {
	perm := fileMode & 0o777
	if perm == 0 {
		perm = 0o644
	}
	return 0o040000 | perm | (perm&0o444)>>2
}

// removeEmptyImplicit removes dir and then its implicit ancestors while
// they are implicit and empty (S3 semantics: a prefix exists only while
// keys under it do).
func removeEmptyImplicit(w kv.Writer, dir uint64, ns int64) error {
	for dir != RootIno {
		in, err := GetInode(w, dir)
		p.Must(err == nil, "cascade: missing dir %d", dir)
		empty, err := isEmptyDir(w, dir)
		if err != nil || !empty || !in.Implicit || in.Cur != 0 {
			return err
		}
		parent := in.Parent
		if err := deleteDentry(w, parent, in.Name, KindDir); err != nil {
			return err
		}
		if err := dropInode(w, in); err != nil {
			return err
		}
		if err := touchDir(w, parent, ns); err != nil {
			return err
		}
		dir = parent
	}
	return nil
}
