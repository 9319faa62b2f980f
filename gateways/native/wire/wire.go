package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
)

// API is the protocol name and version the server announces at
// GET /v1/version.
const API = "annal.v1"

// SigningService and SigningRegion form the SigV4 credential scope of
// native API requests (<date>/<region>/<service>/aws4_request). The
// service is "s3" because the node verifies native requests with the S3
// gateway's verifier; the Host header binds a signature to the native
// API's address, so it cannot be replayed against the S3 listener.
const (
	SigningService = "s3"
	SigningRegion  = "annal"
)

// Version is the body of GET /v1/version.
type Version struct {
	API string `json:"api"`
	// Server is the server binary's version.
	Server string `json:"server,omitempty"`
}

// Attr describes an inode. Mode carries the POSIX file type bits
// (S_IFREG, S_IFDIR, S_IFLNK) and the permission bits; times are Unix
// nanoseconds.
type Attr struct {
	Ino     uint64 `json:"ino"`
	Mode    uint32 `json:"mode"`
	Nlink   uint32 `json:"nlink"`
	Uid     uint32 `json:"uid"`
	Gid     uint32 `json:"gid"`
	Size    int64  `json:"size"`
	AtimeNs int64  `json:"atime_ns"`
	MtimeNs int64  `json:"mtime_ns"`
	CtimeNs int64  `json:"ctime_ns"`
	Target  string `json:"target,omitempty"`
}

// File type bits of Attr.Mode.
const (
	ModeTypeMask uint32 = 0o170000
	ModeDir      uint32 = 0o040000
	ModeFile     uint32 = 0o100000
	ModeSymlink  uint32 = 0o120000
)

// IsDir reports whether the inode is a directory.
func (a Attr) IsDir() bool { return a.Mode&ModeTypeMask == ModeDir }

// IsFile reports whether the inode is a regular file.
func (a Attr) IsFile() bool { return a.Mode&ModeTypeMask == ModeFile }

// IsSymlink reports whether the inode is a symbolic link.
func (a Attr) IsSymlink() bool { return a.Mode&ModeTypeMask == ModeSymlink }

// Bucket is the body of GET /v1/buckets/{bucket}: the mount handshake.
type Bucket struct {
	Name string `json:"name"`
	Root Attr   `json:"root"`
}

// Entry is one directory entry.
type Entry struct {
	Name string `json:"name"`
	Attr Attr   `json:"attr"`
	// Cursor, passed as ?after=, resumes the listing after this entry.
	Cursor string `json:"cursor"`
}

// Entries is one page of a directory listing.
type Entries struct {
	Entries []Entry `json:"entries"`
	// More: the page is full; ask again after the last entry's cursor.
	More bool `json:"more"`
}

// Node types of CreateRequest.Type.
const (
	TypeFile    = "file"
	TypeDir     = "dir"
	TypeSymlink = "symlink"
	// TypeLink: a new name (hard link) for the existing inode Ino.
	TypeLink = "link"
)

// CreateRequest is the body of POST .../inodes/{parent}/children.
type CreateRequest struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// Mode: permission bits (file type bits are ignored).
	Mode   uint32 `json:"mode"`
	Uid    uint32 `json:"uid"`
	Gid    uint32 `json:"gid"`
	Target string `json:"target,omitempty"`
	Ino    uint64 `json:"ino,omitempty"`
}

// RenameRequest is the body of POST /v1/buckets/{bucket}/rename.
type RenameRequest struct {
	SourceParent uint64 `json:"source_parent"`
	SourceName   string `json:"source_name"`
	TargetParent uint64 `json:"target_parent"`
	TargetName   string `json:"target_name"`
	// NoReplace: fail with AlreadyExists when the target exists.
	NoReplace bool `json:"no_replace,omitempty"`
}

// SetAttrRequest is the body of PATCH .../inodes/{ino}. Absent fields are
// unchanged; *Now sets the time to the server's clock.
type SetAttrRequest struct {
	Mode     *uint32 `json:"mode,omitempty"`
	Uid      *uint32 `json:"uid,omitempty"`
	Gid      *uint32 `json:"gid,omitempty"`
	Size     *int64  `json:"size,omitempty"`
	AtimeNs  *int64  `json:"atime_ns,omitempty"`
	MtimeNs  *int64  `json:"mtime_ns,omitempty"`
	AtimeNow bool    `json:"atime_now,omitempty"`
	MtimeNow bool    `json:"mtime_now,omitempty"`
}

// XattrNames is the body of GET .../inodes/{ino}/xattrs.
type XattrNames struct {
	Names []string `json:"names"`
}

// Xattr modes (query parameter mode= of PUT .../xattrs).
const (
	XattrCreate  = "create"
	XattrReplace = "replace"
)

// StatFS is the body of GET /v1/buckets/{bucket}/statfs.
type StatFS struct {
	TotalBytes uint64 `json:"total_bytes"`
	FreeBytes  uint64 `json:"free_bytes"`
	// Files and FreeFiles: inodes are not a limited resource; the server
	// reports large constants.
	Files     uint64 `json:"files"`
	FreeFiles uint64 `json:"free_files"`
	// NameMax is the longest name in bytes.
	NameMax uint32 `json:"name_max"`
}

// Paths of the protocol. {bucket} is a bucket name; {ino} is a decimal
// inode number (1 is the root directory).
const (
	PathVersion = "/v1/version"
	PathBuckets = "/v1/buckets/"
)

// BucketPath returns /v1/buckets/{bucket}.
func BucketPath(bucket string) string { return PathBuckets + url.PathEscape(bucket) }

// InodePath returns /v1/buckets/{bucket}/inodes/{ino}{suffix}; suffix is
// "", "/children", "/data" or "/xattrs".
func InodePath(bucket string, ino uint64, suffix string) string {
	return BucketPath(bucket) + "/inodes/" + strconv.FormatUint(ino, 10) + suffix
}

// Header names.
const (
	// HeaderSize: on GET .../data, the file's size as of the read.
	HeaderSize = "Annal-Size"
	// ContentTypeWrite is the media type of a write body.
	ContentTypeWrite = "application/vnd.annal.write"
)

// Code is a stable error code.
type Code string

// Error codes and the HTTP status each travels with.
const (
	CodeNotFound           Code = "NotFound"
	CodeAlreadyExists      Code = "AlreadyExists"
	CodeNotEmpty           Code = "NotEmpty"
	CodeNotDirectory       Code = "NotDirectory"
	CodeIsDirectory        Code = "IsDirectory"
	CodeParentNotDirectory Code = "ParentNotDirectory"
	CodeInvalid            Code = "Invalid"
	CodeNameTooLong        Code = "NameTooLong"
	CodeNoData             Code = "NoData"
	CodeLoop               Code = "Loop"
	CodeCrossDevice        Code = "CrossDevice"
	CodeNoSuchBucket       Code = "NoSuchBucket"
	CodeAccessDenied       Code = "AccessDenied"
	CodeUnauthenticated    Code = "Unauthenticated"
	CodePreconditionFailed Code = "PreconditionFailed"
	CodeNotSupported       Code = "NotSupported"
	CodeReadOnly           Code = "ReadOnly"
	CodeConflict           Code = "Conflict"
	CodeUnavailable        Code = "Unavailable"
	CodeInternal           Code = "Internal"
)

// Status is the HTTP status a code travels with.
func (c Code) Status() int {
	switch c {
	case CodeNotFound, CodeNoData, CodeNoSuchBucket:
		return 404
	case CodeAlreadyExists, CodeNotEmpty, CodeNotDirectory, CodeIsDirectory, CodeParentNotDirectory:
		return 409
	case CodeInvalid, CodeNameTooLong, CodeLoop, CodeCrossDevice:
		return 400
	case CodeAccessDenied, CodeReadOnly:
		return 403
	case CodeUnauthenticated:
		return 401
	case CodePreconditionFailed:
		return 412
	case CodeNotSupported:
		return 501
	case CodeConflict, CodeUnavailable:
		return 503
	}
	return 500
}

// Retryable reports whether the same request may succeed later.
func (c Code) Retryable() bool { return c == CodeConflict || c == CodeUnavailable }

// Error is the body of every error response, and the error clients
// return.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return fmt.Sprintf("annal: %s: %s", e.Code, e.Message) }

// CodeOf returns the code of an *Error in err's chain, or "".
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Span is one write's place in a file.
type Span struct {
	Offset int64
	Len    int64
}

// MaxSpans bounds the spans of one write body.
const MaxSpans = 16384

// A write body (POST .../inodes/{ino}/data) is a span table followed by
// the spans' bytes, one span after another:
//
//	u32 N                      number of spans, 1..MaxSpans
//	N × (u64 offset, u64 len)  big-endian
//	bytes                      sum of len bytes
//
// With ?append=1 the table has one span whose offset is ignored: the
// bytes land at the end of the file as of the write's commit.

// AppendSpanTable appends the encoded span table to b.
func AppendSpanTable(b []byte, spans []Span) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(spans)))
	for _, s := range spans {
		b = binary.BigEndian.AppendUint64(b, uint64(s.Offset))
		b = binary.BigEndian.AppendUint64(b, uint64(s.Len))
	}
	return b
}

// ReadSpanTable reads a span table from r, refusing more than MaxSpans
// spans or a negative offset or length.
func ReadSpanTable(r io.Reader) ([]Span, error) {
	var n uint32
	if err := binary.Read(r, binary.BigEndian, &n); err != nil {
		return nil, fmt.Errorf("span table: %w", err)
	}
	if n == 0 || n > MaxSpans {
		return nil, fmt.Errorf("span table: %d spans, want 1..%d", n, MaxSpans)
	}
	raw := make([]byte, 16*int(n))
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, fmt.Errorf("span table: %w", err)
	}
	spans := make([]Span, n)
	for i := range spans {
		off := int64(binary.BigEndian.Uint64(raw[16*i:]))
		l := int64(binary.BigEndian.Uint64(raw[16*i+8:]))
		if off < 0 || l < 0 {
			return nil, fmt.Errorf("span table: span %d at %d of %d bytes", i, off, l)
		}
		spans[i] = Span{Offset: off, Len: l}
	}
	return spans, nil
}
