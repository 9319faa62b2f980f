package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/annal-storage/annal/commands"
	"github.com/annal-storage/annal/gateways/admin"
	"github.com/annal-storage/annal/gateways/native"
)

// BootstrapTenant is the tenant a fresh cluster creates.
const BootstrapTenant = "default"

// CredentialsFile and TokenFile are the bootstrap files' names under the
// data directory.
const (
	CredentialsFile = "bootstrap-credentials"
	TokenFile       = "admin-token"
)

// bootstrap makes sure the bootstrap tenant, its credentials file and the
// admin token exist. It is idempotent: a crash between any two steps is
// completed by the next start.
func (n *Node) bootstrap(ctx context.Context) error {
	if err := n.loadOrCreateToken(); err != nil {
		return err
	}
	credPath := filepath.Join(n.cfg.DataDir, CredentialsFile)
	if _, err := os.Stat(credPath); err == nil {
		n.banner(credPath, "")
		return nil
	}
	svc := n.service
	t, err := svc.TenantByName(ctx, BootstrapTenant)
	var ak struct{ id, secret string }
	switch {
	case errors.Is(err, commands.ErrNotFound):
		_, key, err := svc.CreateTenant(ctx, "bootstrap", commands.TenantSpec{Name: BootstrapTenant})
		if err != nil {
			return err
		}
		ak.id, ak.secret = key.ID, key.Secret
	case err != nil:
		return err
	default:
		key, err := svc.IssueAccessKey(ctx, "bootstrap", t.ID)
		if err != nil {
			return err
		}
		ak.id, ak.secret = key.ID, key.Secret
	}
	if err := writeFileAtomic(credPath, credentialsINI("default", ak.id, ak.secret), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", credPath, err)
	}
	n.banner(credPath, ak.secret)
	return nil
}

func (n *Node) loadOrCreateToken() error {
	path := filepath.Join(n.cfg.DataDir, TokenFile)
	if b, err := os.ReadFile(path); err == nil {
		n.token.Store(strings.TrimSpace(string(b)))
		return nil
	}
	token := randomToken()
	if err := writeFileAtomic(path, []byte(token+"\n"), 0o600); err != nil {
		return err
	}
	n.token.Store(token)
	return nil
}

func (n *Node) adminToken() string {
	t, _ := n.token.Load().(string)
	return t
}

// loadToken reads the admin token on nodes other than the first; the
// operator copies it there (or each node may have its own).
func (n *Node) loadToken() error { return n.loadOrCreateToken() }

// banner prints where things are. The secret is printed only when it was
// just created (first start); later starts point at the file.
func (n *Node) banner(credPath, secret string) {
	scheme := "http"
	if n.cfg.TLSCert != "" {
		scheme = "https"
	}
	fmt.Fprintf(n.cfg.Out, "annal %s node %d ready\n", Version, n.cfg.NodeID)
	fmt.Fprintf(n.cfg.Out, "  S3:          %s://%s\n", scheme, n.cfg.S3Addr)
	fmt.Fprintf(n.cfg.Out, "  admin:       %s://%s  (token in %s)\n", scheme, n.cfg.AdminAddr, filepath.Join(n.cfg.DataDir, TokenFile))
	fmt.Fprintf(n.cfg.Out, "  native API:  %s\n", n.cfg.APIAddr)
	fmt.Fprintf(n.cfg.Out, "  credentials: %s (AWS shared-credentials format, profile [default])\n", credPath)
	if secret != "" {
		b, _ := os.ReadFile(credPath)
		fmt.Fprintf(n.cfg.Out, "  first start: the bootstrap tenant's credentials (shown once):\n%s", indent(string(b)))
	}
}

func indent(s string) string {
	var out strings.Builder
	for _, line := range strings.SplitAfter(s, "\n") {
		if line != "" {
			out.WriteString("    " + line)
		}
	}
	return out.String()
}

// startListeners opens the S3, admin and native API listeners.
func (n *Node) startListeners() error {
	s3 := http.Handler(http.HandlerFunc(notImplemented))
	if n.cfg.S3Handler != nil {
		s3 = n.cfg.S3Handler(n.service)
	}
	if err := n.listen(n.cfg.S3Addr, s3); err != nil {
		return err
	}
	adminHandler := admin.New(n, n.adminToken, n.registry, n.log)
	if err := n.listen(n.cfg.AdminAddr, adminHandler); err != nil {
		return err
	}
	api, err := native.NewHandler(native.Config{Service: n.service, Now: time.Now, Capacity: n.capacity,
		ServerVersion: Version, Logger: n.log})
	if err != nil {
		return err
	}
	return n.listen(n.cfg.APIAddr, api)
}

// capacity reports the file system holding the data directory (the
// devices live there) for statfs on mounts.
func (n *Node) capacity() (totalBytes, freeBytes uint64) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(n.cfg.DataDir, &st); err != nil {
		return 0, 0
	}
	return st.Blocks * uint64(st.Bsize), st.Bavail * uint64(st.Bsize)
}

func notImplemented(w http.ResponseWriter, _ *http.Request) {
	http.Error(w, "S3 gateway not wired", http.StatusNotImplemented)
}
