package sigv4_test

import (
	"bytes"
	"context"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/annal-storage/annal/gateways/s3/route"
	"github.com/annal-storage/annal/gateways/s3/sigv4"
)

// minio-go/v7 interoperability (see client_test.go for the method).
// minio-go signs PUT bodies with STREAMING-AWS4-HMAC-SHA256-PAYLOAD over
// plain HTTP, adds signed trailers when told the server supports them,
// and uploads unknown-length streams as multipart with streaming-signed
// parts.

func (e *endpoint) minioClient(t *testing.T, trailing bool) *minio.Client {
	t.Helper()
	u, err := url.Parse(e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	c, err := minio.New(u.Host, &minio.Options{
		Creds:           credentials.NewStaticV4(testAccessKey, testSecret, ""),
		Secure:          u.Scheme == "https",
		Region:          "us-east-1",
		Transport:       e.srv.Client().Transport,
		TrailingHeaders: trailing,
		BucketLookup:    minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func minioGet(t *testing.T, c *minio.Client, key string) []byte {
	t.Helper()
	obj, err := c.GetObject(context.Background(), "bucket", key, minio.GetObjectOptions{})
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

func TestMinioPutKnownSizeStreamingSigned(t *testing.T) {
	e := startEndpoint(t, false)
	c := e.minioClient(t, false)
	for _, size := range []int{0, 1, 64 << 10, 200_001} {
		data := testData(size)
		if _, err := c.PutObject(context.Background(), "bucket", "known", bytes.NewReader(data), int64(size),
			minio.PutObjectOptions{}); err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		obs := e.last(t, route.PutObject)
		if obs.Mode != sigv4.PayloadStreamingSigned {
			t.Errorf("size %d: mode %v, want STREAMING-AWS4-HMAC-SHA256-PAYLOAD", size, obs.Mode)
		}
		if !bytes.Equal(obs.Body, data) || obs.Header.Get("X-Amz-Decoded-Content-Length") == "" {
			t.Errorf("size %d: body equal %v, decoded length header %q", size, bytes.Equal(obs.Body, data),
				obs.Header.Get("X-Amz-Decoded-Content-Length"))
		}
		if got := minioGet(t, c, "known"); !bytes.Equal(got, data) {
			t.Errorf("size %d: GetObject differs", size)
		}
	}
}

// TestMinioPutUnknownSize: size -1 becomes CreateMultipartUpload, parts
// signed with STREAMING-AWS4-HMAC-SHA256-PAYLOAD, and a Complete whose
// XML s3xml decodes.
func TestMinioPutUnknownSize(t *testing.T) {
	e := startEndpoint(t, false)
	c := e.minioClient(t, false)
	data := testData(300_000)
	if _, err := c.PutObject(context.Background(), "bucket", "unknown/size", unseekable{bytes.NewReader(data)}, -1,
		minio.PutObjectOptions{PartSize: 5 << 20}); err != nil {
		t.Fatal(err)
	}
	obs := e.last(t, route.UploadPart)
	if obs.Mode != sigv4.PayloadStreamingSigned {
		t.Errorf("UploadPart mode %v, want STREAMING-AWS4-HMAC-SHA256-PAYLOAD", obs.Mode)
	}
	e.last(t, route.CompleteMultipartUpload)
	if got, _ := e.fake.Object("bucket", "unknown/size"); !bytes.Equal(got, data) {
		t.Error("reassembled object differs")
	}
}

// TestMinioTrailers: with TrailingHeaders, minio-go sends a CRC32C
// trailer on the parts of a multipart upload from an io.ReaderAt: signed
// (…-PAYLOAD-TRAILER) over plain HTTP, unsigned
// (STREAMING-UNSIGNED-PAYLOAD-TRAILER) over TLS. Single PUTs carry the
// CRC32C in a header instead.
func TestMinioTrailers(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		e := startEndpoint(t, useTLS)
		c := e.minioClient(t, true)
		data := testData(5<<20 + 4321)
		if _, err := c.PutObject(context.Background(), "bucket", "trailing", bytes.NewReader(data), int64(len(data)),
			minio.PutObjectOptions{PartSize: 5 << 20, NumThreads: 1}); err != nil {
			t.Fatalf("TLS=%v: %v", useTLS, err)
		}
		obs := e.last(t, route.UploadPart)
		want := sigv4.PayloadStreamingSignedTrailer
		if useTLS {
			want = sigv4.PayloadStreamingUnsignedTrailer
		}
		if obs.Mode != want {
			t.Errorf("TLS=%v: UploadPart mode %v, want %v", useTLS, obs.Mode, want)
		}
		if len(obs.Checksums) != 1 || obs.Checksums[0].Algorithm != sigv4.CRC32C {
			t.Errorf("TLS=%v: checksums %v", useTLS, obs.Checksums)
		}
		if got, _ := e.fake.Object("bucket", "trailing"); !bytes.Equal(got, data) {
			t.Errorf("TLS=%v: reassembled object differs", useTLS)
		}
		// Complete carries the composite CRC32C of the parts (checksum of
		// the part checksums) in a header; the verifier must hand it over
		// rather than check it against the Complete XML body.
		complete := e.last(t, route.CompleteMultipartUpload)
		hc := complete.HeaderChecksum
		if hc == nil || hc.Algorithm != sigv4.CRC32C || hc.Value == "" ||
			complete.Header.Get("X-Amz-Checksum-Type") != "COMPOSITE" {
			t.Errorf("TLS=%v: Complete header checksum %+v, type %q", useTLS, hc, complete.Header.Get("X-Amz-Checksum-Type"))
		}

		small := testData(1000)
		if _, err := c.PutObject(context.Background(), "bucket", "small", bytes.NewReader(small), int64(len(small)),
			minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		obs = e.last(t, route.PutObject)
		if !bytes.Equal(obs.Body, small) || len(obs.Checksums) != 1 || obs.Checksums[0].Algorithm != sigv4.CRC32C {
			t.Errorf("TLS=%v small PUT: mode %v, checksums %v", useTLS, obs.Mode, obs.Checksums)
		}
		t.Logf("minio-go TrailingHeaders TLS=%v: UploadPart %v, single PUT %v", useTLS, want, obs.Mode)
	}
}

func TestMinioPresignAndRemove(t *testing.T) {
	e := startEndpoint(t, false)
	c := e.minioClient(t, false)
	ctx := context.Background()
	keys := []string{"rm/a", "rm/b c", "rm/ሴ"}
	for _, k := range keys {
		if _, err := c.PutObject(ctx, "bucket", k, strings.NewReader(k), int64(len(k)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	u, err := c.PresignedGetObject(ctx, "bucket", "rm/b c", time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.srv.Client().Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(got) != "rm/b c" {
		t.Fatalf("presigned GET: %d %q", resp.StatusCode, got)
	}
	if obs := e.last(t, route.GetObject); !obs.Presigned {
		t.Error("not observed as presigned")
	}

	ch := make(chan minio.ObjectInfo, len(keys))
	for _, k := range keys {
		ch <- minio.ObjectInfo{Key: k}
	}
	close(ch)
	for rerr := range c.RemoveObjects(ctx, "bucket", ch, minio.RemoveObjectsOptions{}) {
		t.Errorf("RemoveObjects: %v", rerr.Err)
	}
	obs := e.last(t, route.DeleteObjects)
	if obs.Header.Get("Content-Md5") == "" && len(obs.Checksums) == 0 {
		t.Error("minio-go DeleteObjects carried no integrity header")
	}
	for _, k := range keys {
		if _, ok := e.fake.Object("bucket", k); ok {
			t.Errorf("%q survived RemoveObjects", k)
		}
	}
}

func TestMinioWrongSecret(t *testing.T) {
	e := startEndpoint(t, false)
	u, _ := url.Parse(e.srv.URL)
	c, err := minio.New(u.Host, &minio.Options{Creds: credentials.NewStaticV4(testAccessKey, "wrong", ""),
		Region: "us-east-1", Transport: e.srv.Client().Transport})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.PutObject(context.Background(), "bucket", "k", strings.NewReader("x"), 1, minio.PutObjectOptions{})
	if minio.ToErrorResponse(err).Code != "SignatureDoesNotMatch" {
		t.Errorf("wrong secret: %v", err)
	}
}
