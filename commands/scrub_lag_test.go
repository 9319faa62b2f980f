package commands

import (
	"bytes"
	"context"
	"io"
	"testing"

	annallog "github.com/annal-storage/annal/log"
	"github.com/annal-storage/annal/log/kv"
)

// laggingLog is a memLog whose local replica stopped applying at some
// point (a partitioned or restarting node): LocalRead serves the stale
// snapshot, linearizable reads the current state.
type laggingLog struct {
	*memLog
	stale kv.Snapshot
}

func (l *laggingLog) LocalRead(shard uint64) annallog.View {
	return staleView{annallog.ProjectionReader(l.stale, shard)}
}

// staleView reads the lagging replica's snapshot, which the test owns.
type staleView struct{ kv.Reader }

func (staleView) Close() error { return nil }

// TestOrphansFromALaggingReplica: a node whose chunk-shard replica lags
// must not take the fragments of chunks recorded meanwhile for orphans.
// The simulator found scrub deleting live fragments this way (its orphan
// check read the local replica; oracle orphan-live, replayed by its
// planted bug orphans-local-read).
func TestOrphansFromALaggingReplica(t *testing.T) {
	svc, ml, p := testService(t, 11)
	ctx := context.Background()
	if err := svc.CreateBucket(ctx, p, "b"); err != nil {
		t.Fatal(err)
	}
	stale := ml.store.NewSnapshot()
	body := bytes.Repeat([]byte("fragments recorded after the lag "), 3)
	if _, err := svc.PutObject(ctx, p, PutInput{Bucket: "b", Key: "k", Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	cfg := svc.cfg
	cfg.Log = &laggingLog{memLog: ml, stale: stale}
	lagging := NewService(cfg)
	got, err := lagging.Scrub(ctx, ScrubOptions{OrphanGraceNs: 1, AllLocal: true})
	if err != nil {
		t.Fatal(err)
	}
	if got.Orphans != 0 {
		t.Fatalf("scrub on a lagging replica deleted %d fragments of recorded chunks as orphans", got.Orphans)
	}
	o, err := svc.GetObject(ctx, p, "b", "k", "")
	if err != nil {
		t.Fatal(err)
	}
	r := o.Open(0, o.Info.Size)
	defer r.Close()
	if data, err := io.ReadAll(r); err != nil || !bytes.Equal(data, body) {
		t.Fatalf("after scrub: %q, %v", data, err)
	}
}
