package sigv4

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/annal-storage/annal/gateways/s3/s3err"
)

// Fuzz targets: the parsers and the decoder face untrusted bytes and
// must never panic; every refusal must be an *s3err.Error.

func FuzzParseAuthorizationHeader(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("a", 64))
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_request,SignedHeaders=host,Signature=")
	f.Add("AWS AKID:sig")
	f.Add("AWS4-HMAC-SHA256 ,,,===")
	f.Add("")
	f.Fuzz(func(t *testing.T, header string) {
		fields, err := parseAuthorizationHeader(header)
		if err != nil {
			requireS3Error(t, err)
			return
		}
		if fields.algorithm != algorithmHMACSHA256 {
			t.Fatalf("accepted algorithm %q", fields.algorithm)
		}
		r, rerr := http.NewRequest("GET", "http://h/k", nil)
		if rerr != nil {
			t.Fatal(rerr)
		}
		r.Header.Set("X-Amz-Date", "20130524T000000Z")
		a, err := parseHeaderAuthorization(r, header, nil)
		if err != nil {
			requireS3Error(t, err)
			return
		}
		if !sort.StringsAreSorted(a.signedHeaders) || !isLowerHex(a.signature, 64) || a.credential.accessKeyID == "" {
			t.Fatalf("accepted an invalid authorization: %+v", a)
		}
	})
}

func requireS3Error(t *testing.T, err error) {
	t.Helper()
	var e *s3err.Error
	if !errors.As(err, &e) || !s3err.Known(e.Code) {
		t.Fatalf("error %v is not a known *s3err.Error", err)
	}
}

func FuzzCanonicalRequest(f *testing.F) {
	f.Add("GET", "/bucket/a b/ሴ/%2F//./..", "b=2&a=1&a=0&x&=&%zz", "My-Header", "  a   b  ")
	f.Add("PUT", "", "", "host", "")
	f.Fuzz(func(t *testing.T, method, path, rawQuery, headerName, headerValue string) {
		uri := canonicalURI(path)
		for i := 0; i < len(uri); i++ {
			c := uri[i]
			if !isUnreserved(c) && c != '/' && c != '%' {
				t.Fatalf("canonical URI %q has raw byte %q", uri, c)
			}
		}
		if uriEncode(path, false) != uri && path != "" {
			t.Fatal("canonicalURI is not uriEncode")
		}
		pairs, err := parseRawQuery(rawQuery)
		if err != nil {
			return
		}
		q := canonicalQuery(pairs, "")
		if again := canonicalQuery(mustParse(t, q), ""); again != q {
			t.Fatalf("canonical query not a fixed point: %q -> %q", q, again)
		}
		r := &http.Request{Method: method, URL: &url.URL{Path: path, RawQuery: rawQuery}, Header: http.Header{}, Host: "h"}
		name := strings.ToLower(headerName)
		if isLowerToken(name) {
			r.Header.Add(headerName, headerValue)
		}
		signed := []string{"host"}
		if isLowerToken(name) && name != "host" {
			signed = append(signed, name)
			sort.Strings(signed)
		}
		a := authorization{query: pairs, signedHeaders: signed, signedHeadersText: strings.Join(signed, ";")}
		cr := buildCanonicalRequest(r, a, uri, UnsignedPayload)
		if strings.Count(cr, "\n") < 5+len(signed) && !strings.ContainsAny(headerValue, "\r\n") {
			t.Fatalf("canonical request has too few lines: %q", cr)
		}
		_ = stringToSign("20130524T000000Z", "20130524/r/s3/aws4_request", cr)
	})
}

func mustParse(t *testing.T, q string) []queryPair {
	p, err := parseRawQuery(q)
	if err != nil {
		t.Fatalf("canonical query %q does not parse: %v", q, err)
	}
	return p
}

func FuzzChunkedDecoder(f *testing.F) {
	data := payload(300)
	for _, trailer := range []bool{false, true} {
		for _, signed := range []bool{false, true} {
			enc := chunkEncoder{trailer: trailer}
			if signed {
				enc.signer = fuzzSigner()
			}
			if trailer {
				enc.trailers = []trailerField{{"x-amz-checksum-crc32", checksumOf(CRC32, data)}}
			}
			f.Add(enc.encode(data, 100), signed, trailer)
		}
	}
	f.Add([]byte("0\r\n\r\n"), false, false)
	f.Add([]byte("5\r\nhello\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\n\r\n\r\n"), false, true)
	f.Fuzz(func(t *testing.T, body []byte, signed, trailer bool) {
		var s *chunkSigner
		if signed {
			s = fuzzSigner()
		}
		c := newChunkedReader(bytes.NewReader(body), s, trailer)
		out, err := io.ReadAll(c)
		if err != nil {
			requireS3Error(t, err)
			return
		}
		if len(out) > len(body) {
			t.Fatalf("decoded %d bytes from %d", len(out), len(body))
		}
		if !trailer && len(c.Trailers()) > 0 {
			t.Fatal("trailers outside a trailer mode")
		}
	})
}

func fuzzSigner() *chunkSigner {
	return &chunkSigner{
		key: signingKey(docSecret, "20130524", "us-east-1", "s3"), amzDate: "20130524T000000Z",
		scope: "20130524/us-east-1/s3/aws4_request", prev: strings.Repeat("0", 64),
	}
}

// FuzzChunkedRoundTrip: whatever the data and chunk size, encoding then
// decoding is the identity and the trailer survives.
func FuzzChunkedRoundTrip(f *testing.F) {
	f.Add([]byte("hello world"), uint16(3), true, "aws")
	f.Add([]byte{}, uint16(1), false, "minio")
	f.Fuzz(func(t *testing.T, data []byte, chunkSize uint16, signed bool, style string) {
		if chunkSize == 0 {
			chunkSize = 1
		}
		enc := chunkEncoder{trailer: true, style: style,
			trailers: []trailerField{{"x-amz-checksum-crc32c", checksumOf(CRC32C, data)}}}
		var dec *chunkSigner
		if signed {
			enc.signer, dec = fuzzSigner(), fuzzSigner()
		}
		c := newChunkedReader(bytes.NewReader(enc.encode(data, int(chunkSize))), dec, true)
		got, err := io.ReadAll(c)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("round trip: %v", err)
		}
		if tr := c.Trailers(); len(tr) != 1 || tr[0].value != checksumOf(CRC32C, data) {
			t.Fatalf("trailers %v", tr)
		}
	})
}

// FuzzVerify drives the whole verifier with arbitrary headers and query.
func FuzzVerify(f *testing.F) {
	good := signedRequest("PUT", "/b/k?partNumber=1&uploadId=x", []byte("abc"), sha256Hex([]byte("abc")))
	f.Add(good.Header.Get("Authorization"), good.URL.RawQuery, sha256Hex([]byte("abc")), "", []byte("abc"))
	f.Add("", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=9", UnsignedPayload, "x-amz-checksum-crc32", []byte{})
	f.Fuzz(func(t *testing.T, auth, rawQuery, contentSHA, trailer string, body []byte) {
		if !utf8.ValidString(auth) {
			return
		}
		r := serverRequest("PUT", "/b/k", "bucket.s3.example.com", nil, body)
		r.URL.RawQuery = rawQuery
		r.Header.Set("X-Amz-Date", "20130524T000000Z")
		r.Header.Set("X-Amz-Content-Sha256", contentSHA)
		r.Header.Set("X-Amz-Trailer", trailer)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		res, err := newTestVerifier(t, docTime).Verify(r)
		if err != nil {
			requireS3Error(t, err)
			return
		}
		if _, err := io.ReadAll(res.Body); err != nil {
			requireS3Error(t, err)
		}
	})
}
