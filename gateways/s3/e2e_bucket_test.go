package s3_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/annal-storage/annal/gateways/s3/route"
)

// TestBucketLifecycle: create, head, list, re-create, delete when not
// empty and when empty, through the SDK.
func TestBucketLifecycle(t *testing.T) {
	f := node(t)
	c := f.plain.sdk(f.a)
	ctx := context.Background()
	b := bucketName(t, "b")
	mkBucket(t, c, b)
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(b)}); err != nil {
		t.Fatalf("HeadBucket: %v", err)
	}
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)})
	wantCode(t, "re-create", err, "BucketAlreadyOwnedByYou", 409)
	list, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil || !hasBucket(list.Buckets, b) || list.Owner == nil || aws.ToString(list.Owner.ID) == "" {
		t.Fatalf("ListBuckets: %v %+v", err, list)
	}
	loc, err := c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String(b)})
	if err != nil || loc.LocationConstraint != "" {
		t.Errorf("GetBucketLocation: %v %q", err, loc.LocationConstraint)
	}
	acl, err := c.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String(b)})
	if err != nil || len(acl.Grants) != 1 || acl.Grants[0].Permission != types.PermissionFullControl {
		t.Errorf("GetBucketAcl: %v %+v", err, acl)
	}
	_, err = c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(b)})
	wantCode(t, "GetBucketTagging", err, "NoSuchTagSet", 404)

	sdkPut(t, c, b, "k", strings.NewReader("x"))
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(b)})
	wantCode(t, "delete non-empty", err, "BucketNotEmpty", 409)
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("u")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b), Key: aws.String("k")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(b)})
	wantCode(t, "delete with an upload in progress", err, "BucketNotEmpty", 409)
	if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("u"),
		UploadId: up.UploadId}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(b)}); err != nil {
		t.Fatalf("delete empty: %v", err)
	}
	_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(b)})
	wantCode(t, "HeadBucket after delete", err, "NotFound", 404)
	_, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b)})
	wantCode(t, "list after delete", err, "NoSuchBucket", 404)
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(b)})
	wantCode(t, "delete twice", err, "NoSuchBucket", 404)
	// The name is free again.
	mkBucket(t, c, b)
}

func hasBucket(bs []types.Bucket, name string) bool {
	for _, b := range bs {
		if aws.ToString(b.Name) == name {
			return true
		}
	}
	return false
}

// TestBucketNames: S3's naming rules apply before anything else, for
// authenticated callers.
func TestBucketNames(t *testing.T) {
	f := node(t)
	for _, name := range []string{"ab", "Upper", "under_score", "-dash", "dash-", "a..b", "192.168.1.1", "xn--abc",
		strings.Repeat("a", 64)} {
		r := f.plain.signed(t, f.a, "PUT", "/"+name, nil)
		if r.status != 400 || !strings.Contains(string(r.body), "<Code>InvalidBucketName</Code>") {
			t.Errorf("%q: %d %s", name, r.status, r.body)
		}
	}
	for _, name := range []string{"abc", "a.b-c.d1", strings.Repeat("a", 63)} {
		if r := f.plain.signed(t, f.a, "PUT", "/"+name, nil); r.status != 200 {
			t.Errorf("%q: %d %s", name, r.status, r.body)
		}
		f.plain.signed(t, f.a, "DELETE", "/"+name, nil)
	}
}

// TestTenantIsolation: each tenant sees only its own buckets. Tenant B
// gets NoSuchBucket for every operation on tenant A's bucket (no
// existence oracle), may create a bucket of the same name, and the two
// stay independent; a second key of tenant A sees A's buckets.
func TestTenantIsolation(t *testing.T) {
	f := node(t)
	ctx := context.Background()
	a, b, a2 := f.plain.sdk(f.a), f.plain.sdk(f.b), f.plain.sdk(f.other)
	name := bucketName(t, "shared")
	mkBucket(t, a, name)
	sdkPut(t, a, name, "secret", strings.NewReader("tenant a's data"))

	_, err := b.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(name)})
	wantCode(t, "B HeadBucket", err, "NotFound", 404)
	_, err = b.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(name), Key: aws.String("secret")})
	wantCode(t, "B GetObject", err, "NoSuchBucket", 404)
	_, err = b.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(name)})
	wantCode(t, "B ListObjectsV2", err, "NoSuchBucket", 404)
	_, err = b.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(name), Key: aws.String("secret")})
	wantCode(t, "B DeleteObject", err, "NoSuchBucket", 404)
	_, err = b.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(name)})
	wantCode(t, "B DeleteBucket", err, "NoSuchBucket", 404)
	mine := bucketName(t, "b-own")
	mkBucket(t, b, mine)
	_, err = b.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(mine), Key: aws.String("stolen"),
		CopySource: aws.String(name + "/secret")})
	wantCode(t, "B copies from A", err, "NoSuchBucket", 404)

	lb, err := b.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil || hasBucket(lb.Buckets, name) || !hasBucket(lb.Buckets, mine) {
		t.Errorf("B's ListBuckets: %v %+v", err, lb)
	}
	la, err := a.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil || hasBucket(la.Buckets, mine) {
		t.Errorf("A's ListBuckets shows B's bucket: %v", err)
	}
	if aws.ToString(la.Owner.ID) == aws.ToString(lb.Owner.ID) {
		t.Errorf("both tenants have owner %q", aws.ToString(la.Owner.ID))
	}

	// Same name, other tenant: an independent bucket.
	mkBucket(t, b, name)
	sdkPut(t, b, name, "secret", strings.NewReader("tenant b's data"))
	if got := string(sdkGet(t, a, name, "secret")); got != "tenant a's data" {
		t.Errorf("A reads %q", got)
	}
	if got := string(sdkGet(t, b, name, "secret")); got != "tenant b's data" {
		t.Errorf("B reads %q", got)
	}
	if got := string(sdkGet(t, a2, name, "secret")); got != "tenant a's data" {
		t.Errorf("A's second key reads %q", got)
	}
}

// TestHealthAndRequestIDs: HEAD / answers 200 without credentials; every
// other answer — success, S3 error, HEAD error, refusal of an anonymous
// caller — carries x-amz-request-id, and ids differ.
func TestHealthAndRequestIDs(t *testing.T) {
	f := node(t)
	seen := map[string]bool{}
	check := func(what string, r rawResponse, status int) {
		t.Helper()
		id := r.header.Get("X-Amz-Request-Id")
		if r.status != status || id == "" || seen[id] {
			t.Errorf("%s: status %d (want %d), request id %q (seen %v)", what, r.status, status, id, seen[id])
		}
		seen[id] = true
		if d := r.header.Get("Date"); !strings.HasSuffix(d, " GMT") {
			t.Errorf("%s: Date %q is not RFC 1123", what, d)
		}
	}
	check("health", f.plain.anonymous(t, "HEAD", "/"), 200)
	r := f.plain.anonymous(t, "GET", "/")
	check("anonymous ListBuckets", r, 403)
	if !strings.Contains(string(r.body), "<Code>AccessDenied</Code>") || !strings.Contains(string(r.body), "<RequestId>") {
		t.Errorf("anonymous: %s", r.body)
	}
	check("ListBuckets", f.plain.signed(t, f.a, "GET", "/", nil), 200)
	b := bucketName(t, "b")
	check("CreateBucket", f.plain.signed(t, f.a, "PUT", "/"+b, nil), 200)
	r = f.plain.signed(t, f.a, "GET", "/"+b+"/missing", nil)
	check("NoSuchKey", r, 404)
	for _, part := range []string{"<Code>NoSuchKey</Code>", "<Resource>/" + b + "/missing</Resource>", "<Key>missing</Key>",
		"<RequestId>" + r.header.Get("X-Amz-Request-Id") + "</RequestId>"} {
		if !strings.Contains(string(r.body), part) {
			t.Errorf("NoSuchKey body lacks %s: %s", part, r.body)
		}
	}
	r = f.plain.signed(t, f.a, "HEAD", "/"+b+"/missing", nil)
	check("HEAD NoSuchKey", r, 404)
	if len(r.body) != 0 {
		t.Errorf("HEAD error has a body: %q", r.body)
	}
	check("NoSuchBucket", f.plain.signed(t, f.a, "GET", "/no-such-bucket-here/k", nil), 404)
	check("node listener", rawGet(t, f.nodeURL+"/"), 403)
}

func rawGet(t *testing.T, url string) rawResponse {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return rawResponse{status: resp.StatusCode, header: resp.Header}
}

// TestUnsupportedOperations: out-of-scope features answer 501
// NotImplemented (after authentication).
func TestUnsupportedOperations(t *testing.T) {
	f := node(t)
	b := bucketName(t, "b")
	f.plain.signed(t, f.a, "PUT", "/"+b, nil)
	f.plain.signed(t, f.a, "PUT", "/"+b+"/k", []byte("x"))
	for _, c := range []struct{ method, target string }{
		{"GET", "/" + b + "?lifecycle"}, {"PUT", "/" + b + "?lifecycle"}, {"GET", "/" + b + "?policy"},
		{"PUT", "/" + b + "?policy"}, {"GET", "/" + b + "?cors"}, {"PUT", "/" + b + "?cors"},
		{"PUT", "/" + b + "?acl"}, {"PUT", "/" + b + "/k?acl"}, {"GET", "/" + b + "?notification"},
		{"PUT", "/" + b + "?object-lock"}, {"GET", "/" + b + "?website"}, {"PUT", "/" + b + "?website"},
		{"POST", "/" + b + "/k?select&select-type=2"}, {"GET", "/" + b + "/k?retention"}, {"PUT", "/" + b + "/k?legal-hold"},
		{"PUT", "/" + b + "?replication"}, {"PUT", "/" + b + "?encryption"}, {"PUT", "/" + b + "?tagging"},
	} {
		r := f.plain.signed(t, f.a, c.method, c.target, []byte("<x/>"))
		if r.status != 501 || !strings.Contains(string(r.body), "<Code>NotImplemented</Code>") {
			t.Errorf("%s %s: %d %s", c.method, c.target, r.status, r.body)
		}
	}
	r := f.plain.signed(t, f.a, "PUT", "/"+b+"/k2", []byte("x"), "X-Amz-Acl", "public-read")
	if r.status != 501 {
		t.Errorf("public-read canned ACL: %d %s", r.status, r.body)
	}
	if r := f.plain.signed(t, f.a, "PUT", "/"+b+"/k3", []byte("x"), "X-Amz-Acl", "private"); r.status != 200 {
		t.Errorf("private canned ACL: %d %s", r.status, r.body)
	}
}

// TestVirtualHostedStyle: "<bucket>.localhost" addresses the bucket,
// as SDKs do when path style is off.
func TestVirtualHostedStyle(t *testing.T) {
	f := node(t)
	b := bucketName(t, "vh")
	mkBucket(t, f.plain.sdk(f.a), b)
	addr := strings.TrimPrefix(f.plain.srv.URL, "http://")
	_, port, _ := strings.Cut(addr, ":")
	var dialer net.Dialer
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return dialer.DialContext(ctx, network, addr)
	}}}
	c := sdkClient("http://localhost:"+port, hc, f.a, func(o *s3.Options) { o.UsePathStyle = false })
	sdkPut(t, c, b, "dir/vh key", strings.NewReader("virtual"))
	if obs := f.plain.last(t, route.PutObject, "/dir/vh key"); obs.Host != b+".localhost:"+port {
		t.Errorf("virtual-hosted PUT went to host %q", obs.Host)
	}
	if got := string(sdkGet(t, c, b, "dir/vh key")); got != "virtual" {
		t.Errorf("virtual-hosted GET: %q", got)
	}
	if got := string(sdkGet(t, f.plain.sdk(f.a), b, "dir/vh key")); got != "virtual" {
		t.Errorf("path-style GET: %q", got)
	}
	list, err := c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(b)})
	if err != nil || len(list.Contents) != 1 {
		t.Errorf("virtual-hosted list: %v %+v", err, list)
	}
}
