package sigv4

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Shared fixtures: the AWS documentation's example credentials.
const (
	docAccessKey = "AKIAIOSFODNN7EXAMPLE"
	docSecret    = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

var docTime = time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func newTestVerifier(t *testing.T, now time.Time) *Verifier {
	t.Helper()
	v, err := New(Config{Credentials: staticCredentials{docAccessKey: docSecret}, Now: fixedClock(now)})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// serverRequest builds a request as net/http's server would hand it to a
// handler: target parsed from the request line, Host moved out of Header.
func serverRequest(method, target, host string, header http.Header, body []byte) *http.Request {
	r := httptest.NewRequest(method, target, bytes.NewReader(body))
	r.Host = host
	for k, vs := range header {
		if strings.EqualFold(k, "Host") {
			continue
		}
		r.Header[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
	}
	return r
}

// signForTest signs r in place with header auth using this package's own
// canonicaliser. Tests that need an independent signer use the SDK.
func signForTest(r *http.Request, at time.Time, region string, signed []string, payloadHash string) {
	amzDate := at.UTC().Format(iso8601Basic)
	r.Header.Set("X-Amz-Date", amzDate)
	if r.Header.Get("X-Amz-Content-Sha256") == "" {
		r.Header.Set("X-Amz-Content-Sha256", payloadHash)
	}
	a := authorization{
		credential:        credentialScope{accessKeyID: docAccessKey, date: amzDate[:8], region: region, service: "s3"},
		signedHeaders:     signed,
		signedHeadersText: strings.Join(signed, ";"),
		amzDate:           amzDate,
	}
	a.query, _ = parseRawQuery(r.URL.RawQuery)
	cr := buildCanonicalRequest(r, a, canonicalURI(r.URL.Path), payloadHash)
	key := signingKey(docSecret, a.credential.date, region, "s3")
	sig := signatureHex(key, stringToSign(amzDate, a.credential.scope(), cr))
	r.Header.Set("Authorization", fmt.Sprintf("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		docAccessKey, a.credential.scope(), a.signedHeadersText, sig))
}

// allSignedHeaders lists r's headers (and host) lower-cased and sorted,
// as SDKs sign them.
func allSignedHeaders(r *http.Request) []string {
	names := []string{"host"}
	for k := range r.Header {
		l := strings.ToLower(k)
		if l != "authorization" {
			names = append(names, l)
		}
	}
	sortStrings(names)
	return names
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// chunkEncoder writes aws-chunked bodies for tests, in the framing the
// SDKs use; style "minio" reproduces minio-go's trailer quirks.
type chunkEncoder struct {
	signer   *chunkSigner // nil: unsigned chunks
	trailers []trailerField
	trailer  bool
	style    string
}

func (e chunkEncoder) encode(data []byte, chunkSize int) []byte {
	var b bytes.Buffer
	for off := 0; off < len(data); off += chunkSize {
		end := min(off+chunkSize, len(data))
		e.writeChunk(&b, data[off:end])
		b.WriteString("\r\n")
	}
	e.writeChunk(&b, nil)
	if !e.trailer {
		b.WriteString("\r\n")
		return b.Bytes()
	}
	var text strings.Builder
	for _, f := range e.trailers {
		text.WriteString(f.name + ":" + f.value + "\n")
	}
	e.writeTrailers(&b, text.String())
	return b.Bytes()
}

func (e chunkEncoder) writeChunk(b *bytes.Buffer, data []byte) {
	b.WriteString(strconv.FormatInt(int64(len(data)), 16))
	if e.signer != nil {
		sig := e.signer.payloadSignature(sha256Hex(data))
		e.signer.prev = sig
		b.WriteString(";chunk-signature=" + sig)
	}
	b.WriteString("\r\n")
	b.Write(data)
}

func (e chunkEncoder) writeTrailers(b *bytes.Buffer, text string) {
	if e.style == "minio" {
		b.WriteString(text) // "name:value\n" lines
		if e.signer != nil {
			sig := e.signer.trailerSignature(text)
			b.WriteString("\r\n" + trailerSignatureName + ":" + sig + "\r\n\r\n")
		} else {
			b.WriteString("\r\n\r\n")
		}
		return
	}
	for _, f := range e.trailers {
		b.WriteString(f.name + ":" + f.value + "\r\n")
	}
	if e.signer != nil {
		b.WriteString(trailerSignatureName + ":" + e.signer.trailerSignature(text) + "\r\n")
	}
	b.WriteString("\r\n")
}

func readAllBody(t *testing.T, res *Result) ([]byte, error) {
	t.Helper()
	return io.ReadAll(res.Body)
}
