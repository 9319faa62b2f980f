package namespace

import (
	"strings"

	"github.com/annal-storage/annal/log/kv"
	p "github.com/annal-storage/annal/projections"
)

// WalkOptions selects the keys Walk visits.
type WalkOptions struct {
	// Prefix: only keys that start with it.
	Prefix string
	// After: only keys greater than it.
	After string
	// Delimit rolls every directory below the prefix level up into one
	// common prefix ("a/b/") instead of walking it (S3 delimiter "/").
	Delimit bool
	// IncludeHidden visits files whose current version is a delete marker.
	IncludeHidden bool
}

// WalkEntry is one visited key.
type WalkEntry struct {
	Key          string
	Inode        Inode
	CommonPrefix bool
}

// Walk visits keys in lexicographic order: visible files, explicit
// directories as "dir/" keys, and (with Delimit) common prefixes. fn
// returns false to stop.
func Walk(r kv.Reader, o WalkOptions, fn func(WalkEntry) (bool, error)) error {
	_, err := walkDir(r, o, RootIno, "", fn)
	return err
}

// walkDir walks directory ino whose key prefix is path; it returns false
// when fn asked to stop.
func walkDir(r kv.Reader, o WalkOptions, ino uint64, path string, fn func(WalkEntry) (bool, error)) (bool, error) {
	pre := dirPrefix(ino)
	it := r.NewIter(pre, kv.PrefixEnd(pre))
	defer it.Close()
	ok := it.First()
	if seek := seekName(o, path); seek != "" {
		ok = it.SeekGE(dentryKey(ino, seek))
	}
	for ; ok; ok = it.Next() {
		var d Dentry
		if err := p.Decode(it.Value(), &d); err != nil {
			return false, err
		}
		full := path + string(it.Key()[len(pre):])
		if !strings.HasPrefix(full, o.Prefix) && !strings.HasPrefix(o.Prefix, full) {
			if full > o.Prefix {
				return true, nil // past every key with the prefix at this level
			}
			continue
		}
		cont, err := visit(r, o, d, full, fn)
		if err != nil || !cont {
			return cont, err
		}
	}
	return true, nil
}

// seekName is the smallest sort name at this level that can hold a key
// with the prefix and after the marker.
func seekName(o WalkOptions, path string) string {
	seek := ""
	for _, bound := range []string{o.Prefix, o.After} {
		if strings.HasPrefix(bound, path) && len(bound) > len(path) {
			rest := bound[len(path):]
			if i := strings.IndexByte(rest, '/'); i >= 0 {
				rest = rest[:i]
			}
			seek = max(seek, rest)
		}
	}
	return seek
}

func visit(r kv.Reader, o WalkOptions, d Dentry, full string, fn func(WalkEntry) (bool, error)) (bool, error) {
	in, err := GetInode(r, d.Ino)
	if err != nil {
		return false, err
	}
	if d.Kind != KindDir {
		if full <= o.After || !strings.HasPrefix(full, o.Prefix) || (in.Hidden && !o.IncludeHidden) {
			return true, nil
		}
		return fn(WalkEntry{Key: full, Inode: in})
	}
	if o.Delimit && len(full) > len(o.Prefix) {
		if full <= o.After || strings.HasPrefix(o.After, full) {
			return true, nil
		}
		return fn(WalkEntry{Key: full, Inode: in, CommonPrefix: true})
	}
	if !in.Implicit && full > o.After && strings.HasPrefix(full, o.Prefix) {
		if cont, err := fn(WalkEntry{Key: full, Inode: in}); err != nil || !cont {
			return cont, err
		}
	}
	if full <= o.After && !strings.HasPrefix(o.After, full) {
		return true, nil
	}
	return walkDir(r, o, in.Ino, full, fn)
}

// DirEntry is one visible entry of a directory.
type DirEntry struct {
	Name string
	Ino  uint64
	Kind uint8
}

// ReadDir lists the visible entries of a directory in name-key order,
// after the entry whose sort key is afterSortName, at most limit (0 = all).
func ReadDir(r kv.Reader, dir uint64, afterSortName string, limit int) ([]DirEntry, error) {
	pre := dirPrefix(dir)
	it := r.NewIter(pre, kv.PrefixEnd(pre))
	defer it.Close()
	ok := it.First()
	if afterSortName != "" {
		ok = it.SeekGE(dentryKey(dir, afterSortName+"\x00"))
	}
	var out []DirEntry
	for ; ok && (limit == 0 || len(out) < limit); ok = it.Next() {
		var d Dentry
		if err := p.Decode(it.Value(), &d); err != nil {
			return nil, err
		}
		in, err := GetInode(r, d.Ino)
		if err != nil {
			return nil, err
		}
		if in.Hidden {
			continue
		}
		name := strings.TrimSuffix(string(it.Key()[len(pre):]), "/")
		out = append(out, DirEntry{Name: name, Ino: d.Ino, Kind: d.Kind})
	}
	return out, nil
}

// SortName is the key-order name of an entry (directories end in "/").
func SortName(name string, kind uint8) string { return sortName(name, kind) }

// Xattrs lists an inode's extended attribute names in order.
func Xattrs(r kv.Reader, ino uint64) ([]string, error) {
	var out []string
	pre := xattrPrefix(ino)
	err := kv.Scan(r, pre, kv.PrefixEnd(pre), func(k, _ []byte) error {
		out = append(out, string(k[len(pre):]))
		return nil
	})
	return out, err
}

// Xattr returns one extended attribute.
func Xattr(r kv.Reader, ino uint64, name string) ([]byte, bool, error) {
	return r.Get(xattrKey(ino, name))
}

// ChunkRefTotals visits every chunk this shard references with its count,
// in chunk id order.
func ChunkRefTotals(r kv.Reader, fn func(chunk [32]byte, refs uint64) error) error {
	return kv.Scan(r, []byte("r/"), kv.PrefixEnd([]byte("r/")), func(k, v []byte) error {
		var c [32]byte
		copy(c[:], k[2:])
		return fn(c, kv.Uint64(v))
	})
}

// StagedBefore lists staged segments staged before ns (for expiry).
func StagedBefore(r kv.Reader, ns int64, limit int) ([][16]byte, error) {
	var out [][16]byte
	err := kv.Scan(r, []byte("S/"), p.Key([]byte("S/"), p.U64(uint64(ns))), func(k, _ []byte) error {
		if limit > 0 && len(out) >= limit {
			return nil
		}
		var id [16]byte
		copy(id[:], k[10:])
		out = append(out, id)
		return nil
	})
	return out, err
}
