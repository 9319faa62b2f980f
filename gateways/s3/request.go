package s3

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/annal-storage/annal/commands"
	"github.com/annal-storage/annal/gateways/s3/s3err"
)

// readSmallBody reads a whole XML request body of at most limit bytes
// and returns it only when the verifier reached a clean EOF, so every
// integrity check (payload hash, Content-MD5, checksums, chunk
// signatures) has passed before the document is parsed.
func readSmallBody(c *call, limit int64) (*bytes.Reader, error) {
	b, err := io.ReadAll(io.LimitReader(c.res.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, s3err.Newf(s3err.MaxMessageLengthExceeded, "The request body exceeds %d bytes.", limit)
	}
	return bytes.NewReader(b), nil
}

// bodyLength is the decoded length a body-carrying write declared; S3
// needs it (411 otherwise) and caps single writes at 5 GiB.
func bodyLength(c *call) (int64, error) {
	n := c.res.Body.DecodedLength()
	switch {
	case n < 0:
		return 0, s3err.New(s3err.MissingContentLength, "")
	case n > putBytesMax:
		return 0, s3err.New(s3err.EntityTooLarge, "").With("ProposedSize", strconv.FormatInt(n, 10)).
			With("MaxSizeAllowed", strconv.FormatInt(putBytesMax, 10))
	}
	return n, nil
}

// intParam parses an optional non-negative integer query parameter.
func intParam(c *call, name string, def, limit int) (int, error) {
	v := c.req.Query.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, s3err.Newf(s3err.InvalidArgument, "Provided %s not an integer or within integer range", name).
			With("ArgumentName", name).With("ArgumentValue", v)
	}
	return min(n, limit), nil
}

// partNumber parses the partNumber query parameter (1 … 10,000).
func partNumber(c *call) (int32, error) {
	n, err := strconv.Atoi(c.req.Query.Get("partNumber"))
	if err != nil || n < 1 || n > 10000 {
		return 0, s3err.New(s3err.InvalidArgument, "Part number must be an integer between 1 and 10000, inclusive").
			With("ArgumentName", "partNumber").With("ArgumentValue", c.req.Query.Get("partNumber"))
	}
	return int32(n), nil
}

// byteRange is the part of an object a read returns.
type byteRange struct {
	off, n  int64
	partial bool // a satisfiable Range was given: answer 206
}

// parseRange applies an HTTP Range header to an object of size bytes
// (RFC 9110 §14): "bytes=a-b", "bytes=a-" and the suffix "bytes=-n". As
// in S3, a header that does not parse, or that asks for several ranges,
// is ignored and the whole object is returned; a range starting at or
// past the end (or any range of an empty object) is InvalidRange (416).
func parseRange(header string, size int64) (byteRange, error) {
	whole := byteRange{n: size}
	spec, ok := strings.CutPrefix(strings.TrimSpace(header), "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return whole, nil
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return whole, nil
	}
	if first == "" {
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n < 0 {
			return whole, nil
		}
		if n == 0 || size == 0 {
			return byteRange{}, unsatisfiable(header, size)
		}
		n = min(n, size)
		return byteRange{off: size - n, n: n, partial: true}, nil
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil || start < 0 {
		return whole, nil
	}
	end := size - 1
	if last != "" {
		if end, err = strconv.ParseInt(last, 10, 64); err != nil || end < start {
			return whole, nil
		}
	}
	if start >= size {
		return byteRange{}, unsatisfiable(header, size)
	}
	end = min(end, size-1)
	return byteRange{off: start, n: end - start + 1, partial: true}, nil
}

func unsatisfiable(header string, size int64) error {
	return s3err.New(s3err.InvalidRange, "").With("RangeRequested", header).
		With("ActualObjectSize", strconv.FormatInt(size, 10))
}

// etagMatches reports whether an If-Match / If-None-Match list names
// etag ("*" names any).
func etagMatches(list, etag string) bool {
	for _, v := range strings.Split(list, ",") {
		v = strings.TrimSpace(v)
		if v == "*" || quoteETag(v) == etag {
			return true
		}
	}
	return false
}

// parseHTTPTime reads an HTTP date; ok is false when it does not parse
// (such a condition is ignored, RFC 9110 §13.1.3).
func parseHTTPTime(v string) (time.Time, bool) {
	t, err := http.ParseTime(v)
	return t, err == nil
}

// readConditions evaluates GET/HEAD preconditions in RFC 9110 §13.2.2
// order: If-Match, else If-Unmodified-Since (412); then If-None-Match,
// else If-Modified-Since (304). names holds the four header names, so
// the same rules serve x-amz-copy-source-if-*.
func readConditions(hd http.Header, info commands.ObjectInfo, names [4]string) error {
	etag := info.ETag()
	mtime := time.Unix(0, info.MtimeNs).Truncate(time.Second)
	if v := hd.Get(names[0]); v != "" {
		if !etagMatches(v, etag) {
			return s3err.New(s3err.PreconditionFailed, "").With("Condition", "If-Match")
		}
	} else if t, ok := parseHTTPTime(hd.Get(names[1])); ok && mtime.After(t) {
		return s3err.New(s3err.PreconditionFailed, "").With("Condition", "If-Unmodified-Since")
	}
	if v := hd.Get(names[2]); v != "" {
		if etagMatches(v, etag) {
			return s3err.New(s3err.NotModified, "")
		}
	} else if t, ok := parseHTTPTime(hd.Get(names[3])); ok && !mtime.After(t) {
		return s3err.New(s3err.NotModified, "")
	}
	return nil
}

// getConditionHeaders and copyConditionHeaders name the four
// precondition headers of a read and of a copy source.
var (
	getConditionHeaders  = [4]string{"If-Match", "If-Unmodified-Since", "If-None-Match", "If-Modified-Since"}
	copyConditionHeaders = [4]string{"X-Amz-Copy-Source-If-Match", "X-Amz-Copy-Source-If-Unmodified-Since",
		"X-Amz-Copy-Source-If-None-Match", "X-Amz-Copy-Source-If-Modified-Since"}
)

// copyConditions evaluates x-amz-copy-source-if-* on the source: every
// failure is 412, as S3 answers for copies.
func copyConditions(hd http.Header, info commands.ObjectInfo) error {
	err := readConditions(hd, info, copyConditionHeaders)
	if s3err.CodeOf(err) == s3err.NotModified {
		return s3err.New(s3err.PreconditionFailed, "").With("Condition", "x-amz-copy-source-If-None-Match")
	}
	return err
}
