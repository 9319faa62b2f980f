package s3err

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestTableCoversRequiredCodes checks that every code the gateway is
// specified to emit has the status Amazon S3 documents for it. Method: a
// literal expectation table, independent of the package's own table.
func TestTableCoversRequiredCodes(t *testing.T) {
	want := map[Code]int{
		AccessDenied: 403, BadDigest: 400, BucketAlreadyExists: 409,
		BucketAlreadyOwnedByYou: 409, BucketNotEmpty: 409, EntityTooLarge: 400,
		EntityTooSmall: 400, IncompleteBody: 400, InternalError: 500,
		InvalidAccessKeyID: 403, InvalidArgument: 400, InvalidBucketName: 400,
		InvalidDigest: 400, InvalidPart: 400, InvalidPartOrder: 400,
		InvalidRange: 416, InvalidRequest: 400, KeyTooLongError: 400,
		MalformedXML: 400, MethodNotAllowed: 405, MissingContentLength: 411,
		NoSuchBucket: 404, NoSuchKey: 404, NoSuchUpload: 404, NoSuchVersion: 404,
		NotImplemented: 501, PreconditionFailed: 412, RequestTimeTooSkewed: 403,
		SignatureDoesNotMatch: 403, SlowDown: 503, ServiceUnavailable: 503,
		XAmzContentSHA256Mismatch: 400, AuthorizationHeaderMalformed: 400,
		InvalidObjectState: 403, NotModified: 304, NoSuchTagSet: 404,
		InvalidTag: 400, MalformedTrailerError: 400,
	}
	for code, status := range want {
		if !Known(code) {
			t.Errorf("%s missing from table", code)
			continue
		}
		if got := Status(code); got != status {
			t.Errorf("Status(%s) = %d, want %d", code, got, status)
		}
	}
	if InvalidAccessKeyID != "InvalidAccessKeyId" {
		t.Errorf("wire spelling of InvalidAccessKeyId changed: %q", InvalidAccessKeyID)
	}
}

// TestEveryRowIsComplete guards against a row with a zero status or an
// empty message, which would render a broken response.
func TestEveryRowIsComplete(t *testing.T) {
	for _, c := range Codes() {
		if Status(c) < 300 || Status(c) > 599 {
			t.Errorf("%s: status %d outside 3xx-5xx", c, Status(c))
		}
		if strings.TrimSpace(DefaultMessage(c)) == "" {
			t.Errorf("%s: empty default message", c)
		}
	}
	if Status("NoSuchThing") != 500 || DefaultMessage("NoSuchThing") != DefaultMessage(InternalError) {
		t.Error("unknown code must render as InternalError")
	}
}

func TestErrorChain(t *testing.T) {
	cause := errors.New("projection lookup failed")
	e := Wrap(NoSuchKey, cause, "")
	wrapped := fmt.Errorf("get object: %w", e)

	if !errors.Is(wrapped, New(NoSuchKey, "other text")) {
		t.Error("errors.Is must match on code")
	}
	if errors.Is(wrapped, New(NoSuchBucket, "")) {
		t.Error("errors.Is matched a different code")
	}
	if !errors.Is(wrapped, cause) {
		t.Error("cause must stay reachable through Unwrap")
	}
	if CodeOf(wrapped) != NoSuchKey || CodeOf(cause) != "" {
		t.Errorf("CodeOf: got %q and %q", CodeOf(wrapped), CodeOf(cause))
	}
	if got := As(cause); got.Code != InternalError || got.Err != cause {
		t.Errorf("As(plain error) = %+v, want InternalError wrapping it", got)
	}
	if As(nil) != nil {
		t.Error("As(nil) must be nil")
	}
	if !strings.Contains(wrapped.Error(), "projection lookup failed") {
		t.Errorf("Error() should carry the cause for logs: %q", wrapped.Error())
	}
}

func decodeBody(t *testing.T, rec *httptest.ResponseRecorder) Body {
	t.Helper()
	var b Body
	if err := xml.Unmarshal(rec.Body.Bytes(), &b); err != nil {
		t.Fatalf("body is not XML: %v\n%s", err, rec.Body.String())
	}
	return b
}

func TestWriteRendersS3ErrorBody(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/photos/2006/feb/a.jpg", nil)
	rec := httptest.NewRecorder()
	e := New(NoSuchKey, "").WithResource("photos", "2006/feb/a.jpg")
	status := Write(rec, r, fmt.Errorf("handler: %w", e), "4442587FB7D0A2F9", "host-7")

	if status != 404 || rec.Code != 404 {
		t.Fatalf("status = %d/%d, want 404", status, rec.Code)
	}
	if got := rec.Header().Get("x-amz-request-id"); got != "4442587FB7D0A2F9" {
		t.Errorf("x-amz-request-id = %q", got)
	}
	if got := rec.Header().Get("x-amz-id-2"); got != "host-7" {
		t.Errorf("x-amz-id-2 = %q", got)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/xml" {
		t.Errorf("Content-Type = %q", ct)
	}
	if !strings.HasPrefix(rec.Body.String(), "<?xml") {
		t.Errorf("missing XML declaration: %q", rec.Body.String())
	}
	b := decodeBody(t, rec)
	if b.Code != NoSuchKey || b.Message != DefaultMessage(NoSuchKey) ||
		b.Resource != "/photos/2006/feb/a.jpg" || b.RequestID != "4442587FB7D0A2F9" ||
		b.HostID != "host-7" || b.Key != "2006/feb/a.jpg" || b.BucketName != "photos" {
		t.Errorf("body = %+v", b)
	}
}

func TestWriteExtraFieldsInOrder(t *testing.T) {
	r := httptest.NewRequest(http.MethodPut, "/b/k", nil)
	rec := httptest.NewRecorder()
	e := New(RequestTimeTooSkewed, "").With("RequestTime", "20130524T000000Z").
		With("ServerTime", "2013-05-24T01:00:00Z").With("MaxAllowedSkewMilliseconds", "900000")
	Write(rec, r, e, "id", "")
	body := rec.Body.String()
	i1 := strings.Index(body, "<RequestTime>20130524T000000Z</RequestTime>")
	i2 := strings.Index(body, "<ServerTime>")
	i3 := strings.Index(body, "<MaxAllowedSkewMilliseconds>900000</MaxAllowedSkewMilliseconds>")
	if i1 < 0 || i2 < i1 || i3 < i2 {
		t.Errorf("extra fields missing or out of order:\n%s", body)
	}
	if b := decodeBody(t, rec); b.Resource != "/b/k" {
		t.Errorf("Resource defaults to the request path, got %q", b.Resource)
	}
	if rec.Header().Get(HeaderHostID) != "" {
		t.Error("empty host id must not be sent")
	}
}

func TestWriteHidesInternalCauses(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/b", nil)
	rec := httptest.NewRecorder()
	Write(rec, r, errors.New("tenant 42 KEK unwrap failed"), "id", "")
	if rec.Code != 500 {
		t.Fatalf("status %d, want 500", rec.Code)
	}
	if strings.Contains(rec.Body.String(), "tenant 42") {
		t.Errorf("internal cause leaked: %s", rec.Body.String())
	}
	if b := decodeBody(t, rec); b.Code != InternalError {
		t.Errorf("code %s, want InternalError", b.Code)
	}
}

func TestWriteUnknownCodeBecomesInternalError(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/b", nil)
	rec := httptest.NewRecorder()
	Write(rec, r, New("MadeUpCode", "secret detail"), "id", "")
	b := decodeBody(t, rec)
	if rec.Code != 500 || b.Code != InternalError || strings.Contains(b.Message, "secret") {
		t.Errorf("got %d %+v", rec.Code, b)
	}
}

func TestWriteNoBodyForHeadAnd304(t *testing.T) {
	for _, tc := range []struct {
		method string
		code   Code
		status int
	}{
		{http.MethodHead, NoSuchKey, 404},
		{http.MethodHead, AccessDenied, 403},
		{http.MethodGet, NotModified, 304},
	} {
		r := httptest.NewRequest(tc.method, "/b/k", nil)
		rec := httptest.NewRecorder()
		Write(rec, r, New(tc.code, ""), "rid", "")
		if rec.Code != tc.status || rec.Body.Len() != 0 {
			t.Errorf("%s %s: status %d body %q", tc.method, tc.code, rec.Code, rec.Body.String())
		}
		if rec.Header().Get(HeaderRequestID) != "rid" {
			t.Errorf("%s %s: request id header missing", tc.method, tc.code)
		}
	}
}

func TestWriteRetryAfter(t *testing.T) {
	r := httptest.NewRequest(http.MethodPut, "/b/k", nil)
	rec := httptest.NewRecorder()
	e := New(SlowDown, "")
	e.RetryAfter = 1500 * time.Millisecond
	Write(rec, r, e, "id", "")
	if got := rec.Header().Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After = %q, want 2", got)
	}
	rec = httptest.NewRecorder()
	e = New(NoSuchKey, "")
	e.RetryAfter = time.Second
	Write(rec, r, e, "id", "")
	if rec.Header().Get("Retry-After") != "" {
		t.Error("Retry-After only belongs on 503 responses")
	}
}

// TestWriteDropsInvalidExtraNames: encoding/xml does not check element
// names, so an unchecked name would corrupt the body.
func TestWriteDropsInvalidExtraNames(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/b", nil)
	for _, name := range []string{"bad name<", "", "1abc", "xmlThing", "a>b"} {
		rec := httptest.NewRecorder()
		Write(rec, r, New(AccessDenied, "").With(name, "x").With("Good-Name_1.2", "y"), "id", "")
		b := decodeBody(t, rec)
		if rec.Code != 403 || b.Code != AccessDenied {
			t.Errorf("%q: got %d %s", name, rec.Code, b.Code)
		}
		if !strings.Contains(rec.Body.String(), "<Good-Name_1.2>y</Good-Name_1.2>") {
			t.Errorf("%q: valid extra field dropped: %s", name, rec.Body.String())
		}
		if strings.Contains(rec.Body.String(), ">x<") {
			t.Errorf("%q: invalid extra field rendered: %s", name, rec.Body.String())
		}
	}
}
