package s3_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/annal-storage/annal/cmd/annal/server"
	"github.com/annal-storage/annal/commands"
	"github.com/annal-storage/annal/gateways/native/nativetest/freeport"
	"github.com/annal-storage/annal/gateways/s3/route"
	"github.com/annal-storage/annal/gateways/s3/sigv4"

	s3gw "github.com/annal-storage/annal/gateways/s3"
)

// The end-to-end suite. Goal: every in-scope S3 operation behaves as S3
// does when driven by real clients (aws-sdk-go-v2 with its default
// checksum and streaming behaviour, minio-go/v7) over HTTP, including
// errors and two tenants. Method: one real node per test package (the
// wiring the binary uses: Pebble, dragonboat, directory devices), its
// own S3 listener, plus httptest servers (plain and TLS) that run the
// same gateway over the same node behind a recorder, so a test can
// assert what a client put on the wire (payload mode, checksums). Every
// test uses its own buckets, so tests share the node safely.

// childEnv makes the test binary run a bare server (the crash test's
// child process) instead of the tests.
const childEnv = "ANNAL_S3_TEST_CHILD_DATA"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		runChild(dir)
		return
	}
	code := m.Run()
	if shared != nil {
		shared.close()
	}
	os.Exit(code)
}

// credentials is an access key pair.
type credentials struct{ id, secret string }

// fixture is the shared node and the endpoints in front of it.
type fixture struct {
	dir     string // the node's data directory, removed by close
	node    *server.Node
	nodeURL string // the node's own S3 listener (plain HTTP)
	plain   *endpoint
	tls     *endpoint
	a, b    credentials // two tenants
	other   credentials // tenant a's second key
}

// endpoint is the gateway over the shared node behind a recorder.
type endpoint struct {
	srv *httptest.Server
	rec *recorder
}

var (
	shared     *fixture
	sharedOnce sync.Once
	sharedErr  error
)

// node returns the shared fixture, starting it on first use.
func node(t testing.TB) *fixture {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a node")
	}
	sharedOnce.Do(func() { shared, sharedErr = startFixture() })
	if sharedErr != nil {
		t.Fatalf("start node: %v", sharedErr)
	}
	return shared
}

func startFixture() (*fixture, error) {
	dir, err := os.MkdirTemp("", "annal-s3-e2e-")
	if err != nil {
		return nil, err
	}
	var addrs [4]string
	for i := range addrs {
		if addrs[i], err = freeport.Find(); err != nil {
			return nil, err
		}
	}
	n, err := server.Start(context.Background(), server.Config{DataDir: dir, S3Addr: addrs[0], AdminAddr: addrs[1],
		APIAddr: addrs[2], RaftAddr: addrs[3], S3Handler: s3gw.NewHandler})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	f := &fixture{dir: dir, node: n, nodeURL: "http://" + addrs[0]}
	if err := f.init(dir); err != nil {
		f.close()
		return nil, err
	}
	return f, nil
}

// init waits for bootstrap, reads tenant A's credentials from the file
// the node wrote, creates tenant B, and opens the recorded endpoints.
func (f *fixture) init(dir string) error {
	deadline := time.Now().Add(60 * time.Second)
	for !f.node.Ready() {
		if time.Now().After(deadline) {
			return fmt.Errorf("node not ready in 60 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	var err error
	if f.a, err = readCredentialsFile(filepath.Join(dir, server.CredentialsFile)); err != nil {
		return err
	}
	ctx := context.Background()
	svc := f.node.Service()
	_, key, err := svc.CreateTenant(ctx, "test", commands.TenantSpec{Name: "tenant-b"})
	if err != nil {
		return err
	}
	f.b = credentials{key.ID, key.Secret}
	_, pa, err := svc.Credentials(ctx, f.a.id)
	if err != nil {
		return err
	}
	second, err := svc.IssueAccessKey(ctx, "test", pa.Tenant)
	if err != nil {
		return err
	}
	f.other = credentials{second.ID, second.Secret}
	f.plain = newEndpoint(svc, time.Now, false)
	f.tls = newEndpoint(svc, time.Now, true)
	return nil
}

func (f *fixture) close() {
	for _, e := range []*endpoint{f.plain, f.tls} {
		if e != nil {
			e.srv.Close()
		}
	}
	f.node.Close()
	os.RemoveAll(f.dir)
}

func newEndpoint(svc *commands.Service, now func() time.Time, useTLS bool) *endpoint {
	h, err := s3gw.New(s3gw.Config{Service: svc, Now: now})
	if err != nil {
		panic(err)
	}
	rec := &recorder{next: h}
	e := &endpoint{rec: rec}
	if useTLS {
		e.srv = httptest.NewTLSServer(rec)
	} else {
		e.srv = httptest.NewServer(rec)
	}
	return e
}

func readCredentialsFile(path string) (credentials, error) {
	f, err := os.Open(path)
	if err != nil {
		return credentials{}, err
	}
	defer f.Close()
	var c credentials
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "aws_access_key_id":
			c.id = strings.TrimSpace(v)
		case "aws_secret_access_key":
			c.secret = strings.TrimSpace(v)
		}
	}
	if c.id == "" || c.secret == "" {
		return c, fmt.Errorf("%s lacks credentials", path)
	}
	return c, s.Err()
}

// observation is one request as the recorder saw it.
type observation struct {
	Method    string
	Host      string
	Path      string
	Query     string
	Operation route.Operation
	Header    http.Header
	Status    int
	Response  http.Header
	Mode      sigv4.PayloadMode
	Presigned bool
}

// checksum returns the response's x-amz-checksum-<alg> value, the
// checksum the gateway computed over the request body.
func (o observation) checksum(alg sigv4.ChecksumAlgorithm) string {
	return o.Response.Get(alg.HeaderName())
}

// recorder wraps the real gateway and logs each request's wire shape.
type recorder struct {
	next http.Handler
	mu   sync.Mutex
	log  []observation
}

var classifier, _ = route.New("localhost")

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	obs := observation{Method: r.Method, Host: r.Host, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone()}
	if req, err := classifier.Classify(r); err == nil {
		obs.Operation = req.Operation
	}
	content := r.Header.Get("X-Amz-Content-Sha256")
	if sig := r.URL.Query().Get("X-Amz-Signature"); sig != "" {
		obs.Presigned = true
		content = r.URL.Query().Get("X-Amz-Content-Sha256")
		if content == "" {
			content = sigv4.UnsignedPayload
		}
	}
	obs.Mode, _, _ = sigv4.ParsePayloadMode(content)
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	rc.next.ServeHTTP(sw, r)
	obs.Status, obs.Response = sw.status, w.Header().Clone()
	rc.mu.Lock()
	rc.log = append(rc.log, obs)
	rc.mu.Unlock()
}

// last returns the most recent observation of op on path (any path when
// empty).
func (e *endpoint) last(t *testing.T, op route.Operation, path string) observation {
	t.Helper()
	e.rec.mu.Lock()
	defer e.rec.mu.Unlock()
	for i := len(e.rec.log) - 1; i >= 0; i-- {
		o := e.rec.log[i]
		if o.Operation == op && (path == "" || strings.TrimSuffix(o.Path, "/") == path) {
			return o
		}
	}
	t.Fatalf("no %v request on %q observed", op, path)
	return observation{}
}

// finished counts the requests of op on path the gateway has answered.
func (e *endpoint) finished(op route.Operation, path string) int {
	e.rec.mu.Lock()
	defer e.rec.mu.Unlock()
	n := 0
	for _, o := range e.rec.log {
		if o.Operation == op && o.Path == path {
			n++
		}
	}
	return n
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// sdk returns an aws-sdk-go-v2 S3 client for the endpoint with the SDK's
// default checksum behaviour (what config.LoadDefaultConfig sets).
func (e *endpoint) sdk(c credentials, opts ...func(*s3.Options)) *s3.Client {
	return sdkClient(e.srv.URL, e.srv.Client(), c, opts...)
}

func sdkClient(url string, hc *http.Client, c credentials, opts ...func(*s3.Options)) *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		UsePathStyle: true,
		HTTPClient:   hc,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: c.id, SecretAccessKey: c.secret}, nil
		}),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
	}, opts...)
}

// bucketName makes a bucket name unique to the test.
func bucketName(t *testing.T, suffix string) string {
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	name = strings.Trim(name, "-")
	if len(name) > 40 {
		name = name[:40]
	}
	return strings.Trim(name, "-") + "-" + suffix
}
