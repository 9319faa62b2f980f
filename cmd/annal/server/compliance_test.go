package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/annal-storage/annal/commands"
	annallog "github.com/annal-storage/annal/log"
	"github.com/annal-storage/annal/projections/audit"
)

// TestShredWithLaggingReplica: a tenant is crypto-shredded while one of
// three nodes is down and has not seen the tenant's latest writes. When
// it comes back it must not stay halted on payloads it can no longer
// open: it drops the purged shard, keeps serving the other tenant, refuses
// the shredded one, and every audit chain verifies on every node.
func TestShredWithLaggingReplica(t *testing.T) {
	c := startCluster(t)
	nodes := c.nodes
	ctx := context.Background()
	svc := nodes[1].Service()
	principal := func(name string) commands.Principal {
		tn, ak, err := svc.CreateTenant(ctx, "admin", commands.TenantSpec{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.CreateBucket(ctx, commands.Principal{Tenant: tn.ID, AccessKey: ak.ID}, "b"); err != nil {
			t.Fatal(err)
		}
		return commands.Principal{Tenant: tn.ID, AccessKey: ak.ID}
	}
	keep, gone := principal("keep"), principal("gone")
	put(t, svc, keep, "b", "k", []byte("kept"))
	put(t, svc, gone, "b", "g", []byte("gone soon"))
	bs, _ := svc.ListBuckets(ctx, gone)
	goneShard := bs[0].Shard

	c.stop(3)
	for i := range 5 { // node 3 lags these
		put(t, svc, gone, "b", fmt.Sprintf("late/%d", i), []byte("late"))
	}
	if _, err := svc.ShredTenant(ctx, "admin", "gone", commands.ShredOptions{}); err != nil {
		t.Fatal(err)
	}
	n3 := c.restart(3)
	deadline := time.Now().Add(30 * time.Second)
	for n3.hasShard(goneShard) {
		if time.Now().After(deadline) {
			t.Fatalf("node 3 still holds the purged shard %d (halted: %v)", goneShard, n3.host.Halted(goneShard))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := get(t, n3.Service(), keep, "b", "k"); string(got) != "kept" {
		t.Fatalf("other tenant on the lagging node: %q", got)
	}
	if _, err := n3.Service().GetObject(ctx, gone, "b", "g", ""); err == nil {
		t.Fatal("shredded tenant readable on the lagging node")
	}
	for id, n := range nodes {
		if _, err := n.Service().ConsumeAudit(ctx, 0); err != nil && id == 1 {
			t.Logf("consume: %v", err)
		}
		verifyAll(t, id, n)
	}
}

// verifyAll checks every audit chain a node stores.
func verifyAll(t *testing.T, id uint64, n *Node) {
	t.Helper()
	shards, _ := annallog.Shards(n.store)
	checked := 0
	for _, s := range shards {
		if k, _ := annallog.StoredKind(n.store, s); k != annallog.KindAudit {
			continue
		}
		rep, err := audit.VerifyChain(annallog.ProjectionReader(n.store, s), func(fn func(uint64, []byte) (bool, error)) error {
			return annallog.ReadEvents(n.store, s, 1, fn)
		})
		if err != nil || !rep.OK() {
			t.Fatalf("node %d audit shard %d: %+v %v", id, s, rep.Break, err)
		}
		checked++
	}
	if checked == 0 {
		t.Fatalf("node %d holds no audit shard", id)
	}
}
