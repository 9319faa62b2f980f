package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/annal-storage/annal/gateways/native/wire"
)

// Config configures a Client.
type Config struct {
	// Endpoint is "host:port" (plain HTTP) or an http:// or https:// URL.
	Endpoint    string
	Credentials Credentials
	// CAFile, for https endpoints, is a PEM bundle to trust instead of
	// the system roots.
	CAFile string
	// RetryFor bounds how long a retryable request keeps being retried
	// while the server is unreachable or busy (default 30 s).
	RetryFor time.Duration
	// Now is the signing clock (default time.Now).
	Now func() time.Time
}

// Client talks to one node's native API.
type Client struct {
	base  string
	creds Credentials
	http  *http.Client
	retry time.Duration
	now   func() time.Time
}

// New returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.Credentials.AccessKeyID == "" || cfg.Credentials.SecretAccessKey == "" {
		return nil, errors.New("client: credentials needed")
	}
	base := cfg.Endpoint
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("client: endpoint %q is not host:port or an http(s) URL", cfg.Endpoint)
	}
	tr := &http.Transport{Proxy: nil, MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second,
		DisableCompression: true, DialContext: (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("client: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client: no certificates in %s", cfg.CAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	c := &Client{base: strings.TrimSuffix(u.String(), "/"), creds: cfg.Credentials, http: &http.Client{Transport: tr},
		retry: cfg.RetryFor, now: cfg.Now}
	if c.retry == 0 {
		c.retry = 30 * time.Second
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// call is one request.
type call struct {
	method string
	path   string
	query  url.Values
	// body makes a fresh copy of the request body (for retries); nil when
	// there is none.
	body        func() io.Reader
	length      int64
	contentType string
	// idempotent: repeating the request cannot change its outcome.
	idempotent bool
}

func (c *Client) newRequest(ctx context.Context, rq call) (*http.Request, error) {
	target := c.base + rq.path
	if len(rq.query) > 0 {
		target += "?" + encodeQuery(rq.query)
	}
	var body io.Reader
	if rq.body != nil {
		body = rq.body()
		if rq.length == 0 {
			body = http.NoBody
		}
	}
	req, err := http.NewRequestWithContext(ctx, rq.method, target, body)
	if err != nil {
		return nil, err
	}
	if rq.body != nil {
		req.ContentLength = rq.length
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(rq.body()), nil }
		req.Header.Set("Content-Type", rq.contentType)
	}
	sign(req, c.creds.AccessKeyID, c.creds.SecretAccessKey, c.now())
	return req, nil
}

// do sends a request, retrying what may be retried, and returns a
// successful response or the error.
func (c *Client) do(ctx context.Context, rq call) (*http.Response, error) {
	deadline := c.now().Add(c.retry)
	for attempt := 0; ; attempt++ {
		req, err := c.newRequest(ctx, rq)
		if err != nil {
			return nil, err
		}
		resp, err := c.http.Do(req)
		var retry bool
		if err == nil {
			if resp.StatusCode < 400 {
				return resp, nil
			}
			werr := decodeError(resp)
			retry, err = rq.idempotent && werr.Code.Retryable(), werr
		} else {
			retry = rq.idempotent || errors.Is(err, syscall.ECONNREFUSED)
			err = fmt.Errorf("%s %s: %w", rq.method, rq.path, err)
		}
		if !retry || ctx.Err() != nil || c.now().After(deadline) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(min(10*time.Millisecond<<min(attempt, 7), time.Second)):
		}
	}
}

func decodeError(resp *http.Response) *wire.Error {
	defer resp.Body.Close()
	var e wire.Error
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err := json.Unmarshal(b, &e); err != nil || e.Code == "" {
		return &wire.Error{Code: wire.CodeInternal, Message: fmt.Sprintf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))}
	}
	return &e
}

// doJSON sends a request and decodes a JSON answer into out (when not
// nil).
func (c *Client) doJSON(ctx context.Context, rq call, out any) error {
	resp, err := c.do(ctx, rq)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", rq.method, rq.path, err)
	}
	return nil
}

func jsonCall(method, path string, in any, idempotent bool) (call, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return call{}, err
	}
	return call{method: method, path: path, body: func() io.Reader { return bytes.NewReader(b) }, length: int64(len(b)),
		contentType: "application/json", idempotent: idempotent}, nil
}

// checkUTF8 refuses names JSON cannot carry unchanged (it would replace
// invalid bytes); no S3 key could hold them either.
func checkUTF8(name string) error {
	if !utf8.ValidString(name) {
		return &wire.Error{Code: wire.CodeInvalid, Message: "names are UTF-8"}
	}
	return nil
}

// Version asks the server which protocol it speaks (unauthenticated).
func (c *Client) Version(ctx context.Context) (wire.Version, error) {
	var v wire.Version
	err := c.doJSON(ctx, call{method: http.MethodGet, path: wire.PathVersion, idempotent: true}, &v)
	return v, err
}

// Namespace returns a handle on one bucket.
func (c *Client) Namespace(bucket string) *Namespace { return &Namespace{c: c, bucket: bucket} }

// Namespace is a bucket seen through the native API. It is safe for
// concurrent use.
type Namespace struct {
	c      *Client
	bucket string
}

// Name returns the bucket name.
func (n *Namespace) Name() string { return n.bucket }

// Open is the mount handshake: the bucket exists and the caller may use
// it.
func (n *Namespace) Open(ctx context.Context) (wire.Bucket, error) {
	var b wire.Bucket
	err := n.c.doJSON(ctx, call{method: http.MethodGet, path: wire.BucketPath(n.bucket), idempotent: true}, &b)
	return b, err
}

// CreateBucket creates the bucket for the caller's tenant (AlreadyExists
// when it has it already).
func (n *Namespace) CreateBucket(ctx context.Context) (wire.Bucket, error) {
	var b wire.Bucket
	err := n.c.doJSON(ctx, call{method: http.MethodPut, path: wire.BucketPath(n.bucket)}, &b)
	return b, err
}

// StatFS reports capacity.
func (n *Namespace) StatFS(ctx context.Context) (wire.StatFS, error) {
	var s wire.StatFS
	err := n.c.doJSON(ctx, call{method: http.MethodGet, path: wire.BucketPath(n.bucket) + "/statfs", idempotent: true}, &s)
	return s, err
}

// GetAttr returns an inode's attributes.
func (n *Namespace) GetAttr(ctx context.Context, ino uint64) (wire.Attr, error) {
	var a wire.Attr
	err := n.c.doJSON(ctx, call{method: http.MethodGet, path: wire.InodePath(n.bucket, ino, ""), idempotent: true}, &a)
	return a, err
}

// Lookup resolves a name in a directory.
func (n *Namespace) Lookup(ctx context.Context, parent uint64, name string) (wire.Attr, error) {
	var a wire.Attr
	err := n.c.doJSON(ctx, call{method: http.MethodGet, path: wire.InodePath(n.bucket, parent, "/children"),
		query: url.Values{"name": {name}}, idempotent: true}, &a)
	return a, err
}

// ReadDir returns a page of a directory after the cursor ("" from the
// start).
func (n *Namespace) ReadDir(ctx context.Context, dir uint64, after string, limit int) (wire.Entries, error) {
	var es wire.Entries
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if after != "" {
		q.Set("after", after)
	}
	err := n.c.doJSON(ctx, call{method: http.MethodGet, path: wire.InodePath(n.bucket, dir, "/children"), query: q, idempotent: true}, &es)
	return es, err
}

// Create makes a file, directory, symbolic link or hard link in parent.
func (n *Namespace) Create(ctx context.Context, parent uint64, in wire.CreateRequest) (wire.Attr, error) {
	var a wire.Attr
	if err := checkUTF8(in.Name); err != nil {
		return a, err
	}
	rq, err := jsonCall(http.MethodPost, wire.InodePath(n.bucket, parent, "/children"), in, false)
	if err != nil {
		return a, err
	}
	err = n.c.doJSON(ctx, rq, &a)
	return a, err
}

// Remove unlinks a name, or with dir removes an empty directory.
func (n *Namespace) Remove(ctx context.Context, parent uint64, name string, dir bool) error {
	q := url.Values{"name": {name}}
	if dir {
		q.Set("dir", "1")
	}
	return n.c.doJSON(ctx, call{method: http.MethodDelete, path: wire.InodePath(n.bucket, parent, "/children"), query: q}, nil)
}

// Rename moves a name atomically within the namespace.
func (n *Namespace) Rename(ctx context.Context, in wire.RenameRequest) error {
	if err := checkUTF8(in.TargetName); err != nil {
		return err
	}
	rq, err := jsonCall(http.MethodPost, wire.BucketPath(n.bucket)+"/rename", in, false)
	if err != nil {
		return err
	}
	return n.c.doJSON(ctx, rq, nil)
}

// SetAttr changes attributes (chmod, chown, utimens, truncate).
func (n *Namespace) SetAttr(ctx context.Context, ino uint64, in wire.SetAttrRequest) (wire.Attr, error) {
	var a wire.Attr
	idempotent := !in.AtimeNow && !in.MtimeNow
	rq, err := jsonCall(http.MethodPatch, wire.InodePath(n.bucket, ino, ""), in, idempotent)
	if err != nil {
		return a, err
	}
	err = n.c.doJSON(ctx, rq, &a)
	return a, err
}

// Read streams bytes [off, off+length) of a file (clamped to its size)
// and returns the file's size as of the read. The caller closes the
// reader.
func (n *Namespace) Read(ctx context.Context, ino uint64, off, length int64) (io.ReadCloser, int64, error) {
	q := url.Values{"offset": {strconv.FormatInt(off, 10)}, "length": {strconv.FormatInt(length, 10)}}
	resp, err := n.c.do(ctx, call{method: http.MethodGet, path: wire.InodePath(n.bucket, ino, "/data"), query: q, idempotent: true})
	if err != nil {
		return nil, 0, err
	}
	size, err := strconv.ParseInt(resp.Header.Get(wire.HeaderSize), 10, 64)
	if err != nil {
		resp.Body.Close()
		return nil, 0, fmt.Errorf("read inode %d: bad %s header", ino, wire.HeaderSize)
	}
	return resp.Body, size, nil
}

// Write sends one batch of writes: spans and their bytes, data[i] holding
// span i's bytes. It returns after the batch is committed.
func (n *Namespace) Write(ctx context.Context, ino uint64, spans []wire.Span, data [][]byte, appendMode bool) (wire.Attr, error) {
	var a wire.Attr
	table := wire.AppendSpanTable(nil, spans)
	length := int64(len(table))
	for _, d := range data {
		length += int64(len(d))
	}
	body := func() io.Reader {
		rs := make([]io.Reader, 0, len(data)+1)
		rs = append(rs, bytes.NewReader(table))
		for _, d := range data {
			rs = append(rs, bytes.NewReader(d))
		}
		return io.MultiReader(rs...)
	}
	var q url.Values
	if appendMode {
		q = url.Values{"append": {"1"}}
	}
	err := n.c.doJSON(ctx, call{method: http.MethodPost, path: wire.InodePath(n.bucket, ino, "/data"), query: q,
		body: body, length: length, contentType: wire.ContentTypeWrite, idempotent: !appendMode}, &a)
	return a, err
}

// GetXattr reads one extended attribute.
func (n *Namespace) GetXattr(ctx context.Context, ino uint64, name string) ([]byte, error) {
	resp, err := n.c.do(ctx, call{method: http.MethodGet, path: wire.InodePath(n.bucket, ino, "/xattrs"),
		query: url.Values{"name": {name}}, idempotent: true})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// ListXattrs lists extended attribute names.
func (n *Namespace) ListXattrs(ctx context.Context, ino uint64) ([]string, error) {
	var out wire.XattrNames
	err := n.c.doJSON(ctx, call{method: http.MethodGet, path: wire.InodePath(n.bucket, ino, "/xattrs"), idempotent: true}, &out)
	return out.Names, err
}

// SetXattr sets an extended attribute; mode is "", wire.XattrCreate or
// wire.XattrReplace.
func (n *Namespace) SetXattr(ctx context.Context, ino uint64, name string, value []byte, mode string) error {
	q := url.Values{"name": {name}}
	if mode != "" {
		q.Set("mode", mode)
	}
	return n.c.doJSON(ctx, call{method: http.MethodPut, path: wire.InodePath(n.bucket, ino, "/xattrs"), query: q,
		body: func() io.Reader { return bytes.NewReader(value) }, length: int64(len(value)),
		contentType: "application/octet-stream", idempotent: mode == ""}, nil)
}

// RemoveXattr removes an extended attribute.
func (n *Namespace) RemoveXattr(ctx context.Context, ino uint64, name string) error {
	return n.c.doJSON(ctx, call{method: http.MethodDelete, path: wire.InodePath(n.bucket, ino, "/xattrs"),
		query: url.Values{"name": {name}}}, nil)
}
