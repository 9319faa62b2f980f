package event

// SegmentID names an immutable run of extents in a namespace shard.
type SegmentID [16]byte

// Extent maps the next Len bytes of a segment onto bytes of a chunk's
// plaintext. A zero Chunk is a hole: Len bytes that read as zeros.
type Extent struct {
	Len      int64   `msgpack:"n"`
	Chunk    ChunkID `msgpack:"c"`
	ChunkOff int64   `msgpack:"o,omitempty"`
	ChunkLen int64   `msgpack:"l,omitempty"`
	Epoch    uint32  `msgpack:"e,omitempty"`
}

// IsHole reports whether the extent is a hole.
func (x Extent) IsHole() bool { return x.Chunk == ChunkID{} }

// Segment is a run of extents, stored once and shared by every version or
// upload part that references it. Large files are lists of segments so no
// single record or event grows with the file size.
type Segment struct {
	ID      SegmentID `msgpack:"i"`
	Extents []Extent  `msgpack:"x"`
}

// Len is the number of bytes the segment covers.
func (s Segment) Len() int64 {
	var n int64
	for _, x := range s.Extents {
		n += x.Len
	}
	return n
}

// SegmentRef places a segment in a file's byte stream.
type SegmentRef struct {
	ID  SegmentID `msgpack:"i"`
	Len int64     `msgpack:"n"`
}

// Content is the byte content of one file version: inline bytes (small
// data rides in the event) or segments. Bytes between the end of the
// segments and Size read as zeros.
type Content struct {
	Size     int64        `msgpack:"s"`
	Inline   []byte       `msgpack:"i,omitempty"`
	Segments []SegmentRef `msgpack:"g,omitempty"`
}

// Pair is one name/value attribute. Events and records use sorted pair
// slices instead of maps so that encodings are deterministic.
type Pair struct {
	K string `msgpack:"k"`
	V string `msgpack:"v"`
}

// ObjectAttrs are the S3-visible attributes of an object version.
type ObjectAttrs struct {
	ContentType        string `msgpack:"ct,omitempty"`
	ContentEncoding    string `msgpack:"ce,omitempty"`
	ContentDisposition string `msgpack:"cd,omitempty"`
	ContentLanguage    string `msgpack:"cl,omitempty"`
	CacheControl       string `msgpack:"cc,omitempty"`
	Expires            string `msgpack:"ex,omitempty"`
	ETag               string `msgpack:"et,omitempty"`
	UserMeta           []Pair `msgpack:"um,omitempty"`
	Tags               []Pair `msgpack:"tg,omitempty"`
	Checksums          []Pair `msgpack:"ck,omitempty"`
}

// PosixAttrs are the POSIX ownership and mode of a new node.
type PosixAttrs struct {
	Mode uint32 `msgpack:"m"`
	Uid  uint32 `msgpack:"u"`
	Gid  uint32 `msgpack:"g"`
}
