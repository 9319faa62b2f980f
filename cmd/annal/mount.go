package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/annal-storage/annal/gateways/fuse"
	"github.com/annal-storage/annal/gateways/native/client"
	"github.com/annal-storage/annal/gateways/native/wire"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// mountFlags are the options of `annal mount`.
type mountFlags struct {
	endpoint, credentials, profile, caFile string
	uidMap, gidMap                         string
	readOnly, allowOther, debug, create    bool
	attrTimeout, entryTimeout, negTimeout  time.Duration
	retryFor                               time.Duration
	logLevel                               string
}

func mountCmd() *cobra.Command {
	var f mountFlags
	c := &cobra.Command{
		Use:   "mount BUCKET MOUNTPOINT",
		Short: "mount a bucket as a POSIX file system (FUSE), in the foreground",
		Long: `Mount a bucket through the native API. The mount stays in the foreground
and unmounts on SIGINT or SIGTERM (a second signal detaches it lazily when
files are still open). Files written through the mount are S3 objects with
the same bytes; S3 writes appear in the mount within the cache timeouts.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			sig := make(chan os.Signal, 2)
			signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
			defer signal.Stop(sig)
			return runMount(f, args[0], args[1], sig, os.Stdout)
		},
	}
	f.register(c.Flags())
	return c
}

// register declares the flags of `annal mount` and their defaults.
func (f *mountFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&f.endpoint, "endpoint", "127.0.0.1:9100", "native API address HOST:PORT, or an http(s):// URL")
	fl.StringVar(&f.credentials, "credentials", "annal-data/bootstrap-credentials", "AWS shared-credentials file with the tenant's access key")
	fl.StringVar(&f.profile, "profile", "default", "profile in the credentials file")
	fl.StringVar(&f.caFile, "ca-file", "", "PEM CA bundle for an https endpoint with a private CA")
	fl.BoolVar(&f.readOnly, "read-only", false, "mount read-only")
	fl.BoolVar(&f.create, "create", false, "create the bucket first if the tenant does not have it")
	// A root mount usually serves a node's users (an HPC login or compute
	// node), so it is shared by default; the kernel still enforces each
	// file's uid, gid and mode (default_permissions).
	fl.BoolVar(&f.allowOther, "allow-other", os.Geteuid() == 0, "let other users use the mount (the kernel still checks uid, gid and mode); default on when run as root")
	fl.StringVar(&f.uidMap, "uid-map", "", "map local to stored user ids: LOCAL:STORED[,LOCAL:STORED...]")
	fl.StringVar(&f.gidMap, "gid-map", "", "map local to stored group ids: LOCAL:STORED[,...]")
	fl.DurationVar(&f.attrTimeout, "attr-timeout", time.Second, "how long the kernel caches attributes (0: not at all)")
	fl.DurationVar(&f.entryTimeout, "entry-timeout", time.Second, "how long the kernel caches names")
	fl.DurationVar(&f.negTimeout, "negative-timeout", time.Second, "how long the kernel caches absent names")
	fl.DurationVar(&f.retryFor, "retry-for", 30*time.Second, "how long requests are retried while the server is unreachable")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fl.BoolVar(&f.debug, "debug", false, "log every FUSE request")
}

// zeroAsOff turns a 0 duration flag into "no caching" (a negative value
// for fuse.Options, whose zero means the default).
func zeroAsOff(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// runMount mounts and serves until a signal arrives on sig and the
// mount is gone.
func runMount(f mountFlags, bucket, mountpoint string, sig <-chan os.Signal, out io.Writer) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	opts, err := f.options(logger)
	if err != nil {
		return err
	}
	creds, err := client.LoadCredentials(f.credentials, f.profile)
	if err != nil {
		return err
	}
	c, err := client.New(client.Config{Endpoint: f.endpoint, Credentials: creds, CAFile: f.caFile, RetryFor: f.retryFor})
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	ns := c.Namespace(bucket)
	if f.create {
		if _, err := ns.CreateBucket(ctx); err != nil && wire.CodeOf(err) != wire.CodeAlreadyExists {
			cancel()
			return fmt.Errorf("create bucket %s: %w", bucket, err)
		}
	}
	srv, _, err := fuse.Mount(ctx, mountpoint, ns, opts)
	cancel()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "annal: %s mounted on %s (Ctrl-C to unmount)\n", bucket, mountpoint)
	go unmountOnSignal(sig, srv, mountpoint, logger)
	srv.Wait()
	fmt.Fprintf(out, "annal: %s unmounted\n", mountpoint)
	return nil
}

func (f mountFlags) options(logger *slog.Logger) (fuse.MountOptions, error) {
	uids, err := fuse.ParseIDMap(f.uidMap)
	if err != nil {
		return fuse.MountOptions{}, fmt.Errorf("--uid-map: %w", err)
	}
	gids, err := fuse.ParseIDMap(f.gidMap)
	if err != nil {
		return fuse.MountOptions{}, fmt.Errorf("--gid-map: %w", err)
	}
	return fuse.MountOptions{Options: fuse.Options{AttrTimeout: zeroAsOff(f.attrTimeout), EntryTimeout: zeroAsOff(f.entryTimeout),
		NegativeTimeout: zeroAsOff(f.negTimeout), ReadOnly: f.readOnly, UIDs: uids, GIDs: gids, Logger: logger},
		AllowOther: f.allowOther, FsName: "annal:" + f.endpoint, Debug: f.debug}, nil
}

// unmountOnSignal unmounts at the first signal, retrying while the mount
// is busy; a second signal detaches it lazily.
func unmountOnSignal(sig <-chan os.Signal, srv interface{ Unmount() error }, mountpoint string, logger *slog.Logger) {
	<-sig
	for {
		err := srv.Unmount()
		if err == nil {
			return
		}
		logger.Warn("unmount: busy; close the files in use, or signal again to detach", "mountpoint", mountpoint, "err", err)
		select {
		case <-sig:
			if err := syscall.Unmount(mountpoint, syscall.MNT_DETACH); err != nil {
				logger.Error("lazy unmount", "err", err)
			}
			return
		case <-time.After(time.Second):
		}
	}
}
