package s3_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/annal-storage/annal/gateways/s3/route"
	"github.com/annal-storage/annal/gateways/s3/sigv4"
)

// Real-client interoperability (moved here from the sigv4 package, where
// it ran against an in-memory fake). Goal: requests produced by
// aws-sdk-go-v2 (its v4 signer, its S3 client with default checksum
// behaviour, its presigner) authenticate and their bodies are stored
// byte-identical, in every payload mode the client picks. Method: the
// recorder in front of the real gateway notes each request's payload
// mode and the checksums the gateway computed; each test asserts the
// mode it observed, so a client changing its default shows up here, and
// reads the object back through the node.

func testData(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + i>>8)
	}
	return b
}

func mkBucket(t *testing.T, c *s3.Client, name string) {
	t.Helper()
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("CreateBucket %s: %v", name, err)
	}
}

func sdkPut(t *testing.T, c *s3.Client, bucket, key string, body io.Reader, opts ...func(*s3.PutObjectInput)) *s3.PutObjectOutput {
	t.Helper()
	in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: body}
	for _, o := range opts {
		o(in)
	}
	out, err := c.PutObject(context.Background(), in)
	if err != nil {
		t.Fatalf("PutObject %q: %v", key, err)
	}
	return out
}

func sdkGet(t *testing.T, c *s3.Client, bucket, key string) []byte {
	t.Helper()
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("GetObject %q: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("GetObject %q body: %v", key, err)
	}
	return b
}

func apiCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

// TestSDKWhenRequiredChecksums: a client configured to send checksums
// only when an operation requires them signs UNSIGNED-PAYLOAD over TLS
// and a literal SHA-256 over plain HTTP, with no checksum header.
func TestSDKWhenRequiredChecksums(t *testing.T) {
	f := node(t)
	data := testData(70_000)
	for _, e := range []*endpoint{f.tls, f.plain} {
		c := e.sdk(f.a, func(o *s3.Options) {
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		})
		b := bucketName(t, map[bool]string{true: "tls", false: "plain"}[e == f.tls])
		mkBucket(t, c, b)
		sdkPut(t, c, b, "when-required", bytes.NewReader(data))
		obs := e.last(t, route.PutObject, "/"+b+"/when-required")
		want := sigv4.PayloadSHA256
		if e == f.tls {
			want = sigv4.PayloadUnsigned
		}
		if obs.Mode != want || obs.Header.Get("X-Amz-Checksum-Crc32") != "" {
			t.Errorf("%s: mode %v (want %v), checksum header %q", b, obs.Mode, want, obs.Header.Get("X-Amz-Checksum-Crc32"))
		}
		if got := sdkGet(t, c, b, "when-required"); !bytes.Equal(got, data) {
			t.Errorf("%s: read back %d bytes, want %d", b, len(got), len(data))
		}
	}
}

// TestSDKPutObjectPlainHTTP: over plain HTTP the SDK signs a literal
// SHA-256 of the body and sends its default CRC32 in a header, which the
// gateway verifies and echoes; GET with the SDK's response validation
// gets it back.
func TestSDKPutObjectPlainHTTP(t *testing.T) {
	f := node(t)
	c := f.plain.sdk(f.a)
	b := bucketName(t, "b")
	mkBucket(t, c, b)
	data := testData(300_000)
	out := sdkPut(t, c, b, "plain/object", bytes.NewReader(data))
	obs := f.plain.last(t, route.PutObject, "/"+b+"/plain/object")
	if obs.Mode != sigv4.PayloadSHA256 || obs.Presigned {
		t.Errorf("mode %v presigned %v, want literal SHA256", obs.Mode, obs.Presigned)
	}
	sent := obs.Header.Get("X-Amz-Checksum-Crc32")
	if sent == "" || obs.checksum(sigv4.CRC32) != sent || aws.ToString(out.ChecksumCRC32) != sent {
		t.Errorf("CRC32 sent %q, computed %q, returned %q", sent, obs.checksum(sigv4.CRC32), aws.ToString(out.ChecksumCRC32))
	}
	if got := sdkGet(t, c, b, "plain/object"); !bytes.Equal(got, data) {
		t.Error("GetObject returned different bytes")
	}
	get := f.plain.last(t, route.GetObject, "/"+b+"/plain/object")
	if get.Mode != sigv4.PayloadSHA256 || get.Response.Get("X-Amz-Checksum-Crc32") != sent {
		t.Errorf("GET mode %v, returned CRC32 %q (want %q)", get.Mode, get.Response.Get("X-Amz-Checksum-Crc32"), sent)
	}
}

// TestSDKPutObjectTLS: over TLS the SDK streams with
// STREAMING-UNSIGNED-PAYLOAD-TRAILER and a checksum trailer, for each
// algorithm it supports; the gateway verifies the trailer and stores the
// checksum, which HEAD with checksum mode returns.
func TestSDKPutObjectTLS(t *testing.T) {
	f := node(t)
	c := f.tls.sdk(f.a)
	b := bucketName(t, "b")
	mkBucket(t, c, b)
	data := testData(200_000)
	for _, alg := range []types.ChecksumAlgorithm{"", types.ChecksumAlgorithmCrc32c, types.ChecksumAlgorithmSha1,
		types.ChecksumAlgorithmSha256, types.ChecksumAlgorithmCrc64nvme} {
		key := "tls/" + string(alg) + "object"
		sdkPut(t, c, b, key, bytes.NewReader(data), func(in *s3.PutObjectInput) { in.ChecksumAlgorithm = alg })
		obs := f.tls.last(t, route.PutObject, "/"+b+"/"+key)
		if obs.Mode != sigv4.PayloadStreamingUnsignedTrailer {
			t.Errorf("%s: mode %v, want STREAMING-UNSIGNED-PAYLOAD-TRAILER", alg, obs.Mode)
		}
		want := sigv4.ChecksumAlgorithm(alg)
		if alg == "" {
			want = sigv4.CRC32
		}
		if obs.checksum(want) == "" || obs.Header.Get("X-Amz-Trailer") != want.HeaderName() {
			t.Errorf("%s: trailer %q, computed %q", alg, obs.Header.Get("X-Amz-Trailer"), obs.checksum(want))
		}
		head, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String(key),
			ChecksumMode: types.ChecksumModeEnabled})
		if err != nil {
			t.Fatalf("%s: HeadObject: %v", alg, err)
		}
		if got := f.tls.last(t, route.HeadObject, "/"+b+"/"+key).Response.Get(want.HeaderName()); got != obs.checksum(want) {
			t.Errorf("%s: HEAD returned checksum %q, PUT computed %q", alg, got, obs.checksum(want))
		}
		if aws.ToInt64(head.ContentLength) != int64(len(data)) {
			t.Errorf("%s: HEAD length %d", alg, aws.ToInt64(head.ContentLength))
		}
		if got := sdkGet(t, c, b, key); !bytes.Equal(got, data) {
			t.Errorf("%s: body differs", alg)
		}
	}
}

// unseekable hides bytes.Reader's Seek so the SDK cannot hash ahead.
type unseekable struct{ r io.Reader }

func (u unseekable) Read(p []byte) (int, error) { return u.r.Read(p) }

// TestSDKPutObjectUnseekable: a body the SDK cannot rewind is streamed
// with a trailer over TLS. (Over plain HTTP the SDK refuses it
// client-side: it needs to hash the body before sending.)
func TestSDKPutObjectUnseekable(t *testing.T) {
	f := node(t)
	c := f.tls.sdk(f.a)
	b := bucketName(t, "b")
	mkBucket(t, c, b)
	data := testData(100_000)
	sdkPut(t, c, b, "unseekable", unseekable{bytes.NewReader(data)}, func(in *s3.PutObjectInput) {
		in.ContentLength = aws.Int64(int64(len(data)))
	})
	if obs := f.tls.last(t, route.PutObject, "/"+b+"/unseekable"); obs.Mode != sigv4.PayloadStreamingUnsignedTrailer {
		t.Errorf("mode %v", obs.Mode)
	}
	if got := sdkGet(t, c, b, "unseekable"); !bytes.Equal(got, data) {
		t.Error("body differs")
	}
}

// TestSDKKeysRoundTrip: keys with every awkward character the SDK will
// send authenticate (canonical URI) and come back byte-identical; keys
// that cannot be POSIX paths still authenticate and are refused with
// InvalidArgument.
func TestSDKKeysRoundTrip(t *testing.T) {
	f := node(t)
	c := f.plain.sdk(f.a)
	b := bucketName(t, "b")
	mkBucket(t, c, b)
	for _, key := range []string{
		"a b/c+d", "ሴ/😀/é", "~!$&'()*,;=:@", "percent%2Fencoded%", "q?x#y",
		"tab\tand\nnewline", "trailing ", " leading", "[brackets]{braces}|pipe^caret`tick\"quote<>",
		"folder/", strings.Repeat("k", 255) + "/" + strings.Repeat("é", 100),
	} {
		data := []byte("content of " + key)
		if strings.HasSuffix(key, "/") {
			data = nil
		}
		sdkPut(t, c, b, key, bytes.NewReader(data))
		if got := sdkGet(t, c, b, key); !bytes.Equal(got, data) {
			t.Errorf("%q: got %q", key, got)
		}
	}
	for _, key := range []string{"x//y", "./dot", "a/../b", "a/./b", "data/"} {
		body := ""
		if key == "data/" {
			body = "folders hold no data"
		}
		_, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String(key),
			Body: strings.NewReader(body)})
		if apiCode(err) != "InvalidArgument" {
			t.Errorf("%q: %v, want InvalidArgument", key, err)
		}
	}
}

func TestSDKRefusals(t *testing.T) {
	f := node(t)
	_, err := f.plain.sdk(credentials{f.a.id, "wrong-secret"}).ListBuckets(context.Background(), &s3.ListBucketsInput{})
	if apiCode(err) != "SignatureDoesNotMatch" {
		t.Errorf("wrong secret: %v", err)
	}
	_, err = f.plain.sdk(credentials{"AKIANOBODY", "x"}).ListBuckets(context.Background(), &s3.ListBucketsInput{})
	if apiCode(err) != "InvalidAccessKeyId" {
		t.Errorf("unknown key: %v", err)
	}
	c := f.plain.sdk(f.a)
	b := bucketName(t, "b")
	mkBucket(t, c, b)
	_, err = c.GetBucketLifecycleConfiguration(context.Background(), &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String(b)})
	if apiCode(err) != "NotImplemented" {
		t.Errorf("lifecycle: %v", err)
	}
	// A request whose clock is 20 minutes off is refused as skewed.
	skewed := f.plain.sdk(f.a, func(o *s3.Options) { o.HTTPSignerV4 = skewSigner{v4.NewSigner(), 20 * time.Minute} })
	_, err = skewed.ListBuckets(context.Background(), &s3.ListBucketsInput{})
	if apiCode(err) != "RequestTimeTooSkewed" {
		t.Errorf("skewed clock: %v", err)
	}
	// 14 minutes is within S3's tolerance.
	slightly := f.plain.sdk(f.a, func(o *s3.Options) { o.HTTPSignerV4 = skewSigner{v4.NewSigner(), -14 * time.Minute} })
	if _, err = slightly.ListBuckets(context.Background(), &s3.ListBucketsInput{}); err != nil {
		t.Errorf("14 minutes of skew: %v", err)
	}
}

// skewSigner signs as if the client clock were off by skew.
type skewSigner struct {
	s    *v4.Signer
	skew time.Duration
}

func (k skewSigner) SignHTTP(ctx context.Context, c aws.Credentials, r *http.Request, payloadHash, service, region string,
	at time.Time, opts ...func(*v4.SignerOptions)) error {
	return k.s.SignHTTP(ctx, c, r, payloadHash, service, region, at.Add(k.skew), opts...)
}

func TestSDKPresigned(t *testing.T) {
	f := node(t)
	c := f.plain.sdk(f.a)
	b := bucketName(t, "b")
	mkBucket(t, c, b)
	data := []byte("presigned content")
	sdkPut(t, c, b, "dir/pre signed+file", bytes.NewReader(data))
	pc := s3.NewPresignClient(c, s3.WithPresignExpires(15*time.Minute))
	get, err := pc.PresignGetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("dir/pre signed+file"),
		ResponseContentDisposition: aws.String(`attachment; filename="x.txt"`)})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := f.plain.srv.Client().Get(get.URL)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, data) || resp.Header.Get("Content-Disposition") != `attachment; filename="x.txt"` {
		t.Fatalf("presigned GET: %d %q %v", resp.StatusCode, got, resp.Header)
	}
	if obs := f.plain.last(t, route.GetObject, "/"+b+"/dir/pre signed+file"); !obs.Presigned || obs.Mode != sigv4.PayloadUnsigned {
		t.Errorf("presigned GET observed as presigned=%v mode=%v", obs.Presigned, obs.Mode)
	}

	put, err := pc.PresignPutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("uploaded")})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(put.Method, put.URL, bytes.NewReader(data))
	for k, vs := range put.SignedHeader {
		if !strings.EqualFold(k, "Host") {
			req.Header[k] = vs
		}
	}
	resp, err = f.plain.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if stored := sdkGet(t, c, b, "uploaded"); resp.StatusCode != 200 || !bytes.Equal(stored, data) {
		t.Fatalf("presigned PUT: %d, stored %q", resp.StatusCode, stored)
	}

	// Tampering with the URL invalidates it.
	resp, err = f.plain.srv.Client().Get(strings.Replace(get.URL, "pre%20signed", "pre%20signeD", 1))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("tampered presigned URL: status %d", resp.StatusCode)
	}
	// An expired link is refused: presign one second, with a clock that
	// the gateway sees a minute later.
	late := newEndpoint(f.node.Service(), func() time.Time { return time.Now().Add(time.Minute) }, false)
	defer late.srv.Close()
	lc := late.sdk(f.a)
	short, err := s3.NewPresignClient(lc, s3.WithPresignExpires(time.Second)).PresignGetObject(context.Background(),
		&s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("uploaded")})
	if err != nil {
		t.Fatal(err)
	}
	resp, err = late.srv.Client().Get(short.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "Request has expired") {
		t.Errorf("expired presigned URL: %d %s", resp.StatusCode, body)
	}
}

// TestSDKSignerDirect signs hand-built requests with the SDK's v4 signer
// (S3 mode: no double path escaping) and checks the gateway agrees on
// awkward queries, repeated headers, header spacing and any region.
func TestSDKSignerDirect(t *testing.T) {
	f := node(t)
	b := bucketName(t, "b")
	mkBucket(t, f.plain.sdk(f.a), b)
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	creds := aws.Credentials{AccessKeyID: f.a.id, SecretAccessKey: f.a.secret}
	for _, target := range []string{
		"/" + b + "?list-type=2&prefix=a%20b%2Fc&delimiter=%2F&start-after=%E1%88%B4",
		"/" + b + "?list-type=2&prefix=&max-keys=5&fetch-owner=true",
		"/" + b + "?versions&key-marker=k&version-id-marker=",
		"/" + b + "?list-type=2&prefix=%2B%7E%21%2A",
	} {
		req, _ := http.NewRequest("GET", f.plain.srv.URL+target, nil)
		req.Header.Add("X-Amz-Meta-Multi", "  one   two  ")
		req.Header.Add("X-Amz-Meta-Multi", "three")
		req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
		if err := signer.SignHTTP(context.Background(), creds, req, "UNSIGNED-PAYLOAD", "s3", "eu-west-3", time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := f.plain.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "<Name>"+b+"</Name>") {
			t.Errorf("%s: %d %s", target, resp.StatusCode, body)
		}
	}
}
