package sigv4_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/annal-storage/annal/gateways/s3/internal/s3test"
	"github.com/annal-storage/annal/gateways/s3/route"
	"github.com/annal-storage/annal/gateways/s3/sigv4"
)

// Real-client interoperability. Goal: requests produced by
// aws-sdk-go-v2 (its v4 signer, its S3 client with default checksum
// behaviour, its presigner) and by minio-go/v7 authenticate, and their
// bodies decode byte-identical, in every payload mode those clients pick.
// Method: an httptest server (plain and TLS) running the verifier inside
// s3test's fake endpoint, which records each request's payload mode and
// checksums; each test asserts the mode it observed, so a client
// changing its default shows up here.

const (
	testAccessKey = "AKIAANNALTEST0000001"
	testSecret    = "annal/test/secret+key/0123456789abcdefghij"
)

type credsMap map[string]string

func (c credsMap) SecretFor(_ context.Context, id string) (string, any, error) {
	if s, ok := c[id]; ok {
		return s, "tenant-of-" + id, nil
	}
	return "", nil, sigv4.ErrUnknownAccessKey
}

type endpoint struct {
	fake *s3test.Server
	srv  *httptest.Server
}

// startEndpoint runs the fake over plain HTTP or TLS. The clock is the
// real one: real clients sign with time.Now.
func startEndpoint(t *testing.T, useTLS bool) *endpoint {
	t.Helper()
	v, err := sigv4.New(sigv4.Config{Credentials: credsMap{testAccessKey: testSecret}, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := route.New("localhost")
	if err != nil {
		t.Fatal(err)
	}
	fake := s3test.New(v, rt, time.Now)
	var srv *httptest.Server
	if useTLS {
		srv = httptest.NewTLSServer(fake)
	} else {
		srv = httptest.NewServer(fake)
	}
	t.Cleanup(srv.Close)
	return &endpoint{fake: fake, srv: srv}
}

// last returns the most recent observation of op.
func (e *endpoint) last(t *testing.T, op route.Operation) s3test.Observation {
	t.Helper()
	obs := e.fake.Observations()
	for i := len(obs) - 1; i >= 0; i-- {
		if obs[i].Operation == op {
			return obs[i]
		}
	}
	t.Fatalf("no %v request observed; log: %+v", op, obs)
	return s3test.Observation{}
}

func (e *endpoint) sdkClient(secret string, opts ...func(*s3.Options)) *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(e.srv.URL),
		UsePathStyle: true,
		HTTPClient:   e.srv.Client(),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: secret}, nil
		}),
		// What config.LoadDefaultConfig sets: the SDK's default behaviour.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
	}, opts...)
}

func testData(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + i>>8)
	}
	return b
}

// TestSDKWhenRequiredChecksums: a client configured to send checksums
// only when an operation requires them signs UNSIGNED-PAYLOAD over TLS
// and a literal SHA-256 over plain HTTP, with no checksum header.
func TestSDKWhenRequiredChecksums(t *testing.T) {
	data := testData(70_000)
	for _, useTLS := range []bool{true, false} {
		e := startEndpoint(t, useTLS)
		c := e.sdkClient(testSecret, func(o *s3.Options) {
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		})
		sdkPut(t, c, "when-required", bytes.NewReader(data))
		obs := e.last(t, route.PutObject)
		want := sigv4.PayloadSHA256
		if useTLS {
			want = sigv4.PayloadUnsigned
		}
		if obs.Mode != want || !bytes.Equal(obs.Body, data) || len(obs.Checksums) != 0 {
			t.Errorf("TLS=%v: mode %v (want %v), equal %v, checksums %v", useTLS, obs.Mode, want, bytes.Equal(obs.Body, data), obs.Checksums)
		}
	}
}

func sdkPut(t *testing.T, c *s3.Client, key string, body io.Reader, opts ...func(*s3.PutObjectInput)) {
	t.Helper()
	in := &s3.PutObjectInput{Bucket: aws.String("bucket"), Key: aws.String(key), Body: body}
	for _, o := range opts {
		o(in)
	}
	if _, err := c.PutObject(context.Background(), in); err != nil {
		t.Fatalf("PutObject %q: %v", key, err)
	}
}

func sdkGet(t *testing.T, c *s3.Client, key string) []byte {
	t.Helper()
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("bucket"), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("GetObject %q: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func checksumNamed(obs s3test.Observation, alg sigv4.ChecksumAlgorithm) string {
	for _, c := range obs.Checksums {
		if c.Algorithm == alg {
			return c.Value
		}
	}
	return ""
}

// TestSDKPutObjectPlainHTTP: over plain HTTP the SDK signs a literal
// SHA-256 of the body and sends its default CRC32 in a header.
func TestSDKPutObjectPlainHTTP(t *testing.T) {
	e := startEndpoint(t, false)
	c := e.sdkClient(testSecret)
	data := testData(300_000)
	sdkPut(t, c, "plain/object", bytes.NewReader(data))
	obs := e.last(t, route.PutObject)
	if obs.Mode != sigv4.PayloadSHA256 || obs.Presigned {
		t.Errorf("mode %v presigned %v, want literal SHA256", obs.Mode, obs.Presigned)
	}
	if !bytes.Equal(obs.Body, data) {
		t.Fatal("body differs")
	}
	if checksumNamed(obs, sigv4.CRC32) == "" || obs.Header.Get("X-Amz-Checksum-Crc32") == "" {
		t.Errorf("expected the SDK's default CRC32 header to be verified; checksums %v", obs.Checksums)
	}
	if got := sdkGet(t, c, "plain/object"); !bytes.Equal(got, data) {
		t.Error("GetObject returned different bytes")
	}
	if e.last(t, route.GetObject).Mode != sigv4.PayloadSHA256 {
		t.Error("GET should be signed with the empty-body hash")
	}
}

// TestSDKPutObjectTLS: over TLS the SDK streams with
// STREAMING-UNSIGNED-PAYLOAD-TRAILER and a checksum trailer, for each
// algorithm it supports.
func TestSDKPutObjectTLS(t *testing.T) {
	e := startEndpoint(t, true)
	c := e.sdkClient(testSecret)
	data := testData(200_000)
	for _, alg := range []types.ChecksumAlgorithm{"", types.ChecksumAlgorithmCrc32c, types.ChecksumAlgorithmSha1,
		types.ChecksumAlgorithmSha256, types.ChecksumAlgorithmCrc64nvme} {
		key := "tls/" + string(alg)
		sdkPut(t, c, key, bytes.NewReader(data), func(in *s3.PutObjectInput) { in.ChecksumAlgorithm = alg })
		obs := e.last(t, route.PutObject)
		if obs.Mode != sigv4.PayloadStreamingUnsignedTrailer {
			t.Errorf("%s: mode %v, want STREAMING-UNSIGNED-PAYLOAD-TRAILER", alg, obs.Mode)
		}
		if !bytes.Equal(obs.Body, data) {
			t.Errorf("%s: body differs", alg)
		}
		want := sigv4.ChecksumAlgorithm(alg)
		if alg == "" {
			want = sigv4.CRC32
		}
		if checksumNamed(obs, want) == "" || obs.Header.Get("X-Amz-Trailer") != want.HeaderName() {
			t.Errorf("%s: trailer %q, checksums %v", alg, obs.Header.Get("X-Amz-Trailer"), obs.Checksums)
		}
	}
}

// unseekable hides bytes.Reader's Seek so the SDK cannot hash ahead.
type unseekable struct{ r io.Reader }

func (u unseekable) Read(p []byte) (int, error) { return u.r.Read(p) }

// TestSDKPutObjectUnseekable: a body the SDK cannot rewind is streamed
// with a trailer over TLS. (Over plain HTTP the SDK refuses it client-side:
// it needs to hash the body before sending.)
func TestSDKPutObjectUnseekable(t *testing.T) {
	data := testData(100_000)
	e := startEndpoint(t, true)
	c := e.sdkClient(testSecret)
	sdkPut(t, c, "unseekable", unseekable{bytes.NewReader(data)}, func(in *s3.PutObjectInput) {
		in.ContentLength = aws.Int64(int64(len(data)))
	})
	obs := e.last(t, route.PutObject)
	if obs.Mode != sigv4.PayloadStreamingUnsignedTrailer || !bytes.Equal(obs.Body, data) {
		t.Errorf("TLS unseekable: mode %v, equal %v", obs.Mode, bytes.Equal(obs.Body, data))
	}

}

// TestSDKKeysRoundTrip: keys with every awkward character the SDK will
// send authenticate (canonical URI) and come back byte-identical.
func TestSDKKeysRoundTrip(t *testing.T) {
	e := startEndpoint(t, false)
	c := e.sdkClient(testSecret)
	for _, key := range []string{
		"a b/c+d", "ሴ/😀/é", "x//y///", "./dot/../seg", "~!$&'()*,;=:@", "percent%2Fencoded%", "q?x#y",
		"tab\tand\nnewline", "trailing ", " leading", "[brackets]{braces}|pipe^caret`tick\"quote<>",
	} {
		data := []byte("content of " + key)
		sdkPut(t, c, key, bytes.NewReader(data))
		if obs := e.last(t, route.PutObject); obs.Key != key {
			t.Errorf("server saw key %q, client sent %q", obs.Key, key)
		}
		if got, ok := e.fake.Object("bucket", key); !ok || !bytes.Equal(got, data) {
			t.Errorf("%q: stored %q", key, got)
		}
		if got := sdkGet(t, c, key); !bytes.Equal(got, data) {
			t.Errorf("%q: got %q", key, got)
		}
	}
}

func TestSDKListAndMultipartAndDelete(t *testing.T) {
	e := startEndpoint(t, false)
	c := e.sdkClient(testSecret)
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bucket")}); err != nil {
		t.Fatal(err)
	}
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bucket"), Key: aws.String("big")})
	if err != nil {
		t.Fatal(err)
	}
	partA, partB := testData(5<<20), []byte("tail")
	var completed []types.CompletedPart
	for i, p := range [][]byte{partA, partB} {
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("bucket"), Key: aws.String("big"),
			UploadId: up.UploadId, PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
		if err != nil {
			t.Fatalf("UploadPart %d: %v", i+1, err)
		}
		completed = append(completed, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i + 1))})
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("bucket"),
		Key: aws.String("big"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: completed}}); err != nil {
		t.Fatalf("CompleteMultipartUpload: %v", err)
	}
	if got := sdkGet(t, c, "big"); !bytes.Equal(got, append(append([]byte{}, partA...), partB...)) {
		t.Error("multipart object differs")
	}
	sdkPut(t, c, "small-1", strings.NewReader("1"))
	list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bucket")})
	if err != nil || len(list.Contents) != 2 || *list.Contents[0].Key != "big" {
		t.Fatalf("ListObjectsV2: %+v %v", list, err)
	}
	// DeleteObjects must carry a checksum (Content-MD5 or x-amz-checksum-*),
	// which the verifier checks before s3xml decodes the body.
	del, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("bucket"), Delete: &types.Delete{
		Objects: []types.ObjectIdentifier{{Key: aws.String("big")}, {Key: aws.String("small-1")}}}})
	if err != nil || len(del.Deleted) != 2 {
		t.Fatalf("DeleteObjects: %+v %v", del, err)
	}
	obs := e.last(t, route.DeleteObjects)
	if len(obs.Checksums) == 0 && obs.Header.Get("Content-Md5") == "" {
		t.Errorf("DeleteObjects carried no integrity header: %v", obs.Header)
	}
	if _, ok := e.fake.Object("bucket", "big"); ok {
		t.Error("object survived DeleteObjects")
	}
}

func apiCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

func TestSDKRefusals(t *testing.T) {
	e := startEndpoint(t, false)
	_, err := e.sdkClient("wrong-secret").PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String("bucket"), Key: aws.String("k"), Body: strings.NewReader("x")})
	if apiCode(err) != "SignatureDoesNotMatch" {
		t.Errorf("wrong secret: %v", err)
	}
	c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(e.srv.URL), UsePathStyle: true,
		HTTPClient: e.srv.Client(), Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIANOBODY", SecretAccessKey: "x"}, nil
		})})
	_, err = c.ListBuckets(context.Background(), &s3.ListBucketsInput{})
	if apiCode(err) != "InvalidAccessKeyId" {
		t.Errorf("unknown key: %v", err)
	}
	_, err = e.sdkClient(testSecret).GetBucketLifecycleConfiguration(context.Background(),
		&s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String("bucket")})
	if apiCode(err) != "NotImplemented" {
		t.Errorf("lifecycle: %v", err)
	}
	// A request whose clock is 20 minutes off is refused as skewed.
	skewed := e.sdkClient(testSecret, func(o *s3.Options) {
		o.HTTPSignerV4 = skewSigner{v4.NewSigner(), 20 * time.Minute}
	})
	_, err = skewed.ListBuckets(context.Background(), &s3.ListBucketsInput{})
	if apiCode(err) != "RequestTimeTooSkewed" {
		t.Errorf("skewed clock: %v", err)
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
	e := startEndpoint(t, false)
	c := e.sdkClient(testSecret)
	data := []byte("presigned content")
	sdkPut(t, c, "dir/pre signed+file", bytes.NewReader(data))
	pc := s3.NewPresignClient(c, s3.WithPresignExpires(15*time.Minute))
	get, err := pc.PresignGetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("bucket"), Key: aws.String("dir/pre signed+file")})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.srv.Client().Get(get.URL)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, data) {
		t.Fatalf("presigned GET: %d %q", resp.StatusCode, got)
	}
	obs := e.last(t, route.GetObject)
	if !obs.Presigned || obs.Mode != sigv4.PayloadUnsigned {
		t.Errorf("presigned GET observed as presigned=%v mode=%v", obs.Presigned, obs.Mode)
	}

	put, err := pc.PresignPutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("bucket"), Key: aws.String("uploaded")})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(put.Method, put.URL, bytes.NewReader(data))
	for k, vs := range put.SignedHeader {
		if !strings.EqualFold(k, "Host") {
			req.Header[k] = vs
		}
	}
	resp, err = e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if stored, _ := e.fake.Object("bucket", "uploaded"); resp.StatusCode != 200 || !bytes.Equal(stored, data) {
		t.Fatalf("presigned PUT: %d, stored %q", resp.StatusCode, stored)
	}

	// Tampering with the URL invalidates it.
	resp, err = e.srv.Client().Get(strings.Replace(get.URL, "pre%20signed", "pre%20signeD", 1))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("tampered presigned URL: status %d", resp.StatusCode)
	}
}

// TestSDKSignerDirect signs hand-built requests with the SDK's v4 signer
// (S3 mode: no double path escaping) and checks the verifier agrees on
// awkward queries, repeated headers and header spacing.
func TestSDKSignerDirect(t *testing.T) {
	e := startEndpoint(t, false)
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	creds := aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecret}
	for _, target := range []string{
		"/bucket?list-type=2&prefix=a%20b%2Fc&delimiter=%2F&start-after=%E1%88%B4",
		"/bucket?list-type=2&prefix=&max-keys=5&fetch-owner=true",
		"/bucket?versions&key-marker=k&version-id-marker=",
		"/bucket?list-type=2&prefix=%2B%7E%21%2A",
	} {
		req, _ := http.NewRequest("GET", e.srv.URL+target, nil)
		req.Header.Add("X-Amz-Meta-Multi", "  one   two  ")
		req.Header.Add("X-Amz-Meta-Multi", "three")
		req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
		if err := signer.SignHTTP(context.Background(), creds, req, "UNSIGNED-PAYLOAD", "s3", "eu-west-3", time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 && !strings.Contains(string(body), "s3test does not implement") {
			t.Errorf("%s: %d %s", target, resp.StatusCode, body)
		}
	}
}
