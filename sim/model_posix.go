package sim

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/annal-storage/annal/projections/namespace"
)

// The POSIX model: one whole namespace (every name, inode and file
// content), since renames and hard links span names. Mutations carry the
// inode numbers and names their events carry; their preconditions mirror
// the namespace projection's validation, so an acknowledged mutation must
// find them true, and an ambiguous one that finds them false had no
// effect (apply rejected it).

type pxContent struct {
	data      string // logical bytes
	hash      string // contentHash of data
	inlineLen int    // bytes held inline
	segmented bool   // held in segments
}

func newContent(data string, inlineLen int, segmented bool) pxContent {
	return pxContent{data: data, hash: contentHash([]byte(data)), inlineLen: inlineLen, segmented: segmented}
}

type pxInode struct {
	dir     bool
	symlink bool
	nlink   int
	parent  uint64 // directories
	content pxContent
	// xattrs is "name=value" pairs, sorted; copied on change.
	xattrs []string
}

type pxName struct {
	parent uint64
	name   string
}

type posixState struct {
	names  map[pxName]uint64
	inodes map[uint64]pxInode
}

// Inputs.
type (
	pxCreate struct {
		Parent  uint64
		Name    string
		Ino     uint64
		Dir     bool
		Symlink bool
	}
	// pxXattr sets (Remove false) or removes one extended attribute.
	pxXattr struct {
		Ino    uint64
		Name   string
		Value  string
		Remove bool
	}
	// pxChmod changes attributes the model does not observe; it needs
	// the inode to exist.
	pxChmod struct{ Ino uint64 }
	// pxXattrs lists an inode's extended attributes.
	pxXattrs struct{ Ino uint64 }
	pxLink   struct {
		Ino    uint64
		Parent uint64
		Name   string
	}
	pxUnlink struct {
		Parent uint64
		Name   string
		Dir    bool // DirectoryRemoved
	}
	pxRename struct {
		SrcParent uint64
		SrcName   string
		DstParent uint64
		DstName   string
	}
	pxTruncate struct {
		Ino  uint64
		Size int64
	}
	pxWrite struct {
		Ino    uint64
		Off    int64
		Data   string
		Inline bool
		Append bool
	}
	// pxLookup resolves a path from the root.
	pxLookup struct{ Path string }
	// pxRead reads a file's content.
	pxRead struct{ Ino uint64 }
	// pxReaddir lists a directory.
	pxReaddir struct{ Ino uint64 }
)

// pxLookupOut is a resolved path: an inode and whether it is a
// directory, or the error kind.
type pxLookupOut struct {
	Ino uint64
	Dir bool
	Err string
}

// pxReadOut is a file's content hash, or absence.
type pxReadOut struct {
	Exists bool
	Hash   string
}

type posixModel struct{}

func (posixModel) init() any {
	return posixState{names: map[pxName]uint64{}, inodes: map[uint64]pxInode{namespace.RootIno: {dir: true, nlink: 2}}}
}

func (posixModel) key(state any) string {
	s := state.(posixState)
	var sb strings.Builder
	names := slices.SortedFunc(maps.Keys(s.names), func(a, b pxName) int {
		if a.parent != b.parent {
			return cmpU64(a.parent, b.parent)
		}
		return strings.Compare(a.name, b.name)
	})
	for _, n := range names {
		fmt.Fprintf(&sb, "%d/%s=%d;", n.parent, n.name, s.names[n])
	}
	for _, ino := range slices.Sorted(maps.Keys(s.inodes)) {
		in := s.inodes[ino]
		fmt.Fprintf(&sb, "%d:%v:%v:%d:%d:%d:%v:%s:%q;", ino, in.dir, in.symlink, in.nlink, in.parent, in.content.inlineLen, in.content.segmented, in.content.hash, in.xattrs)
	}
	return sb.String()
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s posixState) clone() posixState {
	return posixState{names: maps.Clone(s.names), inodes: maps.Clone(s.inodes)}
}

func (s posixState) isDir(ino uint64) bool { in, ok := s.inodes[ino]; return ok && in.dir }

func (s posixState) isFile(ino uint64) bool {
	in, ok := s.inodes[ino]
	return ok && !in.dir && !in.symlink
}

func (s posixState) empty(dir uint64) bool {
	for n := range s.names {
		if n.parent == dir {
			return false
		}
	}
	return true
}

// free: parent is a directory and name is valid and unused.
func (s posixState) free(parent uint64, name string) bool {
	_, taken := s.names[pxName{parent, name}]
	return s.isDir(parent) && namespace.ValidName(name) == nil && !taken
}

func (posixModel) step(state any, o *op) (bool, any) {
	s := state.(posixState)
	if isPosixRead(o.in) {
		if o.ambiguous() {
			return true, s
		}
		return s.observe(o.in) == fmt.Sprint(o.out), s
	}
	next, ok := s.mutate(o.in)
	if !ok {
		return o.ambiguous(), s
	}
	return true, next
}

func isPosixRead(in any) bool {
	switch in.(type) {
	case pxLookup, pxRead, pxReaddir, pxXattrs:
		return true
	}
	return false
}

// observe renders what a read sees, in the form outputs are compared.
func (s posixState) observe(in any) string {
	switch in := in.(type) {
	case pxLookup:
		return fmt.Sprint(s.lookup(in.Path))
	case pxRead:
		if !s.isFile(in.Ino) {
			return fmt.Sprint(pxReadOut{})
		}
		return fmt.Sprint(pxReadOut{Exists: true, Hash: s.inodes[in.Ino].content.hash})
	case pxXattrs:
		f, ok := s.inodes[in.Ino]
		if !ok {
			return fmt.Sprint(notDir)
		}
		return fmt.Sprint(append([]string{}, f.xattrs...))
	case pxReaddir:
		return fmt.Sprint(s.readdir(in.Ino))
	}
	return ""
}

func (s posixState) lookup(path string) pxLookupOut {
	cur := namespace.RootIno
	for _, name := range strings.Split(path, "/") {
		if !s.isDir(cur) {
			return pxLookupOut{Err: "notdir"}
		}
		ino, ok := s.names[pxName{cur, name}]
		if !ok {
			return pxLookupOut{Err: "noent"}
		}
		cur = ino
	}
	return pxLookupOut{Ino: cur, Dir: s.isDir(cur)}
}

// notDir is what listing a missing directory shows.
var notDir = []string{"<not a directory>"}

// readdir lists a directory's names in key order (directories as
// "name/").
func (s posixState) readdir(dir uint64) []string {
	if !s.isDir(dir) {
		return notDir
	}
	out := []string{}
	for n, ino := range s.names {
		if n.parent == dir {
			out = append(out, namespace.SortName(n.name, kindOf(s.isDir(ino))))
		}
	}
	slices.Sort(out)
	return out
}

func kindOf(dir bool) uint8 {
	if dir {
		return namespace.KindDir
	}
	return namespace.KindFile
}

// mutate applies a mutation; false when its preconditions fail.
func (s posixState) mutate(in any) (posixState, bool) {
	switch in := in.(type) {
	case pxCreate:
		if !s.free(in.Parent, in.Name) {
			return s, false
		}
		s = s.clone()
		s.names[pxName{in.Parent, in.Name}] = in.Ino
		s.inodes[in.Ino] = pxInode{dir: in.Dir, symlink: in.Symlink, nlink: 1, parent: in.Parent, content: newContent("", 0, false)}
		return s, true
	case pxXattr:
		return s.xattr(in)
	case pxChmod:
		_, ok := s.inodes[in.Ino]
		return s, ok
	case pxLink:
		f, ok := s.inodes[in.Ino]
		if !ok || f.dir || !s.free(in.Parent, in.Name) {
			return s, false
		}
		s = s.clone()
		f.nlink++
		s.inodes[in.Ino] = f
		s.names[pxName{in.Parent, in.Name}] = in.Ino
		return s, true
	case pxUnlink:
		return s.unlink(in)
	case pxRename:
		return s.rename(in)
	case pxTruncate:
		f := s.inodes[in.Ino]
		if !s.isFile(in.Ino) || in.Size < 0 {
			return s, false
		}
		s = s.clone()
		f.content = f.content.truncate(in.Size)
		s.inodes[in.Ino] = f
		return s, true
	case pxWrite:
		f := s.inodes[in.Ino]
		if !s.isFile(in.Ino) {
			return s, false
		}
		c, ok := f.content.write(in)
		if !ok {
			return s, false
		}
		s = s.clone()
		f.content = c
		s.inodes[in.Ino] = f
		return s, true
	}
	return s, false
}

func (s posixState) unlink(in pxUnlink) (posixState, bool) {
	ino, ok := s.names[pxName{in.Parent, in.Name}]
	if !ok || !s.isDir(in.Parent) || s.isDir(ino) != in.Dir || (in.Dir && !s.empty(ino)) {
		return s, false
	}
	s = s.clone()
	s.drop(in.Parent, in.Name, ino)
	return s, true
}

// drop removes a name; the inode goes with its last name.
func (s posixState) drop(parent uint64, name string, ino uint64) {
	delete(s.names, pxName{parent, name})
	in := s.inodes[ino]
	in.nlink--
	if in.dir || in.nlink == 0 {
		delete(s.inodes, ino)
		return
	}
	s.inodes[ino] = in
}

// ancestorOf: dir a is dir b or one of b's ancestors.
func (s posixState) ancestorOf(a, b uint64) bool {
	for cur := b; ; {
		if cur == a {
			return true
		}
		if cur == namespace.RootIno {
			return false
		}
		in, ok := s.inodes[cur]
		if !ok {
			return false
		}
		cur = in.parent
	}
}

func (s posixState) rename(in pxRename) (posixState, bool) {
	src, ok := s.names[pxName{in.SrcParent, in.SrcName}]
	if !ok || !s.isDir(in.SrcParent) || !s.isDir(in.DstParent) || namespace.ValidName(in.DstName) != nil {
		return s, false
	}
	srcDir := s.isDir(src)
	if srcDir && s.ancestorOf(src, in.DstParent) {
		return s, false
	}
	dst, exists := s.names[pxName{in.DstParent, in.DstName}]
	if exists && dst == src {
		return s, true // another name of the same file: nothing happens
	}
	if exists {
		dstDir := s.isDir(dst)
		if srcDir != dstDir || (dstDir && !s.empty(dst)) {
			return s, false
		}
	}
	s = s.clone()
	if exists {
		s.drop(in.DstParent, in.DstName, dst)
	}
	delete(s.names, pxName{in.SrcParent, in.SrcName})
	s.names[pxName{in.DstParent, in.DstName}] = src
	if srcDir {
		d := s.inodes[src]
		d.parent = in.DstParent
		s.inodes[src] = d
	}
	return s, true
}

func (c pxContent) truncate(size int64) pxContent {
	data := resize(c.data, size)
	if c.segmented {
		return newContent(data, 0, size > 0)
	}
	return newContent(data, min(c.inlineLen, int(size)), false)
}

func resize(data string, size int64) string {
	if int64(len(data)) >= size {
		return data[:size]
	}
	return data + strings.Repeat("\x00", int(size)-len(data))
}

// write applies a FileWritten of one range; false when the projection
// would refuse it.
func (c pxContent) write(in pxWrite) (pxContent, bool) {
	off := in.Off
	if in.Append {
		off = int64(len(c.data))
	}
	end := off + int64(len(in.Data))
	if off < 0 || len(in.Data) == 0 {
		return c, false
	}
	if in.Inline {
		if c.segmented || end > namespace.MaxInlineBytes {
			return c, false
		}
		data := resize(c.data, max(int64(len(c.data)), end))
		return newContent(data[:off]+in.Data+data[end:], max(c.inlineLen, int(end)), false), true
	}
	if c.inlineLen > 0 && (off != 0 || len(in.Data) < c.inlineLen) {
		return c, false
	}
	data := resize(c.data, max(int64(len(c.data)), end))
	return newContent(data[:off]+in.Data+data[end:], 0, true), true
}

// xattr sets or removes an extended attribute.
func (s posixState) xattr(in pxXattr) (posixState, bool) {
	f, ok := s.inodes[in.Ino]
	if !ok {
		return s, false
	}
	prefix := in.Name + "="
	i := slices.IndexFunc(f.xattrs, func(x string) bool { return strings.HasPrefix(x, prefix) })
	if in.Remove && i < 0 {
		return s, false
	}
	if !in.Remove && (in.Name == "" || len(in.Name) > namespace.MaxNameBytes || len(in.Value) > namespace.MaxInlineBytes) {
		return s, false
	}
	xs := slices.Clone(f.xattrs)
	if i >= 0 {
		xs = slices.Delete(xs, i, i+1)
	}
	if !in.Remove {
		xs = append(xs, prefix+in.Value)
		slices.Sort(xs)
	}
	s = s.clone()
	f.xattrs = xs
	s.inodes[in.Ino] = f
	return s, true
}
