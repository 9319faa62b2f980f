package fuse

import (
	"strings"
	"syscall"

	fuselib "github.com/hanwen/go-fuse/v2/fuse"

	"github.com/annal-storage/annal/gateways/native/wire"
)

// Extended attributes live in the namespace. Two families are answered
// here: system.posix_acl_* (no POSIX ACLs: EOPNOTSUPP), and
// security.capability, which the kernel asks about before every write;
// file capabilities are not supported, so it is absent without a round
// trip.

func unsupportedXattr(name string) bool {
	return strings.HasPrefix(name, "system.")
}

const capabilityXattr = "security.capability"

// GetXAttr reads one attribute; a too-small buffer is ERANGE with the
// size needed.
func (fs *FS) GetXAttr(cancel <-chan struct{}, h *fuselib.InHeader, name string, dest []byte) (uint32, fuselib.Status) {
	if unsupportedXattr(name) {
		return 0, fuselib.Status(syscall.EOPNOTSUPP)
	}
	if name == capabilityXattr {
		return 0, fuselib.ENODATA
	}
	ctx, stop := ctxOf(cancel)
	defer stop()
	v, err := fs.b.GetXattr(ctx, h.NodeId, name)
	if err != nil {
		return 0, status(err)
	}
	return copyOut(dest, v)
}

func copyOut(dest, v []byte) (uint32, fuselib.Status) {
	if len(dest) == 0 {
		return uint32(len(v)), fuselib.OK
	}
	if len(dest) < len(v) {
		return uint32(len(v)), fuselib.ERANGE
	}
	return uint32(copy(dest, v)), fuselib.OK
}

// ListXAttr lists names, NUL-terminated.
func (fs *FS) ListXAttr(cancel <-chan struct{}, h *fuselib.InHeader, dest []byte) (uint32, fuselib.Status) {
	ctx, stop := ctxOf(cancel)
	defer stop()
	names, err := fs.b.ListXattrs(ctx, h.NodeId)
	if err != nil {
		return 0, status(err)
	}
	var buf []byte
	for _, n := range names {
		buf = append(append(buf, n...), 0)
	}
	return copyOut(dest, buf)
}

// Flags of setxattr(2).
const (
	xattrCreate  = 0x1
	xattrReplace = 0x2
)

// SetXAttr sets one attribute, honouring XATTR_CREATE (EEXIST) and
// XATTR_REPLACE (ENODATA).
func (fs *FS) SetXAttr(cancel <-chan struct{}, in *fuselib.SetXAttrIn, name string, value []byte) fuselib.Status {
	if fs.opts.ReadOnly {
		return fuselib.EROFS
	}
	if unsupportedXattr(name) || name == capabilityXattr {
		return fuselib.Status(syscall.EOPNOTSUPP)
	}
	mode := ""
	switch {
	case in.Flags&xattrCreate != 0:
		mode = wire.XattrCreate
	case in.Flags&xattrReplace != 0:
		mode = wire.XattrReplace
	}
	ctx, stop := ctxOf(cancel)
	defer stop()
	return status(fs.b.SetXattr(ctx, in.NodeId, name, value, mode))
}

// RemoveXAttr removes one attribute; a missing one is ENODATA.
func (fs *FS) RemoveXAttr(cancel <-chan struct{}, h *fuselib.InHeader, name string) fuselib.Status {
	if fs.opts.ReadOnly {
		return fuselib.EROFS
	}
	if unsupportedXattr(name) {
		return fuselib.Status(syscall.EOPNOTSUPP)
	}
	ctx, stop := ctxOf(cancel)
	defer stop()
	return status(fs.b.RemoveXattr(ctx, h.NodeId, name))
}
