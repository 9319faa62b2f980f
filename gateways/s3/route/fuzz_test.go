package route

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
	"unicode/utf8"

	"github.com/annal-storage/annal/gateways/s3/s3err"
)

// FuzzClassify: the classifier sees raw request lines; it must never
// panic, fail only with known S3 errors, and whatever it accepts must
// name a valid bucket and key for the operation's scope.
func FuzzClassify(f *testing.F) {
	rt, err := New("s3.example.com", "localhost")
	if err != nil {
		f.Fatal(err)
	}
	f.Add("GET", "bucket.s3.example.com:9000", "/a//b", "list-type=2", "")
	f.Add("PUT", "127.0.0.1", "/bucket/k", "partNumber=1&uploadId=u", "/src/k?versionId=1")
	f.Add("POST", "localhost", "/b", "delete", "")
	f.Add("OPTIONS", "", "", "lifecycle&acl", "")
	f.Fuzz(func(t *testing.T, method, host, path, rawQuery, copySource string) {
		r := &http.Request{Method: method, Host: host, URL: &url.URL{Path: path, RawQuery: rawQuery}, Header: http.Header{}}
		if copySource != "" {
			r.Header.Set("X-Amz-Copy-Source", copySource)
			if _, err := ParseCopySource(copySource); err != nil {
				requireKnown(t, err)
			}
		}
		req, err := rt.Classify(r)
		if err != nil {
			requireKnown(t, err)
			return
		}
		if req.Bucket != "" && ValidateBucketName(req.Bucket) != nil {
			t.Fatalf("accepted invalid bucket %q", req.Bucket)
		}
		if req.Key != "" && (len(req.Key) > KeyBytesMax || !utf8.ValidString(req.Key)) {
			t.Fatalf("accepted invalid key %q", req.Key)
		}
		if req.Operation == Unsupported && req.Feature == "" {
			t.Fatal("Unsupported without a feature name")
		}
		if req.Operation != Unsupported {
			scope := req.Operation.Scope()
			if (scope == ScopeObject) != (req.Key != "") || (scope == ScopeService) != (req.Bucket == "") {
				t.Fatalf("%v classified with bucket %q key %q", req.Operation, req.Bucket, req.Key)
			}
		}
	})
}

func requireKnown(t *testing.T, err error) {
	t.Helper()
	var e *s3err.Error
	if !errors.As(err, &e) || !s3err.Known(e.Code) {
		t.Fatalf("error %v is not a known *s3err.Error", err)
	}
}
