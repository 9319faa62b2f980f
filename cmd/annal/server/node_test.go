package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/annal-storage/annal/commands"
	"github.com/annal-storage/annal/gateways/native/nativetest/freeport"
	annallog "github.com/annal-storage/annal/log"
)

func freeAddr(t *testing.T) string { return freeport.Addr(t) }

func nodeConfig(t *testing.T, dir string, id uint64, peers map[uint64]string, keyFile string) Config {
	return Config{DataDir: dir, NodeID: id, Peers: peers, RaftAddr: peers[id], ClusterKeyFile: keyFile,
		S3Addr: freeAddr(t), AdminAddr: freeAddr(t), APIAddr: freeAddr(t)}
}

// sharedKey writes a cluster key every node of a test cluster uses.
func sharedKey(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cluster.key")
	if _, err := LoadClusterKey(path, true); err != nil {
		t.Fatal(err)
	}
	return path
}

func waitReady(t *testing.T, n *Node) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !n.Ready() {
		if time.Now().After(deadline) {
			t.Fatalf("node %d not ready in 60 s", n.cfg.NodeID)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func put(t *testing.T, svc *commands.Service, p commands.Principal, bucket, key string, body []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := svc.PutObject(ctx, p, commands.PutInput{Bucket: bucket, Key: key, Body: bytes.NewReader(body)}); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func get(t *testing.T, svc *commands.Service, p commands.Principal, bucket, key string) []byte {
	t.Helper()
	o, err := svc.GetObject(context.Background(), p, bucket, key, "")
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	r := o.Open(0, o.Info.Size)
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b
}

// TestThreeNodeReplication: three nodes on loopback replicate the control,
// chunk and namespace shards. With one node stopped the other two keep
// taking writes; restarted, it catches up, and all three replicas of every
// shard are byte-identical.
func TestThreeNodeReplication(t *testing.T) {
	c := startCluster(t)
	nodes := c.nodes
	ctx := context.Background()
	svc := nodes[1].Service()
	tenant, err := svc.TenantByName(ctx, BootstrapTenant)
	if err != nil {
		t.Fatal(err)
	}
	p := commands.Principal{Tenant: tenant.ID, AccessKey: "test"}
	if err := svc.CreateBucket(ctx, p, "rep"); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 40000) // chunked: 640 KB
	for i := range 10 {
		put(t, svc, p, "rep", fmt.Sprintf("before/%d", i), []byte(fmt.Sprintf("value %d", i)))
	}
	put(t, svc, p, "rep", "big-before", big)

	c.stop(3)
	for i := range 10 {
		put(t, nodes[2].Service(), p, "rep", fmt.Sprintf("during/%d", i), []byte(strings.Repeat("x", i)))
	}
	put(t, svc, p, "rep", "big-during", append(big, 'z'))

	n3 := c.restart(3)
	if got := get(t, n3.Service(), p, "rep", "during/9"); string(got) != strings.Repeat("x", 9) {
		t.Fatalf("restarted node reads %q", got)
	}
	// Fragments live on the writing node's devices (there is no fragment
	// RPC between nodes yet), so chunked data is read where it was written.
	if got := get(t, svc, p, "rep", "big-during"); !bytes.Equal(got, append(big, 'z')) {
		t.Fatalf("node 1 reads %d bytes of the big object", len(got))
	}
	assertIdentical(t, nodes)
}

// testCluster is three nodes on loopback, each with its own data
// directory and the cluster's shared key.
type testCluster struct {
	t     *testing.T
	nodes map[uint64]*Node // the running ones
	cfgs  map[uint64]Config
}

// startCluster starts three nodes and waits until each is ready; the
// test's cleanup closes those still running.
func startCluster(t *testing.T) *testCluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts three nodes")
	}
	base := t.TempDir()
	peers := map[uint64]string{1: freeAddr(t), 2: freeAddr(t), 3: freeAddr(t)}
	key := sharedKey(t)
	c := &testCluster{t: t, nodes: map[uint64]*Node{}, cfgs: map[uint64]Config{}}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			n.Close()
		}
	})
	for id := uint64(1); id <= 3; id++ {
		c.cfgs[id] = nodeConfig(t, filepath.Join(base, fmt.Sprint(id)), id, peers, key)
		n, err := Start(context.Background(), c.cfgs[id])
		if err != nil {
			t.Fatal(err)
		}
		c.nodes[id] = n
	}
	for _, n := range c.nodes {
		waitReady(t, n)
	}
	return c
}

// stop closes a node (its data stays).
func (c *testCluster) stop(id uint64) {
	c.t.Helper()
	if err := c.nodes[id].Close(); err != nil {
		c.t.Fatal(err)
	}
	delete(c.nodes, id)
}

// restart starts a stopped node again on its data and waits until it is
// ready.
func (c *testCluster) restart(id uint64) *Node {
	c.t.Helper()
	n, err := Start(context.Background(), c.cfgs[id])
	if err != nil {
		c.t.Fatal(err)
	}
	c.nodes[id] = n
	waitReady(c.t, n)
	return n
}

// TestNodeNeedsClusterKey: a node other than the first refuses to start
// without the cluster's key instead of making its own (it could not read
// anything the cluster seals).
func TestNodeNeedsClusterKey(t *testing.T) {
	peers := map[uint64]string{1: freeAddr(t), 2: freeAddr(t)}
	cfg := nodeConfig(t, t.TempDir(), 2, peers, "")
	if n, err := Start(context.Background(), cfg); err == nil {
		n.Close()
		t.Fatal("node 2 started without a cluster key")
	}
}

// assertIdentical waits until every shard has the same last sequence on
// every node, then compares the replicas byte for byte.
func assertIdentical(t *testing.T, nodes map[uint64]*Node) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	ids, err := annallog.Shards(nodes[1].store)
	if err != nil {
		t.Fatal(err)
	}
	for _, shard := range ids {
		for {
			want, _ := annallog.LastSeq(nodes[1].store, shard)
			same := true
			for _, n := range nodes {
				if got, _ := annallog.LastSeq(n.store, shard); got != want {
					same = false
				}
			}
			if same {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("shard %d did not converge", shard)
			}
			time.Sleep(50 * time.Millisecond)
		}
		for id, n := range nodes {
			if id == 1 {
				continue
			}
			diff, err := annallog.DiffShard(nodes[1].store, n.store, shard)
			if err != nil {
				t.Fatal(err)
			}
			if diff != "" {
				t.Fatalf("shard %d: node 1 and node %d differ: %s", shard, id, diff)
			}
		}
	}
	if len(ids) < 3 {
		t.Fatalf("only %d shards replicated", len(ids))
	}
}
