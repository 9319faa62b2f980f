package fuse

import (
	"context"
	"fmt"
	"strings"
	"syscall"

	fuselib "github.com/hanwen/go-fuse/v2/fuse"

	"github.com/annal-storage/annal/gateways/native/wire"
)

// Lookup resolves a name; an absent name is cached for NegativeTimeout.
func (fs *FS) Lookup(cancel <-chan struct{}, h *fuselib.InHeader, name string, out *fuselib.EntryOut) fuselib.Status {
	if st := checkName(name); !st.Ok() {
		return st
	}
	ctx, stop := ctxOf(cancel)
	defer stop()
	a, err := fs.b.Lookup(ctx, h.NodeId, name)
	if wire.CodeOf(err) == wire.CodeNotFound && fs.opts.NegativeTimeout > 0 {
		*out = fuselib.EntryOut{} // NodeId 0: a negative entry the kernel caches
		out.SetEntryTimeout(fs.opts.NegativeTimeout)
		return fuselib.OK
	}
	if err != nil {
		return status(err)
	}
	fs.fillEntry(a, out)
	return fuselib.OK
}

// GetAttr answers from the server, with this mount's pending writes laid
// over the size.
func (fs *FS) GetAttr(cancel <-chan struct{}, in *fuselib.GetAttrIn, out *fuselib.AttrOut) fuselib.Status {
	ctx, stop := ctxOf(cancel)
	defer stop()
	a, err := fs.b.GetAttr(ctx, in.NodeId)
	if err != nil {
		if wire.CodeOf(err) == wire.CodeNotFound {
			if a, ok := fs.orphanAttr(in.NodeId); ok {
				out.SetTimeout(0)
				fs.fillAttr(a, &out.Attr)
				return fuselib.OK
			}
		}
		return status(err)
	}
	out.SetTimeout(clampTimeout(fs.opts.AttrTimeout))
	fs.fillAttr(fs.overlay(a), &out.Attr)
	return fuselib.OK
}

// SetAttr applies chmod, chown, utimens and truncate. Pending writes are
// flushed first: their event would otherwise overwrite an explicit mtime
// (cp -a, rsync, tar set times after writing).
func (fs *FS) SetAttr(cancel <-chan struct{}, in *fuselib.SetAttrIn, out *fuselib.AttrOut) fuselib.Status {
	if fs.opts.ReadOnly {
		return fuselib.EROFS
	}
	ctx, stop := ctxOf(cancel)
	defer stop()
	if err := fs.flushInode(ctx, in.NodeId); err != nil {
		return status(err)
	}
	req := fs.setAttrRequest(in)
	a, err := fs.b.SetAttr(ctx, in.NodeId, req)
	if err != nil {
		return status(err)
	}
	if req.Size != nil {
		fs.truncated(in.NodeId, *req.Size)
	}
	out.SetTimeout(clampTimeout(fs.opts.AttrTimeout))
	fs.fillAttr(fs.overlay(a), &out.Attr)
	return fuselib.OK
}

func (fs *FS) setAttrRequest(in *fuselib.SetAttrIn) wire.SetAttrRequest {
	var req wire.SetAttrRequest
	if m, ok := in.GetMode(); ok {
		req.Mode = &m
	}
	if u, ok := in.GetUID(); ok {
		r := fs.opts.UIDs.Remote(u)
		req.Uid = &r
	}
	if g, ok := in.GetGID(); ok {
		r := fs.opts.GIDs.Remote(g)
		req.Gid = &r
	}
	if sz, ok := in.GetSize(); ok {
		s := int64(sz)
		req.Size = &s
	}
	if in.Valid&fuselib.FATTR_ATIME != 0 {
		if in.Valid&fuselib.FATTR_ATIME_NOW != 0 {
			req.AtimeNow = true
		} else {
			ns := int64(in.Atime)*1e9 + int64(in.Atimensec)
			req.AtimeNs = &ns
		}
	}
	if in.Valid&fuselib.FATTR_MTIME != 0 {
		if in.Valid&fuselib.FATTR_MTIME_NOW != 0 {
			req.MtimeNow = true
		} else {
			ns := int64(in.Mtime)*1e9 + int64(in.Mtimensec)
			req.MtimeNs = &ns
		}
	}
	return req
}

// create makes a node as the calling user (mapped).
func (fs *FS) create(ctx context.Context, h *fuselib.InHeader, name string, req wire.CreateRequest, out *fuselib.EntryOut) fuselib.Status {
	if fs.opts.ReadOnly {
		return fuselib.EROFS
	}
	if st := checkName(name); !st.Ok() {
		return st
	}
	req.Name = name
	req.Uid, req.Gid = fs.opts.UIDs.Remote(h.Uid), fs.opts.GIDs.Remote(h.Gid)
	a, err := fs.b.Create(ctx, h.NodeId, req)
	if err != nil {
		return status(err)
	}
	fs.fillEntry(a, out)
	return fuselib.OK
}

// Mkdir makes a directory (an explicit one: S3 lists it as "name/").
func (fs *FS) Mkdir(cancel <-chan struct{}, in *fuselib.MkdirIn, name string, out *fuselib.EntryOut) fuselib.Status {
	ctx, stop := ctxOf(cancel)
	defer stop()
	return fs.create(ctx, &in.InHeader, name, wire.CreateRequest{Type: wire.TypeDir, Mode: in.Mode & 0o7777}, out)
}

// Mknod makes regular files only: FIFOs, sockets and devices are outside
// the namespace model (EOPNOTSUPP).
func (fs *FS) Mknod(cancel <-chan struct{}, in *fuselib.MknodIn, name string, out *fuselib.EntryOut) fuselib.Status {
	if in.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return fuselib.Status(syscall.EOPNOTSUPP)
	}
	ctx, stop := ctxOf(cancel)
	defer stop()
	return fs.create(ctx, &in.InHeader, name, wire.CreateRequest{Type: wire.TypeFile, Mode: in.Mode & 0o7777}, out)
}

// Symlink makes a symbolic link; the target is stored in the event.
func (fs *FS) Symlink(cancel <-chan struct{}, h *fuselib.InHeader, target, name string, out *fuselib.EntryOut) fuselib.Status {
	ctx, stop := ctxOf(cancel)
	defer stop()
	return fs.create(ctx, h, name, wire.CreateRequest{Type: wire.TypeSymlink, Mode: 0o777, Target: target}, out)
}

// Readlink returns a symbolic link's target.
func (fs *FS) Readlink(cancel <-chan struct{}, h *fuselib.InHeader) ([]byte, fuselib.Status) {
	ctx, stop := ctxOf(cancel)
	defer stop()
	a, err := fs.b.GetAttr(ctx, h.NodeId)
	if err != nil {
		return nil, status(err)
	}
	if !a.IsSymlink() {
		return nil, fuselib.EINVAL
	}
	return []byte(a.Target), fuselib.OK
}

// Link gives a file another name in this namespace. (A link across
// mounts never gets here: the kernel refuses it with EXDEV.)
func (fs *FS) Link(cancel <-chan struct{}, in *fuselib.LinkIn, name string, out *fuselib.EntryOut) fuselib.Status {
	ctx, stop := ctxOf(cancel)
	defer stop()
	return fs.create(ctx, &in.InHeader, name, wire.CreateRequest{Type: wire.TypeLink, Ino: in.Oldnodeid}, out)
}

// sillyPrefix names files unlinked while this mount still has them open
// (as NFS does): their bytes stay readable and writable until the last
// close, which removes the name.
const sillyPrefix = ".annal-unlinked-"

// Unlink removes a name.
func (fs *FS) Unlink(cancel <-chan struct{}, h *fuselib.InHeader, name string) fuselib.Status {
	if fs.opts.ReadOnly {
		return fuselib.EROFS
	}
	ctx, stop := ctxOf(cancel)
	defer stop()
	if _, ok := fs.hideIfOpen(ctx, h.NodeId, name); ok {
		return fuselib.OK
	}
	return status(fs.b.Remove(ctx, h.NodeId, name, false))
}

// Rmdir removes an empty directory.
func (fs *FS) Rmdir(cancel <-chan struct{}, h *fuselib.InHeader, name string) fuselib.Status {
	if fs.opts.ReadOnly {
		return fuselib.EROFS
	}
	ctx, stop := ctxOf(cancel)
	defer stop()
	return status(fs.b.Remove(ctx, h.NodeId, name, true))
}

// Rename flag bits (renameat2).
const (
	renameNoReplace = 1 << 0
	renameExchange  = 1 << 1
	renameWhiteout  = 1 << 2
)

// Rename moves a name atomically, replacing the target per POSIX.
// RENAME_NOREPLACE is supported; RENAME_EXCHANGE and RENAME_WHITEOUT are
// not (EINVAL).
func (fs *FS) Rename(cancel <-chan struct{}, in *fuselib.RenameIn, oldName, newName string) fuselib.Status {
	if fs.opts.ReadOnly {
		return fuselib.EROFS
	}
	if in.Flags&(renameExchange|renameWhiteout) != 0 {
		return fuselib.EINVAL
	}
	if st := checkName(newName); !st.Ok() {
		return st
	}
	ctx, stop := ctxOf(cancel)
	defer stop()
	noReplace := in.Flags&renameNoReplace != 0
	var hidden hiddenFile
	if !noReplace && !(in.NodeId == in.Newdir && oldName == newName) {
		hidden, _ = fs.hideIfOpen(ctx, in.Newdir, newName)
	}
	err := fs.b.Rename(ctx, wire.RenameRequest{SourceParent: in.NodeId, SourceName: oldName,
		TargetParent: in.Newdir, TargetName: newName, NoReplace: noReplace})
	if err != nil && hidden.name != "" {
		fs.unhide(ctx, in.Newdir, newName, hidden)
	}
	return status(err)
}

// unhide gives a rename target hidden before a rename that then failed
// its name back.
func (fs *FS) unhide(ctx context.Context, parent uint64, name string, h hiddenFile) {
	err := fs.b.Rename(ctx, wire.RenameRequest{SourceParent: parent, SourceName: h.name, TargetParent: parent, TargetName: name})
	if err != nil {
		fs.log.Warn("annal mount: restoring a name after a failed rename", "name", name, "err", err)
		return
	}
	if in := fs.lookupInode(h.ino); in != nil {
		in.mu.Lock()
		in.orphan = false
		in.mu.Unlock()
	}
}

// hiddenFile is a file renamed to a hidden name.
type hiddenFile struct {
	ino  uint64
	name string
}

// hideIfOpen renames a regular file with one name that this mount has
// open to a hidden name instead of removing it, and reports whether it
// did.
func (fs *FS) hideIfOpen(ctx context.Context, parent uint64, name string) (hiddenFile, bool) {
	if strings.HasPrefix(name, sillyPrefix) || !fs.anyOpen() {
		return hiddenFile{}, false
	}
	a, err := fs.b.Lookup(ctx, parent, name)
	if err != nil || !a.IsFile() || a.Nlink != 1 || !fs.isOpen(a.Ino) {
		return hiddenFile{}, false
	}
	hidden := fmt.Sprintf("%s%x", sillyPrefix, a.Ino)
	if err := fs.b.Rename(ctx, wire.RenameRequest{SourceParent: parent, SourceName: name, TargetParent: parent, TargetName: hidden}); err != nil {
		return hiddenFile{}, false
	}
	fs.markOrphan(a, parent, hidden)
	return hiddenFile{ino: a.Ino, name: hidden}, true
}
