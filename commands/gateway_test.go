package commands

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/annal-storage/annal/log/event"
)

// TestPutObjectChecksumsAfterBody: checksums only known at the end of a
// stream (aws-chunked trailers) reach the stored version. Method: the
// hook records whether the body was consumed when it ran, for an inline
// and a chunked body.
func TestPutObjectChecksumsAfterBody(t *testing.T) {
	svc, _, p := testService(t, 7)
	ctx := context.Background()
	if err := svc.CreateBucket(ctx, p, "sums"); err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{"tiny", strings.Repeat("chunked body ", 10)} {
		r := strings.NewReader(body)
		var unread int
		in := PutInput{Bucket: "sums", Key: "k", Body: r, Checksums: func() []event.Pair {
			unread = r.Len()
			return []event.Pair{{K: "CRC32", V: "AAAAAA=="}}
		}}
		if _, err := svc.PutObject(ctx, p, in); err != nil {
			t.Fatal(err)
		}
		if unread != 0 {
			t.Errorf("%d-byte body: hook ran with %d bytes unread", len(body), unread)
		}
		o, err := svc.GetObject(ctx, p, "sums", "k", "")
		if err != nil {
			t.Fatal(err)
		}
		o.Close()
		if got := o.Info.Attrs.Checksums; len(got) != 1 || got[0].V != "AAAAAA==" {
			t.Errorf("%d-byte body: stored checksums %v", len(body), got)
		}
	}
}

func TestWorkflowRefRoundTrip(t *testing.T) {
	if _, ok := WorkflowRef(context.Background()); ok {
		t.Fatal("empty context has a workflow ref")
	}
	ctx := WithWorkflowRef(context.Background(), " not-hex, kept as is ")
	if ref, ok := WorkflowRef(ctx); !ok || ref != " not-hex, kept as is " {
		t.Fatalf("got %q %v", ref, ok)
	}
}

// TestGetObjectBehindDeleteMarker: the current version being a delete
// marker is ErrNotFound that names the marker, for S3's
// x-amz-delete-marker header.
func TestGetObjectBehindDeleteMarker(t *testing.T) {
	svc, _, p := testService(t, 8)
	ctx := context.Background()
	if err := svc.CreateBucket(ctx, p, "dm"); err != nil {
		t.Fatal(err)
	}
	if err := svc.SetVersioning(ctx, p, "dm", "Enabled"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.PutObject(ctx, p, PutInput{Bucket: "dm", Key: "k", Body: strings.NewReader("v")}); err != nil {
		t.Fatal(err)
	}
	del, err := svc.DeleteObject(ctx, p, "dm", "k", "")
	if err != nil || !del.DeleteMarker {
		t.Fatalf("delete: %v %+v", err, del)
	}
	_, err = svc.GetObject(ctx, p, "dm", "k", "")
	var dm *DeleteMarkerError
	if !errors.Is(err, ErrNotFound) || !errors.As(err, &dm) || dm.VersionID != del.VersionID {
		t.Errorf("GetObject behind a marker: %v", err)
	}
	_, err = svc.GetObject(ctx, p, "dm", "other", "")
	if !errors.Is(err, ErrNotFound) || errors.As(err, &dm) {
		t.Errorf("GetObject of a missing key: %v", err)
	}
}

// TestUploadPartCopyConsumesSourceOnFailure: a refused UploadPartCopy
// still releases the source's snapshot.
func TestUploadPartCopyConsumesSourceOnFailure(t *testing.T) {
	svc, _, p := testService(t, 12)
	ctx := context.Background()
	if err := svc.CreateBucket(ctx, p, "pc"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.PutObject(ctx, p, PutInput{Bucket: "pc", Key: "src", Body: strings.NewReader("source bytes")}); err != nil {
		t.Fatal(err)
	}
	for _, bucket := range []string{"pc", "missing"} {
		src, err := svc.GetObject(ctx, p, "pc", "src", "")
		if err != nil {
			t.Fatal(err)
		}
		_, err = svc.UploadPartCopy(ctx, p, bucket, "dst", "no-such-upload", 1, src, CopyRange{})
		if err == nil || src.view != nil {
			t.Errorf("bucket %q: err %v, source view released %v", bucket, err, src.view == nil)
		}
	}
}
