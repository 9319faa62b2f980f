package sim

import (
	"strings"

	"github.com/annal-storage/annal/chunks"
	"github.com/annal-storage/annal/commands"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/projections/namespace"
)

// The POSIX workload on bucket gamma: inode-addressed events (mkdir,
// create, write, append, truncate, rename, link, unlink, rmdir) decided
// on a linearizable view after resolving paths on it, as a FUSE gateway
// would. commands has no POSIX decide functions yet; these decide the
// events directly and check them with the projection's Validate, the
// same precondition apply re-checks.

var (
	posixDirs  = []string{"d1", "d2", "d1/d3"}
	posixFiles = []string{"f1", "f2", "d1/f3", "d2/f4", "d1/d3/f5"}
)

const posixObject = "posix:" + bucketGamma

func (c *client) pick(xs []string) string { return xs[c.rng.IntN(len(xs))] }

func (c *client) anyPath() string {
	if c.rng.IntN(3) == 0 {
		return c.pick(posixDirs)
	}
	return c.pick(posixFiles)
}

func (c *client) opPosix(done func()) {
	switch r := c.rng.IntN(100); {
	case r < 10:
		c.posixCreate(c.pick(posixDirs), true, done)
	case r < 22:
		c.posixCreate(c.pick(posixFiles), false, done)
	case r < 34:
		c.posixWrite(c.pick(posixFiles), false, done)
	case r < 44:
		c.posixWrite(c.pick(posixFiles), true, done)
	case r < 52:
		c.posixTruncate(c.pick(posixFiles), done)
	case r < 61:
		c.posixRename(c.anyPath(), c.anyPath(), done)
	case r < 66:
		c.posixLink(c.pick(posixFiles), c.pick(posixFiles), done)
	case r < 74:
		c.posixUnlink(c.pick(posixFiles), false, done)
	case r < 78:
		c.posixUnlink(c.pick(posixDirs), true, done)
	case r < 86:
		c.posixRead(c.pick(posixFiles), done)
	case r < 89:
		c.posixSymlink(c.pick(posixFiles), done)
	case r < 93:
		c.posixXattr(c.anyPath(), done)
	case r < 95:
		c.posixChmod(c.anyPath(), done)
	case r < 97:
		c.posixListXattrs(c.anyPath(), done)
	default:
		c.posixReaddir(append([]string{""}, posixDirs...)[c.rng.IntN(len(posixDirs)+1)], done)
	}
}

// resolvePath walks a path from the root on a view.
func resolvePath(v kv.Reader, path string) pxLookupOut {
	cur := namespace.RootIno
	if path != "" {
		for _, name := range strings.Split(path, "/") {
			in, err := namespace.GetInode(v, cur)
			if err != nil || in.Kind != namespace.KindDir {
				return pxLookupOut{Err: "notdir"}
			}
			d, ok, err := namespace.Lookup(v, cur, name)
			if err != nil || !ok {
				return pxLookupOut{Err: "noent"}
			}
			cur = d.Ino
		}
	}
	in, err := namespace.GetInode(v, cur)
	if err != nil {
		return pxLookupOut{Err: "noent"}
	}
	return pxLookupOut{Ino: cur, Dir: in.Kind == namespace.KindDir}
}

func splitPath(path string) (string, string) {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[:i], path[i+1:]
	}
	return "", path
}

// lookup resolves a path on a view and records the observation.
func (c *client) lookup(v kv.Reader, path string, call int64) pxLookupOut {
	out := resolvePath(v, path)
	if path != "" {
		h := c.w.hist.begin(c.w, posixObject, c.id, pxLookup{Path: path})
		h.call = call
		c.w.hist.ok(c.w, h, out)
	}
	return out
}

// posixDecide builds the decision for one POSIX event, checked on the
// view with the projection's own validation.
func (c *client) posixDecide(v kv.Reader, shard uint64, body event.Body, hdr event.Header) (*commands.Decision, error) {
	if err := (namespace.Projection{}).Validate(v, nil, body); err != nil {
		return nil, err
	}
	return &commands.Decision{Shard: shard, Tenant: c.p.Tenant, Actor: c.p.Actor(),
		Events: []commands.Pending{{Body: body, Header: hdr}}}, nil
}

// posixOp runs one POSIX mutation: decide returns the decision and the
// model input; built completes the input once the event id is known.
func (c *client) posixOp(what string, decide func(v kv.Reader, shard uint64, call int64) (*commands.Decision, any, error), built func(in any, data []byte) any, done func()) {
	h := c.w.hist.begin(c.w, posixObject, c.id, nil)
	c.w.tracef("op c%d posix %s", c.id, what)
	c.bucketShard(bucketGamma, func(shard uint64, err error) {
		if err != nil {
			c.w.hist.failed(h)
			done()
			return
		}
		c.runBuilt(shard, func(v kv.Reader) (*commands.Decision, error) {
			d, in, err := decide(v, shard, h.call)
			h.in = in
			return d, err
		}, func(_ *commands.Decision, data []byte) {
			if built != nil {
				h.in = built(h.in, data)
			}
		}, func(o outcome) {
			if o.d == nil && o.err == nil {
				c.w.hist.failed(h) // nothing to do
			} else {
				c.finish(h, o)
			}
			c.w.tracef("op c%d posix %s done: %v", c.id, what, o.err)
			done()
		})
	})
}

func (c *client) posixCreate(path string, dir bool, done func()) {
	c.posixNode(path, dir, "", done)
}

// posixSymlink makes a symbolic link at path (to a fixed target).
func (c *client) posixSymlink(path string, done func()) {
	c.posixNode(path, false, "../"+path, done)
}

// posixNode creates a file, a directory or (with a target) a symlink.
func (c *client) posixNode(path string, dir bool, target string, done func()) {
	parentPath, name := splitPath(path)
	c.posixOp("create "+path, func(v kv.Reader, shard uint64, call int64) (*commands.Decision, any, error) {
		parent := c.lookup(v, parentPath, call)
		in := pxCreate{Parent: parent.Ino, Name: name, Dir: dir, Symlink: target != ""}
		n := event.NodeCreated{Parent: parent.Ino, Name: name, Posix: event.PosixAttrs{Mode: 0o100644}, MtimeNs: commands.NowNs(c.env.Clock.Now())}
		var body event.Body = &event.FileCreated{NodeCreated: n}
		switch {
		case dir:
			n.Posix.Mode = 0o040755
			body = &event.DirectoryCreated{NodeCreated: n}
		case target != "":
			n.Posix.Mode = 0o120777
			body = &event.SymlinkCreated{NodeCreated: n, Target: target}
		}
		d, err := c.posixDecide(v, shard, body, event.Header{})
		return d, in, err
	}, func(in any, data []byte) any {
		cr := in.(pxCreate)
		cr.Ino = namespace.DeriveIno(firstEventID(data), 0)
		return cr
	}, done)
}

// posixWrite writes inline bytes at an offset, or (for about half the
// writes) chunked content stored first, as extents; append lands at the
// file's size as of apply.
func (c *client) posixWrite(path string, appendMode bool, done func()) {
	data := c.smallBody()
	if len(data) == 0 {
		data = []byte("x")
	}
	var refs []chunks.ChunkRef
	inline := c.rng.IntN(2) == 0
	if !inline {
		data = c.largeBody()
	}
	proceed := func() {
		c.posixOp("write "+path, func(v kv.Reader, shard uint64, call int64) (*commands.Decision, any, error) {
			f := c.lookup(v, path, call)
			size := fileSize(v, f.Ino)
			off := int64(0)
			if !appendMode && size > 0 {
				off = c.rng.Int64N(size + 1)
			}
			wr := event.WriteRange{Offset: off}
			hdr := event.Header{SizeBytes: int64(len(data))}
			if inline {
				wr.Inline = data
			} else {
				wr.Extents = commands.ChunkExtents(refs)
				for _, x := range wr.Extents {
					hdr.ChunkRefs = append(hdr.ChunkRefs, x.Chunk)
				}
			}
			body := &event.FileWritten{Ino: f.Ino, Writes: []event.WriteRange{wr}, Append: appendMode, MtimeNs: commands.NowNs(c.env.Clock.Now())}
			d, err := c.posixDecide(v, shard, body, hdr)
			return d, pxWrite{Ino: f.Ino, Off: off, Data: string(data), Inline: inline, Append: appendMode}, err
		}, nil, done)
	}
	if inline {
		proceed()
		return
	}
	c.storeChunks(data, func(stored []chunks.ChunkRef, err error) {
		if err != nil {
			done()
			return
		}
		refs = stored
		proceed()
	})
}

// fileSize is a file's size on a view (0 when it is not a file).
func fileSize(v kv.Reader, ino uint64) int64 {
	in, err := namespace.GetInode(v, ino)
	if err != nil || in.Kind != namespace.KindFile {
		return 0
	}
	content, err := namespace.FileContent(v, in)
	if err != nil {
		return 0
	}
	return content.Size
}

func (c *client) posixTruncate(path string, done func()) {
	c.posixOp("truncate "+path, func(v kv.Reader, shard uint64, call int64) (*commands.Decision, any, error) {
		f := c.lookup(v, path, call)
		size := c.rng.Int64N(fileSize(v, f.Ino) + 100)
		body := &event.FileTruncated{Ino: f.Ino, Size: size, MtimeNs: commands.NowNs(c.env.Clock.Now())}
		d, err := c.posixDecide(v, shard, body, event.Header{})
		return d, pxTruncate{Ino: f.Ino, Size: size}, err
	}, nil, done)
}

func (c *client) posixRename(src, dst string, done func()) {
	srcParent, srcName := splitPath(src)
	dstParent, dstName := splitPath(dst)
	c.posixOp("rename "+src+" "+dst, func(v kv.Reader, shard uint64, call int64) (*commands.Decision, any, error) {
		sp := c.lookup(v, srcParent, call)
		dp := c.lookup(v, dstParent, call)
		body := &event.EntryRenamed{SourceParent: sp.Ino, SourceName: srcName, TargetParent: dp.Ino, TargetName: dstName,
			MtimeNs: commands.NowNs(c.env.Clock.Now())}
		d, err := c.posixDecide(v, shard, body, event.Header{})
		return d, pxRename{SrcParent: sp.Ino, SrcName: srcName, DstParent: dp.Ino, DstName: dstName}, err
	}, nil, done)
}

func (c *client) posixLink(src, dst string, done func()) {
	dstParent, dstName := splitPath(dst)
	c.posixOp("link "+src+" "+dst, func(v kv.Reader, shard uint64, call int64) (*commands.Decision, any, error) {
		f := c.lookup(v, src, call)
		dp := c.lookup(v, dstParent, call)
		body := &event.HardLinkCreated{Ino: f.Ino, Parent: dp.Ino, Name: dstName, MtimeNs: commands.NowNs(c.env.Clock.Now())}
		d, err := c.posixDecide(v, shard, body, event.Header{})
		return d, pxLink{Ino: f.Ino, Parent: dp.Ino, Name: dstName}, err
	}, nil, done)
}

func (c *client) posixUnlink(path string, dir bool, done func()) {
	parentPath, name := splitPath(path)
	c.posixOp("unlink "+path, func(v kv.Reader, shard uint64, call int64) (*commands.Decision, any, error) {
		parent := c.lookup(v, parentPath, call)
		now := commands.NowNs(c.env.Clock.Now())
		var body event.Body = &event.EntryUnlinked{Parent: parent.Ino, Name: name, MtimeNs: now}
		if dir {
			body = &event.DirectoryRemoved{Parent: parent.Ino, Name: name, MtimeNs: now}
		}
		d, err := c.posixDecide(v, shard, body, event.Header{})
		return d, pxUnlink{Parent: parent.Ino, Name: name, Dir: dir}, err
	}, nil, done)
}

// posixRead reads a file through a linearizable view.
func (c *client) posixRead(path string, done func()) {
	c.posixObserve(path, true, func(ino uint64) any { return pxRead{Ino: ino} }, func(v kv.Reader, ino uint64) (any, error) {
		return c.readFile(v, ino)
	}, done)
}

// posixObserve is a read-only POSIX call through a linearizable view: it
// resolves path (nothing is recorded when that fails, or when the path is
// a directory and filesOnly is set), records the operation input(ino) in
// the history and completes it with what observe sees, or as failed when
// observe errs.
func (c *client) posixObserve(path string, filesOnly bool, input func(ino uint64) any,
	observe func(v kv.Reader, ino uint64) (any, error), done func()) {
	call := c.w.stamp()
	c.readNamespace(bucketGamma, func(v *shardView, err error) {
		defer done()
		if err != nil {
			return
		}
		f := c.lookup(v, path, call)
		if f.Err != "" || (filesOnly && f.Dir) {
			return
		}
		h := c.w.hist.begin(c.w, posixObject, c.id, input(f.Ino))
		h.call = call
		out, err := observe(v, f.Ino)
		if err != nil {
			c.w.hist.stats.ReadErrors++
			c.w.hist.failed(h)
			return
		}
		c.w.hist.ok(c.w, h, out)
	})
}

// readFile reads a file's current content.
func (c *client) readFile(v kv.Reader, ino uint64) (pxReadOut, error) {
	in, err := namespace.GetInode(v, ino)
	if err != nil || in.Kind != namespace.KindFile {
		return pxReadOut{}, nil
	}
	content, err := namespace.FileContent(v, in)
	if err != nil {
		return pxReadOut{}, err
	}
	data, err := c.readContent(v, content)
	if err != nil {
		return pxReadOut{}, err
	}
	return pxReadOut{Exists: true, Hash: contentHash(data)}, nil
}

func (c *client) posixReaddir(path string, done func()) {
	c.posixObserve(path, false, func(ino uint64) any { return pxReaddir{Ino: ino} }, func(v kv.Reader, ino uint64) (any, error) {
		return readdir(v, ino), nil
	}, done)
}

// readdir lists a directory on a view in the model's form.
func readdir(v kv.Reader, ino uint64) []string {
	in, err := namespace.GetInode(v, ino)
	if err != nil || in.Kind != namespace.KindDir {
		return notDir
	}
	ents, err := namespace.ReadDir(v, ino, "", 0)
	if err != nil {
		return notDir
	}
	out := []string{}
	for _, e := range ents {
		out = append(out, namespace.SortName(e.Name, e.Kind))
	}
	return out
}

var xattrNames = []string{"user.alpha", "user.beta", "user.gamma"}

// posixXattr sets or removes an extended attribute.
func (c *client) posixXattr(path string, done func()) {
	name := c.pick(xattrNames)
	remove := c.rng.IntN(3) == 0
	value := string(c.smallBody())
	c.posixOp("xattr "+path, func(v kv.Reader, shard uint64, call int64) (*commands.Decision, any, error) {
		f := c.lookup(v, path, call)
		var body event.Body = &event.XattrSet{Ino: f.Ino, Name: name, Value: []byte(value)}
		if remove {
			body = &event.XattrRemoved{Ino: f.Ino, Name: name}
		}
		d, err := c.posixDecide(v, shard, body, event.Header{})
		return d, pxXattr{Ino: f.Ino, Name: name, Value: value, Remove: remove}, err
	}, nil, done)
}

// posixChmod changes a mode and times (AttrsChanged).
func (c *client) posixChmod(path string, done func()) {
	mode := uint32(0o600 + c.rng.IntN(0o177))
	c.posixOp("chmod "+path, func(v kv.Reader, shard uint64, call int64) (*commands.Decision, any, error) {
		f := c.lookup(v, path, call)
		now := commands.NowNs(c.env.Clock.Now())
		body := &event.AttrsChanged{Ino: f.Ino, Mode: &mode, MtimeNs: &now, CtimeNs: now}
		d, err := c.posixDecide(v, shard, body, event.Header{})
		return d, pxChmod{Ino: f.Ino}, err
	}, nil, done)
}

// posixListXattrs reads an inode's extended attributes.
func (c *client) posixListXattrs(path string, done func()) {
	c.posixObserve(path, false, func(ino uint64) any { return pxXattrs{Ino: ino} }, func(v kv.Reader, ino uint64) (any, error) {
		return xattrList(v, ino), nil
	}, done)
}

// xattrList renders an inode's extended attributes as "name=value".
func xattrList(v kv.Reader, ino uint64) []string {
	if _, err := namespace.GetInode(v, ino); err != nil {
		return notDir
	}
	names, err := namespace.Xattrs(v, ino)
	if err != nil {
		return notDir
	}
	out := []string{}
	for _, n := range names {
		val, _, _ := namespace.Xattr(v, ino, n)
		out = append(out, n+"="+string(val))
	}
	return out
}
