package sigv4

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/annal-storage/annal/gateways/s3/s3err"
)

// Goal: the aws-chunked payload modes decode byte-identically and refuse
// every tampering: data, chunk signature, trailer value, trailer
// signature, framing, length. Method: encode bodies with a test encoder
// that chains signatures from the real seed signature of a signed
// request; the chaining itself is pinned by the AWS documentation
// examples (docexamples_test.go and TestDecoderAWSTrailerExample).

// streamingRequest signs a streaming request and returns it with the
// encoder primed with its seed signature. decodedLength < 0 omits the
// header.
func streamingRequest(mode PayloadMode, decodedLength int, trailerHeader string) (*http.Request, chunkEncoder) {
	hdr := []string{"Content-Encoding", "aws-chunked"}
	if decodedLength >= 0 {
		hdr = append(hdr, "X-Amz-Decoded-Content-Length", strconv.Itoa(decodedLength))
	}
	if trailerHeader != "" {
		hdr = append(hdr, "X-Amz-Trailer", trailerHeader)
	}
	r := signedRequest("PUT", "/bucket/object", nil, mode.String(), hdr...)
	enc := chunkEncoder{trailer: mode != PayloadStreamingSigned}
	if mode != PayloadStreamingUnsignedTrailer {
		auth := r.Header.Get("Authorization")
		seed := auth[strings.LastIndex(auth, "=")+1:]
		enc.signer = &chunkSigner{
			key:     signingKey(docSecret, "20130524", "us-east-1", "s3"),
			amzDate: "20130524T000000Z", scope: "20130524/us-east-1/s3/aws4_request", prev: seed,
		}
	}
	return r, enc
}

func withBody(r *http.Request, body []byte) *http.Request {
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return r
}

func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func TestStreamingSignedRoundTrip(t *testing.T) {
	for _, tc := range []struct{ size, chunk int }{
		{0, 8}, {1, 8}, {8, 8}, {9, 8}, {65536, 65536}, {100000, 8192}, {3000, 1},
	} {
		data := payload(tc.size)
		r, enc := streamingRequest(PayloadStreamingSigned, len(data), "")
		res, got, err := readAll(t, withBody(r, enc.encode(data, tc.chunk)))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("size %d chunk %d: err %v, equal %v", tc.size, tc.chunk, err, bytes.Equal(got, data))
			continue
		}
		if res.Mode != PayloadStreamingSigned || res.Body.DecodedLength() != int64(tc.size) {
			t.Errorf("mode %v length %d", res.Mode, res.Body.DecodedLength())
		}
	}
}

// TestStreamingSmallReads reads one byte at a time through a source that
// also returns one byte at a time: framing must not depend on read sizes.
func TestStreamingSmallReads(t *testing.T) {
	data := payload(5000)
	r, enc := streamingRequest(PayloadStreamingSignedTrailer, len(data), "x-amz-checksum-crc32c")
	enc.trailers = []trailerField{{"x-amz-checksum-crc32c", checksumOf(CRC32C, data)}}
	r = withBody(r, enc.encode(data, 1024))
	r.Body = io.NopCloser(iotest.OneByteReader(r.Body))
	res, err := newTestVerifier(t, docTime).Verify(r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(iotest.OneByteReader(res.Body))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("err %v equal %v", err, bytes.Equal(got, data))
	}
}

func TestStreamingSignedTampering(t *testing.T) {
	data := payload(20000)
	r, enc := streamingRequest(PayloadStreamingSigned, len(data), "")
	good := enc.encode(data, 8192)

	cases := map[string]struct {
		body []byte
		code s3err.Code
	}{
		"data byte flipped":   {flipByteAt(good, bytes.Index(good, []byte("\r\n"))+100), s3err.SignatureDoesNotMatch},
		"signature flipped":   {flipByteAt(good, len("2000;chunk-signature=")+3), s3err.SignatureDoesNotMatch},
		"final sig flipped":   {flipByteAt(good, len(good)-10), s3err.SignatureDoesNotMatch},
		"truncated in data":   {good[:9000], s3err.IncompleteBody},
		"truncated at header": {good[:bytes.LastIndex(good, []byte("0;chunk"))], s3err.IncompleteBody},
		"missing CRLF":        {bytes.Replace(good, []byte("\r\n2000;"), []byte("2000;"), 1), s3err.IncompleteBody},
		"garbage after end":   {append(append([]byte{}, good...), "junk"...), s3err.IncompleteBody},
		"unsigned chunk":      {[]byte("10\r\n0123456789abcdef\r\n0\r\n\r\n"), s3err.IncompleteBody},
		"bad size":            {[]byte("zz;chunk-signature=" + strings.Repeat("a", 64) + "\r\n"), s3err.IncompleteBody},
		"huge size":           {[]byte("fffffffffffffffff;chunk-signature=" + strings.Repeat("a", 64) + "\r\n"), s3err.IncompleteBody},
		"long line":           {[]byte(strings.Repeat("1", 5000) + "\r\n"), s3err.IncompleteBody},
		"empty body":          {nil, s3err.IncompleteBody},
	}
	for name, tc := range cases {
		r2 := withBody(r.Clone(r.Context()), tc.body)
		_, _, err := readAll(t, r2)
		if got := s3err.CodeOf(err); got != tc.code {
			t.Errorf("%s: code %q (%v), want %q", name, got, err, tc.code)
		}
	}

	// Chunks signed in another request's chain are refused, and so are
	// this request's own chunks in a different order.
	other, otherEnc := streamingRequest(PayloadStreamingSigned, 16, "")
	_ = other
	_, _, err := readAll(t, withBody(r.Clone(r.Context()), otherEnc.encode(payload(16), 8)))
	wantCode(t, err, s3err.SignatureDoesNotMatch)

	r4, enc4 := streamingRequest(PayloadStreamingSigned, 16, "")
	body4 := enc4.encode(payload(16), 8)
	chunkLen := len("8;chunk-signature=") + 64 + 2 + 8 + 2
	swapped := append(append(append([]byte{}, body4[chunkLen:2*chunkLen]...), body4[:chunkLen]...), body4[2*chunkLen:]...)
	_, _, err = readAll(t, withBody(r4, swapped))
	wantCode(t, err, s3err.SignatureDoesNotMatch)
}

func flipByteAt(b []byte, i int) []byte {
	c := append([]byte{}, b...)
	if c[i] == '0' {
		c[i] = '1'
	} else {
		c[i] ^= 0x01
	}
	return c
}

func TestStreamingDecodedLength(t *testing.T) {
	data := payload(100)
	r, enc := streamingRequest(PayloadStreamingSigned, 99, "")
	_, _, err := readAll(t, withBody(r, enc.encode(data, 64)))
	wantCode(t, err, s3err.IncompleteBody)

	r, enc = streamingRequest(PayloadStreamingSigned, 101, "")
	_, _, err = readAll(t, withBody(r, enc.encode(data, 64)))
	wantCode(t, err, s3err.IncompleteBody)

	r, _ = streamingRequest(PayloadStreamingSigned, -1, "")
	wantCode(t, verifyErr(t, r), s3err.MissingContentLength)

	r, _ = streamingRequest(PayloadStreamingSigned, 0, "")
	r.Header.Set("X-Amz-Decoded-Content-Length", "-5")
	signForTest(r, docTime, "us-east-1", allSignedHeaders(r), PayloadStreamingSigned.String())
	wantCode(t, verifyErr(t, r), s3err.InvalidArgument)

	// Unsigned trailer mode may omit the length (unknown-size uploads).
	r, enc = streamingRequest(PayloadStreamingUnsignedTrailer, -1, "")
	res, got, err := readAll(t, withBody(r, enc.encode(data, 64)))
	if err != nil || !bytes.Equal(got, data) || res.Body.DecodedLength() != -1 {
		t.Errorf("no decoded length: %v", err)
	}
}

func TestStreamingTrailers(t *testing.T) {
	data := payload(70000)
	for _, mode := range []PayloadMode{PayloadStreamingSignedTrailer, PayloadStreamingUnsignedTrailer} {
		for _, style := range []string{"aws", "minio"} {
			for _, alg := range checksumAlgorithms {
				r, enc := streamingRequest(mode, len(data), alg.HeaderName())
				enc.style = style
				enc.trailers = []trailerField{{alg.HeaderName(), checksumOf(alg, data)}}
				res, got, err := readAll(t, withBody(r, enc.encode(data, 65536)))
				name := mode.String() + "/" + style + "/" + string(alg)
				if err != nil || !bytes.Equal(got, data) {
					t.Errorf("%s: %v", name, err)
					continue
				}
				cs := res.Body.Checksums()
				if len(cs) != 1 || cs[0] != (Checksum{alg, checksumOf(alg, data)}) {
					t.Errorf("%s: Checksums() = %v", name, cs)
				}
			}
		}
	}
}

func TestStreamingTrailerRefusals(t *testing.T) {
	data := payload(1000)
	crc := checksumOf(CRC32, data)
	type tc struct {
		name     string
		mode     PayloadMode
		declared string
		trailers []trailerField
		mutate   func([]byte) []byte
		code     s3err.Code
	}
	for _, c := range []tc{
		{"wrong value", PayloadStreamingSignedTrailer, "x-amz-checksum-crc32",
			[]trailerField{{"x-amz-checksum-crc32", checksumOf(CRC32, []byte("x"))}}, nil, s3err.BadDigest},
		{"wrong value unsigned", PayloadStreamingUnsignedTrailer, "x-amz-checksum-crc32",
			[]trailerField{{"x-amz-checksum-crc32", checksumOf(CRC32, []byte("x"))}}, nil, s3err.BadDigest},
		{"missing declared trailer", PayloadStreamingUnsignedTrailer, "x-amz-checksum-crc32", nil, nil, s3err.MalformedTrailerError},
		{"undeclared trailer", PayloadStreamingUnsignedTrailer, "",
			[]trailerField{{"x-amz-checksum-crc32", crc}}, nil, s3err.MalformedTrailerError},
		{"other trailer", PayloadStreamingUnsignedTrailer, "x-amz-checksum-crc32",
			[]trailerField{{"x-amz-checksum-crc32", crc}, {"x-amz-meta-sneaky", "1"}}, nil, s3err.MalformedTrailerError},
		{"trailer value malformed", PayloadStreamingUnsignedTrailer, "x-amz-checksum-crc32",
			[]trailerField{{"x-amz-checksum-crc32", "%%%"}}, nil, s3err.InvalidRequest},
		{"trailer signature flipped", PayloadStreamingSignedTrailer, "x-amz-checksum-crc32",
			[]trailerField{{"x-amz-checksum-crc32", crc}}, func(b []byte) []byte { return flipByteAt(b, len(b)-8) }, s3err.SignatureDoesNotMatch},
		{"trailer value changed after signing", PayloadStreamingSignedTrailer, "x-amz-checksum-crc32",
			[]trailerField{{"x-amz-checksum-crc32", crc}}, func(b []byte) []byte {
				return bytes.Replace(b, []byte(crc), []byte(checksumOf(CRC32, []byte("x"))), 1)
			}, s3err.SignatureDoesNotMatch},
		{"trailer signature missing", PayloadStreamingSignedTrailer, "x-amz-checksum-crc32",
			[]trailerField{{"x-amz-checksum-crc32", crc}}, func(b []byte) []byte {
				i := bytes.Index(b, []byte(trailerSignatureName))
				return append(append([]byte{}, b[:i]...), "\r\n"...)
			}, s3err.MalformedTrailerError},
		{"signature in unsigned trailer", PayloadStreamingUnsignedTrailer, "x-amz-checksum-crc32",
			[]trailerField{{"x-amz-checksum-crc32", crc}}, func(b []byte) []byte {
				return bytes.Replace(b, []byte("\r\n\r\n"), []byte("\r\nx-amz-trailer-signature:"+strings.Repeat("a", 64)+"\r\n\r\n"), 1)
			}, s3err.MalformedTrailerError},
		{"malformed trailer line", PayloadStreamingUnsignedTrailer, "x-amz-checksum-crc32",
			[]trailerField{{"x-amz-checksum-crc32", crc}}, func(b []byte) []byte {
				return bytes.Replace(b, []byte("x-amz-checksum-crc32:"), []byte("x-amz-checksum-crc32 "), 1)
			}, s3err.MalformedTrailerError},
		{"too many trailer lines", PayloadStreamingUnsignedTrailer, "x-amz-checksum-crc32",
			[]trailerField{{"x-amz-checksum-crc32", crc}}, func(b []byte) []byte {
				return bytes.Replace(b, []byte("\r\n\r\n"), []byte(strings.Repeat("\r\na:b", 20)+"\r\n\r\n"), 1)
			}, s3err.MalformedTrailerError},
	} {
		r, enc := streamingRequest(c.mode, len(data), c.declared)
		enc.trailers = c.trailers
		body := enc.encode(data, 512)
		if c.mutate != nil {
			body = c.mutate(body)
		}
		_, _, err := readAll(t, withBody(r, body))
		if got := s3err.CodeOf(err); got != c.code {
			t.Errorf("%s: code %q (%v), want %q", c.name, got, err, c.code)
		}
	}
}

func TestStreamingTrailerHeaderRules(t *testing.T) {
	for _, tc := range []struct {
		mode    PayloadMode
		trailer string
		extra   []string
		code    s3err.Code
	}{
		{PayloadStreamingSigned, "x-amz-checksum-crc32", nil, s3err.InvalidRequest},
		{PayloadStreamingUnsignedTrailer, "x-amz-meta-foo", nil, s3err.InvalidRequest},
		{PayloadStreamingUnsignedTrailer, "x-amz-checksum-crc32,x-amz-checksum-crc32", nil, s3err.InvalidRequest},
		{PayloadStreamingUnsignedTrailer, "x-amz-checksum-crc32,x-amz-checksum-sha256", nil, s3err.InvalidRequest},
		{PayloadStreamingUnsignedTrailer, "x-amz-checksum-crc32", []string{"X-Amz-Sdk-Checksum-Algorithm", "SHA1"}, s3err.InvalidRequest},
		{PayloadStreamingUnsignedTrailer, "x-amz-checksum-crc32", []string{"X-Amz-Sdk-Checksum-Algorithm", "CRC32"}, ""},
	} {
		hdr := []string{"Content-Encoding", "aws-chunked", "X-Amz-Decoded-Content-Length", "0", "X-Amz-Trailer", tc.trailer}
		r := signedRequest("PUT", "/b/o", nil, tc.mode.String(), append(hdr, tc.extra...)...)
		if got := s3err.CodeOf(verifyErr(t, r)); got != tc.code {
			t.Errorf("%v %q %v: code %q, want %q", tc.mode, tc.trailer, tc.extra, got, tc.code)
		}
	}
}

// TestDecoderAWSTrailerExample replays the chunk and trailer signatures
// of the AWS "Signature Calculations for Trailing Headers" example, whose
// seed signature is 106e2a8a…: 66560 bytes of 'a' in a 64 KiB and a
// 1 KiB chunk, then x-amz-checksum-crc32c:sOO8/Q==.
func TestDecoderAWSTrailerExample(t *testing.T) {
	data := bytes.Repeat([]byte("a"), 66560)
	var body bytes.Buffer
	body.WriteString("10000;chunk-signature=b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2\r\n")
	body.Write(data[:65536])
	body.WriteString("\r\n400;chunk-signature=1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7\r\n")
	body.Write(data[65536:])
	body.WriteString("\r\n0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\r\n")
	body.WriteString("x-amz-checksum-crc32c:sOO8/Q==\r\n")
	body.WriteString("x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n\r\n")
	signer := &chunkSigner{
		key:     signingKey(docSecret, "20130524", "us-east-1", "s3"),
		amzDate: "20130524T000000Z", scope: "20130524/us-east-1/s3/aws4_request",
		prev: "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
	}
	c := newChunkedReader(bytes.NewReader(body.Bytes()), signer, true)
	got, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("err %v, equal %v", err, bytes.Equal(got, data))
	}
	if tr := c.Trailers(); len(tr) != 1 || tr[0] != (trailerField{"x-amz-checksum-crc32c", "sOO8/Q=="}) {
		t.Errorf("trailers %v", tr)
	}
	if checksumOf(CRC32C, data) != "sOO8/Q==" {
		t.Error("CRC32C of the example payload differs from the documented value")
	}
}

func TestChunkedReaderZeroLengthRead(t *testing.T) {
	c := newChunkedReader(strings.NewReader("0\r\n\r\n"), nil, false)
	if n, err := c.Read(nil); n != 0 || err != nil {
		t.Errorf("Read(nil) = %d, %v", n, err)
	}
	if _, err := io.ReadAll(c); err != nil {
		t.Errorf("empty body: %v", err)
	}
	if c.Trailers() != nil {
		t.Error("no trailers expected")
	}
}
