package commands

import (
	"bytes"
	"context"
	"io"
	"testing"
)

// TestReadThroughALaggingGateway: a GET on a node whose chunk-shard
// replica has not yet applied a chunk's record must read the chunk, not
// answer ChunkLost: the namespace view (linearizable) already names it.
// The simulator counted such reads (Stats.LaggingChunkRecords) on nodes
// catching up after a crash or a partition.
func TestReadThroughALaggingGateway(t *testing.T) {
	svc, ml, p := testService(t, 13)
	ctx := context.Background()
	if err := svc.CreateBucket(ctx, p, "b"); err != nil {
		t.Fatal(err)
	}
	stale := ml.store.NewSnapshot()
	body := bytes.Repeat([]byte("recorded after this gateway's last apply "), 3)
	if _, err := svc.PutObject(ctx, p, PutInput{Bucket: "b", Key: "k", Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	cfg := svc.cfg
	cfg.Log = &laggingLog{memLog: ml, stale: stale}
	gateway := NewService(cfg)
	o, err := gateway.GetObject(ctx, p, "b", "k", "")
	if err != nil {
		t.Fatal(err)
	}
	r := o.Open(0, o.Info.Size)
	defer r.Close()
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, body) {
		t.Fatalf("GET through a lagging gateway: %q, %v", got, err)
	}
}
