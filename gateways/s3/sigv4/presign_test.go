package sigv4

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/annal-storage/annal/gateways/s3/s3err"
)

// Goal: presigned (query-string) requests follow S3's rules for expiry,
// early use, parameter shape and payload hash. Method: presign with this
// package's canonicaliser, then vary the clock and the parameters.

type presignSpec struct {
	method  string
	path    string
	expires string
	extra   url.Values // added before signing
	at      time.Time
}

func presign(p presignSpec) (target string) {
	if p.at.IsZero() {
		p.at = docTime
	}
	amzDate := p.at.Format(iso8601Basic)
	q := url.Values{}
	for k, vs := range p.extra {
		q[k] = vs
	}
	q.Set(queryAlgorithm, algorithmHMACSHA256)
	q.Set(queryCredential, docAccessKey+"/"+amzDate[:8]+"/us-east-1/s3/aws4_request")
	q.Set(queryDate, amzDate)
	q.Set(queryExpires, p.expires)
	q.Set(querySignedHeaders, "host")
	raw := strings.ReplaceAll(q.Encode(), "+", "%20")
	r := serverRequest(p.method, p.path+"?"+raw, "bucket.s3.example.com", nil, nil)
	a, err := parseRequestAuthorization(r)
	if err != nil {
		// Shape errors are the point of some cases: sign anyway so the
		// verifier, not the helper, reports them.
		a = authorization{presigned: true, signedHeaders: []string{"host"}, signedHeadersText: "host",
			credential: credentialScope{docAccessKey, amzDate[:8], "us-east-1", "s3"}, amzDate: amzDate}
		a.query, _ = parseRawQuery(raw)
	}
	payload := UnsignedPayload
	if v := q.Get(queryContentSHA256); v != "" {
		payload = v
	}
	cr := buildCanonicalRequest(r, a, canonicalURI(r.URL.Path), payload)
	key := signingKey(docSecret, amzDate[:8], "us-east-1", "s3")
	sig := signatureHex(key, stringToSign(amzDate, amzDate[:8]+"/us-east-1/s3/aws4_request", cr))
	return p.path + "?" + raw + "&" + querySignature + "=" + sig
}

func verifyPresigned(t *testing.T, target string, now time.Time) (*Result, error) {
	t.Helper()
	r := serverRequest("GET", target, "bucket.s3.example.com", nil, nil)
	return newTestVerifier(t, now).Verify(r)
}

func TestPresignedAcceptedWithinWindow(t *testing.T) {
	target := presign(presignSpec{method: "GET", path: "/photos/a%20b%2Bc.jpg", expires: "3600",
		extra: url.Values{"response-content-type": {"image/jpeg"}}})
	for _, now := range []time.Time{docTime.Add(-14 * time.Minute), docTime, docTime.Add(time.Hour)} {
		res, err := verifyPresigned(t, target, now)
		if err != nil {
			t.Fatalf("at %v: %v", now, err)
		}
		if !res.Presigned || res.Mode != PayloadUnsigned || res.Principal != "principal:"+docAccessKey {
			t.Errorf("result %+v", res)
		}
	}
}

func TestPresignedTimeRules(t *testing.T) {
	target := presign(presignSpec{method: "GET", path: "/k", expires: "60"})
	_, err := verifyPresigned(t, target, docTime.Add(61*time.Second))
	wantCode(t, err, s3err.AccessDenied)
	if !strings.Contains(s3err.As(err).Message, "expired") {
		t.Errorf("message %q", s3err.As(err).Message)
	}
	_, err = verifyPresigned(t, target, docTime.Add(-16*time.Minute))
	wantCode(t, err, s3err.AccessDenied)
	if !strings.Contains(s3err.As(err).Message, "not valid yet") {
		t.Errorf("message %q", s3err.As(err).Message)
	}
	week := presign(presignSpec{method: "GET", path: "/k", expires: strconv.Itoa(7 * 24 * 3600)})
	if _, err := verifyPresigned(t, week, docTime.Add(7*24*time.Hour)); err != nil {
		t.Errorf("a seven-day URL at its last second: %v", err)
	}
}

func TestPresignedParameterShape(t *testing.T) {
	for _, tc := range []struct {
		name    string
		target  string
		code    s3err.Code
		mutator func(string) string
	}{
		{name: "expires over a week", target: presign(presignSpec{method: "GET", path: "/k", expires: "604801"}), code: s3err.AuthorizationQueryParametersError},
		{name: "expires not a number", target: presign(presignSpec{method: "GET", path: "/k", expires: "soon"}), code: s3err.AuthorizationQueryParametersError},
		{name: "negative expires", target: presign(presignSpec{method: "GET", path: "/k", expires: "-1"}), code: s3err.AuthorizationQueryParametersError},
		{name: "missing expires", target: presign(presignSpec{method: "GET", path: "/k", expires: "60"}), code: s3err.AuthorizationQueryParametersError,
			mutator: func(s string) string { return strings.Replace(s, "X-Amz-Expires=60&", "", 1) }},
		{name: "duplicate date", target: presign(presignSpec{method: "GET", path: "/k", expires: "60"}), code: s3err.AuthorizationQueryParametersError,
			mutator: func(s string) string { return s + "&X-Amz-Date=20130524T000000Z" }},
		{name: "wrong algorithm", target: presign(presignSpec{method: "GET", path: "/k", expires: "60"}), code: s3err.AuthorizationQueryParametersError,
			mutator: func(s string) string { return strings.Replace(s, "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512", 1) }},
		{name: "bad date", target: presign(presignSpec{method: "GET", path: "/k", expires: "60"}), code: s3err.AuthorizationQueryParametersError,
			mutator: func(s string) string {
				return strings.Replace(s, "X-Amz-Date=20130524T000000Z", "X-Amz-Date=2013-05-24", 1)
			}},
		{name: "tampered extra param", target: presign(presignSpec{method: "GET", path: "/k", expires: "60", extra: url.Values{"versionId": {"1"}}}),
			code: s3err.SignatureDoesNotMatch, mutator: func(s string) string { return strings.Replace(s, "versionId=1", "versionId=2", 1) }},
		{name: "added param", target: presign(presignSpec{method: "GET", path: "/k", expires: "60"}), code: s3err.SignatureDoesNotMatch,
			mutator: func(s string) string { return s + "&partNumber=1" }},
		{name: "signed streaming", target: presign(presignSpec{method: "GET", path: "/k", expires: "60",
			extra: url.Values{queryContentSHA256: {"STREAMING-AWS4-HMAC-SHA256-PAYLOAD"}}}), code: s3err.InvalidRequest},
		{name: "literal hash in query", target: presign(presignSpec{method: "GET", path: "/k", expires: "60",
			extra: url.Values{queryContentSHA256: {emptySHA256Hex}}})},
	} {
		target := tc.target
		if tc.mutator != nil {
			target = tc.mutator(target)
		}
		_, err := verifyPresigned(t, target, docTime)
		if got := s3err.CodeOf(err); got != tc.code {
			t.Errorf("%s: code %q (%v), want %q", tc.name, got, err, tc.code)
		}
	}
}

func TestPresignedRefusesUnsignedAmzHeader(t *testing.T) {
	target := presign(presignSpec{method: "PUT", path: "/k", expires: "60"})
	r := serverRequest("PUT", target, "bucket.s3.example.com", nil, nil)
	r.Header.Set("X-Amz-Copy-Source", "/victim/key")
	_, err := newTestVerifier(t, docTime).Verify(r)
	wantCode(t, err, s3err.AccessDenied)
}
