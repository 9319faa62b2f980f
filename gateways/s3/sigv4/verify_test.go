package sigv4

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/annal-storage/annal/gateways/s3/s3err"
)

// Goal: every refusal Verify can make carries the code AWS uses, and
// every accepted request yields the right principal and body. Method:
// requests signed by this package's test signer (the canonicaliser itself
// is pinned by the AWS vectors and the SDK tests), mutated one field at a
// time.

// signedRequest builds and signs a request at docTime for us-east-1,
// signing every header it carries. hdr is name, value pairs.
func signedRequest(method, target string, body []byte, payloadHash string, hdr ...string) *http.Request {
	h := http.Header{}
	for i := 0; i < len(hdr); i += 2 {
		h.Add(hdr[i], hdr[i+1])
	}
	r := serverRequest(method, target, "bucket.s3.example.com", h, body)
	r.Header.Set("X-Amz-Date", docTime.Format(iso8601Basic))
	r.Header.Set("X-Amz-Content-Sha256", payloadHash)
	signForTest(r, docTime, "us-east-1", allSignedHeaders(r), payloadHash)
	return r
}

func verifyErr(t *testing.T, r *http.Request) error {
	t.Helper()
	_, err := newTestVerifier(t, docTime).Verify(r)
	return err
}

func TestVerifyAcceptsSignedGet(t *testing.T) {
	r := signedRequest("GET", "/key%20with%20space?versionId=3&list-type=2", nil, emptySHA256Hex)
	res, err := newTestVerifier(t, docTime).Verify(r)
	if err != nil {
		t.Fatal(err)
	}
	if res.Principal != "principal:"+docAccessKey || res.Mode != PayloadSHA256 || res.Presigned {
		t.Errorf("result %+v", res)
	}
	if b, err := io.ReadAll(res.Body); err != nil || len(b) != 0 {
		t.Errorf("body %q err %v", b, err)
	}
}

func TestVerifyRefusesAnonymousAndMixedAuth(t *testing.T) {
	anon := serverRequest("GET", "/k", "h", nil, nil)
	wantCode(t, verifyErr(t, anon), s3err.AccessDenied)

	mixed := signedRequest("GET", "/k?X-Amz-Algorithm=AWS4-HMAC-SHA256", nil, emptySHA256Hex)
	wantCode(t, verifyErr(t, mixed), s3err.InvalidArgument)

	double := signedRequest("GET", "/k", nil, emptySHA256Hex)
	double.Header.Add("Authorization", double.Header.Get("Authorization"))
	wantCode(t, verifyErr(t, double), s3err.AuthorizationHeaderMalformed)

	v2query := serverRequest("GET", "/k?AWSAccessKeyId=AKID&Signature=abc&Expires=1", "h", nil, nil)
	wantCode(t, verifyErr(t, v2query), s3err.InvalidRequest)
}

func TestVerifyAuthorizationHeaderShapes(t *testing.T) {
	good := signedRequest("GET", "/k", nil, emptySHA256Hex).Header.Get("Authorization")
	cred := "Credential=" + docAccessKey + "/20130524/us-east-1/s3/aws4_request"
	sig := "Signature=" + strings.Repeat("a", 64)
	for _, tc := range []struct {
		header string
		code   s3err.Code
	}{
		{"AWS " + docAccessKey + ":frJIUN8DYpKDtOLCwo//yllqDzg=", s3err.InvalidRequest},
		{"AWS4-ECDSA-P256-SHA256 " + cred, s3err.NotImplemented},
		{"Bearer token", s3err.InvalidArgument},
		{"AWS4-HMAC-SHA256", s3err.AuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 " + cred + ", " + sig, s3err.AuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host, SignedHeaders=host, " + sig, s3err.AuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host, " + sig + ", Extra=1", s3err.AuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 Credential=" + docAccessKey + "/20130524/us-east-1/s3, SignedHeaders=host, " + sig, s3err.AuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 Credential=" + docAccessKey + "/2013052/us-east-1/s3/aws4_request, SignedHeaders=host, " + sig, s3err.AuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 Credential=/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, " + sig, s3err.AuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=x-amz-date, " + sig, s3err.AuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=x-amz-date;host, " + sig, s3err.AuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=Host, " + sig, s3err.AuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host;;x-amz-date, " + sig, s3err.AuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host, Signature=ABC", s3err.AuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host, Signature=" + strings.Repeat("A", 64), s3err.AuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 Credential=" + docAccessKey + "/20130524/us-east-1/ec2/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, " + sig, s3err.AuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 Credential=" + docAccessKey + "/20130525/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, " + sig, s3err.AuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 Credential=NOSUCHKEY/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, " + sig, s3err.InvalidAccessKeyID},
		{good[:len(good)-1] + flipLast(good), s3err.SignatureDoesNotMatch},
		{strings.ReplaceAll(good, ", ", ","), ""},
		{strings.Replace(good, "AWS4-HMAC-SHA256 ", "  AWS4-HMAC-SHA256 ", 1), ""},
	} {
		r := signedRequest("GET", "/k", nil, emptySHA256Hex)
		r.Header.Set("Authorization", tc.header)
		err := verifyErr(t, r)
		if got := s3err.CodeOf(err); got != tc.code {
			t.Errorf("%q: code %q (%v), want %q", tc.header, got, err, tc.code)
		}
	}
}

func TestVerifySignatureMismatchExplains(t *testing.T) {
	r := signedRequest("GET", "/k", nil, emptySHA256Hex)
	r.URL.Path = "/other"
	err := verifyErr(t, r)
	wantCode(t, err, s3err.SignatureDoesNotMatch)
	e := s3err.As(err)
	fields := map[string]string{}
	for _, f := range e.Extra {
		fields[f.Name] = f.Value
	}
	if !strings.Contains(fields["CanonicalRequest"], "\n/other\n") || fields["AWSAccessKeyId"] != docAccessKey ||
		!strings.HasPrefix(fields["StringToSign"], "AWS4-HMAC-SHA256\n20130524T000000Z\n") {
		t.Errorf("diagnostic fields %v", fields)
	}
	if strings.Contains(e.Error(), docSecret) {
		t.Error("the secret must never appear in an error")
	}
}

func TestVerifyRegionAndCredentialsErrors(t *testing.T) {
	r := signedRequest("GET", "/k", nil, emptySHA256Hex)
	v, _ := New(Config{Credentials: staticCredentials{docAccessKey: docSecret}, Now: fixedClock(docTime), Region: "eu-west-1"})
	_, err := v.Verify(r)
	wantCode(t, err, s3err.AuthorizationHeaderMalformed)

	boom := errors.New("identity store down")
	v, _ = New(Config{Now: fixedClock(docTime), Credentials: CredentialsFunc(func(context.Context, string) (string, any, error) {
		return "", nil, boom
	})})
	_, err = v.Verify(signedRequest("GET", "/k", nil, emptySHA256Hex))
	wantCode(t, err, s3err.InternalError)
	if !errors.Is(err, boom) {
		t.Error("the lookup failure must stay in the chain for logs")
	}
	if _, err := New(Config{Now: fixedClock(docTime)}); err == nil {
		t.Error("New must require Credentials")
	}
	if _, err := New(Config{Credentials: staticCredentials{}}); err == nil {
		t.Error("New must require a clock")
	}
}

func TestVerifyClockSkew(t *testing.T) {
	for _, tc := range []struct {
		offset time.Duration
		code   s3err.Code
	}{
		{0, ""}, {14*time.Minute + 59*time.Second, ""}, {-15 * time.Minute, ""},
		{15*time.Minute + time.Second, s3err.RequestTimeTooSkewed},
		{-16 * time.Minute, s3err.RequestTimeTooSkewed},
	} {
		r := signedRequest("GET", "/k", nil, emptySHA256Hex)
		_, err := newTestVerifier(t, docTime.Add(tc.offset)).Verify(r)
		if got := s3err.CodeOf(err); got != tc.code {
			t.Errorf("offset %v: %q (%v), want %q", tc.offset, got, err, tc.code)
		}
	}
}

func TestVerifyDateHeaderFallback(t *testing.T) {
	h := http.Header{}
	h.Set("Date", "Fri, 24 May 2013 00:00:00 GMT")
	r := serverRequest("GET", "/k", "h", h, nil)
	r.Header.Set("X-Amz-Content-Sha256", emptySHA256Hex)
	signForTest(r, docTime, "us-east-1", []string{"date", "host", "x-amz-content-sha256"}, emptySHA256Hex)
	r.Header.Del("X-Amz-Date") // signed via Date only
	if _, err := newTestVerifier(t, docTime).Verify(r); err != nil {
		t.Fatalf("Date-only request refused: %v", err)
	}
	r.Header.Set("Date", "yesterday")
	wantCode(t, verifyErr(t, r), s3err.AccessDenied)
}

func TestVerifyRefusesUnsignedAmzHeaders(t *testing.T) {
	r := signedRequest("PUT", "/k", nil, emptySHA256Hex)
	r.Header.Set("X-Amz-Copy-Source", "/other/secret")
	err := verifyErr(t, r)
	wantCode(t, err, s3err.AccessDenied)
	if !strings.Contains(s3err.As(err).Extra[0].Value, "x-amz-copy-source") {
		t.Errorf("HeadersNotSigned should name the header: %+v", s3err.As(err).Extra)
	}
	// Unsigned non-amz headers are fine (proxies add them).
	r = signedRequest("PUT", "/k", nil, emptySHA256Hex)
	r.Header.Set("User-Agent", "x")
	r.Header.Set("X-Forwarded-For", "10.0.0.1")
	if err := verifyErr(t, r); err != nil {
		t.Errorf("unsigned non-amz header refused: %v", err)
	}
}

// curlSigned signs like curl --aws-sigv4: the body's SHA-256 ends the
// canonical request but no x-amz-content-sha256 header is sent.
func curlSigned(method string, signedBody, sentBody []byte) *http.Request {
	r := serverRequest(method, "/k", "bucket.s3.example.com", http.Header{}, sentBody)
	r.Header.Set("X-Amz-Date", docTime.Format(iso8601Basic))
	signForTest(r, docTime, "us-east-1", []string{"host", "x-amz-date"}, sha256Hex(signedBody))
	r.Header.Del("X-Amz-Content-Sha256")
	return r
}

// TestVerifyWithoutContentSHA256Header: without x-amz-content-sha256 a
// bodiless request is verified at once with the empty payload's hash;
// one with a body is signed over the body's hash, so its signature is
// checked when the body ends, and a body other than the signed one is
// SignatureDoesNotMatch there.
func TestVerifyWithoutContentSHA256Header(t *testing.T) {
	if err := verifyErr(t, curlSigned("GET", nil, nil)); err != nil {
		t.Errorf("bodiless request: %v", err)
	}
	wantCode(t, verifyErr(t, curlSigned("GET", []byte("x"), nil)), s3err.SignatureDoesNotMatch)
	body := []byte("signed over the body's hash")
	for _, c := range []struct {
		sent []byte
		want s3err.Code
	}{{body, ""}, {[]byte("a different body of some length"), s3err.SignatureDoesNotMatch}} {
		res, got, err := readAll(t, curlSigned("PUT", body, c.sent))
		if !res.SignaturePending || res.Mode != PayloadDeferredSHA256 || s3err.CodeOf(err) != c.want || !bytes.Equal(got, c.sent) {
			t.Errorf("sent %q: pending %v mode %v err %v", c.sent, res.SignaturePending, res.Mode, err)
		}
	}
}

func TestVerifyContentSHA256Header(t *testing.T) {

	for _, bad := range []string{"UNSIGNED", strings.Repeat("z", 64), strings.Repeat("a", 63)} {
		r := signedRequest("PUT", "/k", nil, bad)
		wantCode(t, verifyErr(t, r), s3err.InvalidArgument)
	}
	r := signedRequest("PUT", "/k", nil, "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD")
	wantCode(t, verifyErr(t, r), s3err.NotImplemented)
}

// readAll verifies r and reads its body, returning the bytes and the
// error Read ended with (nil for io.EOF).
func readAll(t *testing.T, r *http.Request) (*Result, []byte, error) {
	t.Helper()
	res, err := newTestVerifier(t, docTime).Verify(r)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	b, err := io.ReadAll(res.Body)
	return res, b, err
}

func TestBodyLiteralSHA256(t *testing.T) {
	body := []byte("hello, annal")
	_, got, err := readAll(t, signedRequest("PUT", "/k", body, sha256Hex(body)))
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("got %q, %v", got, err)
	}
	// Signed for one body, sent with another: the signature covers only
	// the hash, so Verify passes and the body check fails at EOF.
	r := signedRequest("PUT", "/k", body, sha256Hex([]byte("something else")))
	res, got, err := readAll(t, r)
	wantCode(t, err, s3err.XAmzContentSHA256Mismatch)
	if !bytes.Equal(got, body) || res.Body.Checksums() != nil {
		t.Errorf("bytes before the failure should be delivered, checksums withheld: %q", got)
	}
	if _, err2 := res.Body.Read(make([]byte, 1)); s3err.CodeOf(err2) != s3err.XAmzContentSHA256Mismatch {
		t.Error("the failure must be sticky")
	}
}

func TestBodyContentMD5(t *testing.T) {
	body := []byte("md5 me")
	sum := md5.Sum(body)
	good := base64.StdEncoding.EncodeToString(sum[:])
	_, _, err := readAll(t, signedRequest("PUT", "/k", body, UnsignedPayload, "Content-MD5", good))
	if err != nil {
		t.Errorf("good Content-MD5 refused: %v", err)
	}
	other := md5.Sum([]byte("other"))
	_, _, err = readAll(t, signedRequest("PUT", "/k", body, UnsignedPayload, "Content-MD5", base64.StdEncoding.EncodeToString(other[:])))
	wantCode(t, err, s3err.BadDigest)
	for _, bad := range []string{"not base64!", base64.StdEncoding.EncodeToString([]byte("short"))} {
		wantCode(t, verifyErr(t, signedRequest("PUT", "/k", body, UnsignedPayload, "Content-MD5", bad)), s3err.InvalidDigest)
	}
}

func checksumOf(alg ChecksumAlgorithm, b []byte) string {
	h := alg.New()
	h.Write(b)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

func TestBodyChecksumHeaders(t *testing.T) {
	body := []byte("checksummed payload")
	for _, alg := range checksumAlgorithms {
		res, _, err := readAll(t, signedRequest("PUT", "/k", body, UnsignedPayload,
			alg.HeaderName(), checksumOf(alg, body), "x-amz-sdk-checksum-algorithm", string(alg)))
		if err != nil {
			t.Errorf("%s: %v", alg, err)
			continue
		}
		if cs := res.Body.Checksums(); len(cs) != 1 || cs[0].Algorithm != alg || cs[0].Value != checksumOf(alg, body) {
			t.Errorf("%s: Checksums() = %v", alg, cs)
		}
		_, _, err = readAll(t, signedRequest("PUT", "/k", body, UnsignedPayload, alg.HeaderName(), checksumOf(alg, []byte("x"))))
		wantCode(t, err, s3err.BadDigest)
	}
	refused := [][]string{
		{"x-amz-checksum-crc32", "!!!"},
		{"x-amz-checksum-crc32", checksumOf(SHA256, body)},
		{"x-amz-checksum-crc32", checksumOf(CRC32, body), "x-amz-checksum-sha256", checksumOf(SHA256, body)},
		{"x-amz-checksum-crc32", checksumOf(CRC32, body), "x-amz-sdk-checksum-algorithm", "SHA256"},
		{"x-amz-sdk-checksum-algorithm", "MD5"},
	}
	for _, hdr := range refused {
		wantCode(t, verifyErr(t, signedRequest("PUT", "/k", body, UnsignedPayload, hdr...)), s3err.InvalidRequest)
	}
	// A declared algorithm without a value is computed for the response.
	res, _, err := readAll(t, signedRequest("PUT", "/k", body, UnsignedPayload, "x-amz-sdk-checksum-algorithm", "crc64nvme"))
	if err != nil || len(res.Body.Checksums()) != 1 || res.Body.Checksums()[0].Value != checksumOf(CRC64NVME, body) {
		t.Errorf("declared algorithm: %v %v", res.Body.Checksums(), err)
	}
}

// TestObjectChecksumHeaders: for CompleteMultipartUpload the checksum
// header describes the object, so it is reported, not checked, and may
// be a composite "<base64>-<parts>".
func TestObjectChecksumHeaders(t *testing.T) {
	body := []byte("<CompleteMultipartUpload/>")
	r := signedRequest("POST", "/b/k?uploadId=u", body, sha256Hex(body), "x-amz-checksum-crc32c", "sOO8/Q==-3")
	wantCode(t, verifyErr(t, r), s3err.InvalidRequest) // as a body checksum it is malformed

	r = signedRequest("POST", "/b/k?uploadId=u", body, sha256Hex(body), "x-amz-checksum-crc32c", "sOO8/Q==-3")
	res, err := newTestVerifier(t, docTime).VerifyWith(r, Options{ObjectChecksumHeaders: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(res.Body); err != nil {
		t.Fatalf("body: %v", err)
	}
	if hc := res.HeaderChecksum; hc == nil || *hc != (Checksum{CRC32C, "sOO8/Q==-3"}) {
		t.Errorf("HeaderChecksum %+v", hc)
	}

	// Without the option a well-formed but wrong header fails at EOF, and
	// the header is still reported.
	r = signedRequest("PUT", "/b/k", body, sha256Hex(body), "x-amz-checksum-crc32c", "sOO8/Q==")
	res, _, err = readAll(t, r)
	wantCode(t, err, s3err.BadDigest)
	if res.HeaderChecksum == nil || res.HeaderChecksum.Value != "sOO8/Q==" {
		t.Errorf("HeaderChecksum %+v", res.HeaderChecksum)
	}
}

func TestCRC64NVMECheckValue(t *testing.T) {
	h := CRC64NVME.New()
	h.Write([]byte("123456789"))
	if got := h.Sum(nil); !bytes.Equal(got, []byte{0xae, 0x8b, 0x14, 0x86, 0x0a, 0x79, 0x98, 0x88}) {
		t.Errorf("CRC-64/NVME check value %x", got)
	}
	h = CRC32C.New()
	h.Write([]byte("123456789"))
	if got := h.Sum(nil); !bytes.Equal(got, []byte{0xe3, 0x06, 0x92, 0x83}) {
		t.Errorf("CRC-32C check value %x", got)
	}
}

func TestBodyLengthChecks(t *testing.T) {
	body := []byte("0123456789")
	r := signedRequest("PUT", "/k", body, UnsignedPayload)
	r.ContentLength = 12 // as if the connection closed early
	_, _, err := readAll(t, r)
	wantCode(t, err, s3err.IncompleteBody)

	r = signedRequest("PUT", "/k", body, UnsignedPayload)
	r.ContentLength = 5
	_, _, err = readAll(t, r)
	wantCode(t, err, s3err.IncompleteBody)

	r = signedRequest("PUT", "/k", body, UnsignedPayload)
	r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body[:4]), errReader{io.ErrUnexpectedEOF}))
	_, _, err = readAll(t, r)
	wantCode(t, err, s3err.IncompleteBody)

	r = signedRequest("PUT", "/k", body, UnsignedPayload)
	r.Body = http.MaxBytesReader(nil, r.Body, 3)
	_, _, err = readAll(t, r)
	wantCode(t, err, s3err.EntityTooLarge)
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestStripAWSChunked(t *testing.T) {
	for in, want := range map[string]string{
		"aws-chunked": "", "aws-chunked,gzip": "gzip", "gzip, AWS-Chunked": "gzip", "": "", "br": "br",
	} {
		if got := StripAWSChunked(in); got != want {
			t.Errorf("StripAWSChunked(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPayloadModeStrings(t *testing.T) {
	for _, s := range []string{UnsignedPayload, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
		"STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"} {
		m, _, err := ParsePayloadMode(s)
		if err != nil || m.String() != s {
			t.Errorf("%s: %v %v", s, m, err)
		}
	}
	if m, sum, err := ParsePayloadMode(emptySHA256Hex); err != nil || m != PayloadSHA256 || len(sum) != 32 {
		t.Errorf("literal hash: %v %x %v", m, sum, err)
	}
}
