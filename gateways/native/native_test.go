package native_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/annal-storage/annal/commands"
	"github.com/annal-storage/annal/gateways/native/client"
	"github.com/annal-storage/annal/gateways/native/nativetest"
	"github.com/annal-storage/annal/gateways/native/wire"
)

// The native API is tested end to end: a real node (Pebble, dragonboat,
// directory devices) serves it on loopback and the real client signs
// every request.

func TestMain(m *testing.M) {
	nativetest.RunChildIfRequested()
	os.Exit(m.Run())
}

func startNode(t *testing.T) (*nativetest.Node, *client.Namespace) {
	t.Helper()
	n := nativetest.Start(t, t.TempDir())
	n.CreateBucket(t, "fs")
	return n, n.Client(t).Namespace("fs")
}

func code(err error) wire.Code { return wire.CodeOf(err) }

func TestNativeAPI(t *testing.T) {
	n, ns := startNode(t)
	ctx := context.Background()
	v, err := n.Client(t).Version(ctx)
	if err != nil || v.API != wire.API {
		t.Fatalf("version: %+v %v", v, err)
	}
	b, err := ns.Open(ctx)
	if err != nil || b.Root.Ino != 1 || !b.Root.IsDir() {
		t.Fatalf("open: %+v %v", b, err)
	}
	_, err = ns.Create(ctx, 1, wire.CreateRequest{Name: "d ir+%/?", Type: wire.TypeDir, Mode: 0o755})
	if code(err) != wire.CodeInvalid {
		t.Fatalf("a name with '/': %v", err)
	}
	dir, err := ns.Create(ctx, 1, wire.CreateRequest{Name: "d ir+%&=?ü", Type: wire.TypeDir, Mode: 0o755})
	if err != nil || !dir.IsDir() || dir.Mode&0o777 != 0o755 {
		t.Fatalf("mkdir with a name that needs escaping: %+v %v", dir, err)
	}
	f, err := ns.Create(ctx, dir.Ino, wire.CreateRequest{Name: "f", Type: wire.TypeFile, Mode: 0o600, Uid: 1000, Gid: 100})
	if err != nil || !f.IsFile() || f.Uid != 1000 {
		t.Fatalf("create: %+v %v", f, err)
	}
	if _, err := ns.Create(ctx, dir.Ino, wire.CreateRequest{Name: "f", Type: wire.TypeFile}); code(err) != wire.CodeAlreadyExists {
		t.Fatalf("exclusive create: %v", err)
	}
	if _, err := ns.Create(ctx, dir.Ino, wire.CreateRequest{Name: strings.Repeat("n", 256), Type: wire.TypeFile}); code(err) != wire.CodeNameTooLong {
		t.Fatalf("256-byte name: %v", err)
	}
	got, err := ns.Lookup(ctx, 1, "d ir+%&=?ü")
	if err != nil || got.Ino != dir.Ino {
		t.Fatalf("lookup: %+v %v", got, err)
	}
	if _, err := ns.Lookup(ctx, 1, "missing"); code(err) != wire.CodeNotFound {
		t.Fatalf("lookup of a missing name: %v", err)
	}
	// data: two spans in one batch, then a streamed read
	big := bytes.Repeat([]byte("0123456789"), 300_000)
	a, err := ns.Write(ctx, f.Ino, []wire.Span{{Offset: 0, Len: 5}, {Offset: 100, Len: int64(len(big))}}, [][]byte{[]byte("hello"), big}, false)
	if err != nil || a.Size != int64(100+len(big)) {
		t.Fatalf("write: %+v %v", a, err)
	}
	rc, size, err := ns.Read(ctx, f.Ino, 0, 1<<40)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	want := append(append([]byte("hello"), make([]byte, 95)...), big...)
	if err != nil || size != int64(len(want)) || !bytes.Equal(data, want) {
		t.Fatalf("read back %d bytes (size %d): %v", len(data), size, err)
	}
	rc, _, err = ns.Read(ctx, f.Ino, 3, 4)
	if err != nil {
		t.Fatal(err)
	}
	data, _ = io.ReadAll(rc)
	rc.Close()
	if string(data) != "lo\x00\x00" {
		t.Fatalf("ranged read %q", data)
	}
	// append
	if a, err = ns.Write(ctx, f.Ino, []wire.Span{{Len: 3}}, [][]byte{[]byte("END")}, true); err != nil || a.Size != int64(len(want)+3) {
		t.Fatalf("append: %+v %v", a, err)
	}
	// attributes
	mode, size64 := uint32(0o640), int64(7)
	a, err = ns.SetAttr(ctx, f.Ino, wire.SetAttrRequest{Mode: &mode, Size: &size64, MtimeNow: true})
	if err != nil || a.Mode != wire.ModeFile|0o640 || a.Size != 7 {
		t.Fatalf("setattr: %+v %v", a, err)
	}
	// listing
	es, err := ns.ReadDir(ctx, dir.Ino, "", 1)
	if err != nil || len(es.Entries) != 1 || es.Entries[0].Name != "f" || !es.More {
		t.Fatalf("readdir: %+v %v", es, err)
	}
	// xattrs
	if _, err := ns.GetXattr(ctx, f.Ino, "user.x"); code(err) != wire.CodeNoData {
		t.Fatalf("missing xattr: %v", err)
	}
	if err := ns.SetXattr(ctx, f.Ino, "user.x", []byte{0, 1, 2}, wire.XattrCreate); err != nil {
		t.Fatal(err)
	}
	if err := ns.SetXattr(ctx, f.Ino, "user.x", []byte("y"), wire.XattrCreate); code(err) != wire.CodeAlreadyExists {
		t.Fatalf("XATTR_CREATE twice: %v", err)
	}
	if err := ns.SetXattr(ctx, f.Ino, "user.empty", nil, ""); err != nil {
		t.Fatal(err)
	}
	if val, err := ns.GetXattr(ctx, f.Ino, "user.x"); err != nil || !bytes.Equal(val, []byte{0, 1, 2}) {
		t.Fatalf("xattr value %v %v", val, err)
	}
	if names, err := ns.ListXattrs(ctx, f.Ino); err != nil || strings.Join(names, ",") != "user.empty,user.x" {
		t.Fatalf("xattr names %v %v", names, err)
	}
	if err := ns.RemoveXattr(ctx, f.Ino, "user.x"); err != nil {
		t.Fatal(err)
	}
	// links, rename, remove
	if a, err := ns.Create(ctx, 1, wire.CreateRequest{Name: "hard", Type: wire.TypeLink, Ino: f.Ino}); err != nil || a.Nlink != 2 {
		t.Fatalf("link: %+v %v", a, err)
	}
	if err := ns.Rename(ctx, wire.RenameRequest{SourceParent: 1, SourceName: "hard", TargetParent: dir.Ino, TargetName: "f"}); err != nil {
		t.Fatalf("rename onto another name of the same file: %v", err)
	}
	if err := ns.Remove(ctx, 1, "d ir+%&=?ü", true); code(err) != wire.CodeNotEmpty {
		t.Fatalf("rmdir of a non-empty directory: %v", err)
	}
	if err := ns.Remove(ctx, dir.Ino, "f", false); err != nil {
		t.Fatal(err)
	}
	if err := ns.Remove(ctx, 1, "hard", false); err != nil {
		t.Fatal(err)
	}
	if _, err := ns.GetAttr(ctx, f.Ino); code(err) != wire.CodeNotFound {
		t.Fatalf("getattr after the last unlink: %v", err)
	}
	st, err := ns.StatFS(ctx)
	if err != nil || st.NameMax != 255 || st.TotalBytes == 0 {
		t.Fatalf("statfs: %+v %v", st, err)
	}
}

func TestNativeAPIRefusesBadCredentialsAndOtherTenants(t *testing.T) {
	n, _ := startNode(t)
	ctx := context.Background()
	bad, err := client.New(client.Config{Endpoint: n.APIAddr, Credentials: client.Credentials{
		AccessKeyID: n.Creds.AccessKeyID, SecretAccessKey: "wrong"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Namespace("fs").GetAttr(ctx, 1); code(err) != wire.CodeUnauthenticated {
		t.Fatalf("wrong secret: %v", err)
	}
	unknown, _ := client.New(client.Config{Endpoint: n.APIAddr, Credentials: client.Credentials{AccessKeyID: "AKNOPE", SecretAccessKey: "x"}})
	if _, err := unknown.Namespace("fs").GetAttr(ctx, 1); code(err) != wire.CodeUnauthenticated {
		t.Fatalf("unknown key: %v", err)
	}
	skewed, _ := client.New(client.Config{Endpoint: n.APIAddr, Credentials: n.Creds,
		Now: func() time.Time { return time.Now().Add(-time.Hour) }})
	if _, err := skewed.Namespace("fs").GetAttr(ctx, 1); code(err) != wire.CodeUnauthenticated {
		t.Fatalf("an hour of clock skew: %v", err)
	}
	// another tenant's credentials see no bucket "fs"
	svc := n.Node.Service()
	_, key, err := svc.CreateTenant(ctx, "test", commands.TenantSpec{Name: "other"})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := client.New(client.Config{Endpoint: n.APIAddr, Credentials: client.Credentials{AccessKeyID: key.ID, SecretAccessKey: key.Secret}})
	if _, err := other.Namespace("fs").Open(ctx); code(err) != wire.CodeNoSuchBucket {
		t.Fatalf("another tenant's bucket: %v", err)
	}
	// unsigned requests are refused; the version needs no signature
	resp, err := http.Get("http://" + n.APIAddr + "/v1/buckets/fs/inodes/1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unsigned request: HTTP %d", resp.StatusCode)
	}
	resp, err = http.Get("http://" + n.APIAddr + "/v2/anything")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotImplemented {
		t.Fatalf("unknown version: HTTP %d", resp.StatusCode)
	}
}

// TestClientRetriesAcrossRestart: a read issued while the node is down
// succeeds once a restarted node serves again.
func TestClientRetriesAcrossRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts a node process")
	}
	dir := t.TempDir()
	n := nativetest.StartProcess(t, dir, nil)
	c := n.Client(t)
	ctx := context.Background()
	if _, err := c.Namespace("none").Open(ctx); code(err) != wire.CodeNoSuchBucket {
		t.Fatalf("open of a missing bucket: %v", err)
	}
	n.Kill()
	done := make(chan error, 1)
	go func() {
		_, err := c.Version(ctx)
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	nativetest.StartProcess(t, dir, n)
	if err := <-done; err != nil {
		t.Fatalf("version across a restart: %v", err)
	}
}
