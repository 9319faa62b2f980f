package s3_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/annal-storage/annal/gateways/s3/route"
	"github.com/annal-storage/annal/gateways/s3/sigv4"
)

// minio-go/v7 interoperability (see interop_sdk_test.go for the method).
// minio-go signs PUT bodies with STREAMING-AWS4-HMAC-SHA256-PAYLOAD over
// plain HTTP, adds signed trailers when told the server supports them,
// and uploads unknown-length streams as multipart with streaming-signed
// parts.

func (e *endpoint) minio(t *testing.T, c credentials, trailing bool) *minio.Client {
	t.Helper()
	return minioClient(t, e.srv.URL, e.srv.Client().Transport, c, trailing)
}

func minioClient(t *testing.T, rawURL string, tr http.RoundTripper, c credentials, trailing bool) *minio.Client {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	mc, err := minio.New(u.Host, &minio.Options{
		Creds:           miniocreds.NewStaticV4(c.id, c.secret, ""),
		Secure:          u.Scheme == "https",
		Region:          "us-east-1",
		Transport:       tr,
		TrailingHeaders: trailing,
		BucketLookup:    minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	return mc
}

func minioGet(t *testing.T, c *minio.Client, bucket, key string) []byte {
	t.Helper()
	obj, err := c.GetObject(context.Background(), bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("GetObject %q: %v", key, err)
	}
	return b
}

func minioBucket(t *testing.T, c *minio.Client, name string) {
	t.Helper()
	if err := c.MakeBucket(context.Background(), name, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("MakeBucket %s: %v", name, err)
	}
}

func TestMinioPutKnownSizeStreamingSigned(t *testing.T) {
	f := node(t)
	c := f.plain.minio(t, f.a, false)
	b := bucketName(t, "b")
	minioBucket(t, c, b)
	for _, size := range []int{0, 1, 4096, 4097, 64 << 10, 200_001} {
		data := testData(size)
		if _, err := c.PutObject(context.Background(), b, "known", bytes.NewReader(data), int64(size),
			minio.PutObjectOptions{}); err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		obs := f.plain.last(t, route.PutObject, "/"+b+"/known")
		if obs.Mode != sigv4.PayloadStreamingSigned || obs.Header.Get("X-Amz-Decoded-Content-Length") == "" {
			t.Errorf("size %d: mode %v, decoded length header %q", size, obs.Mode, obs.Header.Get("X-Amz-Decoded-Content-Length"))
		}
		if got := minioGet(t, c, b, "known"); !bytes.Equal(got, data) {
			t.Errorf("size %d: GetObject differs", size)
		}
	}
}

// TestMinioPutUnknownSize: size -1 becomes CreateMultipartUpload, parts
// signed with STREAMING-AWS4-HMAC-SHA256-PAYLOAD, and a Complete the
// gateway decodes.
func TestMinioPutUnknownSize(t *testing.T) {
	f := node(t)
	c := f.plain.minio(t, f.a, false)
	b := bucketName(t, "b")
	minioBucket(t, c, b)
	data := testData(300_000)
	if _, err := c.PutObject(context.Background(), b, "unknown/size", unseekable{bytes.NewReader(data)}, -1,
		minio.PutObjectOptions{PartSize: 5 << 20}); err != nil {
		t.Fatal(err)
	}
	if obs := f.plain.last(t, route.UploadPart, "/"+b+"/unknown/size"); obs.Mode != sigv4.PayloadStreamingSigned {
		t.Errorf("UploadPart mode %v, want STREAMING-AWS4-HMAC-SHA256-PAYLOAD", obs.Mode)
	}
	f.plain.last(t, route.CompleteMultipartUpload, "/"+b+"/unknown/size")
	if got := minioGet(t, c, b, "unknown/size"); !bytes.Equal(got, data) {
		t.Error("reassembled object differs")
	}
}

// TestMinioTrailers: with TrailingHeaders, minio-go sends a CRC32C
// trailer on the parts of a multipart upload from an io.ReaderAt: signed
// (…-PAYLOAD-TRAILER) over plain HTTP, unsigned
// (STREAMING-UNSIGNED-PAYLOAD-TRAILER) over TLS. Single PUTs carry the
// CRC32C in a header instead.
func TestMinioTrailers(t *testing.T) {
	f := node(t)
	data := testData(5<<20 + 4321)
	for _, e := range []*endpoint{f.plain, f.tls} {
		useTLS := e == f.tls
		c := e.minio(t, f.a, true)
		b := bucketName(t, map[bool]string{true: "tls", false: "plain"}[useTLS])
		minioBucket(t, c, b)
		if _, err := c.PutObject(context.Background(), b, "trailing", bytes.NewReader(data), int64(len(data)),
			minio.PutObjectOptions{PartSize: 5 << 20, NumThreads: 1}); err != nil {
			t.Fatalf("TLS=%v: %v", useTLS, err)
		}
		obs := e.last(t, route.UploadPart, "/"+b+"/trailing")
		want := sigv4.PayloadStreamingSignedTrailer
		if useTLS {
			want = sigv4.PayloadStreamingUnsignedTrailer
		}
		if obs.Mode != want || obs.checksum(sigv4.CRC32C) == "" {
			t.Errorf("TLS=%v: UploadPart mode %v (want %v), CRC32C %q", useTLS, obs.Mode, want, obs.checksum(sigv4.CRC32C))
		}
		if got := minioGet(t, c, b, "trailing"); !bytes.Equal(got, data) {
			t.Errorf("TLS=%v: reassembled object differs", useTLS)
		}
		// Complete carries the composite CRC32C of the parts in a header,
		// which describes the object, not the Complete body.
		complete := e.last(t, route.CompleteMultipartUpload, "/"+b+"/trailing")
		if complete.Header.Get("X-Amz-Checksum-Crc32c") == "" || complete.Header.Get("X-Amz-Checksum-Type") != "COMPOSITE" ||
			complete.Status != 200 {
			t.Errorf("TLS=%v: Complete status %d, header %v", useTLS, complete.Status, complete.Header)
		}
		small := testData(1000)
		if _, err := c.PutObject(context.Background(), b, "small", bytes.NewReader(small), int64(len(small)),
			minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		obs = e.last(t, route.PutObject, "/"+b+"/small")
		if obs.checksum(sigv4.CRC32C) == "" || !bytes.Equal(minioGet(t, c, b, "small"), small) {
			t.Errorf("TLS=%v small PUT: mode %v, CRC32C %q", useTLS, obs.Mode, obs.checksum(sigv4.CRC32C))
		}
	}
}

func TestMinioPresignAndRemove(t *testing.T) {
	f := node(t)
	c := f.plain.minio(t, f.a, false)
	b := bucketName(t, "b")
	minioBucket(t, c, b)
	ctx := context.Background()
	keys := []string{"rm/a", "rm/b c", "rm/ሴ"}
	for _, k := range keys {
		if _, err := c.PutObject(ctx, b, k, strings.NewReader(k), int64(len(k)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	u, err := c.PresignedGetObject(ctx, b, "rm/b c", time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := f.plain.srv.Client().Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(got) != "rm/b c" {
		t.Fatalf("presigned GET: %d %q", resp.StatusCode, got)
	}
	if obs := f.plain.last(t, route.GetObject, "/"+b+"/rm/b c"); !obs.Presigned {
		t.Error("not observed as presigned")
	}
	ch := make(chan minio.ObjectInfo, len(keys))
	for _, k := range keys {
		ch <- minio.ObjectInfo{Key: k}
	}
	close(ch)
	for rerr := range c.RemoveObjects(ctx, b, ch, minio.RemoveObjectsOptions{}) {
		t.Errorf("RemoveObjects: %v", rerr.Err)
	}
	obs := f.plain.last(t, route.DeleteObjects, "/"+b)
	if obs.Header.Get("Content-Md5") == "" && obs.Header.Get("X-Amz-Checksum-Crc32") == "" {
		t.Error("minio-go DeleteObjects carried no integrity header")
	}
	for o := range c.ListObjects(ctx, b, minio.ListObjectsOptions{Recursive: true}) {
		t.Errorf("%q survived RemoveObjects (%v)", o.Key, o.Err)
	}
}

func TestMinioWrongSecret(t *testing.T) {
	f := node(t)
	c := f.plain.minio(t, credentials{f.a.id, "wrong"}, false)
	_, err := c.PutObject(context.Background(), "anybucket", "k", strings.NewReader("x"), 1, minio.PutObjectOptions{})
	if minio.ToErrorResponse(err).Code != "SignatureDoesNotMatch" {
		t.Errorf("wrong secret: %v", err)
	}
}
