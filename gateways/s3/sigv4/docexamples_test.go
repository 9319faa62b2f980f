package sigv4

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// The worked examples of the Amazon S3 API reference ("Signature
// Calculations for the Authorization Header", "… Query Parameters",
// "… Multiple Chunks"), which sign for service "s3" without path
// normalisation: an independent S3-specific check of the canonicaliser
// and of chunk-signature chaining. Method: rebuild each request as the
// server sees it, run the full Verify, and read the body to EOF.

func docHeader(pairs ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(pairs); i += 2 {
		h.Add(pairs[i], pairs[i+1])
	}
	return h
}

func TestDocExampleGetObjectRange(t *testing.T) {
	h := docHeader(
		"Range", "bytes=0-9",
		"x-amz-content-sha256", emptySHA256Hex,
		"x-amz-date", "20130524T000000Z",
		"Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
	r := serverRequest("GET", "/test.txt", "examplebucket.s3.amazonaws.com", h, nil)
	verifyDocExample(t, r, nil)
}

func TestDocExamplePutObject(t *testing.T) {
	body := []byte("Welcome to Amazon S3.")
	h := docHeader(
		"Date", "Fri, 24 May 2013 00:00:00 GMT",
		"x-amz-date", "20130524T000000Z",
		"x-amz-storage-class", "REDUCED_REDUNDANCY",
		"x-amz-content-sha256", "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
		"Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
	r := serverRequest("PUT", "/test%24file.text", "examplebucket.s3.amazonaws.com", h, body)
	verifyDocExample(t, r, body)
}

func TestDocExampleGetBucketLifecycle(t *testing.T) {
	h := docHeader(
		"x-amz-date", "20130524T000000Z",
		"x-amz-content-sha256", emptySHA256Hex,
		"Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")
	r := serverRequest("GET", "/?lifecycle", "examplebucket.s3.amazonaws.com", h, nil)
	verifyDocExample(t, r, nil)
}

func TestDocExampleListObjects(t *testing.T) {
	h := docHeader(
		"x-amz-date", "20130524T000000Z",
		"x-amz-content-sha256", emptySHA256Hex,
		"Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
	r := serverRequest("GET", "/?max-keys=2&prefix=J", "examplebucket.s3.amazonaws.com", h, nil)
	verifyDocExample(t, r, nil)
}

func TestDocExamplePresignedGet(t *testing.T) {
	target := "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
	r := serverRequest("GET", target, "examplebucket.s3.amazonaws.com", nil, nil)
	res := verifyDocExample(t, r, nil)
	if !res.Presigned || res.Mode != PayloadUnsigned {
		t.Errorf("presigned=%v mode=%v", res.Presigned, res.Mode)
	}
}

// TestDocExampleStreamingPut is the chunked-upload example: 65 KiB of 'a'
// in a 64 KiB chunk and a 1 KiB chunk, each signed in a chain from the
// seed signature.
func TestDocExampleStreamingPut(t *testing.T) {
	data := bytes.Repeat([]byte("a"), 66560)
	sigs := []string{
		"ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
		"0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
		"b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
	}
	var body bytes.Buffer
	body.WriteString("10000;chunk-signature=" + sigs[0] + "\r\n")
	body.Write(data[:65536])
	body.WriteString("\r\n400;chunk-signature=" + sigs[1] + "\r\n")
	body.Write(data[65536:])
	body.WriteString("\r\n0;chunk-signature=" + sigs[2] + "\r\n\r\n")
	if body.Len() != 66824 {
		t.Fatalf("encoded length %d, the example says 66824", body.Len())
	}
	h := docHeader(
		"x-amz-date", "20130524T000000Z",
		"x-amz-storage-class", "REDUCED_REDUNDANCY",
		"x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
		"Content-Encoding", "aws-chunked",
		"x-amz-decoded-content-length", "66560",
		"Content-Length", "66824",
		"Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9")
	r := serverRequest("PUT", "/examplebucket/chunkObject.txt", "s3.amazonaws.com", h, body.Bytes())
	res := verifyDocExample(t, r, data)
	if res.Mode != PayloadStreamingSigned || res.Body.DecodedLength() != 66560 {
		t.Errorf("mode %v length %d", res.Mode, res.Body.DecodedLength())
	}

	// The same body with one data byte changed must fail its chunk.
	tampered := bytes.Replace(body.Bytes(), []byte("aaaa\r\n400;"), []byte("aaab\r\n400;"), 1)
	r = serverRequest("PUT", "/examplebucket/chunkObject.txt", "s3.amazonaws.com", h, tampered)
	res, err := newTestVerifier(t, docTime).Verify(r)
	if err != nil {
		t.Fatal(err)
	}
	_, err = readAllBody(t, res)
	wantCode(t, err, "SignatureDoesNotMatch")
}

func verifyDocExample(t *testing.T, r *http.Request, wantBody []byte) *Result {
	t.Helper()
	res, err := newTestVerifier(t, docTime).Verify(r)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	got, err := readAllBody(t, res)
	if err != nil {
		t.Fatalf("body: %v", err)
	}
	if !bytes.Equal(got, wantBody) && !(len(got) == 0 && len(wantBody) == 0) {
		t.Fatalf("body %q, want %q", trunc(got), trunc(wantBody))
	}
	if res.Principal != "principal:"+docAccessKey || res.AccessKeyID != docAccessKey || res.Region != "us-east-1" {
		t.Errorf("result %+v", res)
	}
	// The one-byte flip of the signature must be refused.
	r2 := r.Clone(r.Context())
	if auth := r.Header.Get("Authorization"); auth != "" {
		r2.Header.Set("Authorization", auth[:len(auth)-1]+flipLast(auth))
	} else {
		r2.URL.RawQuery = r.URL.RawQuery[:len(r.URL.RawQuery)-1] + flipLast(r.URL.RawQuery)
	}
	_, err = newTestVerifier(t, docTime).Verify(r2)
	wantCode(t, err, "SignatureDoesNotMatch")
	return res
}

func flipLast(s string) string {
	if strings.HasSuffix(s, "0") {
		return "1"
	}
	return "0"
}

func trunc(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}
