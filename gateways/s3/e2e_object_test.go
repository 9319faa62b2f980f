package s3_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func md5ETag(b []byte) string {
	sum := md5.Sum(b)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

// TestObjectAttributesRoundTrip: ETag is the body's MD5; user metadata
// and the representation headers come back on GET and HEAD; dates are
// RFC 1123; the empty body is a valid object.
func TestObjectAttributesRoundTrip(t *testing.T) {
	f := node(t)
	c := f.plain.sdk(f.a)
	ctx := context.Background()
	b := bucketName(t, "b")
	mkBucket(t, c, b)
	expires := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, size := range []int{0, 1, 4096, 4097, 1_500_000} {
		data := testData(size)
		key := fmt.Sprintf("attrs/%d", size)
		out := sdkPut(t, c, b, key, bytes.NewReader(data), func(in *s3.PutObjectInput) {
			in.ContentType = aws.String("text/x-annal; charset=utf-8")
			in.ContentEncoding = aws.String("identity")
			in.ContentDisposition = aws.String(`attachment; filename="a b.txt"`)
			in.ContentLanguage = aws.String("en-GB")
			in.CacheControl = aws.String("max-age=60")
			in.Expires = aws.Time(expires)
			in.Metadata = map[string]string{"Color": "blue", "two-words": "x y", "empty": ""}
		})
		if aws.ToString(out.ETag) != md5ETag(data) {
			t.Errorf("size %d: ETag %s, want %s", size, aws.ToString(out.ETag), md5ETag(data))
		}
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("HeadObject: %v", err)
		}
		get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("GetObject: %v", err)
		}
		body, _ := io.ReadAll(get.Body)
		get.Body.Close()
		if !bytes.Equal(body, data) {
			t.Errorf("size %d: body differs", size)
		}
		for _, o := range []struct {
			what                     string
			etag, ct, ce, cd, cl, cc *string
			length                   *int64
			meta                     map[string]string
			exp                      *string
			lastModified             *time.Time
		}{
			{"HEAD", head.ETag, head.ContentType, head.ContentEncoding, head.ContentDisposition, head.ContentLanguage, head.CacheControl,
				head.ContentLength, head.Metadata, head.ExpiresString, head.LastModified},
			{"GET", get.ETag, get.ContentType, get.ContentEncoding, get.ContentDisposition, get.ContentLanguage, get.CacheControl,
				get.ContentLength, get.Metadata, get.ExpiresString, get.LastModified},
		} {
			if aws.ToString(o.etag) != md5ETag(data) || aws.ToString(o.ct) != "text/x-annal; charset=utf-8" ||
				aws.ToString(o.ce) != "identity" || aws.ToString(o.cd) != `attachment; filename="a b.txt"` ||
				aws.ToString(o.cl) != "en-GB" || aws.ToString(o.cc) != "max-age=60" || aws.ToInt64(o.length) != int64(size) {
				t.Errorf("size %d %s: attributes %s %s %s %s %s %s %d", size, o.what, aws.ToString(o.etag), aws.ToString(o.ct),
					aws.ToString(o.ce), aws.ToString(o.cd), aws.ToString(o.cl), aws.ToString(o.cc), aws.ToInt64(o.length))
			}
			if o.meta["color"] != "blue" || o.meta["two-words"] != "x y" || len(o.meta) != 3 {
				t.Errorf("size %d %s: metadata %v", size, o.what, o.meta)
			}
			if got, err := http.ParseTime(aws.ToString(o.exp)); err != nil || !got.Equal(expires) {
				t.Errorf("size %d %s: Expires %q", size, o.what, aws.ToString(o.exp))
			}
			if o.lastModified == nil || time.Since(*o.lastModified) > time.Minute {
				t.Errorf("size %d %s: Last-Modified %v", size, o.what, o.lastModified)
			}
		}
	}
	raw := f.plain.signed(t, f.a, "GET", "/"+b+"/attrs/1", nil)
	if lm := raw.header.Get("Last-Modified"); !strings.HasSuffix(lm, " GMT") || raw.header.Get("Content-Type") == "" {
		t.Errorf("Last-Modified %q", lm)
	}
	if _, err := http.ParseTime(raw.header.Get("Last-Modified")); err != nil {
		t.Errorf("Last-Modified does not parse as an HTTP date: %v", err)
	}
	// No Content-Type on PUT: S3's default comes back.
	f.plain.signed(t, f.a, "PUT", "/"+b+"/untyped", []byte("x"))
	if ct := f.plain.signed(t, f.a, "HEAD", "/"+b+"/untyped", nil).header.Get("Content-Type"); ct != "binary/octet-stream" {
		t.Errorf("default Content-Type %q", ct)
	}
}

// TestGetRanges: single ranges, open-ended and suffix ranges, clamping,
// 416 for unsatisfiable ones, and the whole object for a multi-range
// request, on inline and chunked objects.
func TestGetRanges(t *testing.T) {
	f := node(t)
	b := bucketName(t, "b")
	f.plain.signed(t, f.a, "PUT", "/"+b, nil)
	for _, size := range []int{100, 3_000_000} {
		data := testData(size)
		key := fmt.Sprintf("/%s/r%d", b, size)
		if r := f.plain.signed(t, f.a, "PUT", key, data); r.status != 200 {
			t.Fatalf("PUT: %d %s", r.status, r.body)
		}
		n := int64(size)
		for _, c := range []struct {
			rng      string
			status   int
			from, to int64 // inclusive; to < from means whole object
		}{
			{"bytes=0-9", 206, 0, 9},
			{"bytes=10-", 206, 10, n - 1},
			{"bytes=-5", 206, n - 5, n - 1},
			{"bytes=-" + fmt.Sprint(n+10), 206, 0, n - 1},
			{"bytes=5-" + fmt.Sprint(n+1000), 206, 5, n - 1},
			{fmt.Sprintf("bytes=%d-%d", n-1, n-1), 206, n - 1, n - 1},
			{"bytes=0-1,5-6", 200, 0, -1},
			{"bytes=9-3", 200, 0, -1},
			{"items=0-1", 200, 0, -1},
			{fmt.Sprintf("bytes=%d-", n), 416, 0, 0},
			{"bytes=-0", 416, 0, 0},
		} {
			r := f.plain.signed(t, f.a, "GET", key, nil, "Range", c.rng)
			if r.status != c.status {
				t.Errorf("size %d %s: status %d, want %d: %.200s", size, c.rng, r.status, c.status, r.body)
				continue
			}
			switch c.status {
			case 416:
				if !strings.Contains(string(r.body), "InvalidRange") {
					t.Errorf("size %d %s: %s", size, c.rng, r.body)
				}
			case 200:
				if !bytes.Equal(r.body, data) {
					t.Errorf("size %d %s: whole object expected", size, c.rng)
				}
			default:
				want := data[c.from : c.to+1]
				cr := fmt.Sprintf("bytes %d-%d/%d", c.from, c.to, n)
				if !bytes.Equal(r.body, want) || r.header.Get("Content-Range") != cr {
					t.Errorf("size %d %s: %d bytes, Content-Range %q (want %q)", size, c.rng, len(r.body), r.header.Get("Content-Range"), cr)
				}
			}
		}
	}
	f.plain.signed(t, f.a, "PUT", "/"+b+"/empty", nil)
	if r := f.plain.signed(t, f.a, "GET", "/"+b+"/empty", nil, "Range", "bytes=0-"); r.status != 416 {
		t.Errorf("range of an empty object: %d", r.status)
	}
}

// TestConditionalRequests: RFC 9110 preconditions on reads (304/412) and
// S3's conditional writes (If-None-Match: * and If-Match).
func TestConditionalRequests(t *testing.T) {
	f := node(t)
	c := f.plain.sdk(f.a)
	ctx := context.Background()
	b := bucketName(t, "b")
	mkBucket(t, c, b)
	put := sdkPut(t, c, b, "k", strings.NewReader("v1"))
	etag := aws.ToString(put.ETag)
	past, future := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	get := func(mod func(*s3.GetObjectInput)) error {
		in := &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("k")}
		mod(in)
		out, err := c.GetObject(ctx, in)
		if err == nil {
			out.Body.Close()
		}
		return err
	}
	for _, tc := range []struct {
		what   string
		mod    func(*s3.GetObjectInput)
		status int
	}{
		{"If-Match same", func(in *s3.GetObjectInput) { in.IfMatch = aws.String(etag) }, 200},
		{"If-Match other", func(in *s3.GetObjectInput) { in.IfMatch = aws.String(`"0000"`) }, 412},
		{"If-None-Match same", func(in *s3.GetObjectInput) { in.IfNoneMatch = aws.String(etag) }, 304},
		{"If-None-Match other", func(in *s3.GetObjectInput) { in.IfNoneMatch = aws.String(`"0000"`) }, 200},
		{"If-Modified-Since past", func(in *s3.GetObjectInput) { in.IfModifiedSince = aws.Time(past) }, 200},
		{"If-Modified-Since future", func(in *s3.GetObjectInput) { in.IfModifiedSince = aws.Time(future) }, 304},
		{"If-Unmodified-Since past", func(in *s3.GetObjectInput) { in.IfUnmodifiedSince = aws.Time(past) }, 412},
		{"If-Unmodified-Since future", func(in *s3.GetObjectInput) { in.IfUnmodifiedSince = aws.Time(future) }, 200},
		{"If-Match wins over If-Unmodified-Since", func(in *s3.GetObjectInput) {
			in.IfMatch, in.IfUnmodifiedSince = aws.String(etag), aws.Time(past)
		}, 200},
		{"If-None-Match wins over If-Modified-Since", func(in *s3.GetObjectInput) {
			in.IfNoneMatch, in.IfModifiedSince = aws.String(`"0000"`), aws.Time(future)
		}, 200},
	} {
		err := get(tc.mod)
		if got := map[bool]int{true: 200, false: httpStatus(err)}[err == nil]; got != tc.status {
			t.Errorf("%s: %v, want %d", tc.what, err, tc.status)
		}
	}
	r := f.plain.signed(t, f.a, "GET", "/"+b+"/k", nil, "If-None-Match", etag)
	if r.status != 304 || r.header.Get("ETag") != etag || len(r.body) != 0 {
		t.Errorf("304: %d ETag %q body %q", r.status, r.header.Get("ETag"), r.body)
	}

	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("k"), Body: strings.NewReader("v2"),
		IfNoneMatch: aws.String("*")})
	wantCode(t, "If-None-Match: * on an existing key", err, "PreconditionFailed", 412)
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("new"), Body: strings.NewReader("n"),
		IfNoneMatch: aws.String("*")}); err != nil {
		t.Errorf("If-None-Match: * on a new key: %v", err)
	}
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("k"), Body: strings.NewReader("v2"),
		IfMatch: aws.String(`"0000"`)})
	wantCode(t, "If-Match other on PUT", err, "PreconditionFailed", 412)
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("absent"), Body: strings.NewReader("v2"),
		IfMatch: aws.String(etag)})
	wantCode(t, "If-Match on a missing key", err, "NoSuchKey", 404)
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("k"), Body: strings.NewReader("v2"),
		IfMatch: aws.String(etag)}); err != nil {
		t.Errorf("If-Match same on PUT: %v", err)
	}
	if got := string(sdkGet(t, c, b, "k")); got != "v2" {
		t.Errorf("after conditional PUTs: %q", got)
	}
}

// TestIntegrityChecks: Content-MD5 and x-amz-checksum-* are verified
// before anything is stored; a failed check leaves the previous version.
func TestIntegrityChecks(t *testing.T) {
	f := node(t)
	c := f.plain.sdk(f.a)
	ctx := context.Background()
	b := bucketName(t, "b")
	mkBucket(t, c, b)
	sdkPut(t, c, b, "k", strings.NewReader("original"))
	for _, size := range []int{10, 2_000_000} {
		data := testData(size)
		sum := md5.Sum(data)
		good := base64.StdEncoding.EncodeToString(sum[:])
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("md5"), Body: bytes.NewReader(data),
			ContentMD5: aws.String(good)}); err != nil {
			t.Errorf("size %d good MD5: %v", size, err)
		}
		bad := base64.StdEncoding.EncodeToString(make([]byte, 16))
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("k"), Body: bytes.NewReader(data),
			ContentMD5: aws.String(bad)})
		wantCode(t, fmt.Sprintf("size %d wrong MD5", size), err, "BadDigest", 400)
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("k"), Body: bytes.NewReader(data),
			ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(make([]byte, 32)))})
		wantCode(t, fmt.Sprintf("size %d wrong SHA256", size), err, "BadDigest", 400)
	}
	r := f.plain.signed(t, f.a, "PUT", "/"+b+"/k", []byte("x"), "Content-Md5", "not base64!")
	if r.status != 400 || !strings.Contains(string(r.body), "InvalidDigest") {
		t.Errorf("malformed Content-MD5: %d %s", r.status, r.body)
	}
	if got := string(sdkGet(t, c, b, "k")); got != "original" {
		t.Errorf("a refused PUT replaced the object: %q", got)
	}
}

// TestDeleteObjects: multi-delete reports each key; missing keys count
// as deleted; quiet mode reports only errors.
func TestDeleteObjects(t *testing.T) {
	f := node(t)
	c := f.plain.sdk(f.a)
	ctx := context.Background()
	b := bucketName(t, "b")
	mkBucket(t, c, b)
	var ids []types.ObjectIdentifier
	for i := range 5 {
		k := fmt.Sprintf("d/%d", i)
		sdkPut(t, c, b, k, strings.NewReader(k))
		ids = append(ids, types.ObjectIdentifier{Key: aws.String(k)})
	}
	ids = append(ids, types.ObjectIdentifier{Key: aws.String("never-existed")})
	out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(b), Delete: &types.Delete{Objects: ids[:3]}})
	if err != nil || len(out.Deleted) != 3 || len(out.Errors) != 0 {
		t.Fatalf("DeleteObjects: %v %+v", err, out)
	}
	out, err = c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(b), Delete: &types.Delete{Objects: ids[3:], Quiet: aws.Bool(true)}})
	if err != nil || len(out.Deleted) != 0 || len(out.Errors) != 0 {
		t.Fatalf("quiet DeleteObjects: %v %+v", err, out)
	}
	list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b)})
	if err != nil || len(list.Contents) != 0 {
		t.Errorf("after DeleteObjects: %v %d keys", err, len(list.Contents))
	}
	// A plain DeleteObject of a missing key is a success too.
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b), Key: aws.String("missing")}); err != nil {
		t.Errorf("DeleteObject of a missing key: %v", err)
	}
	body := []byte("<Delete><Object><Key>x</Key></Object></Delete>")
	if r := f.plain.signed(t, f.a, "POST", "/"+b+"?delete", body); r.status != 400 || !strings.Contains(string(r.body), "Content-MD5") {
		t.Errorf("DeleteObjects without an integrity header: %d %s", r.status, r.body)
	}
}

// TestCopyObject: metadata and tagging directives, conditions on the
// source, copying onto itself, and content identity for chunked sources.
func TestCopyObject(t *testing.T) {
	f := node(t)
	c := f.plain.sdk(f.a)
	ctx := context.Background()
	b, b2 := bucketName(t, "b"), bucketName(t, "dst")
	mkBucket(t, c, b)
	mkBucket(t, c, b2)
	data := testData(2_500_000)
	src := sdkPut(t, c, b, "src", bytes.NewReader(data), func(in *s3.PutObjectInput) {
		in.ContentType = aws.String("image/png")
		in.Metadata = map[string]string{"origin": "src"}
		in.Tagging = aws.String("a=1&b=2")
	})
	out, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(b2), Key: aws.String("copy"), CopySource: aws.String(b + "/src")})
	if err != nil || aws.ToString(out.CopyObjectResult.ETag) != aws.ToString(src.ETag) {
		t.Fatalf("CopyObject: %v %+v", err, out)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b2), Key: aws.String("copy")})
	if err != nil || aws.ToString(head.ContentType) != "image/png" || head.Metadata["origin"] != "src" {
		t.Errorf("COPY directive: %v %+v", err, head)
	}
	if !bytes.Equal(sdkGet(t, c, b2, "copy"), data) {
		t.Error("copied content differs")
	}
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(b), Key: aws.String("replaced"),
		CopySource: aws.String(b + "/src"), MetadataDirective: types.MetadataDirectiveReplace,
		ContentType: aws.String("text/plain"), Metadata: map[string]string{"new": "yes"},
		TaggingDirective: types.TaggingDirectiveReplace, Tagging: aws.String("c=3")}); err != nil {
		t.Fatal(err)
	}
	head, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("replaced")})
	if err != nil || aws.ToString(head.ContentType) != "text/plain" || head.Metadata["new"] != "yes" || head.Metadata["origin"] != "" {
		t.Errorf("REPLACE directive: %v %+v", err, head)
	}
	tags, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(b), Key: aws.String("replaced")})
	if err != nil || len(tags.TagSet) != 1 || aws.ToString(tags.TagSet[0].Key) != "c" {
		t.Errorf("tagging REPLACE: %v %+v", err, tags)
	}
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(b), Key: aws.String("src"), CopySource: aws.String(b + "/src")})
	wantCode(t, "copy onto itself", err, "InvalidRequest", 400)
	if _, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(b), Key: aws.String("src"), CopySource: aws.String(b + "/src"),
		MetadataDirective: types.MetadataDirectiveReplace, ContentType: aws.String("text/csv")}); err != nil {
		t.Errorf("copy onto itself with REPLACE: %v", err)
	}
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(b), Key: aws.String("x"), CopySource: aws.String(b + "/src"),
		CopySourceIfMatch: aws.String(`"0000"`)})
	wantCode(t, "copy-source-if-match", err, "PreconditionFailed", 412)
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(b), Key: aws.String("x"), CopySource: aws.String(b + "/src"),
		CopySourceIfNoneMatch: src.ETag})
	wantCode(t, "copy-source-if-none-match", err, "PreconditionFailed", 412)
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(b), Key: aws.String("x"), CopySource: aws.String(b + "/nope")})
	wantCode(t, "missing source", err, "NoSuchKey", 404)
	// A small (inline) source with a key that needs escaping.
	sdkPut(t, c, b, "dir/sm all+é", strings.NewReader("small"))
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(b), Key: aws.String("small-copy"),
		CopySource: aws.String(b + "/dir/sm%20all%2B%C3%A9")}); err != nil {
		t.Fatal(err)
	}
	if got := string(sdkGet(t, c, b, "small-copy")); got != "small" {
		t.Errorf("small copy: %q", got)
	}
}

// TestObjectTagging: tags from x-amz-tagging, Get/Put/DeleteObjectTagging
// and the tag count on GET.
func TestObjectTagging(t *testing.T) {
	f := node(t)
	c := f.plain.sdk(f.a)
	ctx := context.Background()
	b := bucketName(t, "b")
	mkBucket(t, c, b)
	sdkPut(t, c, b, "k", strings.NewReader("x"), func(in *s3.PutObjectInput) { in.Tagging = aws.String("team=a%20b&x=1") })
	tags, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(b), Key: aws.String("k")})
	if err != nil || len(tags.TagSet) != 2 || aws.ToString(tags.TagSet[0].Value) != "a b" {
		t.Fatalf("GetObjectTagging: %v %+v", err, tags)
	}
	if _, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String(b), Key: aws.String("k"),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("only"), Value: aws.String("one")}}}}); err != nil {
		t.Fatal(err)
	}
	get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("k")})
	if err != nil || aws.ToInt32(get.TagCount) != 1 {
		t.Errorf("tag count: %v", err)
	} else {
		get.Body.Close()
	}
	if _, err := c.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: aws.String(b), Key: aws.String("k")}); err != nil {
		t.Fatal(err)
	}
	tags, err = c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(b), Key: aws.String("k")})
	if err != nil || len(tags.TagSet) != 0 {
		t.Errorf("after DeleteObjectTagging: %v %+v", err, tags)
	}
	tooMany := make([]types.Tag, 11)
	for i := range tooMany {
		tooMany[i] = types.Tag{Key: aws.String(fmt.Sprint(i)), Value: aws.String("v")}
	}
	_, err = c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String(b), Key: aws.String("k"),
		Tagging: &types.Tagging{TagSet: tooMany}})
	wantCode(t, "11 tags", err, "InvalidTag", 400)
	_, err = c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(b), Key: aws.String("missing")})
	wantCode(t, "tags of a missing key", err, "NoSuchKey", 404)
}

// TestKeyLimits: keys up to 1024 bytes of UTF-8 (in components of at
// most 255 bytes, the POSIX name limit), longer keys refused, and keys
// that collide with a folder refused with a clear error.
func TestKeyLimits(t *testing.T) {
	f := node(t)
	c := f.plain.sdk(f.a)
	ctx := context.Background()
	b := bucketName(t, "b")
	mkBucket(t, c, b)
	long := strings.Repeat(strings.Repeat("é", 120)+"/", 4)
	long += strings.Repeat("x", 1024-len(long))
	sdkPut(t, c, b, long, strings.NewReader("long"))
	if got := string(sdkGet(t, c, b, long)); got != "long" {
		t.Errorf("1024-byte key: %q", got)
	}
	r := f.plain.signed(t, f.a, "PUT", "/"+b+"/"+long+"y", []byte("x"))
	if r.status != 400 || !strings.Contains(string(r.body), "KeyTooLongError") {
		t.Errorf("1025-byte key: %d %s", r.status, r.body)
	}
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String(strings.Repeat("n", 256)), Body: strings.NewReader("x")})
	wantCode(t, "256-byte component", err, "InvalidArgument", 400)
	sdkPut(t, c, b, "file", strings.NewReader("x"))
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("file/child"), Body: strings.NewReader("x")})
	wantCode(t, "key under an object", err, "InvalidArgument", 400)
	sdkPut(t, c, b, "dir/child", strings.NewReader("x"))
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("dir"), Body: strings.NewReader("x")})
	wantCode(t, "key naming a folder", err, "InvalidArgument", 400)
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("a//b")})
	wantCode(t, "GET of an impossible key", err, "NoSuchKey", 404)
}

// TestSSEHeaders: SSE-S3 is accepted (annal always encrypts); SSE-C and
// SSE-KMS without a tenant key are refused.
func TestSSEHeaders(t *testing.T) {
	f := node(t)
	c := f.plain.sdk(f.a)
	ctx := context.Background()
	b := bucketName(t, "b")
	mkBucket(t, c, b)
	out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("sse"), Body: strings.NewReader("x"),
		ServerSideEncryption: types.ServerSideEncryptionAes256})
	if err != nil || out.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Errorf("SSE-S3: %v %v", err, out)
	}
	key := base64.StdEncoding.EncodeToString(make([]byte, 32))
	keyMD5 := md5.Sum(make([]byte, 32))
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("ssec"), Body: strings.NewReader("x"),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(key),
		SSECustomerKeyMD5: aws.String(base64.StdEncoding.EncodeToString(keyMD5[:]))})
	wantCode(t, "SSE-C", err, "InvalidRequest", 400)
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("kms"), Body: strings.NewReader("x"),
		ServerSideEncryption: types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String("arn:aws:kms:us-east-1:1:key/other")})
	wantCode(t, "SSE-KMS", err, "InvalidArgument", 400)
}

// TestWorkflowRefHeader: the advisory header never changes an outcome,
// whatever it holds.
func TestWorkflowRefHeader(t *testing.T) {
	f := node(t)
	b := bucketName(t, "b")
	f.plain.signed(t, f.a, "PUT", "/"+b, nil)
	for _, ref := range []string{"00112233445566778899aabbccddeeff", "not hex at all", ""} {
		if r := f.plain.signed(t, f.a, "PUT", "/"+b+"/k", []byte(ref), "X-Annal-Workflow-Ref", ref); r.status != 200 {
			t.Errorf("PUT with workflow ref %q: %d %s", ref, r.status, r.body)
		}
		if r := f.plain.signed(t, f.a, "GET", "/"+b+"/k", nil, "X-Annal-Workflow-Ref", ref); r.status != 200 || string(r.body) != ref {
			t.Errorf("GET with workflow ref %q: %d %q", ref, r.status, r.body)
		}
	}
}
