package fuse

import (
	"context"
	"errors"
	"syscall"

	fuselib "github.com/hanwen/go-fuse/v2/fuse"

	"github.com/annal-storage/annal/gateways/native/wire"
)

// errnoTable is the one place wire error codes become errno values.
// Type mismatches the kernel already catches with its cached attributes
// (link to a directory: EPERM; unlink of a directory: EISDIR; a rename
// into the source's own subtree: EINVAL) never reach the server; the
// table covers what the server decides.
var errnoTable = map[wire.Code]syscall.Errno{
	wire.CodeNotFound:           syscall.ENOENT,
	wire.CodeAlreadyExists:      syscall.EEXIST,
	wire.CodeNotEmpty:           syscall.ENOTEMPTY,
	wire.CodeNotDirectory:       syscall.ENOTDIR,
	wire.CodeIsDirectory:        syscall.EISDIR,
	wire.CodeParentNotDirectory: syscall.ENOTDIR,
	wire.CodeInvalid:            syscall.EINVAL,
	wire.CodeNameTooLong:        syscall.ENAMETOOLONG,
	wire.CodeNoData:             syscall.ENODATA,
	wire.CodeLoop:               syscall.EINVAL,
	wire.CodeCrossDevice:        syscall.EXDEV,
	wire.CodeNoSuchBucket:       syscall.ENOENT,
	wire.CodeAccessDenied:       syscall.EACCES,
	wire.CodeUnauthenticated:    syscall.EACCES,
	wire.CodePreconditionFailed: syscall.EAGAIN,
	wire.CodeNotSupported:       syscall.EOPNOTSUPP,
	wire.CodeReadOnly:           syscall.EROFS,
	wire.CodeConflict:           syscall.EAGAIN,
	wire.CodeUnavailable:        syscall.EIO,
	wire.CodeInternal:           syscall.EIO,
}

// errnoOf maps an error to the errno a system call returns: wire codes
// by the table, an interrupted request EINTR, an errno the file system
// itself returned as it is, and anything else (the server unreachable, a
// broken stream — even when a transport errno is wrapped inside) EIO.
func errnoOf(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	if c := wire.CodeOf(err); c != "" {
		if e, ok := errnoTable[c]; ok {
			return e
		}
		return syscall.EIO
	}
	if errno, ok := err.(syscall.Errno); ok {
		return errno
	}
	if errors.Is(err, context.Canceled) {
		return syscall.EINTR
	}
	return syscall.EIO
}

// status is errnoOf as a FUSE status.
func status(err error) fuselib.Status {
	if err == nil {
		return fuselib.OK
	}
	return fuselib.Status(errnoOf(err))
}
