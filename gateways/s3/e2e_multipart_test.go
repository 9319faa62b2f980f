package s3_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// multipartETag is S3's ETag of a multipart object.
func multipartETag(parts ...[]byte) string {
	h := md5.New()
	for _, p := range parts {
		sum := md5.Sum(p)
		h.Write(sum[:])
	}
	return fmt.Sprintf(`"%s-%d"`, hex.EncodeToString(h.Sum(nil)), len(parts))
}

type upload struct {
	c      *s3.Client
	bucket string
	key    string
	id     *string
}

func startUpload(t *testing.T, c *s3.Client, bucket, key string) *upload {
	t.Helper()
	out, err := c.CreateMultipartUpload(context.Background(), &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket),
		Key: aws.String(key), ContentType: aws.String("application/x-parts"), Metadata: map[string]string{"m": "1"}})
	if err != nil {
		t.Fatalf("CreateMultipartUpload: %v", err)
	}
	return &upload{c: c, bucket: bucket, key: key, id: out.UploadId}
}

func (u *upload) part(t *testing.T, n int32, data []byte) types.CompletedPart {
	t.Helper()
	out, err := u.c.UploadPart(context.Background(), &s3.UploadPartInput{Bucket: aws.String(u.bucket), Key: aws.String(u.key),
		UploadId: u.id, PartNumber: aws.Int32(n), Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatalf("UploadPart %d: %v", n, err)
	}
	if aws.ToString(out.ETag) != md5ETag(data) {
		t.Errorf("part %d ETag %s, want %s", n, aws.ToString(out.ETag), md5ETag(data))
	}
	return types.CompletedPart{PartNumber: aws.Int32(n), ETag: out.ETag}
}

func (u *upload) complete(parts ...types.CompletedPart) (*s3.CompleteMultipartUploadOutput, error) {
	return u.c.CompleteMultipartUpload(context.Background(), &s3.CompleteMultipartUploadInput{Bucket: aws.String(u.bucket),
		Key: aws.String(u.key), UploadId: u.id, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
}

// TestMultipartUpload: parts are invisible until Complete; the object is
// the listed parts in order with the md5-of-md5s ETag and the upload's
// metadata; ListParts and ListMultipartUploads show the upload until
// then.
func TestMultipartUpload(t *testing.T) {
	f := node(t)
	c := f.tls.sdk(f.a)
	ctx := context.Background()
	b := bucketName(t, "b")
	mkBucket(t, c, b)
	u := startUpload(t, c, b, "dir/big")
	p1, p2, p3 := testData(5<<20), bytes.Repeat([]byte("second part "), 500_000), []byte("tail")
	parts := []types.CompletedPart{u.part(t, 1, p1), u.part(t, 2, p2), u.part(t, 3, p3)}
	u.part(t, 4, []byte("uploaded but not listed in Complete"))
	_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("dir/big")})
	wantCode(t, "GET before Complete", err, "NoSuchKey", 404)

	lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(b), Key: aws.String("dir/big"), UploadId: u.id, MaxParts: aws.Int32(2)})
	if err != nil || len(lp.Parts) != 2 || !aws.ToBool(lp.IsTruncated) || aws.ToString(lp.NextPartNumberMarker) != "2" ||
		aws.ToInt64(lp.Parts[0].Size) != 5<<20 {
		t.Fatalf("ListParts: %v %+v", err, lp)
	}
	lp, err = c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(b), Key: aws.String("dir/big"), UploadId: u.id,
		PartNumberMarker: lp.NextPartNumberMarker})
	if err != nil || len(lp.Parts) != 2 || aws.ToInt32(lp.Parts[0].PartNumber) != 3 || aws.ToBool(lp.IsTruncated) {
		t.Fatalf("ListParts page 2: %v %+v", err, lp)
	}
	lu, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(b)})
	if err != nil || len(lu.Uploads) != 1 || aws.ToString(lu.Uploads[0].UploadId) != aws.ToString(u.id) {
		t.Fatalf("ListMultipartUploads: %v %+v", err, lu)
	}
	out, err := u.complete(parts...)
	if err != nil || aws.ToString(out.ETag) != multipartETag(p1, p2, p3) {
		t.Fatalf("Complete: %v ETag %s want %s", err, aws.ToString(out.ETag), multipartETag(p1, p2, p3))
	}
	got := sdkGet(t, c, b, "dir/big")
	if !bytes.Equal(got, bytes.Join([][]byte{p1, p2, p3}, nil)) {
		t.Errorf("object is %d bytes, not the three parts", len(got))
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("dir/big")})
	if err != nil || aws.ToString(head.ContentType) != "application/x-parts" || head.Metadata["m"] != "1" ||
		aws.ToString(head.ETag) != multipartETag(p1, p2, p3) {
		t.Errorf("HEAD after Complete: %v %+v", err, head)
	}
	lu, err = c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(b)})
	if err != nil || len(lu.Uploads) != 0 {
		t.Errorf("uploads after Complete: %v %+v", err, lu.Uploads)
	}
	_, err = u.complete(parts...)
	wantCode(t, "Complete twice", err, "NoSuchUpload", 404)
}

// TestMultipartErrors: InvalidPart (unknown part or wrong ETag),
// InvalidPartOrder, EntityTooSmall, bad part numbers, NoSuchUpload, and
// Abort.
func TestMultipartErrors(t *testing.T) {
	f := node(t)
	c := f.plain.sdk(f.a)
	ctx := context.Background()
	b := bucketName(t, "b")
	mkBucket(t, c, b)
	u := startUpload(t, c, b, "k")
	small1, small2 := u.part(t, 1, []byte("one")), u.part(t, 2, []byte("two"))
	_, err := u.complete(small1, small2)
	wantCode(t, "small first part", err, "EntityTooSmall", 400)
	_, err = u.complete(types.CompletedPart{PartNumber: aws.Int32(1), ETag: aws.String(`"00000000000000000000000000000000"`)})
	wantCode(t, "wrong ETag", err, "InvalidPart", 400)
	_, err = u.complete(types.CompletedPart{PartNumber: aws.Int32(7), ETag: small1.ETag})
	wantCode(t, "unknown part", err, "InvalidPart", 400)
	_, err = u.complete(small2, small1)
	wantCode(t, "descending parts", err, "InvalidPartOrder", 400)
	for _, n := range []string{"0", "10001", "x"} {
		r := f.plain.signed(t, f.a, "PUT", "/"+b+"/k?partNumber="+n+"&uploadId="+aws.ToString(u.id), []byte("x"))
		if r.status != 400 || !strings.Contains(string(r.body), "InvalidArgument") {
			t.Errorf("part number %s: %d %s", n, r.status, r.body)
		}
	}
	_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(b), Key: aws.String("k"), UploadId: aws.String("nope"),
		PartNumber: aws.Int32(1), Body: strings.NewReader("x")})
	wantCode(t, "unknown upload", err, "NoSuchUpload", 404)
	_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(b), Key: aws.String("other-key"), UploadId: u.id,
		PartNumber: aws.Int32(1), Body: strings.NewReader("x")})
	wantCode(t, "upload of another key", err, "NoSuchUpload", 404)
	// A single small part is a valid (last) part.
	if out, err := u.complete(small1); err != nil || aws.ToString(out.ETag) != multipartETag([]byte("one")) {
		t.Errorf("single small part: %v", err)
	}
	u2 := startUpload(t, c, b, "aborted")
	u2.part(t, 1, []byte("x"))
	if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("aborted"), UploadId: u2.id}); err != nil {
		t.Fatal(err)
	}
	_, err = c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(b), Key: aws.String("aborted"), UploadId: u2.id})
	wantCode(t, "ListParts after Abort", err, "NoSuchUpload", 404)
	_, err = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("aborted"), UploadId: u2.id})
	wantCode(t, "Abort twice", err, "NoSuchUpload", 404)
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("aborted")})
	wantCode(t, "aborted object", err, "NoSuchKey", 404)
}

// TestUploadPartCopy: parts copied from ranges of existing objects
// (chunked and inline) assemble to the right bytes.
func TestUploadPartCopy(t *testing.T) {
	f := node(t)
	c := f.plain.sdk(f.a)
	ctx := context.Background()
	b := bucketName(t, "b")
	mkBucket(t, c, b)
	big, small := testData(11<<20), []byte("small source")
	sdkPut(t, c, b, "big", bytes.NewReader(big))
	sdkPut(t, c, b, "small", bytes.NewReader(small))
	u := startUpload(t, c, b, "assembled")
	var parts []types.CompletedPart
	for i, cp := range []struct{ src, rng string }{{"big", "bytes=0-5242879"}, {"big", "bytes=5242880-11534335"}, {"small", ""}} {
		in := &s3.UploadPartCopyInput{Bucket: aws.String(b), Key: aws.String("assembled"), UploadId: u.id,
			PartNumber: aws.Int32(int32(i + 1)), CopySource: aws.String(b + "/" + cp.src)}
		if cp.rng != "" {
			in.CopySourceRange = aws.String(cp.rng)
		}
		out, err := c.UploadPartCopy(ctx, in)
		if err != nil {
			t.Fatalf("UploadPartCopy %d: %v", i+1, err)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.CopyPartResult.ETag})
	}
	if _, err := u.complete(parts...); err != nil {
		t.Fatal(err)
	}
	want := append(append([]byte{}, big...), small...)
	if got := sdkGet(t, c, b, "assembled"); !bytes.Equal(got, want) {
		t.Errorf("assembled %d bytes, want %d", len(got), len(want))
	}
	_, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String(b), Key: aws.String("assembled"), UploadId: u.id,
		PartNumber: aws.Int32(1), CopySource: aws.String(b + "/small"), CopySourceRange: aws.String("bytes=0-1000")})
	wantCode(t, "range past the source", err, "InvalidRange", 416)
}

// TestListMultipartUploadsPaging: uploads page by key and upload id,
// with prefixes and delimiters.
func TestListMultipartUploadsPaging(t *testing.T) {
	f := node(t)
	c := f.plain.sdk(f.a)
	ctx := context.Background()
	b := bucketName(t, "b")
	mkBucket(t, c, b)
	for _, k := range []string{"a/1", "a/2", "b", "b", "c/d/e"} {
		startUpload(t, c, b, k)
	}
	var seen []string
	in := &s3.ListMultipartUploadsInput{Bucket: aws.String(b), MaxUploads: aws.Int32(2)}
	for {
		out, err := c.ListMultipartUploads(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range out.Uploads {
			seen = append(seen, aws.ToString(u.Key))
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
	if strings.Join(seen, ",") != "a/1,a/2,b,b,c/d/e" {
		t.Errorf("paged uploads: %v", seen)
	}
	out, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(b), Delimiter: aws.String("/")})
	if err != nil || len(out.Uploads) != 2 || len(out.CommonPrefixes) != 2 || aws.ToString(out.CommonPrefixes[1].Prefix) != "c/" {
		t.Errorf("delimited uploads: %v %+v", err, out)
	}
	out, err = c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(b), Prefix: aws.String("a/")})
	if err != nil || len(out.Uploads) != 2 {
		t.Errorf("prefixed uploads: %v %+v", err, out)
	}
}
