package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/annal-storage/annal/cmd/annal/server"
	"github.com/annal-storage/annal/commands"
	"github.com/annal-storage/annal/gateways/native/nativetest/freeport"
)

// TestOfflineTools: on a stopped node's data directory, `annal replay`
// rebuilds every shard identical to the live projections, `--diff-from`
// names what changed between two points of a namespace's history, and
// `annal audit verify` verifies every audit chain.
func TestOfflineTools(t *testing.T) {
	dir := t.TempDir()
	n, err := server.Start(context.Background(), server.Config{DataDir: dir,
		APIAddr: freeport.Addr(t), S3Addr: freeport.Addr(t), AdminAddr: freeport.Addr(t), RaftAddr: freeport.Addr(t),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); !n.Ready(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			n.Close()
			t.Fatal("node not ready in 60 s")
		}
	}
	ctx := context.Background()
	svc := n.Service()
	tenant, err := svc.TenantByName(ctx, server.BootstrapTenant)
	if err != nil {
		n.Close()
		t.Fatal(err)
	}
	p := commands.Principal{Tenant: tenant.ID, AccessKey: "test"}
	if err := svc.CreateBucket(ctx, p, "offline"); err != nil {
		n.Close()
		t.Fatal(err)
	}
	for _, key := range []string{"a", "b/c"} {
		if _, err := svc.PutObject(ctx, p, commands.PutInput{Bucket: "offline", Key: key, Body: strings.NewReader("x")}); err != nil {
			n.Close()
			t.Fatal(err)
		}
	}
	buckets, err := svc.ListBuckets(ctx, p)
	n.Close()
	if err != nil || len(buckets) != 1 {
		t.Fatalf("buckets %v: %v", buckets, err)
	}
	shard := buckets[0].Shard

	run := func(c interface {
		SetArgs([]string)
		SetOut(io.Writer)
		Execute() error
	}, args ...string) string {
		t.Helper()
		var out bytes.Buffer
		c.SetArgs(args)
		c.SetOut(&out)
		if err := c.Execute(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out.String())
		}
		return out.String()
	}
	if out := run(replayCmd(), "--data", dir); !strings.HasSuffix(out, "identical\n") {
		t.Fatalf("replay:\n%s", out)
	}
	diff := run(replayCmd(), "--data", dir, "--shard", strconv.FormatUint(shard, 10), "--diff-from", "1", "--until", "100")
	if !strings.Contains(diff, "offline/b/c") || !strings.Contains(diff, "keys changed between 1 and 100") {
		t.Fatalf("replay --diff-from:\n%s", diff)
	}
	if out := run(auditCmd(), "verify", "--data", dir); !strings.Contains(out, "audit chains verified") {
		t.Fatalf("audit verify:\n%s", out)
	}
}
