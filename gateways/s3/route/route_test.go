package route

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/annal-storage/annal/gateways/s3/s3err"
)

// Goal: every in-scope operation is recognised from the requests real
// SDKs send (including their extra query parameters such as x-id), every
// out-of-scope one is Unsupported, and keys survive byte for byte.
// Method: table tests over server-side requests built by httptest, which
// parses the request target the way net/http's server does.

func router(t *testing.T) *Router {
	t.Helper()
	rt, err := New("s3.example.com", "localhost", "example.com")
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

type classifyCase struct {
	method, host, target string
	header               []string
	op                   Operation
	feature              string
	bucket, key          string
}

func request(method, host, target string, header ...string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.Host = host
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	return r
}

func runCases(t *testing.T, cases []classifyCase) {
	t.Helper()
	rt := router(t)
	for _, c := range cases {
		got, err := rt.Classify(request(c.method, c.host, c.target, c.header...))
		if err != nil {
			t.Errorf("%s %s%s: %v", c.method, c.host, c.target, err)
			continue
		}
		if got.Operation != c.op || got.Feature != c.feature || got.Bucket != c.bucket || got.Key != c.key {
			t.Errorf("%s %s%s: got %v/%q bucket %q key %q, want %v/%q bucket %q key %q",
				c.method, c.host, c.target, got.Operation, got.Feature, got.Bucket, got.Key, c.op, c.feature, c.bucket, c.key)
		}
	}
}

const h = "127.0.0.1:9000" // path-style host

func TestClassifyServiceAndBucket(t *testing.T) {
	runCases(t, []classifyCase{
		{"GET", h, "/", nil, ListBuckets, "", "", ""},
		{"GET", "s3.example.com", "/?x-id=ListBuckets", nil, ListBuckets, "", "", ""},
		{"PUT", h, "/bucket", nil, CreateBucket, "", "bucket", ""},
		{"PUT", h, "/bucket/", nil, CreateBucket, "", "bucket", ""},
		{"HEAD", h, "/bucket", nil, HeadBucket, "", "bucket", ""},
		{"DELETE", h, "/bucket", nil, DeleteBucket, "", "bucket", ""},
		{"GET", h, "/bucket", nil, ListObjects, "", "bucket", ""},
		{"GET", h, "/bucket?prefix=a&delimiter=%2F&marker=m&max-keys=10", nil, ListObjects, "", "bucket", ""},
		{"GET", h, "/bucket?list-type=2&prefix=a&continuation-token=t&start-after=s", nil, ListObjectsV2, "", "bucket", ""},
		{"GET", h, "/bucket?versions&prefix=p", nil, ListObjectVersions, "", "bucket", ""},
		{"GET", h, "/bucket?versioning", nil, GetBucketVersioning, "", "bucket", ""},
		{"PUT", h, "/bucket?versioning", nil, PutBucketVersioning, "", "bucket", ""},
		{"GET", h, "/bucket?location", nil, GetBucketLocation, "", "bucket", ""},
		{"GET", h, "/bucket?acl", nil, GetBucketAcl, "", "bucket", ""},
		{"GET", h, "/bucket?tagging", nil, GetBucketTagging, "", "bucket", ""},
		{"PUT", h, "/bucket?tagging", nil, PutBucketTagging, "", "bucket", ""},
		{"DELETE", h, "/bucket?tagging", nil, DeleteBucketTagging, "", "bucket", ""},
		{"GET", h, "/bucket?uploads&prefix=x", nil, ListMultipartUploads, "", "bucket", ""},
		{"POST", h, "/bucket?delete", nil, DeleteObjects, "", "bucket", ""},
		{"POST", h, "/bucket?delete=&x-id=DeleteObjects", nil, DeleteObjects, "", "bucket", ""},
	})
}

func TestClassifyObject(t *testing.T) {
	runCases(t, []classifyCase{
		{"PUT", h, "/bucket/key", nil, PutObject, "", "bucket", "key"},
		{"PUT", h, "/bucket/key?x-id=PutObject", nil, PutObject, "", "bucket", "key"},
		{"PUT", h, "/bucket/key", []string{"X-Amz-Copy-Source", "/src/k"}, CopyObject, "", "bucket", "key"},
		{"GET", h, "/bucket/key", nil, GetObject, "", "bucket", "key"},
		{"GET", h, "/bucket/key?versionId=3&partNumber=1&response-content-type=text%2Fplain", nil, GetObject, "", "bucket", "key"},
		{"HEAD", h, "/bucket/key?versionId=3", nil, HeadObject, "", "bucket", "key"},
		{"DELETE", h, "/bucket/key", nil, DeleteObject, "", "bucket", "key"},
		{"DELETE", h, "/bucket/key?versionId=3", nil, DeleteObject, "", "bucket", "key"},
		{"POST", h, "/bucket/key?uploads", nil, CreateMultipartUpload, "", "bucket", "key"},
		{"POST", h, "/bucket/key?uploads=&x-id=CreateMultipartUpload", nil, CreateMultipartUpload, "", "bucket", "key"},
		{"PUT", h, "/bucket/key?partNumber=2&uploadId=u", nil, UploadPart, "", "bucket", "key"},
		{"PUT", h, "/bucket/key?partNumber=2&uploadId=u", []string{"X-Amz-Copy-Source", "src/k"}, UploadPartCopy, "", "bucket", "key"},
		{"POST", h, "/bucket/key?uploadId=u", nil, CompleteMultipartUpload, "", "bucket", "key"},
		{"DELETE", h, "/bucket/key?uploadId=u", nil, AbortMultipartUpload, "", "bucket", "key"},
		{"GET", h, "/bucket/key?uploadId=u&max-parts=10&part-number-marker=2", nil, ListParts, "", "bucket", "key"},
		{"GET", h, "/bucket/key?tagging", nil, GetObjectTagging, "", "bucket", "key"},
		{"PUT", h, "/bucket/key?tagging", nil, PutObjectTagging, "", "bucket", "key"},
		{"DELETE", h, "/bucket/key?tagging&versionId=1", nil, DeleteObjectTagging, "", "bucket", "key"},
		{"GET", h, "/bucket/key?acl", nil, GetObjectAcl, "", "bucket", "key"},
	})
}

func TestClassifyUnsupported(t *testing.T) {
	var cases []classifyCase
	for _, sub := range []string{"lifecycle", "policy", "cors", "notification", "object-lock", "website",
		"replication", "encryption", "logging", "accelerate", "requestPayment", "analytics", "inventory",
		"metrics", "intelligent-tiering", "ownershipControls", "publicAccessBlock", "policyStatus"} {
		for _, m := range []string{"GET", "PUT", "DELETE"} {
			cases = append(cases, classifyCase{m, h, "/bucket?" + sub, nil, Unsupported, sub, "bucket", ""})
		}
	}
	for _, sub := range []string{"retention", "legal-hold", "torrent", "attributes", "restore"} {
		cases = append(cases, classifyCase{"GET", h, "/bucket/k?" + sub, nil, Unsupported, sub, "bucket", "k"})
	}
	cases = append(cases,
		classifyCase{"PUT", h, "/bucket?acl", nil, Unsupported, "acl", "bucket", ""},
		classifyCase{"PUT", h, "/bucket/k?acl", nil, Unsupported, "acl", "bucket", "k"},
		classifyCase{"DELETE", h, "/bucket/k?acl", nil, Unsupported, "acl", "bucket", "k"},
		classifyCase{"PUT", h, "/bucket/k?retention", nil, Unsupported, "retention", "bucket", "k"},
		classifyCase{"PUT", h, "/bucket/k?legal-hold", nil, Unsupported, "legal-hold", "bucket", "k"},
		classifyCase{"POST", h, "/bucket/k?select&select-type=2", nil, Unsupported, "select", "bucket", "k"},
		classifyCase{"POST", h, "/bucket/k?restore", nil, Unsupported, "restore", "bucket", "k"},
		classifyCase{"POST", h, "/bucket", []string{"Content-Type", "multipart/form-data; boundary=xyz"}, Unsupported, "post-object", "bucket", ""},
		classifyCase{"POST", h, "/bucket", nil, Unsupported, "post-without-subresource", "bucket", ""},
		classifyCase{"OPTIONS", h, "/bucket/k", []string{"Origin", "https://x"}, Unsupported, "cors-preflight", "bucket", "k"},
		// An unsupported sub-resource wins over a supported one.
		classifyCase{"GET", h, "/bucket?versioning&lifecycle", nil, Unsupported, "lifecycle", "bucket", ""},
		classifyCase{"GET", h, "/?session", nil, Unsupported, "session", "", ""},
	)
	runCases(t, cases)
}

func TestNotImplementedError(t *testing.T) {
	req, err := router(t).Classify(request("GET", h, "/bucket?lifecycle"))
	if err != nil {
		t.Fatal(err)
	}
	e := req.NotImplemented()
	if e.Code != s3err.NotImplemented || e.Status() != 501 || !strings.Contains(e.Message, "lifecycle") || e.Resource != "/bucket" {
		t.Errorf("%+v", e)
	}
}

func TestVirtualHostedStyle(t *testing.T) {
	runCases(t, []classifyCase{
		{"GET", "bucket.s3.example.com", "/", nil, ListObjects, "", "bucket", ""},
		{"GET", "bucket.s3.example.com:9000", "/key/with/slash", nil, GetObject, "", "bucket", "key/with/slash"},
		{"PUT", "my.dotted.bucket.s3.example.com", "/k", nil, PutObject, "", "my.dotted.bucket", "k"},
		{"GET", "Bucket.S3.Example.COM", "/k", nil, GetObject, "", "bucket", "k"},
		{"GET", "bucket.localhost:9000", "/k", nil, GetObject, "", "bucket", "k"},
		{"PUT", "bucket.localhost", "/", nil, CreateBucket, "", "bucket", ""},
		// The longest matching base domain wins: "s3" is not a bucket of example.com.
		{"GET", "s3.example.com", "/bucket/k", nil, GetObject, "", "bucket", "k"},
		{"GET", "other.example.com", "/k", nil, GetObject, "", "other", "k"},
		// Hosts outside the base domains are path-style.
		{"GET", "localhost:9000", "/bucket/k", nil, GetObject, "", "bucket", "k"},
		{"GET", "[::1]:9000", "/bucket/k", nil, GetObject, "", "bucket", "k"},
		{"GET", "unrelated.org", "/bucket/k", nil, GetObject, "", "bucket", "k"},
		{"GET", "bucket.s3.example.com.", "/k", nil, GetObject, "", "bucket", "k"},
	})
}

// TestKeysPreservedByteForByte: S3 keys may hold anything; the router
// must not clean, trim or re-encode them.
func TestKeysPreservedByteForByte(t *testing.T) {
	runCases(t, []classifyCase{
		{"GET", h, "/bucket//double//slash//", nil, GetObject, "", "bucket", "/double//slash//"},
		{"GET", h, "/bucket/./dot/../segments", nil, GetObject, "", "bucket", "./dot/../segments"},
		{"GET", h, "/bucket/a%20space%20and%2Bplus+", nil, GetObject, "", "bucket", "a space and+plus+"},
		{"GET", h, "/bucket/%E1%88%B4%F0%9F%98%80", nil, GetObject, "", "bucket", "ሴ😀"},
		{"GET", h, "/bucket/enc%2Fslash%3Fq%23h%25", nil, GetObject, "", "bucket", "enc/slash?q#h%"},
		{"GET", h, "/bucket/trailing/", nil, GetObject, "", "bucket", "trailing/"},
		{"GET", "bucket.localhost", "//leading", nil, GetObject, "", "bucket", "/leading"},
		{"GET", h, "/bucket/" + strings.Repeat("k", KeyBytesMax), nil, GetObject, "", "bucket", strings.Repeat("k", KeyBytesMax)},
	})
}

func TestClassifyErrors(t *testing.T) {
	rt := router(t)
	for _, c := range []struct {
		method, host, target string
		header               []string
		code                 s3err.Code
	}{
		{"PUT", h, "/", nil, s3err.MethodNotAllowed},
		{"HEAD", h, "/", nil, s3err.MethodNotAllowed},
		{"PATCH", h, "/bucket/k", nil, s3err.MethodNotAllowed},
		{"PATCH", h, "/bucket", nil, s3err.MethodNotAllowed},
		{"POST", h, "/bucket/k", nil, s3err.MethodNotAllowed},
		{"GET", h, "/Bad_Bucket/k", nil, s3err.InvalidBucketName},
		{"GET", h, "/ab", nil, s3err.InvalidBucketName},
		{"GET", "x.s3.example.com", "/k", nil, s3err.InvalidBucketName},
		{"GET", h, "/bucket/" + strings.Repeat("k", KeyBytesMax+1), nil, s3err.KeyTooLongError},
		{"GET", h, "/bucket/%FF%FE", nil, s3err.InvalidArgument},
		{"GET", h, "/bucket?list-type=3", nil, s3err.InvalidArgument},
		{"PUT", h, "/bucket/k?partNumber=1", nil, s3err.InvalidArgument},
		{"PUT", h, "/bucket/k?uploadId=u", nil, s3err.InvalidArgument},
		{"GET", h, "/bucket?prefix=%zz", nil, s3err.InvalidURI},
		{"GET", h, "//key", nil, s3err.InvalidURI},
	} {
		_, err := rt.Classify(request(c.method, c.host, c.target, c.header...))
		if got := s3err.CodeOf(err); got != c.code {
			t.Errorf("%s %s%s: code %q (%v), want %q", c.method, c.host, c.target, got, err, c.code)
		}
	}
	if _, err := New("bad domain:9000"); err == nil {
		t.Error("a base domain with a port must be refused")
	}
	if _, err := New(""); err == nil {
		t.Error("an empty base domain must be refused")
	}
}

func TestValidateBucketName(t *testing.T) {
	for _, ok := range []string{"abc", "my-bucket", "my.bucket.name", "a1b2c3", "123", strings.Repeat("a", 63), "docexamplebucket1"} {
		if err := ValidateBucketName(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "ab", strings.Repeat("a", 64), "MyBucket", "my_bucket", "-bucket", "bucket-",
		".bucket", "bucket.", "my..bucket", "my.-bucket", "my-.bucket", "192.168.5.4", "xn--bucket",
		"sthree-bucket", "amzn-s3-demo-bucket", "bucket-s3alias", "bucket--ol-s3", "bucket.mrap",
		"bucket--x-s3", "bucket--table-s3", "buc ket", "bücket"} {
		err := ValidateBucketName(bad)
		if s3err.CodeOf(err) != s3err.InvalidBucketName {
			t.Errorf("%q accepted or wrong error: %v", bad, err)
		}
	}
}

func TestValidateKey(t *testing.T) {
	for key, code := range map[string]s3err.Code{
		"a": "", " ": "", "//": "", "ሴ": "", strings.Repeat("é", 512): "",
		"":                               s3err.InvalidArgument,
		strings.Repeat("é", 513):         s3err.KeyTooLongError,
		"\xff":                           s3err.InvalidArgument,
		strings.Repeat("k", KeyBytesMax): "",
	} {
		if got := s3err.CodeOf(ValidateKey(key)); got != code {
			t.Errorf("ValidateKey(%q): %q, want %q", key, got, code)
		}
	}
}

func TestParseCopySource(t *testing.T) {
	for in, want := range map[string]CopySource{
		"/src/key":                    {Bucket: "src", Key: "key"},
		"src/dir/key":                 {Bucket: "src", Key: "dir/key"},
		"/src/a%20b%3Fc?versionId=v1": {Bucket: "src", Key: "a b?c", VersionID: "v1"},
		"src/%E1%88%B4//x":            {Bucket: "src", Key: "ሴ//x"},
	} {
		got, err := ParseCopySource(in)
		if err != nil || got != want {
			t.Errorf("ParseCopySource(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for in, code := range map[string]s3err.Code{
		"":                                   s3err.InvalidArgument,
		"/src":                               s3err.InvalidArgument,
		"/src/":                              s3err.InvalidArgument,
		"/src/k?versionId=":                  s3err.InvalidArgument,
		"/src/k?other=1":                     s3err.InvalidArgument,
		"/src/k%zz":                          s3err.InvalidArgument,
		"/Bad_Bucket/k":                      s3err.InvalidBucketName,
		"arn:aws:s3:us-east-1:1:accesspoint": s3err.NotImplemented,
	} {
		if _, err := ParseCopySource(in); s3err.CodeOf(err) != code {
			t.Errorf("ParseCopySource(%q): %v, want %s", in, err, code)
		}
	}
}

func TestOperationMetadata(t *testing.T) {
	for op := Unsupported; op < operationCount; op++ {
		if op.String() == "" || strings.HasPrefix(op.String(), "Operation(") {
			t.Errorf("operation %d has no name", op)
		}
	}
	if Operation(999).String() != "Operation(999)" {
		t.Error("out-of-range name")
	}
	for op, scope := range map[Operation]Scope{
		ListBuckets: ScopeService, Unsupported: ScopeService, CreateBucket: ScopeBucket, DeleteObjects: ScopeBucket,
		PutObject: ScopeObject, ListParts: ScopeObject,
	} {
		if op.Scope() != scope {
			t.Errorf("%v.Scope() = %v, want %v", op, op.Scope(), scope)
		}
	}
	if !PutObject.IsWrite() || GetObject.IsWrite() || !DeleteObjects.IsWrite() || ListParts.IsWrite() {
		t.Error("IsWrite misclassifies")
	}
}

// TestScopeMatchesClassification: every classified operation's Scope
// agrees with where it was found (no key → bucket scope, and so on).
func TestScopeMatchesClassification(t *testing.T) {
	rt := router(t)
	for _, target := range []string{"/", "/bucket", "/bucket?versions", "/bucket/k", "/bucket/k?uploadId=1"} {
		for _, m := range []string{"GET", "HEAD", "PUT", "DELETE", "POST"} {
			req, err := rt.Classify(request(m, h, target))
			if err != nil || req.Operation == Unsupported {
				continue
			}
			want := ScopeService
			if req.Bucket != "" {
				want = ScopeBucket
			}
			if req.Key != "" {
				want = ScopeObject
			}
			if req.Operation.Scope() != want {
				t.Errorf("%s %s: %v has scope %v, want %v", m, target, req.Operation, req.Operation.Scope(), want)
			}
		}
	}
}
