// Package nativetest starts real annal nodes for tests of the native API
// and the FUSE gateway: in-process (Start) or as a child process that a
// test can kill with SIGKILL (StartProcess, with RunChildIfRequested in
// the test binary's TestMain).
//
// It is test support: only _test.go files import it.
package nativetest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/annal-storage/annal/cmd/annal/server"
	"github.com/annal-storage/annal/commands"
	"github.com/annal-storage/annal/gateways/native/client"
	"github.com/annal-storage/annal/gateways/native/nativetest/freeport"
	"github.com/annal-storage/annal/gateways/s3"
)

// Node is a running node and how to reach its native API.
type Node struct {
	Dir     string
	APIAddr string
	S3Addr  string
	Creds   client.Credentials
	Node    *server.Node // nil for a child process
	// Endpoint, when set, is the native API URL to use instead of
	// APIAddr (an https:// URL for a TLS node); CAFile trusts its
	// certificate.
	Endpoint string
	CAFile   string
	cmd      *exec.Cmd
	cfg      config
}

// FreeAddr returns a free loopback address (see package freeport).
func FreeAddr(t testing.TB) string { return freeport.Addr(t) }

// config is a node's configuration, which a child process receives as
// JSON.
type config struct {
	Dir, API, S3, Admin, Raft string
}

func newConfig(t testing.TB, dir string) config {
	return config{Dir: dir, API: FreeAddr(t), S3: FreeAddr(t), Admin: FreeAddr(t), Raft: FreeAddr(t)}
}

func (c config) server() server.Config {
	return server.Config{DataDir: c.Dir, APIAddr: c.API, S3Addr: c.S3, AdminAddr: c.Admin, RaftAddr: c.Raft,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), S3Handler: s3.NewHandler}
}

// Start starts a single node in-process on dir and waits until it is
// ready; the test's cleanup closes it. Options adjust the node's
// configuration.
func Start(t testing.TB, dir string, options ...func(*server.Config)) *Node {
	t.Helper()
	c := newConfig(t, dir)
	sc := c.server()
	for _, o := range options {
		o(&sc)
	}
	n, err := server.Start(context.Background(), sc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	deadline := time.Now().Add(60 * time.Second)
	for !n.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("node not ready in 60 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	out := &Node{Dir: dir, APIAddr: c.API, S3Addr: c.S3, Node: n, cfg: c}
	if sc.TLSCert != "" {
		out.Endpoint = "https://" + c.API
	}
	out.Creds = loadCreds(t, dir)
	return out
}

func loadCreds(t testing.TB, dir string) client.Credentials {
	t.Helper()
	creds, err := client.LoadCredentials(filepath.Join(dir, server.CredentialsFile), "default")
	if err != nil {
		t.Fatal(err)
	}
	return creds
}

// Client returns a native API client for the node.
func (n *Node) Client(t testing.TB) *client.Client {
	t.Helper()
	endpoint := n.APIAddr
	if n.Endpoint != "" {
		endpoint = n.Endpoint
	}
	c, err := client.New(client.Config{Endpoint: endpoint, Credentials: n.Creds, CAFile: n.CAFile, RetryFor: 60 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// Principal is the bootstrap tenant's principal (for calling the
// node's Service directly, e.g. as the S3 gateway would).
func (n *Node) Principal(t testing.TB) commands.Principal {
	t.Helper()
	tn, err := n.Node.Service().TenantByName(context.Background(), server.BootstrapTenant)
	if err != nil {
		t.Fatal(err)
	}
	return commands.Principal{Tenant: tn.ID, AccessKey: n.Creds.AccessKeyID}
}

// CreateBucket creates a bucket through the node's Service.
func (n *Node) CreateBucket(t testing.TB, name string) {
	t.Helper()
	if err := n.Node.Service().CreateBucket(context.Background(), n.Principal(t), name); err != nil {
		t.Fatal(err)
	}
}

// childEnv carries a child node's configuration.
const childEnv = "ANNAL_NATIVETEST_NODE"

// RunChildIfRequested runs a node and never returns when the process was
// started by StartProcess; otherwise it returns at once. Call it first in
// TestMain.
func RunChildIfRequested() {
	raw := os.Getenv(childEnv)
	if raw == "" {
		return
	}
	var c config
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		fmt.Fprintln(os.Stderr, "nativetest child:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	n, err := server.Start(ctx, c.server())
	if err != nil {
		fmt.Fprintln(os.Stderr, "nativetest child:", err)
		os.Exit(2)
	}
	<-ctx.Done()
	n.Close()
	os.Exit(0)
}

// StartProcess starts a node in a child process (the test binary itself,
// see RunChildIfRequested) on dir, at the addresses of prev when given
// (a restart), and waits until its native API answers.
func StartProcess(t testing.TB, dir string, prev *Node) *Node {
	t.Helper()
	c := newConfig(t, dir)
	if prev != nil {
		c = prev.cfg // dragonboat binds the data directory to its Raft address
	}
	raw, _ := json.Marshal(c)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(raw))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n := &Node{Dir: dir, APIAddr: c.API, S3Addr: c.S3, cmd: cmd, cfg: c}
	t.Cleanup(func() { n.Kill() })
	deadline := time.Now().Add(60 * time.Second)
	for {
		if resp, err := http.Get("http://" + c.Admin + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("child node not up in 60 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	n.Creds = loadCreds(t, dir)
	return n
}

// Kill stops a child node with SIGKILL (a crash) and waits for it.
func (n *Node) Kill() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	_ = n.cmd.Process.Kill()
	_ = n.cmd.Wait()
	n.cmd = nil
}
