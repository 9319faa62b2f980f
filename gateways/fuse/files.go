package fuse

import (
	"context"
	"sync"
	"syscall"

	fuselib "github.com/hanwen/go-fuse/v2/fuse"

	"github.com/annal-storage/annal/gateways/native/wire"
)

// inode is this mount's state of one file that is open here or has
// pending writes. Writes collect in pending; a flush moves pending to
// inflight and sends it as one batch (one event); reads lay inflight and
// pending over the server's bytes, so this mount reads its own writes
// before they are flushed. At most one flush per file is in flight, so
// batches commit in write order.
type inode struct {
	ino uint64

	mu       sync.Mutex
	cond     *sync.Cond
	opens    int
	pending  dirtyMap
	inflight *dirtyMap
	// flushErr is a background flush's failure, reported by the next
	// write, fsync or close.
	flushErr error
	// gen counts flushes and truncations by this mount; read streams
	// opened before a change are stale.
	gen uint64
	// orphan: unlinked while open (hidden under sillyName in
	// sillyParent); it reports no links and goes at the last close.
	orphan      bool
	orphanAttr  wire.Attr
	sillyParent uint64
	sillyName   string
}

// inodeOf returns (creating) the state of ino.
func (fs *FS) inodeOf(ino uint64) *inode {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	in, ok := fs.inodes[ino]
	if !ok {
		in = &inode{ino: ino}
		in.cond = sync.NewCond(&in.mu)
		fs.inodes[ino] = in
	}
	return in
}

// lookupInode returns the state of ino if there is any.
func (fs *FS) lookupInode(ino uint64) *inode {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.inodes[ino]
}

// dropIfIdle forgets an inode without open handles or pending bytes.
func (fs *FS) dropIfIdle(in *inode) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	in.mu.Lock()
	idle := in.opens == 0 && in.pending.empty() && in.inflight == nil
	in.mu.Unlock()
	if idle && fs.inodes[in.ino] == in {
		delete(fs.inodes, in.ino)
	}
}

// anyOpen reports whether this mount has any file open (unlinks need no
// lookup otherwise).
func (fs *FS) anyOpen() bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return len(fs.handles) > 0
}

func (fs *FS) isOpen(ino uint64) bool {
	in := fs.lookupInode(ino)
	if in == nil {
		return false
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.opens > 0
}

func (fs *FS) markOrphan(a wire.Attr, parent uint64, name string) {
	in := fs.inodeOf(a.Ino)
	in.mu.Lock()
	defer in.mu.Unlock()
	in.orphan, in.orphanAttr, in.sillyParent, in.sillyName = true, a, parent, name
}

// orphanAttr describes an unlinked open file whose hidden name is gone.
func (fs *FS) orphanAttr(ino uint64) (wire.Attr, bool) {
	in := fs.lookupInode(ino)
	if in == nil {
		return wire.Attr{}, false
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	a := in.orphanAttr
	a.Nlink = 0
	return a, in.orphan
}

// overlay lays this mount's state over server attributes: pending writes
// extend the size; an orphan has no links.
func (fs *FS) overlay(a wire.Attr) wire.Attr {
	in := fs.lookupInode(a.Ino)
	if in == nil {
		return a
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	a.Size = max(a.Size, in.pending.end())
	if in.inflight != nil {
		a.Size = max(a.Size, in.inflight.end())
	}
	if in.orphan {
		a.Nlink = 0
		in.orphanAttr = a
	}
	return a
}

// handle is one open file.
type handle struct {
	id     uint64
	in     *inode
	flags  uint32
	stream streamReader
	mu     sync.Mutex
	// owners are the lock owners that locked through this handle.
	owners map[uint64]bool
}

func (h *handle) appendMode() bool { return h.flags&syscall.O_APPEND != 0 }

func (fs *FS) newHandle(ino uint64, flags uint32) *handle {
	in := fs.inodeOf(ino)
	in.mu.Lock()
	in.opens++
	in.mu.Unlock()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.nextFh++
	h := &handle{id: fs.nextFh, in: in, flags: flags}
	h.stream.init(fs.b, ino)
	fs.handles[h.id] = h
	return h
}

func (fs *FS) handle(fh uint64) (*handle, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	h, ok := fs.handles[fh]
	return h, ok
}

// openFlags chooses the kernel caching of a new handle. Handles open for
// writing use direct I/O: every write reaches this process (which
// batches them), and the kernel refuses a shared mapping of such a file
// (writable shared mmap is not supported; it returns ENODEV). Read-only
// handles use the page cache, dropped at each open (close-to-open
// consistency), so read-only mmap works.
func openFlags(flags uint32) uint32 {
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		return fuselib.FOPEN_DIRECT_IO
	}
	return 0
}

func writeAccess(flags uint32) bool { return flags&syscall.O_ACCMODE != syscall.O_RDONLY }

// Open opens a file.
func (fs *FS) Open(cancel <-chan struct{}, in *fuselib.OpenIn, out *fuselib.OpenOut) fuselib.Status {
	if fs.opts.ReadOnly && (writeAccess(in.Flags) || in.Flags&syscall.O_TRUNC != 0) {
		return fuselib.EROFS
	}
	h := fs.newHandle(in.NodeId, in.Flags)
	out.Fh, out.OpenFlags = h.id, openFlags(in.Flags)
	return fuselib.OK
}

// Create is open(O_CREAT): create-if-absent on the server; with O_EXCL an
// existing name is EEXIST, without it the existing file is opened (and
// truncated for O_TRUNC).
func (fs *FS) Create(cancel <-chan struct{}, in *fuselib.CreateIn, name string, out *fuselib.CreateOut) fuselib.Status {
	ctx, stop := ctxOf(cancel)
	defer stop()
	st := fs.create(ctx, &in.InHeader, name, wire.CreateRequest{Type: wire.TypeFile, Mode: in.Mode & 0o7777}, &out.EntryOut)
	if st == fuselib.Status(syscall.EEXIST) && in.Flags&syscall.O_EXCL == 0 {
		st = fs.openExisting(ctx, in, name, out)
	}
	if !st.Ok() {
		return st
	}
	h := fs.newHandle(out.NodeId, in.Flags)
	out.Fh, out.OpenFlags = h.id, openFlags(in.Flags)
	return fuselib.OK
}

func (fs *FS) openExisting(ctx context.Context, in *fuselib.CreateIn, name string, out *fuselib.CreateOut) fuselib.Status {
	a, err := fs.b.Lookup(ctx, in.NodeId, name)
	if err != nil {
		return status(err)
	}
	if a.IsDir() {
		return fuselib.Status(syscall.EISDIR)
	}
	if in.Flags&syscall.O_TRUNC != 0 {
		zero := int64(0)
		if a, err = fs.b.SetAttr(ctx, a.Ino, wire.SetAttrRequest{Size: &zero}); err != nil {
			return status(err)
		}
		fs.truncated(a.Ino, 0)
	}
	fs.fillEntry(a, &out.EntryOut)
	return fuselib.OK
}

// Read returns bytes of a file: the server's, with this mount's pending
// writes laid over them.
func (fs *FS) Read(cancel <-chan struct{}, in *fuselib.ReadIn, buf []byte) (fuselib.ReadResult, fuselib.Status) {
	h, ok := fs.handle(in.Fh)
	if !ok {
		return nil, fuselib.EBADF
	}
	ctx, stop := ctxOf(cancel)
	defer stop()
	off, n := int64(in.Offset), int64(in.Size)
	ino := h.in
	ino.mu.Lock()
	gen, dirtyEnd := ino.gen, ino.pending.end()
	runs := ino.pending.cut(off, off+n)
	if ino.inflight != nil {
		dirtyEnd = max(dirtyEnd, ino.inflight.end())
		runs = append(ino.inflight.cut(off, off+n), runs...)
	}
	ino.mu.Unlock()
	data, size, err := h.stream.read(ctx, buf[:0], off, n, gen)
	if err != nil {
		return nil, status(err)
	}
	if end := min(off+n, max(size, dirtyEnd)); end > off+int64(len(data)) {
		data = append(data, make([]byte, end-off-int64(len(data)))...)
	}
	for _, r := range runs { // inflight first, then pending: later writes win
		if r.off < off+int64(len(data)) {
			copy(data[r.off-off:], r.data)
		}
	}
	return fuselib.ReadResultData(data), fuselib.OK
}

// Write records a write; positional writes are batched per file, O_APPEND
// writes are sent at once (each lands atomically at the end of file).
func (fs *FS) Write(cancel <-chan struct{}, in *fuselib.WriteIn, data []byte) (uint32, fuselib.Status) {
	if fs.opts.ReadOnly {
		return 0, fuselib.EROFS
	}
	h, ok := fs.handle(in.Fh)
	if !ok {
		return 0, fuselib.EBADF
	}
	if h.appendMode() {
		ctx, stop := ctxOf(cancel)
		defer stop()
		if err := fs.flush(ctx, h.in); err != nil {
			return 0, status(err)
		}
		if _, err := fs.b.Write(ctx, h.in.ino, []wire.Span{{Len: int64(len(data))}}, [][]byte{data}, true); err != nil {
			return 0, status(err)
		}
		fs.changed(h.in)
		return uint32(len(data)), fuselib.OK
	}
	ino := h.in
	ino.mu.Lock()
	defer ino.mu.Unlock()
	if err := ino.takeErr(); err != nil {
		return 0, status(err)
	}
	ino.pending.write(int64(in.Offset), data)
	if ino.pending.bytes >= fs.opts.FlushBytes || len(ino.pending.runs) >= fs.opts.FlushSpans {
		fs.startFlushLocked(ino)
	}
	return uint32(len(data)), fuselib.OK
}

func (in *inode) takeErr() error {
	err := in.flushErr
	in.flushErr = nil
	return err
}

// startFlushLocked waits for the flush in flight, then sends pending in
// the background. in.mu is held.
func (fs *FS) startFlushLocked(in *inode) {
	for in.inflight != nil {
		in.cond.Wait()
	}
	if in.pending.empty() {
		return
	}
	batch := in.pending
	in.pending = dirtyMap{}
	in.inflight = &batch
	go fs.sendInflight(context.Background(), in)
}

// sendInflight sends the inflight batch as one write and clears it.
func (fs *FS) sendInflight(ctx context.Context, in *inode) {
	batch := in.inflight // only this goroutine changes inflight until it clears it
	spans := make([]wire.Span, len(batch.runs))
	data := make([][]byte, len(batch.runs))
	for i, r := range batch.runs {
		spans[i], data[i] = wire.Span{Offset: r.off, Len: int64(len(r.data))}, r.data
	}
	_, err := fs.b.Write(ctx, in.ino, spans, data, false)
	if err != nil {
		fs.log.Error("annal mount: write-back failed; the next fsync or close reports EIO", "ino", in.ino,
			"bytes", batch.bytes, "err", err)
	}
	in.mu.Lock()
	in.inflight = nil
	in.gen++
	if err != nil && in.flushErr == nil {
		in.flushErr = err
	}
	in.cond.Broadcast()
	in.mu.Unlock()
}

// flush sends everything pending for a file and waits until it is
// committed; it returns (and clears) any earlier background failure.
func (fs *FS) flush(ctx context.Context, in *inode) error {
	in.mu.Lock()
	fs.startFlushLocked(in)
	for in.inflight != nil {
		in.cond.Wait()
	}
	err := in.takeErr()
	in.mu.Unlock()
	return err
}

// flushInode flushes ino's pending writes, if this mount has any.
func (fs *FS) flushInode(ctx context.Context, ino uint64) error {
	in := fs.lookupInode(ino)
	if in == nil {
		return nil
	}
	return fs.flush(ctx, in)
}

// changed invalidates read streams after this mount changed the file's
// bytes on the server directly.
func (fs *FS) changed(in *inode) {
	in.mu.Lock()
	in.gen++
	in.mu.Unlock()
}

// truncated notes a size change made on the server.
func (fs *FS) truncated(ino uint64, size int64) {
	in := fs.lookupInode(ino)
	if in == nil {
		return
	}
	in.mu.Lock()
	in.pending.truncate(size)
	in.gen++
	in.mu.Unlock()
}

// Flush is called at every close(2): pending writes are committed before
// close returns.
func (fs *FS) Flush(cancel <-chan struct{}, in *fuselib.FlushIn) fuselib.Status {
	h, ok := fs.handle(in.Fh)
	if !ok {
		return fuselib.EBADF
	}
	// close(2) releases the process's POSIX locks on the file; the kernel
	// leaves that to the flush.
	fs.locks.releaseOwner(h.in.ino, in.LockOwner, false)
	ctx, stop := ctxOf(cancel)
	defer stop()
	return status(fs.flush(ctx, h.in))
}

// Fsync returns once every write of the file is committed (fdatasync
// alike: metadata changes are committed when their call returns).
func (fs *FS) Fsync(cancel <-chan struct{}, in *fuselib.FsyncIn) fuselib.Status {
	ctx, stop := ctxOf(cancel)
	defer stop()
	return status(fs.flushInode(ctx, in.NodeId))
}

// FsyncDir has nothing to do: directory changes commit before their
// calls return.
func (fs *FS) FsyncDir(<-chan struct{}, *fuselib.FsyncIn) fuselib.Status { return fuselib.OK }

// Release closes a handle: flushes what is left, drops flock locks, and
// removes an orphan's hidden name after its last close.
func (fs *FS) Release(cancel <-chan struct{}, in *fuselib.ReleaseIn) {
	h, ok := fs.handle(in.Fh)
	if !ok {
		return
	}
	fs.mu.Lock()
	delete(fs.handles, in.Fh)
	fs.mu.Unlock()
	h.stream.close()
	ctx := context.Background()
	if err := fs.flush(ctx, h.in); err != nil {
		fs.log.Error("annal mount: write-back at release failed", "ino", h.in.ino, "err", err)
	}
	if in.ReleaseFlags&fuselib.FUSE_RELEASE_FLOCK_UNLOCK != 0 {
		fs.locks.releaseOwner(h.in.ino, in.LockOwner, true)
	}
	h.mu.Lock()
	for owner := range h.owners {
		fs.locks.releaseOwner(h.in.ino, owner, false)
		fs.locks.releaseOwner(h.in.ino, owner, true)
	}
	h.mu.Unlock()
	ino := h.in
	ino.mu.Lock()
	ino.opens--
	last := ino.opens == 0 && ino.orphan
	parent, name := ino.sillyParent, ino.sillyName
	if last {
		ino.orphan = false
	}
	ino.mu.Unlock()
	if last {
		if err := fs.b.Remove(ctx, parent, name, false); err != nil && wire.CodeOf(err) != wire.CodeNotFound {
			fs.log.Warn("annal mount: removing an unlinked file after its last close", "name", name, "err", err)
		}
	}
	fs.dropIfIdle(ino)
}

// Fallocate supports mode 0 (extend the size; blocks are not reserved)
// and FALLOC_FL_KEEP_SIZE (nothing to do); other modes are EOPNOTSUPP.
func (fs *FS) Fallocate(cancel <-chan struct{}, in *fuselib.FallocateIn) fuselib.Status {
	const keepSize = 0x01
	switch in.Mode {
	case keepSize:
		return fuselib.OK
	case 0:
	default:
		return fuselib.Status(syscall.EOPNOTSUPP)
	}
	ctx, stop := ctxOf(cancel)
	defer stop()
	if err := fs.flushInode(ctx, in.NodeId); err != nil {
		return status(err)
	}
	a, err := fs.b.GetAttr(ctx, in.NodeId)
	if err != nil {
		return status(err)
	}
	if end := int64(in.Offset + in.Length); end > a.Size {
		if _, err := fs.b.SetAttr(ctx, in.NodeId, wire.SetAttrRequest{Size: &end}); err != nil {
			return status(err)
		}
		fs.truncated(in.NodeId, end)
	}
	return fuselib.OK
}
