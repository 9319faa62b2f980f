package fuse

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"strings"
	"time"

	fuselib "github.com/hanwen/go-fuse/v2/fuse"
)

// MountOptions configure a mount.
type MountOptions struct {
	Options
	// AllowOther lets users other than the mounting one use the mount
	// (permissions are still checked by the kernel against uid, gid and
	// mode).
	AllowOther bool
	// FsName is shown as the source in /proc/mounts.
	FsName string
	Debug  bool
}

// maxRequestBytes is the largest read or write request the kernel sends
// (it needs Linux 4.20+ for more than 128 KiB).
const maxRequestBytes = 1 << 20

// Mount checks that the namespace can be opened, mounts it at
// mountpoint and serves it in the background. The caller unmounts with
// Server.Unmount and waits with Server.Wait.
func Mount(ctx context.Context, mountpoint string, b Backend, opts MountOptions) (*fuselib.Server, *FS, error) {
	if _, err := b.Open(ctx); err != nil {
		return nil, nil, fmt.Errorf("open namespace: %w", err)
	}
	fs := New(b, opts.Options)
	mo := &fuselib.MountOptions{
		FsName: opts.FsName, Name: "annal",
		// The kernel checks permissions against the attributes served.
		Options:              []string{"default_permissions"},
		AllowOther:           opts.AllowOther,
		DirectMount:          true,
		MaxWrite:             maxRequestBytes,
		MaxBackground:        64,
		EnableLocks:          true,
		EnableSymlinkCaching: true,
		Debug:                opts.Debug,
		Logger:               log.New(slogWriter{fs.log}, "", 0),
	}
	if opts.ReadOnly {
		mo.Options = append(mo.Options, "ro")
	}
	srv, err := fuselib.NewServer(fs, mountpoint, mo)
	if err != nil {
		return nil, nil, fmt.Errorf("mount %s: %w", mountpoint, err)
	}
	go srv.Serve()
	if err := srv.WaitMount(); err != nil {
		return nil, nil, fmt.Errorf("mount %s: %w", mountpoint, err)
	}
	fs.log.Info("annal mount: writable shared mmap is not supported (the kernel refuses it with ENODEV on files open for writing); use write()",
		"mountpoint", mountpoint)
	return srv, fs, nil
}

// Unmount unmounts, retrying while the mount is busy, until ctx ends.
func Unmount(ctx context.Context, srv *fuselib.Server) error {
	for {
		err := srv.Unmount()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("unmount: %w", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// slogWriter routes go-fuse's log lines to slog.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Debug("go-fuse: " + strings.TrimSpace(string(p)))
	return len(p), nil
}
