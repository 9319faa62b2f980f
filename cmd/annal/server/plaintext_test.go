package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/annal-storage/annal/commands"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/projections/namespace"
)

// TestNoPlaintextAtRest: a unique marker written into bucket names, keys,
// user metadata, small (inline) and large (chunked) bodies, POSIX file
// names, symlink targets and xattrs appears in no byte of any file under
// the data directory (state store, Raft log, devices, everything).
func TestNoPlaintextAtRest(t *testing.T) {
	raw := make([]byte, 8)
	_, _ = rand.Read(raw)
	marker := "zq" + hex.EncodeToString(raw)
	dir := t.TempDir()
	cfg := nodeConfig(t, dir, 1, map[uint64]string{1: freeAddr(t)}, "")
	cfg.ClusterKeyFile = filepath.Join(t.TempDir(), "cluster.key") // outside the scanned tree
	if _, err := LoadClusterKey(cfg.ClusterKeyFile, true); err != nil {
		t.Fatal(err)
	}
	n, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	waitReady(t, n)
	ctx := context.Background()
	svc := n.Service()
	tenant, err := svc.TenantByName(ctx, BootstrapTenant)
	if err != nil {
		t.Fatal(err)
	}
	p := commands.Principal{Tenant: tenant.ID, AccessKey: "test"}
	bucket := "b" + marker
	if err := svc.CreateBucket(ctx, p, bucket); err != nil {
		t.Fatal(err)
	}
	meta := event.ObjectAttrs{UserMeta: []event.Pair{{K: "note", V: "meta-" + marker}}, ContentType: "text/" + marker}
	for key, body := range map[string]string{
		"small-" + marker:        "small " + marker + " body",
		"dir-" + marker + "/big": strings.Repeat("large-"+marker+"-", 200000),
	} {
		if _, err := svc.PutObject(ctx, p, commands.PutInput{Bucket: bucket, Key: key, Body: strings.NewReader(body), Attrs: meta}); err != nil {
			t.Fatal(err)
		}
	}
	f, err := svc.CreateNode(ctx, p, bucket, namespace.KindFile, commands.NodeInput{Parent: namespace.RootIno, Name: "file-" + marker, Mode: 0o644})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateNode(ctx, p, bucket, namespace.KindSymlink, commands.NodeInput{Parent: namespace.RootIno, Name: "link", Target: "target-" + marker}); err != nil {
		t.Fatal(err)
	}
	content := "posix " + marker
	if _, err := svc.WriteFile(ctx, p, bucket, commands.WriteInput{Ino: f.Ino,
		Spans: []commands.WriteSpan{{Offset: 0, Len: int64(len(content))}}, Data: strings.NewReader(content)}); err != nil {
		t.Fatal(err)
	}
	if err := svc.SetXattr(ctx, p, bucket, f.Ino, "user."+marker, []byte("xattr-"+marker), commands.XattrAny); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	files := 0
	err = filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		files++
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(marker)) {
			t.Errorf("marker in the clear in %s", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 20 {
		t.Fatalf("scanned only %d files", files)
	}
}
