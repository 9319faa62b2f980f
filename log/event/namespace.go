package event

// Namespace shard events: one namespace serves S3 (key-addressed events)
// and POSIX (inode-addressed events). Codes 100–199.

// NamespaceOpened is the first event of a namespace shard; it creates the
// root directory.
type NamespaceOpened struct {
	Name      string `msgpack:"n"`
	CreatedNs int64  `msgpack:"at"`
}

// NamespaceSealed records that the namespace takes no more writes; it
// precedes NamespaceDeleted on the control shard.
type NamespaceSealed struct{}

// VersioningConfigured records the bucket versioning state: "Enabled" or
// "Suspended".
type VersioningConfigured struct {
	Status string `msgpack:"s"`
}

// ObjectPut records a new object version at Key. Missing parent
// directories are created implicitly; a Key ending in "/" is an explicit
// directory (an S3 "folder" object) and carries no content.
type ObjectPut struct {
	Key         string      `msgpack:"k"`
	VersionID   string      `msgpack:"v"`
	Content     Content     `msgpack:"c"`
	NewSegments []Segment   `msgpack:"g,omitempty"`
	Attrs       ObjectAttrs `msgpack:"a"`
	Posix       PosixAttrs  `msgpack:"p"`
	MtimeNs     int64       `msgpack:"at"`
}

// ObjectDeleted records an S3 delete. With VersionID set it removes that
// version; otherwise it removes the current one, or, when MarkerVersionID
// is set, places a delete marker with that id.
type ObjectDeleted struct {
	Key             string `msgpack:"k"`
	VersionID       string `msgpack:"v,omitempty"`
	MarkerVersionID string `msgpack:"m,omitempty"`
	MtimeNs         int64  `msgpack:"at"`
}

// ObjectTagsSet replaces the tag set of one object version.
type ObjectTagsSet struct {
	Key       string `msgpack:"k"`
	VersionID string `msgpack:"v"`
	Tags      []Pair `msgpack:"t,omitempty"`
}

// MultipartStarted records a new multipart upload.
type MultipartStarted struct {
	UploadID    string      `msgpack:"u"`
	Key         string      `msgpack:"k"`
	Attrs       ObjectAttrs `msgpack:"a"`
	Posix       PosixAttrs  `msgpack:"p"`
	InitiatedNs int64       `msgpack:"at"`
}

// MultipartPartUploaded records one uploaded part; a part number uploaded
// again replaces the earlier part.
type MultipartPartUploaded struct {
	UploadID   string       `msgpack:"u"`
	PartNumber int32        `msgpack:"n"`
	ETag       string       `msgpack:"e"`
	Size       int64        `msgpack:"s"`
	Segments   []Segment    `msgpack:"g,omitempty"`
	Staged     []SegmentRef `msgpack:"r,omitempty"`
	MtimeNs    int64        `msgpack:"at"`
}

// MultipartCompleted binds the listed parts, in order, to the upload's key
// as a new object version; unlisted parts are discarded.
type MultipartCompleted struct {
	UploadID  string  `msgpack:"u"`
	VersionID string  `msgpack:"v"`
	Parts     []int32 `msgpack:"p"`
	ETag      string  `msgpack:"e"`
	MtimeNs   int64   `msgpack:"at"`
}

// MultipartAborted discards an upload and its parts.
type MultipartAborted struct {
	UploadID string `msgpack:"u"`
}

// SegmentStaged records a segment written ahead of the event that will
// reference it (large uploads propose their extents in bounded batches).
// Staged segments that nothing references are dropped after a grace
// period.
type SegmentStaged struct {
	Segment  Segment `msgpack:"g"`
	StagedNs int64   `msgpack:"at"`
}

// StagedSegmentsDropped discards staged segments nothing referenced.
type StagedSegmentsDropped struct {
	IDs []SegmentID `msgpack:"i"`
}

// NodeCreated is the common body of FileCreated, DirectoryCreated and
// SymlinkCreated. The new inode number is derived from the event id.
type NodeCreated struct {
	Parent  uint64     `msgpack:"d"`
	Name    string     `msgpack:"n"`
	Posix   PosixAttrs `msgpack:"p"`
	MtimeNs int64      `msgpack:"at"`
}

// FileCreated records a new empty regular file.
type FileCreated struct {
	NodeCreated `msgpack:",inline"`
}

// DirectoryCreated records a new explicit directory.
type DirectoryCreated struct {
	NodeCreated `msgpack:",inline"`
}

// SymlinkCreated records a new symbolic link.
type SymlinkCreated struct {
	NodeCreated `msgpack:",inline"`
	Target      string `msgpack:"t"`
}

// HardLinkCreated records a new name for an existing file.
type HardLinkCreated struct {
	Ino     uint64 `msgpack:"i"`
	Parent  uint64 `msgpack:"d"`
	Name    string `msgpack:"n"`
	MtimeNs int64  `msgpack:"at"`
}

// EntryUnlinked removes a non-directory name; the inode goes when its last
// name does.
type EntryUnlinked struct {
	Parent  uint64 `msgpack:"d"`
	Name    string `msgpack:"n"`
	MtimeNs int64  `msgpack:"at"`
}

// DirectoryRemoved removes an empty directory.
type DirectoryRemoved struct {
	Parent  uint64 `msgpack:"d"`
	Name    string `msgpack:"n"`
	MtimeNs int64  `msgpack:"at"`
}

// EntryRenamed moves a name atomically, replacing the target per POSIX.
type EntryRenamed struct {
	SourceParent uint64 `msgpack:"sd"`
	SourceName   string `msgpack:"sn"`
	TargetParent uint64 `msgpack:"td"`
	TargetName   string `msgpack:"tn"`
	MtimeNs      int64  `msgpack:"at"`
}

// AttrsChanged records chmod, chown and utimens. Nil fields are unchanged.
type AttrsChanged struct {
	Ino     uint64  `msgpack:"i"`
	Mode    *uint32 `msgpack:"m,omitempty"`
	Uid     *uint32 `msgpack:"u,omitempty"`
	Gid     *uint32 `msgpack:"g,omitempty"`
	AtimeNs *int64  `msgpack:"a,omitempty"`
	MtimeNs *int64  `msgpack:"t,omitempty"`
	CtimeNs int64   `msgpack:"at"`
}

// FileTruncated records a size change: shrinking drops bytes, growing adds
// a hole.
type FileTruncated struct {
	Ino     uint64 `msgpack:"i"`
	Size    int64  `msgpack:"s"`
	MtimeNs int64  `msgpack:"at"`
}

// WriteRange is one write into a file: Inline bytes or Extents (never
// both) starting at Offset.
type WriteRange struct {
	Offset  int64    `msgpack:"o"`
	Inline  []byte   `msgpack:"i,omitempty"`
	Extents []Extent `msgpack:"x,omitempty"`
}

// FileWritten records writes into a file. With Append, the single write
// lands at the file's size as of apply (atomic O_APPEND).
type FileWritten struct {
	Ino     uint64       `msgpack:"i"`
	Writes  []WriteRange `msgpack:"w"`
	Append  bool         `msgpack:"a,omitempty"`
	MtimeNs int64        `msgpack:"at"`
}

// XattrSet sets one extended attribute.
type XattrSet struct {
	Ino   uint64 `msgpack:"i"`
	Name  string `msgpack:"n"`
	Value []byte `msgpack:"v"`
}

// XattrRemoved removes one extended attribute.
type XattrRemoved struct {
	Ino  uint64 `msgpack:"i"`
	Name string `msgpack:"n"`
}

const (
	TypeNamespaceOpened       Type = 100
	TypeNamespaceSealed       Type = 101
	TypeVersioningConfigured  Type = 102
	TypeObjectPut             Type = 110
	TypeObjectDeleted         Type = 111
	TypeObjectTagsSet         Type = 112
	TypeMultipartStarted      Type = 120
	TypeMultipartPartUploaded Type = 121
	TypeMultipartCompleted    Type = 122
	TypeMultipartAborted      Type = 123
	TypeSegmentStaged         Type = 130
	TypeStagedSegmentsDropped Type = 131
	TypeFileCreated           Type = 140
	TypeDirectoryCreated      Type = 141
	TypeSymlinkCreated        Type = 142
	TypeHardLinkCreated       Type = 143
	TypeEntryUnlinked         Type = 144
	TypeDirectoryRemoved      Type = 145
	TypeEntryRenamed          Type = 146
	TypeAttrsChanged          Type = 147
	TypeFileTruncated         Type = 148
	TypeFileWritten           Type = 149
	TypeXattrSet              Type = 150
	TypeXattrRemoved          Type = 151
)

func (NamespaceOpened) EventType() Type       { return TypeNamespaceOpened }
func (NamespaceSealed) EventType() Type       { return TypeNamespaceSealed }
func (VersioningConfigured) EventType() Type  { return TypeVersioningConfigured }
func (ObjectPut) EventType() Type             { return TypeObjectPut }
func (ObjectDeleted) EventType() Type         { return TypeObjectDeleted }
func (ObjectTagsSet) EventType() Type         { return TypeObjectTagsSet }
func (MultipartStarted) EventType() Type      { return TypeMultipartStarted }
func (MultipartPartUploaded) EventType() Type { return TypeMultipartPartUploaded }
func (MultipartCompleted) EventType() Type    { return TypeMultipartCompleted }
func (MultipartAborted) EventType() Type      { return TypeMultipartAborted }
func (SegmentStaged) EventType() Type         { return TypeSegmentStaged }
func (StagedSegmentsDropped) EventType() Type { return TypeStagedSegmentsDropped }
func (FileCreated) EventType() Type           { return TypeFileCreated }
func (DirectoryCreated) EventType() Type      { return TypeDirectoryCreated }
func (SymlinkCreated) EventType() Type        { return TypeSymlinkCreated }
func (HardLinkCreated) EventType() Type       { return TypeHardLinkCreated }
func (EntryUnlinked) EventType() Type         { return TypeEntryUnlinked }
func (DirectoryRemoved) EventType() Type      { return TypeDirectoryRemoved }
func (EntryRenamed) EventType() Type          { return TypeEntryRenamed }
func (AttrsChanged) EventType() Type          { return TypeAttrsChanged }
func (FileTruncated) EventType() Type         { return TypeFileTruncated }
func (FileWritten) EventType() Type           { return TypeFileWritten }
func (XattrSet) EventType() Type              { return TypeXattrSet }
func (XattrRemoved) EventType() Type          { return TypeXattrRemoved }

func init() {
	register(TypeNamespaceOpened, "NamespaceOpened", func() Body { return &NamespaceOpened{} })
	register(TypeNamespaceSealed, "NamespaceSealed", func() Body { return &NamespaceSealed{} })
	register(TypeVersioningConfigured, "VersioningConfigured", func() Body { return &VersioningConfigured{} })
	register(TypeObjectPut, "ObjectPut", func() Body { return &ObjectPut{} })
	register(TypeObjectDeleted, "ObjectDeleted", func() Body { return &ObjectDeleted{} })
	register(TypeObjectTagsSet, "ObjectTagsSet", func() Body { return &ObjectTagsSet{} })
	register(TypeMultipartStarted, "MultipartStarted", func() Body { return &MultipartStarted{} })
	register(TypeMultipartPartUploaded, "MultipartPartUploaded", func() Body { return &MultipartPartUploaded{} })
	register(TypeMultipartCompleted, "MultipartCompleted", func() Body { return &MultipartCompleted{} })
	register(TypeMultipartAborted, "MultipartAborted", func() Body { return &MultipartAborted{} })
	register(TypeSegmentStaged, "SegmentStaged", func() Body { return &SegmentStaged{} })
	register(TypeStagedSegmentsDropped, "StagedSegmentsDropped", func() Body { return &StagedSegmentsDropped{} })
	register(TypeFileCreated, "FileCreated", func() Body { return &FileCreated{} })
	register(TypeDirectoryCreated, "DirectoryCreated", func() Body { return &DirectoryCreated{} })
	register(TypeSymlinkCreated, "SymlinkCreated", func() Body { return &SymlinkCreated{} })
	register(TypeHardLinkCreated, "HardLinkCreated", func() Body { return &HardLinkCreated{} })
	register(TypeEntryUnlinked, "EntryUnlinked", func() Body { return &EntryUnlinked{} })
	register(TypeDirectoryRemoved, "DirectoryRemoved", func() Body { return &DirectoryRemoved{} })
	register(TypeEntryRenamed, "EntryRenamed", func() Body { return &EntryRenamed{} })
	register(TypeAttrsChanged, "AttrsChanged", func() Body { return &AttrsChanged{} })
	register(TypeFileTruncated, "FileTruncated", func() Body { return &FileTruncated{} })
	register(TypeFileWritten, "FileWritten", func() Body { return &FileWritten{} })
	register(TypeXattrSet, "XattrSet", func() Body { return &XattrSet{} })
	register(TypeXattrRemoved, "XattrRemoved", func() Body { return &XattrRemoved{} })
}
