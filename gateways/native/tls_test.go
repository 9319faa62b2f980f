package native_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/annal-storage/annal/cmd/annal/server"
	"github.com/annal-storage/annal/gateways/native/nativetest"
	"github.com/annal-storage/annal/gateways/native/wire"
)

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "annal test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestNativeAPIOverTLS: a node with a certificate serves the native API
// in TLS only; the client trusts it through --ca-file.
func TestNativeAPIOverTLS(t *testing.T) {
	certs := t.TempDir()
	cert, key := selfSigned(t, certs)
	n := nativetest.Start(t, t.TempDir(), func(c *server.Config) { c.TLSCert, c.TLSKey = cert, key })
	n.CAFile = cert
	ns := n.Client(t).Namespace("tls")
	ctx := context.Background()
	if _, err := ns.CreateBucket(ctx); err != nil {
		t.Fatal(err)
	}
	a, err := ns.Create(ctx, 1, wire.CreateRequest{Name: "over-tls", Type: wire.TypeFile, Mode: 0o644})
	if err != nil || !a.IsFile() {
		t.Fatalf("create over TLS: %+v %v", a, err)
	}
	resp, err := http.Get("http://" + n.APIAddr + wire.PathVersion)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("a TLS node answered plain HTTP")
		}
	}
}
