package s3_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/minio/minio-go/v7"

	"github.com/annal-storage/annal/cmd/annal/server"
	"github.com/annal-storage/annal/gateways/native/nativetest/freeport"
	s3gw "github.com/annal-storage/annal/gateways/s3"
)

// Child-process plumbing: the test binary re-executes itself as a bare
// server (TestMain sees childEnv), so the crash test kills a real
// process with SIGKILL, not goroutines.
const (
	childAddrsEnv = "ANNAL_S3_TEST_CHILD_ADDRS" // s3,admin,api,raft
	childTLSEnv   = "ANNAL_S3_TEST_CHILD_TLS"   // cert,key
)

func runChild(dir string) {
	server.TuneProcess() // as annal server does
	addrs := strings.Split(os.Getenv(childAddrsEnv), ",")
	if len(addrs) != 4 {
		fmt.Fprintln(os.Stderr, "child: bad", childAddrsEnv)
		os.Exit(2)
	}
	cfg := server.Config{DataDir: dir, S3Addr: addrs[0], AdminAddr: addrs[1], APIAddr: addrs[2], RaftAddr: addrs[3],
		S3Handler: s3gw.NewHandler}
	if v := os.Getenv(childTLSEnv); v != "" {
		cfg.TLSCert, cfg.TLSKey, _ = strings.Cut(v, ",")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	n, err := server.Start(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(1)
	}
	<-ctx.Done()
	n.Close()
}

// child is a server process on fixed addresses and a data directory.
type child struct {
	dir   string
	addrs []string
	cmd   *exec.Cmd
	log   *bytes.Buffer
}

func newChild(t *testing.T) *child {
	t.Helper()
	ch := &child{dir: t.TempDir()}
	for range 4 {
		a, err := freeport.Find()
		if err != nil {
			t.Fatal(err)
		}
		ch.addrs = append(ch.addrs, a)
	}
	return ch
}

func (ch *child) start(t *testing.T, tlsFiles string) {
	t.Helper()
	ch.log = &bytes.Buffer{}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+ch.dir, childAddrsEnv+"="+strings.Join(ch.addrs, ","), childTLSEnv+"="+tlsFiles)
	cmd.Stdout, cmd.Stderr = ch.log, ch.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch.cmd = cmd
	t.Cleanup(func() {
		if ch.cmd != nil && ch.cmd.ProcessState == nil {
			_ = ch.cmd.Process.Kill()
			_ = ch.cmd.Wait()
		}
	})
}

func (ch *child) kill(t *testing.T) {
	t.Helper()
	if err := ch.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = ch.cmd.Wait()
}

// waitS3 waits until the child's bootstrap credentials exist and a
// signed ListBuckets succeeds.
func (ch *child) waitS3(t *testing.T, url string, hc *http.Client) credentials {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		c, err := readCredentialsFile(filepath.Join(ch.dir, server.CredentialsFile))
		if err == nil {
			if _, err = sdkClient(url, hc, c).ListBuckets(context.Background(), &s3.ListBucketsInput{}); err == nil {
				return c
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("child not serving S3 in 90 s: %v\n%s", err, ch.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// crashObject is the content of the i-th PUT: inline (≤ 4096 bytes) or
// chunked (up to ~2.6 MB, several content-defined chunks), each
// distinct so nothing deduplicates.
func crashObject(i int) []byte {
	sizes := []int{100, 4096, 4097, 300_000, 2_600_000, 17, 1_100_000}
	b := make([]byte, sizes[i%len(sizes)])
	r := mathrand.New(mathrand.NewPCG(uint64(i), 0xc4a5))
	for j := range b {
		b[j] = byte(r.Uint32())
	}
	return b
}

// TestCrashDurability: a child server takes a stream of S3 PUTs from
// two writers (the SDK's signed-SHA256 + CRC32 mode and minio-go's
// streaming-signed mode), mixing inline and multi-chunk sizes, and is
// SIGKILLed at a random moment. Restarted on the same data directory —
// this time serving TLS from --tls-cert/--tls-key — every acknowledged
// PUT reads back byte-identical, and every key the listing shows (acked
// or caught in flight) holds exactly the bytes written for it: nothing
// partial is visible.
func TestCrashDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a server process")
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("kill-time seed %#x", seed)
	ch := newChild(t)
	ch.start(t, "")
	plainURL := "http://" + ch.addrs[0]
	creds := ch.waitS3(t, plainURL, http.DefaultClient)
	sdk := sdkClient(plainURL, http.DefaultClient, creds)
	mkBucket(t, sdk, "crash")

	var mu sync.Mutex
	acked := map[int]bool{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			mc := minioClient(t, plainURL, http.DefaultTransport, creds, false)
			for i := w; ; i += 2 {
				select {
				case <-stop:
					return
				default:
				}
				if crashPut(sdk, mc, i) == nil {
					mu.Lock()
					acked[i] = true
					mu.Unlock()
				}
			}
		})
	}
	delay := 2*time.Second + time.Duration(mathrand.New(mathrand.NewPCG(seed, 0)).Int64N(int64(3*time.Second)))
	time.Sleep(delay)
	ch.kill(t)
	close(stop)
	wg.Wait()
	if len(acked) < 5 {
		t.Fatalf("only %d PUTs acknowledged in %v before the kill\n%s", len(acked), delay, ch.log.String())
	}

	certFile, keyFile, pool := selfSignedCert(t)
	ch.start(t, certFile+","+keyFile)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	tlsURL := "https://" + ch.addrs[0]
	sdk = sdkClient(tlsURL, hc, ch.waitS3(t, tlsURL, hc))
	checkAfterCrash(t, sdk, acked)
	t.Logf("%d acknowledged PUTs intact after SIGKILL at %v", len(acked), delay)
}

// crashPut writes the i-th object: even ones with the SDK, odd ones
// with minio-go.
func crashPut(sdk *s3.Client, mc *minio.Client, i int) error {
	data := crashObject(i)
	key := fmt.Sprintf("o/%05d", i)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if i%2 == 0 {
		_, err := sdk.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("crash"), Key: aws.String(key), Body: bytes.NewReader(data)})
		return err
	}
	_, err := mc.PutObject(ctx, "crash", key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{})
	return err
}

// checkAfterCrash reads every acked key and every listed key back.
func checkAfterCrash(t *testing.T, sdk *s3.Client, acked map[int]bool) {
	t.Helper()
	ctx := context.Background()
	listed := map[int]bool{}
	p := s3.NewListObjectsV2Paginator(sdk, &s3.ListObjectsV2Input{Bucket: aws.String("crash")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("list after restart: %v", err)
		}
		for _, o := range page.Contents {
			var i int
			if _, err := fmt.Sscanf(aws.ToString(o.Key), "o/%05d", &i); err != nil {
				t.Fatalf("unexpected key %q", aws.ToString(o.Key))
			}
			listed[i] = true
		}
	}
	for i := range acked {
		if !listed[i] {
			t.Errorf("acknowledged o/%05d is missing from the listing", i)
		}
	}
	for i := range listed {
		out, err := sdk.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("crash"), Key: aws.String(fmt.Sprintf("o/%05d", i))})
		if err != nil {
			t.Errorf("o/%05d (acked %v): %v", i, acked[i], err)
			continue
		}
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil || !bytes.Equal(got, crashObject(i)) {
			t.Errorf("o/%05d (acked %v): read %d bytes (%v), want the %d written", i, acked[i], len(got), err, len(crashObject(i)))
		}
	}
}

// selfSignedCert writes a certificate for 127.0.0.1 and its key.
func selfSignedCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "annal test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, pool
}
