package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Wire constants of AWS Signature Version 4.
const (
	algorithmHMACSHA256 = "AWS4-HMAC-SHA256"
	scopeTerminator     = "aws4_request"
	iso8601Basic        = "20060102T150405Z"
	scopeDateLayout     = "20060102"
	emptySHA256Hex      = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	serviceS3           = "s3"
)

// uriEncode is AWS's UriEncode: every byte outside the unreserved set
// A-Z a-z 0-9 '-' '.' '_' '~' becomes %XX with upper-case hex. A '/' is
// kept when encodeSlash is false (object key paths) and encoded otherwise
// (query names and values). Input is treated as bytes, so UTF-8 is
// encoded byte by byte, as AWS does.
func uriEncode(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + len(s)/2)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) || (c == '/' && !encodeSlash) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0x0f])
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// canonicalURI is S3's CanonicalURI for a decoded request path: the path
// is URI-encoded as is, with no dot-segment removal and no slash merging,
// because "a//b" and "a/./b" are distinct S3 keys.
func canonicalURI(decodedPath string) string {
	if decodedPath == "" {
		return "/"
	}
	return uriEncode(decodedPath, false)
}

// queryPair is one decoded query parameter.
type queryPair struct{ name, value string }

// parseRawQuery splits a raw query into decoded pairs in wire order. A
// parameter without '=' has an empty value; empty segments ("a&&b") are
// dropped. '+' decodes to a space, as in every HTML-form-derived query.
func parseRawQuery(rawQuery string) ([]queryPair, error) {
	var pairs []queryPair
	for _, part := range strings.Split(rawQuery, "&") {
		if part == "" {
			continue
		}
		rawName, rawValue, _ := strings.Cut(part, "=")
		name, err := url.QueryUnescape(rawName)
		if err != nil {
			return nil, fmt.Errorf("query parameter name %q: %w", rawName, err)
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			return nil, fmt.Errorf("query parameter %q value: %w", name, err)
		}
		pairs = append(pairs, queryPair{name: name, value: value})
	}
	return pairs, nil
}

// canonicalQuery is the CanonicalQueryString: each name and value
// URI-encoded (slash included), sorted by encoded name then encoded value,
// joined with '&'. Parameters named exclude (the presigned signature) are
// left out.
func canonicalQuery(pairs []queryPair, exclude string) string {
	encoded := make([]queryPair, 0, len(pairs))
	for _, p := range pairs {
		if exclude != "" && p.name == exclude {
			continue
		}
		encoded = append(encoded, queryPair{uriEncode(p.name, true), uriEncode(p.value, true)})
	}
	sort.Slice(encoded, func(i, j int) bool {
		if encoded[i].name != encoded[j].name {
			return encoded[i].name < encoded[j].name
		}
		return encoded[i].value < encoded[j].value
	})
	var b strings.Builder
	for i, p := range encoded {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.name)
		b.WriteByte('=')
		b.WriteString(p.value)
	}
	return b.String()
}

// trimAll trims a header value and collapses runs of spaces to one, as
// the SigV4 CanonicalHeaders rule ("Trimall") requires.
func trimAll(v string) string {
	v = strings.TrimSpace(v)
	if !strings.Contains(v, "  ") {
		return v
	}
	var b strings.Builder
	b.Grow(len(v))
	space := false
	for i := 0; i < len(v); i++ {
		if v[i] == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// headerValues returns the received values of a signed header. net/http
// moves Host, and for chunked bodies Transfer-Encoding and
// Content-Length, out of Header, so those are rebuilt from the request.
func headerValues(r *http.Request, name string) []string {
	switch name {
	case "host":
		host := r.Host
		if host == "" && r.URL != nil {
			host = r.URL.Host
		}
		return []string{host}
	case "transfer-encoding":
		if vs := r.Header.Values(name); len(vs) > 0 {
			return vs
		}
		if len(r.TransferEncoding) > 0 {
			return []string{strings.Join(r.TransferEncoding, ",")}
		}
		return nil
	case "content-length":
		if vs := r.Header.Values(name); len(vs) > 0 {
			return vs
		}
		if r.ContentLength > 0 {
			return []string{strconv.FormatInt(r.ContentLength, 10)}
		}
		return nil
	}
	return r.Header.Values(name)
}

// canonicalHeaders renders "name:value\n" for each signed header, in the
// (already sorted) order of signed. Repeated headers join with ','.
func canonicalHeaders(r *http.Request, signed []string) string {
	var b strings.Builder
	for _, name := range signed {
		b.WriteString(name)
		b.WriteByte(':')
		for i, v := range headerValues(r, name) {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(trimAll(v))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// canonicalRequestParts are the six lines of a canonical request.
type canonicalRequestParts struct {
	method, uri, query, headers, signedHeaders, payloadHash string
}

func (p canonicalRequestParts) String() string {
	return p.method + "\n" + p.uri + "\n" + p.query + "\n" + p.headers + "\n" +
		p.signedHeaders + "\n" + p.payloadHash
}

// stringToSign is the SigV4 StringToSign for a canonical request.
func stringToSign(amzDate, scope, canonicalRequest string) string {
	sum := sha256.Sum256([]byte(canonicalRequest))
	return algorithmHMACSHA256 + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// signingKey derives kSigning = HMAC chain over date, region, service and
// "aws4_request", starting from "AWS4"+secret.
func signingKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, scopeTerminator)
}

// signatureHex is the lower-case hex HMAC of stringToSign under key.
func signatureHex(key []byte, stringToSign string) string {
	return hex.EncodeToString(hmacSHA256(key, stringToSign))
}

// signaturesEqual compares two hex signatures in constant time.
func signaturesEqual(a, b string) bool {
	return hmac.Equal([]byte(a), []byte(b))
}
