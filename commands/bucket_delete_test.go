package commands

import (
	"context"
	"testing"
)

// TestDeleteNamespaceOnlyTheSealedShard: a DeleteBucket whose seal step
// raced with another deletion must not release the name once it names a
// new namespace. The simulator found this: two clients deleting bucket
// tmp0 at once, a third recreating it in between, and the slower deleter
// released the new, unsealed (non-empty) namespace, orphaning its data
// (oracle bucket-delete; the simulator's planted bug
// release-any-namespace replays it).
func TestDeleteNamespaceOnlyTheSealedShard(t *testing.T) {
	svc, ml, p := testService(t, 9)
	ctx := context.Background()
	shardOf := func() uint64 {
		t.Helper()
		shard, err := svc.bucketShard(ctx, p, "b")
		if err != nil {
			t.Fatal(err)
		}
		return shard
	}
	if err := svc.CreateBucket(ctx, p, "b"); err != nil {
		t.Fatal(err)
	}
	old := shardOf()
	if err := svc.DeleteBucket(ctx, p, "b"); err != nil {
		t.Fatal(err)
	}
	nv, err := ml.Read(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := DecideSealNamespace(nv, p, old); d != nil || err != nil {
		t.Fatalf("sealing a sealed namespace decides %v, %v", d, err)
	}
	nv.Close()
	if err := svc.CreateBucket(ctx, p, "b"); err != nil {
		t.Fatal(err)
	}
	fresh := shardOf()
	if fresh == old {
		t.Fatalf("recreated bucket reuses shard %d", old)
	}
	v, err := ml.Read(ctx, ControlShard)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if d, err := DecideDeleteNamespace(v, p, "b", old); d != nil || err != nil {
		t.Fatalf("the late deleter of shard %d releases the name of shard %d: %v, %v", old, fresh, d, err)
	}
	if d, err := DecideDeleteNamespace(v, p, "b", fresh); d == nil || err != nil {
		t.Fatalf("deleting the current namespace decides %v, %v", d, err)
	}
}
