package sigv4

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net/http"

	"github.com/annal-storage/annal/gateways/s3/s3err"
)

// expectations is what a request's headers promise about its decoded
// payload. Body checks each at end of input.
type expectations struct {
	sha256         []byte    // literal x-amz-content-sha256
	md5            []byte    // Content-MD5
	headerChecksum *Checksum // x-amz-checksum-<alg> header checked against the body
	declaredHeader *Checksum // the header as received, checked or not
	trailerAlgs    []ChecksumAlgorithm
	computeAlgs    []ChecksumAlgorithm // union of all checksum algorithms
	lengthBytes    int64               // decoded length, -1 when unknown
	// deferredSignature, when set, checks the request signature against
	// the body's SHA-256 at EOF (PayloadDeferredSHA256).
	deferredSignature func(payloadHash string) error
}

// Body is the request payload to use instead of r.Body. Reading it
// yields the decoded object bytes (aws-chunked framing removed) and checks,
// when it reaches the end, every integrity claim of the request: the
// payload SHA-256, chunk and trailer signatures, Content-MD5, the
// x-amz-checksum-* header or trailer, and the decoded length.
//
// Bytes are returned before they are verified. A handler must not commit
// anything it read until Read has returned io.EOF; any other error (an
// *s3err.Error such as XAmzContentSHA256Mismatch, BadDigest,
// SignatureDoesNotMatch or IncompleteBody) means the body must be
// discarded. Errors are sticky.
type Body struct {
	src     io.Reader
	closer  io.Closer
	chunked *chunkedReader // nil unless aws-chunked
	exp     expectations

	sha     hash.Hash
	md5     hash.Hash
	hashes  []hash.Hash // parallel to exp.computeAlgs
	n       int64
	err     error
	results []Checksum

	declaredHeader *Checksum
}

func newBody(raw io.ReadCloser, chunked *chunkedReader, exp expectations) *Body {
	b := &Body{src: raw, closer: raw, chunked: chunked, exp: exp, declaredHeader: exp.declaredHeader}
	if chunked != nil {
		b.src = chunked
	}
	if exp.sha256 != nil {
		b.sha = sha256.New()
	}
	if exp.md5 != nil {
		b.md5 = md5.New()
	}
	for _, a := range exp.computeAlgs {
		b.hashes = append(b.hashes, a.New())
	}
	return b
}

// Read implements io.Reader; see the type comment for the contract.
func (b *Body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.src.Read(p)
	b.write(p[:n])
	if b.exp.lengthBytes >= 0 && b.n > b.exp.lengthBytes {
		b.err = s3err.Newf(s3err.IncompleteBody,
			"The body is longer than the declared length of %d bytes.", b.exp.lengthBytes)
		return n, b.err
	}
	switch {
	case err == io.EOF:
		b.err = b.finish()
		if b.err == nil {
			b.err = io.EOF
		}
	case err != nil:
		b.err = bodyError(err)
	}
	return n, b.err
}

func (b *Body) write(p []byte) {
	if len(p) == 0 {
		return
	}
	b.n += int64(len(p))
	if b.sha != nil {
		b.sha.Write(p)
	}
	if b.md5 != nil {
		b.md5.Write(p)
	}
	for _, h := range b.hashes {
		h.Write(p)
	}
}

// bodyError classifies a failure of the underlying body.
func bodyError(err error) error {
	var s3e *s3err.Error
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &s3e):
		return err
	case errors.As(err, &tooBig):
		return s3err.Wrap(s3err.EntityTooLarge, err, "")
	}
	return s3err.Wrap(s3err.IncompleteBody, err, "")
}

// Close closes the underlying request body.
func (b *Body) Close() error {
	if b.closer == nil {
		return nil
	}
	return b.closer.Close()
}

// DecodedLength is the payload length the request declared (Content-Length,
// or x-amz-decoded-content-length for aws-chunked bodies), or -1.
func (b *Body) DecodedLength() int64 { return b.exp.lengthBytes }

// BytesRead is the number of decoded bytes returned so far.
func (b *Body) BytesRead() int64 { return b.n }

// Checksums returns, after Read has returned io.EOF, the checksums
// computed over the decoded payload for every algorithm the request named
// (in a header value, a trailer, or x-amz-sdk-checksum-algorithm), in a
// fixed algorithm order. A handler returns these in x-amz-checksum-*
// response headers. Before a successful EOF it returns nil.
func (b *Body) Checksums() []Checksum {
	if b.err != io.EOF {
		return nil
	}
	return b.results
}

// finish runs every end-of-body check, in the order S3 reports them.
func (b *Body) finish() error {
	if b.exp.lengthBytes >= 0 && b.n != b.exp.lengthBytes {
		return s3err.Newf(s3err.IncompleteBody,
			"The body is %d bytes; the request declared %d.", b.n, b.exp.lengthBytes)
	}
	if b.exp.deferredSignature != nil {
		if err := b.exp.deferredSignature(hex.EncodeToString(b.sha.Sum(nil))); err != nil {
			return err
		}
	} else if b.sha != nil && !bytes.Equal(b.sha.Sum(nil), b.exp.sha256) {
		return s3err.New(s3err.XAmzContentSHA256Mismatch, "").
			With("ClientComputedContentSHA256", hex.EncodeToString(b.exp.sha256)).
			With("S3ComputedContentSHA256", hex.EncodeToString(b.sha.Sum(nil)))
	}
	if b.md5 != nil && !bytes.Equal(b.md5.Sum(nil), b.exp.md5) {
		return s3err.New(s3err.BadDigest, "The Content-MD5 you specified did not match what we received.")
	}
	b.results = make([]Checksum, len(b.hashes))
	for i, h := range b.hashes {
		b.results[i] = Checksum{Algorithm: b.exp.computeAlgs[i], Value: base64.StdEncoding.EncodeToString(h.Sum(nil))}
	}
	if c := b.exp.headerChecksum; c != nil {
		if err := b.compare(*c); err != nil {
			return err
		}
	}
	return b.checkTrailers()
}

// compare checks a declared checksum against the computed one.
func (b *Body) compare(declared Checksum) error {
	for _, got := range b.results {
		if got.Algorithm == declared.Algorithm && got.Value == declared.Value {
			return nil
		}
	}
	return s3err.Newf(s3err.BadDigest, "The %s you specified did not match the calculated checksum.", declared.Algorithm)
}

// checkTrailers requires exactly the declared checksum trailers and
// checks their values.
func (b *Body) checkTrailers() error {
	if b.chunked == nil {
		return nil
	}
	got := map[ChecksumAlgorithm]string{}
	for _, f := range b.chunked.Trailers() {
		alg, ok := checksumAlgorithmForHeader(f.name)
		if !ok || !containsAlg(b.exp.trailerAlgs, alg) {
			return s3err.Newf(s3err.MalformedTrailerError, "The trailer %q was not declared in x-amz-trailer.", f.name)
		}
		if _, ok := decodeChecksumValue(alg, f.value); !ok {
			return s3err.Newf(s3err.InvalidRequest, "Value for %s trailing header is invalid.", alg.HeaderName())
		}
		got[alg] = f.value
	}
	for _, alg := range b.exp.trailerAlgs {
		v, ok := got[alg]
		if !ok {
			return s3err.Newf(s3err.MalformedTrailerError, "The declared trailer %s is missing.", alg.HeaderName())
		}
		if err := b.compare(Checksum{Algorithm: alg, Value: v}); err != nil {
			return err
		}
	}
	return nil
}

func containsAlg(list []ChecksumAlgorithm, a ChecksumAlgorithm) bool {
	for _, x := range list {
		if x == a {
			return true
		}
	}
	return false
}
