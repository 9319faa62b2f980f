// Package namespace is the projection of a namespace shard: one tree that
// serves both S3 (key-addressed) and POSIX (inode-addressed) access. Key
// "a/b/c" is file "c" in directory "a/b".
//
// Model:
//   - Directories and files are inodes; names are directory entries keyed
//     by (parent inode, sort name). A directory's sort name is its name
//     plus "/", a file's is its name, so walking the tree depth-first in
//     key order visits full S3 keys in lexicographic order.
//   - A directory created by an S3 PUT of a deeper key is implicit: it
//     disappears when an S3 delete leaves it empty. A directory created by
//     mkdir or by an S3 "folder" key ("a/b/") is explicit: it lists as the
//     zero-byte object "a/b/".
//   - A file's content lives in version records; the inode points at the
//     current one. Unversioned namespaces keep one version ("null").
//     POSIX writes change the current version in place; only S3 writes
//     create versions.
//   - Content is inline bytes or a list of segments; a segment is an
//     immutable run of at most MaxExtentsPerSegment extents shared by every
//     version or upload part that references it. Segments count their
//     referrers; chunk reference counts (per chunk, this shard's share of
//     the total) change only when segments are created or dropped.
//
// Key space (under the shard's projection prefix):
//
//	m                               Meta
//	i/<ino>                         Inode
//	d/<parent ino><sort name>       Dentry
//	v/<ino><^seq>                   Version (newest first)
//	V/<ino><version id>             seq of that version
//	s/<segment id>                  SegmentRecord
//	S/<staged ns><segment id>       staged segment index
//	r/<chunk id>                    reference count (u64)
//	x/<ino><name>                   xattr value
//	u/<upload id>                   Upload
//	U/<key>\x00<seq><upload id>     upload listing index
//	p/<upload id>\x00<part u32>     Part
//
// namespace must not import anything but log/event, log/kv and
// projections.
package namespace

import (
	"crypto/sha256"
	"encoding/binary"

	"github.com/annal-storage/annal/log/event"
	p "github.com/annal-storage/annal/projections"
)

// Inode kinds.
const (
	KindFile    uint8 = 1
	KindDir     uint8 = 2
	KindSymlink uint8 = 3
)

const (
	// RootIno is the root directory's inode number.
	RootIno uint64 = 1
	// MaxExtentsPerSegment bounds a segment (and so any record or event
	// carrying one).
	MaxExtentsPerSegment = 1024
	// MaxInlineBytes bounds inline content (the inline threshold's ceiling).
	MaxInlineBytes = 64 << 10
	// NullVersion is the version id of unversioned writes.
	NullVersion = "null"
	// VersioningEnabled and VersioningSuspended are the bucket states;
	// the empty string is "never enabled".
	VersioningEnabled   = "Enabled"
	VersioningSuspended = "Suspended"
	// MaxKeyBytes is S3's key length limit.
	MaxKeyBytes = 1024
)

// Meta describes the namespace.
type Meta struct {
	Name       string `msgpack:"n"`
	Versioning string `msgpack:"v,omitempty"`
	Sealed     bool   `msgpack:"s,omitempty"`
	CreatedNs  int64  `msgpack:"at"`
	// Shredding: the tenant is being crypto-shredded; Purged: the shard's
	// state was deleted (ADR-014). A purged Meta is all that remains.
	Shredding bool `msgpack:"sh,omitempty"`
	Purged    bool `msgpack:"pg,omitempty"`
}

// Inode is a file, directory or symlink.
type Inode struct {
	Ino  uint64 `msgpack:"i"`
	Kind uint8  `msgpack:"k"`
	// Parent and Name are kept for directories only (a directory has
	// exactly one name); files may have several (hard links).
	Parent   uint64           `msgpack:"p,omitempty"`
	Name     string           `msgpack:"n,omitempty"`
	Posix    event.PosixAttrs `msgpack:"x"`
	Nlink    uint32           `msgpack:"l"`
	AtimeNs  int64            `msgpack:"a"`
	MtimeNs  int64            `msgpack:"m"`
	CtimeNs  int64            `msgpack:"c"`
	Target   string           `msgpack:"t,omitempty"`
	Implicit bool             `msgpack:"im,omitempty"`
	// Cur is the seq of the current version record, 0 when there is none
	// (directories without folder attributes, symlinks).
	Cur uint64 `msgpack:"v,omitempty"`
	// Hidden: the current version is a delete marker, so the name is
	// absent to S3 GET and to POSIX lookups.
	Hidden bool `msgpack:"h,omitempty"`
}

// Dentry is a directory entry.
type Dentry struct {
	Ino  uint64 `msgpack:"i"`
	Kind uint8  `msgpack:"k"`
}

// Version is one version of a file's (or folder object's) content.
type Version struct {
	ID           string            `msgpack:"i"`
	Seq          uint64            `msgpack:"q"`
	Content      event.Content     `msgpack:"c"`
	Attrs        event.ObjectAttrs `msgpack:"a"`
	MtimeNs      int64             `msgpack:"m"`
	DeleteMarker bool              `msgpack:"d,omitempty"`
}

// SegmentRecord is a stored segment and its number of referrers.
type SegmentRecord struct {
	Extents  []event.Extent `msgpack:"x"`
	Refs     uint32         `msgpack:"r"`
	Staged   bool           `msgpack:"s,omitempty"`
	StagedNs int64          `msgpack:"at,omitempty"`
}

// Upload is a multipart upload in progress.
type Upload struct {
	ID          string            `msgpack:"i"`
	Key         string            `msgpack:"k"`
	Attrs       event.ObjectAttrs `msgpack:"a"`
	Posix       event.PosixAttrs  `msgpack:"p"`
	InitiatedNs int64             `msgpack:"at"`
	Seq         uint64            `msgpack:"q"`
}

// Part is one uploaded part.
type Part struct {
	Number   int32              `msgpack:"n"`
	ETag     string             `msgpack:"e"`
	Size     int64              `msgpack:"s"`
	Segments []event.SegmentRef `msgpack:"g,omitempty"`
	MtimeNs  int64              `msgpack:"at"`
}

var metaKey = []byte("m")

func inodeKey(ino uint64) []byte { return p.Key([]byte("i/"), p.U64(ino)) }
func dirPrefix(parent uint64) []byte {
	return p.Key([]byte("d/"), p.U64(parent))
}
func dentryKey(parent uint64, sortName string) []byte {
	return p.Key(dirPrefix(parent), []byte(sortName))
}
func versionPrefix(ino uint64) []byte { return p.Key([]byte("v/"), p.U64(ino)) }
func versionKey(ino, seq uint64) []byte {
	return p.Key(versionPrefix(ino), p.U64(^seq))
}
func versionIDPrefix(ino uint64) []byte { return p.Key([]byte("V/"), p.U64(ino)) }
func versionIDKey(ino uint64, id string) []byte {
	return p.Key(versionIDPrefix(ino), []byte(id))
}
func segmentKey(id event.SegmentID) []byte { return p.Key([]byte("s/"), id[:]) }
func stagedKey(ns int64, id event.SegmentID) []byte {
	return p.Key([]byte("S/"), p.U64(uint64(ns)), id[:])
}
func refKey(c event.ChunkID) []byte        { return p.Key([]byte("r/"), c[:]) }
func xattrPrefix(ino uint64) []byte        { return p.Key([]byte("x/"), p.U64(ino)) }
func xattrKey(ino uint64, n string) []byte { return p.Key(xattrPrefix(ino), []byte(n)) }
func uploadKey(id string) []byte           { return p.Key([]byte("u/"), []byte(id)) }
func uploadIndexKey(key string, seq uint64, id string) []byte {
	return p.Key([]byte("U/"), []byte(key), []byte{0}, p.U64(seq), []byte(id))
}
func partPrefix(upload string) []byte { return p.Key([]byte("p/"), []byte(upload), []byte{0}) }
func partKey(upload string, n int32) []byte {
	return p.Key(partPrefix(upload), binary.BigEndian.AppendUint32(nil, uint32(n)))
}

// sortName is a dentry's name in key order: directories sort as "name/".
func sortName(name string, kind uint8) string {
	if kind == KindDir {
		return name + "/"
	}
	return name
}

// derive makes a deterministic id from an event id, a purpose and a
// counter: new inode numbers and segment ids are functions of the event
// that creates them, so every replica and every replay agrees.
func derive(id event.ID, purpose string, n int) [32]byte {
	h := sha256.New()
	h.Write(id[:])
	h.Write([]byte(purpose))
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(n)))
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// DeriveIno is the inode number the n-th new inode of event id gets.
func DeriveIno(id event.ID, n int) uint64 {
	d := derive(id, "ino", n)
	return binary.BigEndian.Uint64(d[:8])>>2 | 2
}

// DeriveSegmentID is the id of the n-th segment event id creates by
// rewriting content.
func DeriveSegmentID(id event.ID, n int) event.SegmentID {
	d := derive(id, "seg", n)
	var s event.SegmentID
	copy(s[:], d[:16])
	return s
}
