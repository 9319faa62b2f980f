package fuse

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	fuselib "github.com/hanwen/go-fuse/v2/fuse"

	"github.com/annal-storage/annal/gateways/native/wire"
)

// Backend is the namespace the file system serves: the native API client
// (client.Namespace) in production.
type Backend interface {
	Open(ctx context.Context) (wire.Bucket, error)
	StatFS(ctx context.Context) (wire.StatFS, error)
	GetAttr(ctx context.Context, ino uint64) (wire.Attr, error)
	Lookup(ctx context.Context, parent uint64, name string) (wire.Attr, error)
	ReadDir(ctx context.Context, dir uint64, after string, limit int) (wire.Entries, error)
	Create(ctx context.Context, parent uint64, in wire.CreateRequest) (wire.Attr, error)
	Remove(ctx context.Context, parent uint64, name string, dir bool) error
	Rename(ctx context.Context, in wire.RenameRequest) error
	SetAttr(ctx context.Context, ino uint64, in wire.SetAttrRequest) (wire.Attr, error)
	Read(ctx context.Context, ino uint64, off, length int64) (io.ReadCloser, int64, error)
	Write(ctx context.Context, ino uint64, spans []wire.Span, data [][]byte, appendMode bool) (wire.Attr, error)
	GetXattr(ctx context.Context, ino uint64, name string) ([]byte, error)
	ListXattrs(ctx context.Context, ino uint64) ([]string, error)
	SetXattr(ctx context.Context, ino uint64, name string, value []byte, mode string) error
	RemoveXattr(ctx context.Context, ino uint64, name string) error
}

// Options configure the file system.
type Options struct {
	// AttrTimeout, EntryTimeout and NegativeTimeout are how long the
	// kernel caches attributes, names and absent names (default 1 s
	// each): the window in which another mount's or S3's change may not
	// be seen yet.
	AttrTimeout     time.Duration
	EntryTimeout    time.Duration
	NegativeTimeout time.Duration
	ReadOnly        bool
	// UIDs and GIDs map local ids to the ids stored in the namespace.
	UIDs IDMap
	GIDs IDMap
	// FlushBytes: pending bytes of one file that start a background flush
	// (default 32 MiB). FlushSpans: pending runs that do (default 1024;
	// each run costs the shard a segment rewrite when it applies).
	FlushBytes int64
	FlushSpans int
	Logger     *slog.Logger
}

func (o *Options) defaults() {
	if o.AttrTimeout == 0 {
		o.AttrTimeout = time.Second
	}
	if o.EntryTimeout == 0 {
		o.EntryTimeout = time.Second
	}
	if o.NegativeTimeout == 0 {
		o.NegativeTimeout = time.Second
	}
	if o.FlushBytes == 0 {
		o.FlushBytes = 32 << 20
	}
	if o.FlushSpans == 0 {
		o.FlushSpans = 1024
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Negative durations disable a cache.
func clampTimeout(d time.Duration) time.Duration { return max(d, 0) }

// FS is the FUSE file system of one namespace. Inode numbers are the
// namespace's own (the root is 1 in both). It keeps per-mount state
// only: open files, their pending writes, and locks.
type FS struct {
	fuselib.RawFileSystem
	b    Backend
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	inodes  map[uint64]*inode
	handles map[uint64]*handle
	dirs    map[uint64]*dirHandle
	nextFh  uint64
	locks   *lockTable
}

// New returns the file system over b.
func New(b Backend, opts Options) *FS {
	opts.defaults()
	return &FS{RawFileSystem: fuselib.NewDefaultRawFileSystem(), b: b, opts: opts, log: opts.Logger,
		inodes: map[uint64]*inode{}, handles: map[uint64]*handle{}, dirs: map[uint64]*dirHandle{}, locks: newLockTable()}
}

func (fs *FS) String() string { return "annal" }

// ctxOf returns the context of one request. Interrupts are not passed
// on: the kernel interrupts a request whenever the caller gets a signal
// (Go programs get SIGURG constantly), and a metadata or data call
// returning EINTR breaks callers that expect SA_RESTART semantics. A call
// that cannot complete fails after the client's retry budget instead;
// only a blocking lock wait (SetLkw) honours interrupts.
func ctxOf(<-chan struct{}) (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}

// IDMap maps local user or group ids to the ids stored in the namespace;
// ids it does not list pass through unchanged.
type IDMap struct {
	toRemote map[uint32]uint32
	toLocal  map[uint32]uint32
}

// ParseIDMap parses "LOCAL:REMOTE[,LOCAL:REMOTE...]".
func ParseIDMap(s string) (IDMap, error) {
	m := IDMap{toRemote: map[uint32]uint32{}, toLocal: map[uint32]uint32{}}
	if s == "" {
		return m, nil
	}
	for _, pair := range strings.Split(s, ",") {
		l, r, ok := strings.Cut(strings.TrimSpace(pair), ":")
		local, err1 := strconv.ParseUint(l, 10, 32)
		remote, err2 := strconv.ParseUint(r, 10, 32)
		if !ok || err1 != nil || err2 != nil {
			return m, fmt.Errorf("id map %q: want LOCAL:REMOTE", pair)
		}
		m.toRemote[uint32(local)] = uint32(remote)
		m.toLocal[uint32(remote)] = uint32(local)
	}
	return m, nil
}

// Remote maps a local id to the stored one.
func (m IDMap) Remote(id uint32) uint32 {
	if r, ok := m.toRemote[id]; ok {
		return r
	}
	return id
}

// Local maps a stored id to the local one.
func (m IDMap) Local(id uint32) uint32 {
	if l, ok := m.toLocal[id]; ok {
		return l
	}
	return id
}

// blockSize is the preferred I/O size reported in st_blksize: tools size
// their buffers by it, and large writes mean fewer requests.
const blockSize = 1 << 20

// fillAttr converts wire attributes for the kernel.
func (fs *FS) fillAttr(a wire.Attr, out *fuselib.Attr) {
	*out = fuselib.Attr{Ino: a.Ino, Size: uint64(max(a.Size, 0)), Blocks: uint64(max(a.Size, 0)+511) / 512,
		Mode: a.Mode, Nlink: a.Nlink, Blksize: blockSize,
		Owner: fuselib.Owner{Uid: fs.opts.UIDs.Local(a.Uid), Gid: fs.opts.GIDs.Local(a.Gid)}}
	out.Atime, out.Atimensec = splitNs(a.AtimeNs)
	out.Mtime, out.Mtimensec = splitNs(a.MtimeNs)
	out.Ctime, out.Ctimensec = splitNs(a.CtimeNs)
}

func splitNs(ns int64) (uint64, uint32) {
	if ns < 0 {
		return 0, 0
	}
	return uint64(ns / 1e9), uint32(ns % 1e9)
}

// fillEntry fills a lookup answer.
func (fs *FS) fillEntry(a wire.Attr, out *fuselib.EntryOut) {
	out.NodeId = a.Ino
	out.Generation = 0
	out.SetEntryTimeout(clampTimeout(fs.opts.EntryTimeout))
	out.SetAttrTimeout(clampTimeout(fs.opts.AttrTimeout))
	fs.fillAttr(fs.overlay(a), &out.Attr)
}

// maxName is NAME_MAX: longer names fail here, before any request.
const maxName = 255

// checkName refuses names longer than NAME_MAX, and names that are not
// UTF-8: every path is also an S3 key, which is UTF-8.
func checkName(name string) fuselib.Status {
	switch {
	case len(name) > maxName:
		return fuselib.Status(syscall.ENAMETOOLONG)
	case !utf8.ValidString(name):
		return fuselib.EINVAL
	}
	return fuselib.OK
}

// StatFs reports the node's capacity.
func (fs *FS) StatFs(cancel <-chan struct{}, _ *fuselib.InHeader, out *fuselib.StatfsOut) fuselib.Status {
	ctx, stop := ctxOf(cancel)
	defer stop()
	st, err := fs.b.StatFS(ctx)
	if err != nil {
		return status(err)
	}
	const bsize = 4096
	*out = fuselib.StatfsOut{Blocks: st.TotalBytes / bsize, Bfree: st.FreeBytes / bsize, Bavail: st.FreeBytes / bsize,
		Files: st.Files, Ffree: st.FreeFiles, Bsize: bsize, Frsize: bsize, NameLen: st.NameMax}
	return fuselib.OK
}

// Access is not consulted (the mount uses default_permissions); any call
// is allowed.
func (fs *FS) Access(<-chan struct{}, *fuselib.AccessIn) fuselib.Status { return fuselib.OK }
