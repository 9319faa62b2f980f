package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/annal-storage/annal/commands"
	"github.com/annal-storage/annal/gateways/admin"
	"github.com/annal-storage/annal/gateways/native/client"
)

// TestAdminAPITenantAdmins: the compliance endpoints over HTTP. The
// cluster admin (token) creates tenants and places holds; a tenant admin
// (SigV4 with its access key) sees its own tenant and not another's,
// exports its own audit with object keys readable, and the cluster
// admin's export shows no tenant id; a bad signature is refused and
// audited.
func TestAdminAPITenantAdmins(t *testing.T) {
	dir := t.TempDir()
	peers := map[uint64]string{1: freeAddr(t)}
	cfg := nodeConfig(t, dir, 1, peers, sharedKey(t))
	n, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	waitReady(t, n)
	base := "http://" + cfg.AdminAddr
	call := func(method, path string, body any, sign func(*http.Request)) (*http.Response, []byte) {
		t.Helper()
		var b []byte
		if body != nil {
			b, _ = json.Marshal(body)
		}
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(b))
		sign(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out bytes.Buffer
		_, _ = out.ReadFrom(resp.Body)
		return resp, out.Bytes()
	}
	token := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+n.adminToken()) }
	var a, b admin.CreateTenantResponse
	for name, out := range map[string]*admin.CreateTenantResponse{"alpha": &a, "beta": &b} {
		resp, body := call("POST", "/v1/tenants", admin.CreateTenantRequest{Name: name}, token)
		if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, out) != nil {
			t.Fatalf("create %s: %s %s", name, resp.Status, body)
		}
	}
	asA := func(r *http.Request) { client.Sign(r, a.AccessKeyID, a.SecretAccessKey, time.Now()) }
	pa := commands.Principal{Tenant: a.Tenant.ID, AccessKey: a.AccessKeyID}
	if err := n.Service().CreateBucket(context.Background(), pa, "bk"); err != nil {
		t.Fatal(err)
	}
	put(t, n.Service(), pa, "bk", "secret/report.pdf", []byte("x"))
	if resp, body := call("GET", "/v1/tenants/alpha", nil, asA); resp.StatusCode != 200 || !strings.Contains(string(body), `"bk"`) {
		t.Fatalf("own tenant: %s %s", resp.Status, body)
	}
	if resp, _ := call("GET", "/v1/tenants/beta", nil, asA); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("other tenant: %s", resp.Status)
	}
	resp, body := call("POST", "/v1/holds", admin.HoldRequest{Tenant: "alpha", Scope: "object", Bucket: "bk", Key: "secret/report.pdf", Reason: "case 7"}, token)
	if resp.StatusCode != http.StatusCreated || strings.Contains(string(body), "report.pdf") {
		t.Fatalf("admin places an object hold without seeing the key: %s %s", resp.Status, body)
	}
	if _, body := call("GET", "/v1/holds", nil, asA); !strings.Contains(string(body), "secret/report.pdf") {
		t.Fatalf("tenant admin sees its hold's key: %s", body)
	}
	bad := func(r *http.Request) { client.Sign(r, a.AccessKeyID, "wrong", time.Now()) }
	if resp, _ := call("GET", "/v1/tenants/alpha", nil, bad); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad signature: %s", resp.Status)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, own := call("GET", "/v1/audit/export", nil, asA)
		_, sys := call("GET", "/v1/audit/export", nil, token)
		if strings.Contains(string(own), "secret/report.pdf") && strings.Contains(string(sys), "AuthenticationFailed") {
			sc := bufio.NewScanner(bytes.NewReader(sys))
			for sc.Scan() {
				if strings.Contains(sc.Text(), `"tenant":`) || strings.Contains(sc.Text(), "report.pdf") {
					t.Fatalf("system export leaks a tenant id or key: %s", sc.Text())
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("exports incomplete:\nown %s\nsystem %s", own, sys)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
