package s3

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/annal-storage/annal/commands"
	"github.com/annal-storage/annal/gateways/s3/route"
	"github.com/annal-storage/annal/gateways/s3/s3err"
)

// TestErrorTable: every domain error maps to a known S3 code and status,
// wrapped or not; specific sentinels win over general ones; S3 errors
// pass through; anything else is an InternalError that hides its cause.
func TestErrorTable(t *testing.T) {
	for _, c := range []struct {
		err    error
		op     route.Operation
		code   s3err.Code
		status int
	}{
		{commands.ErrNoSuchBucket, route.GetObject, s3err.NoSuchBucket, 404},
		{commands.ErrNamespaceSealed, route.PutObject, s3err.NoSuchBucket, 404},
		{commands.ErrNotFound, route.GetObject, s3err.NoSuchKey, 404},
		{commands.ErrNotFound, route.HeadBucket, s3err.NoSuchBucket, 404},
		{commands.ErrNoSuchVersion, route.GetObject, s3err.NoSuchVersion, 404},
		{commands.ErrNoSuchUpload, route.UploadPart, s3err.NoSuchUpload, 404},
		{commands.ErrAlreadyExists, route.CreateBucket, s3err.BucketAlreadyOwnedByYou, 409},
		{commands.ErrNotEmpty, route.DeleteBucket, s3err.BucketNotEmpty, 409},
		{commands.ErrPreconditionFailed, route.PutObject, s3err.PreconditionFailed, 412},
		{commands.ErrBadDigest, route.PutObject, s3err.BadDigest, 400},
		{commands.ErrInvalidPart, route.CompleteMultipartUpload, s3err.InvalidPart, 400},
		{commands.ErrInvalidPartOrder, route.CompleteMultipartUpload, s3err.InvalidPartOrder, 400},
		{commands.ErrEntityTooSmall, route.CompleteMultipartUpload, s3err.EntityTooSmall, 400},
		{commands.ErrParentNotDirectory, route.PutObject, s3err.InvalidArgument, 400},
		{commands.ErrIsDirectory, route.PutObject, s3err.InvalidArgument, 400},
		{commands.ErrInvalid, route.PutObject, s3err.InvalidArgument, 400},
		{commands.ErrAccessDenied, route.GetObject, s3err.AccessDenied, 403},
		{commands.ErrConflict, route.PutObject, s3err.SlowDown, 503},
		{context.DeadlineExceeded, route.PutObject, s3err.ServiceUnavailable, 503},
		{errors.New("disk on fire"), route.GetObject, s3err.InternalError, 500},
		{s3err.New(s3err.InvalidRange, ""), route.GetObject, s3err.InvalidRange, 416},
	} {
		for _, err := range []error{c.err, fmt.Errorf("put %q: %w", "k", c.err)} {
			e := toS3(err, c.op, "bucket", "key")
			if e.Code != c.code || e.Status() != c.status || !s3err.Known(e.Code) {
				t.Errorf("%v on %v: %s %d, want %s %d", err, c.op, e.Code, e.Status(), c.code, c.status)
			}
			if e.Resource == "" {
				t.Errorf("%v: no resource", err)
			}
			if strings.Contains(e.ClientMessage(), "disk on fire") || strings.Contains(e.ClientMessage(), `"k"`) {
				t.Errorf("%v: cause leaks into the message %q", err, e.ClientMessage())
			}
		}
	}
	if e := toS3(commands.ErrConflict, route.PutObject, "b", "k"); e.RetryAfter <= 0 {
		t.Error("ErrConflict carries no Retry-After")
	}
	for _, row := range errorTable {
		if !s3err.Known(row.code) {
			t.Errorf("table row %v has unknown code %s", row.err, row.code)
		}
	}
}

func TestParseRange(t *testing.T) {
	for _, c := range []struct {
		header  string
		size    int64
		off, n  int64
		partial bool
		bad     bool
	}{
		{"", 10, 0, 10, false, false},
		{"bytes=0-0", 10, 0, 1, true, false},
		{"bytes=2-5", 10, 2, 4, true, false},
		{"bytes=2-", 10, 2, 8, true, false},
		{"bytes=-3", 10, 7, 3, true, false},
		{"bytes=-30", 10, 0, 10, true, false},
		{"bytes=8-100", 10, 8, 2, true, false},
		{" bytes=1-2 ", 10, 1, 2, true, false},
		{"bytes=10-", 10, 0, 0, false, true},
		{"bytes=10-20", 10, 0, 0, false, true},
		{"bytes=-0", 10, 0, 0, false, true},
		{"bytes=0-", 0, 0, 0, false, true},
		{"bytes=-5", 0, 0, 0, false, true},
		{"bytes=5-2", 10, 0, 10, false, false},
		{"bytes=0-1,3-4", 10, 0, 10, false, false},
		{"bytes=a-b", 10, 0, 10, false, false},
		{"bytes=-", 10, 0, 10, false, false},
		{"lines=1-2", 10, 0, 10, false, false},
		{"bytes=-1-2", 10, 0, 10, false, false},
	} {
		r, err := parseRange(c.header, c.size)
		if c.bad {
			if s3err.CodeOf(err) != s3err.InvalidRange {
				t.Errorf("%q of %d: %v, want InvalidRange", c.header, c.size, err)
			}
			continue
		}
		if err != nil || r.off != c.off || r.n != c.n || r.partial != c.partial {
			t.Errorf("%q of %d: %+v %v, want off %d n %d partial %v", c.header, c.size, r, err, c.off, c.n, c.partial)
		}
	}
}

// TestReadConditions: RFC 9110 §13.2.2 evaluation order and results.
func TestReadConditions(t *testing.T) {
	mtime := time.Date(2026, 5, 1, 12, 0, 0, 500, time.UTC)
	info := commands.ObjectInfo{MtimeNs: mtime.UnixNano()}
	info.Attrs.ETag = `"abc"`
	at := func(d time.Duration) string { return mtime.Add(d).Format(http.TimeFormat) }
	for _, c := range []struct {
		header []string
		want   s3err.Code
	}{
		{nil, ""},
		{[]string{"If-Match", `"abc"`}, ""},
		{[]string{"If-Match", `abc`}, ""},
		{[]string{"If-Match", `"x", "abc"`}, ""},
		{[]string{"If-Match", `*`}, ""},
		{[]string{"If-Match", `"x"`}, s3err.PreconditionFailed},
		{[]string{"If-None-Match", `"abc"`}, s3err.NotModified},
		{[]string{"If-None-Match", `W/"abc"`}, s3err.NotModified},
		{[]string{"If-None-Match", `*`}, s3err.NotModified},
		{[]string{"If-None-Match", `"x"`}, ""},
		{[]string{"If-Modified-Since", at(0)}, s3err.NotModified},
		{[]string{"If-Modified-Since", at(-time.Second)}, ""},
		{[]string{"If-Modified-Since", "not a date"}, ""},
		{[]string{"If-Unmodified-Since", at(0)}, ""},
		{[]string{"If-Unmodified-Since", at(-time.Second)}, s3err.PreconditionFailed},
		{[]string{"If-Match", `"abc"`, "If-Unmodified-Since", at(-time.Hour)}, ""},
		{[]string{"If-None-Match", `"x"`, "If-Modified-Since", at(time.Hour)}, ""},
		{[]string{"If-Match", `"x"`, "If-None-Match", `"abc"`}, s3err.PreconditionFailed},
	} {
		h := http.Header{}
		for i := 0; i < len(c.header); i += 2 {
			h.Set(c.header[i], c.header[i+1])
		}
		if got := s3err.CodeOf(readConditions(h, info, getConditionHeaders)); got != c.want {
			t.Errorf("%v: %q, want %q", c.header, got, c.want)
		}
	}
	h := http.Header{}
	h.Set("X-Amz-Copy-Source-If-None-Match", `"abc"`)
	if got := s3err.CodeOf(copyConditions(h, info)); got != s3err.PreconditionFailed {
		t.Errorf("copy-source-if-none-match: %q", got)
	}
}

func TestObjectAttrsFromHeaders(t *testing.T) {
	h := http.Header{}
	h.Set("Content-Type", "text/plain")
	h.Set("Content-Encoding", "aws-chunked, gzip")
	h.Set("X-Amz-Meta-Zeta", "last")
	h.Set("X-Amz-Meta-Alpha", "first")
	h.Set("X-Amz-Tagging", "b=2&a=1")
	a, err := objectAttrs(h)
	if err != nil {
		t.Fatal(err)
	}
	if a.ContentType != "text/plain" || a.ContentEncoding != "gzip" || len(a.UserMeta) != 2 || a.UserMeta[0].K != "alpha" ||
		len(a.Tags) != 2 || a.Tags[0].K != "a" {
		t.Errorf("%+v", a)
	}
	h.Set("X-Amz-Meta-Big", strings.Repeat("x", 2048))
	if _, err := objectAttrs(h); s3err.CodeOf(err) != s3err.MetadataTooLarge {
		t.Errorf("2 KiB of metadata: %v", err)
	}
	h = http.Header{}
	h.Set("X-Amz-Tagging", "a=1&a=2")
	if _, err := objectAttrs(h); s3err.CodeOf(err) != s3err.InvalidTag {
		t.Errorf("duplicate tag: %v", err)
	}
}

func TestWriteOptionRules(t *testing.T) {
	for _, c := range []struct {
		header []string
		want   s3err.Code
	}{
		{nil, ""},
		{[]string{"X-Amz-Server-Side-Encryption", "AES256"}, ""},
		{[]string{"X-Amz-Server-Side-Encryption", "aws:kms"}, s3err.InvalidArgument},
		{[]string{"X-Amz-Server-Side-Encryption", "rot13"}, s3err.InvalidArgument},
		{[]string{"X-Amz-Server-Side-Encryption-Customer-Algorithm", "AES256"}, s3err.InvalidRequest},
		{[]string{"X-Amz-Acl", "private"}, ""},
		{[]string{"X-Amz-Acl", "public-read"}, s3err.NotImplemented},
		{[]string{"X-Amz-Grant-Read", "id=x"}, s3err.NotImplemented},
		{[]string{"X-Amz-Storage-Class", "STANDARD_IA"}, ""},
		{[]string{"X-Amz-Storage-Class", "FLOPPY"}, s3err.InvalidStorageClass},
		{[]string{"X-Amz-Object-Lock-Mode", "GOVERNANCE"}, s3err.NotImplemented},
	} {
		r, _ := http.NewRequest("PUT", "/b/k", nil)
		for i := 0; i < len(c.header); i += 2 {
			r.Header.Set(c.header[i], c.header[i+1])
		}
		if got := s3err.CodeOf(checkWriteOptions(&call{r: r})); got != c.want {
			t.Errorf("%v: %q, want %q", c.header, got, c.want)
		}
	}
	for _, c := range []struct {
		none, match string
		want        commands.Conditions
		code        s3err.Code
	}{
		{"*", "", commands.Conditions{IfNoneMatchStar: true}, ""},
		{"", `abc`, commands.Conditions{IfMatch: `"abc"`}, ""},
		{`"abc"`, "", commands.Conditions{}, s3err.NotImplemented},
	} {
		h := http.Header{}
		h.Set("If-None-Match", c.none)
		h.Set("If-Match", c.match)
		got, err := writeConditions(h)
		if s3err.CodeOf(err) != c.code || (err == nil && got != c.want) {
			t.Errorf("If-None-Match %q If-Match %q: %+v %v", c.none, c.match, got, err)
		}
	}
}

func TestWorkflowRefReachesContext(t *testing.T) {
	for _, ref := range []string{"00112233445566778899aabbccddeeff", "  spaces and ünïcode  ", ""} {
		r, _ := http.NewRequest("GET", "/b/k", nil)
		r.Header.Set(WorkflowRefHeader, ref)
		if got, ok := commands.WorkflowRef(requestContext(r)); !ok || got != ref {
			t.Errorf("%q arrived as %q (%v)", ref, got, ok)
		}
	}
	r, _ := http.NewRequest("GET", "/b/k", nil)
	if _, ok := commands.WorkflowRef(requestContext(r)); ok {
		t.Error("a request without the header carries a workflow ref")
	}
}

// FuzzParseRange: any Range header against any size either is refused
// with InvalidRange or selects bytes inside the object.
func FuzzParseRange(f *testing.F) {
	for _, h := range []string{"bytes=0-9", "bytes=-5", "bytes=7-", "bytes=1-2,4-5", "bytes=99999999999999999999-", ""} {
		f.Add(h, int64(100))
	}
	f.Fuzz(func(t *testing.T, header string, size int64) {
		if size < 0 {
			size = -size
		}
		if size < 0 { // math.MinInt64
			return
		}
		r, err := parseRange(header, size)
		if err != nil {
			if s3err.CodeOf(err) != s3err.InvalidRange {
				t.Fatalf("%q of %d: %v", header, size, err)
			}
			return
		}
		if r.off < 0 || r.n < 0 || r.off+r.n > size || (!r.partial && (r.off != 0 || r.n != size)) || (r.partial && r.n == 0) {
			t.Fatalf("%q of %d: %+v", header, size, r)
		}
	})
}
