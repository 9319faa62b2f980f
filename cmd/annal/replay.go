package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/annal-storage/annal/cmd/annal/server"
	annallog "github.com/annal-storage/annal/log"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	"github.com/spf13/cobra"
)

func replayCmd() *cobra.Command {
	var dataDir, until, out, clusterKeyFile, diffFrom string
	var shard uint64
	c := &cobra.Command{
		Use:   "replay",
		Short: "rebuild projections offline from the event store and compare them with the live ones",
		Long: `replay folds every shard's stored events into a scratch store and diffs the
result with the live projections: it prints "identical" and exits 0, or
prints the first difference and exits 1. The server must be stopped.

With --until SEQ or --until RFC3339 it stops before the first event past
that point and, with --out DIR, writes the projection as of then to a new
Pebble store for inspection (forensics).

With --diff-from T1 --until T2 it rebuilds every namespace (S3 bucket) as
of T1 and as of T2 and lists what changed between them, one line per key:
"added", "changed" (a new current version, size or mtime) or "removed",
then bucket/key. The audit shards replay like any other shard, so an
investigator can also rebuild the audit as of a moment.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if diffFrom != "" {
				return runReplayDiff(cmd, dataDir, shard, diffFrom, until, clusterKeyFile)
			}
			return runReplay(cmd, dataDir, shard, until, out, clusterKeyFile)
		},
	}
	f := c.Flags()
	f.StringVar(&dataDir, "data", "annal-data", "data directory of a stopped server")
	f.Uint64Var(&shard, "shard", 0, "replay only this shard")
	f.StringVar(&until, "until", "", "stop before events after this sequence number or RFC 3339 time")
	f.StringVar(&out, "out", "", "with --until: write the rebuilt state to this directory (plain Pebble: it holds names in the clear)")
	f.StringVar(&clusterKeyFile, "cluster-key-file", "", "cluster key (default <data>/cluster.key)")
	f.StringVar(&diffFrom, "diff-from", "", "with --until: list the keys that changed between this moment (sequence or RFC 3339) and --until")
	return c
}

// stopAt returns the predicate of --until: a sequence or a time.
func stopAt(until string) (func(*event.Envelope) bool, error) {
	if until == "" {
		return nil, nil
	}
	if seq, err := strconv.ParseUint(until, 10, 64); err == nil {
		return func(e *event.Envelope) bool { return e.Seq > seq }, nil
	}
	t, err := time.Parse(time.RFC3339Nano, until)
	if err != nil {
		return nil, fmt.Errorf("--until: %q is neither a sequence number nor an RFC 3339 time", until)
	}
	ms := t.UnixMilli()
	return func(e *event.Envelope) bool { return e.HLC.WallMs > ms }, nil
}

// openOffline opens a stopped node's state store read-only, with the keys
// that open its events (tenant payload keys are read from the store).
func openOffline(dataDir, clusterKeyFile string) (kv.Store, *server.ClusterKeys, error) {
	key, err := server.LoadClusterKey(keyFile(dataDir, clusterKeyFile), false)
	if err != nil {
		return nil, nil, err
	}
	store, err := server.OpenStateStore(dataDir, key, true)
	if err != nil {
		return nil, nil, err
	}
	ck, err := server.DeriveKeys(key, time.Now, func() float64 { return 0 })
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	ck.Internal.SetReader(func(shard uint64) annallog.View { return annallog.SnapshotView(store, shard) })
	return store, ck, nil
}

// keyFile is the cluster key path: the flag, or the default in dataDir.
func keyFile(dataDir, flag string) string {
	if flag != "" {
		return flag
	}
	return filepath.Join(dataDir, server.ClusterKeyFile)
}

func runReplay(cmd *cobra.Command, dataDir string, only uint64, until, outDir, clusterKeyFile string) error {
	stop, err := stopAt(until)
	if err != nil {
		return err
	}
	live, ck, err := openOffline(dataDir, clusterKeyFile)
	if err != nil {
		return err
	}
	defer live.Close()
	shards, err := annallog.Shards(live)
	if err != nil {
		return err
	}
	var dst kv.Store = kv.NewMem()
	if outDir != "" {
		if dst, err = kv.OpenPebble(outDir, kv.PebbleOptions{}); err != nil {
			return err
		}
		defer dst.Close()
	}
	w := cmd.OutOrStdout()
	for _, id := range shards {
		if only != 0 && id != only {
			continue
		}
		kind, err := annallog.StoredKind(live, id)
		if err != nil || kind == 0 {
			continue // a shard that never applied an event
		}
		b := dst.NewBatch()
		st, err := annallog.Replay(live, id, kind, ck.Payloads, b, stop)
		if err != nil {
			b.Close()
			return fmt.Errorf("shard %d: %w", id, err)
		}
		if err := b.Commit(false); err != nil {
			return err
		}
		fmt.Fprintf(w, "shard %d (%s): %d events replayed, %d skipped\n", id, kind, st.Applied, st.Skipped)
		if stop != nil {
			continue
		}
		diff, err := annallog.DiffShard(live, dst, id)
		if err != nil {
			return err
		}
		if diff != "" {
			fmt.Fprintf(w, "shard %d differs: %s\n", id, diff)
			return exitError{code: 1, err: fmt.Errorf("replayed state differs from the live state")}
		}
	}
	if stop != nil {
		fmt.Fprintf(w, "state as of --until %s rebuilt%s\n", until, map[bool]string{true: " into " + outDir, false: ""}[outDir != ""])
		return nil
	}
	fmt.Fprintln(w, "identical")
	return nil
}

func runReplayDiff(cmd *cobra.Command, dataDir string, only uint64, from, until, clusterKeyFile string) error {
	if until == "" {
		return fmt.Errorf("--diff-from needs --until")
	}
	stopA, err := stopAt(from)
	if err != nil {
		return fmt.Errorf("--diff-from: %w", err)
	}
	stopB, err := stopAt(until)
	if err != nil {
		return err
	}
	live, ck, err := openOffline(dataDir, clusterKeyFile)
	if err != nil {
		return err
	}
	defer live.Close()
	shards, err := annallog.Shards(live)
	if err != nil {
		return err
	}
	if only != 0 {
		shards = []uint64{only}
	}
	n, err := diffNamespaces(cmd.OutOrStdout(), live, shards, ck.Payloads, stopA, stopB)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%d keys changed between %s and %s\n", n, from, until)
	return nil
}
