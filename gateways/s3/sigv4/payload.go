package sigv4

import (
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/annal-storage/annal/gateways/s3/s3err"
)

// body builds the Body for an authenticated request: the aws-chunked
// decoder when the mode says so, and every integrity check the headers
// ask for.
func (v *Verifier) body(r *http.Request, a authorization, mode PayloadMode, sum []byte, key []byte, o Options) (*Body, error) {
	exp, err := parseExpectations(r, mode, o)
	if err != nil {
		return nil, err
	}
	exp.sha256 = sum
	raw := r.Body
	if raw == nil {
		raw = http.NoBody
	}
	if !mode.chunked() {
		return newBody(raw, nil, exp), nil
	}
	var signer *chunkSigner
	if mode == PayloadStreamingSigned || mode == PayloadStreamingSignedTrailer {
		signer = &chunkSigner{key: key, amzDate: a.amzDate, scope: a.credential.scope(), prev: a.signature}
	}
	withTrailer := mode != PayloadStreamingSigned
	return newBody(raw, newChunkedReader(raw, signer, withTrailer), exp), nil
}

// parseExpectations reads the integrity headers: decoded length,
// Content-MD5, x-amz-checksum-*, x-amz-trailer and the SDK's declared
// algorithm.
func parseExpectations(r *http.Request, mode PayloadMode, o Options) (expectations, error) {
	exp := expectations{lengthBytes: -1}
	var err error
	if exp.lengthBytes, err = decodedLength(r, mode); err != nil {
		return exp, err
	}
	if exp.md5, err = ParseContentMD5(r.Header.Get("Content-Md5")); err != nil {
		return exp, err
	}
	if o.ObjectChecksumHeaders {
		// Describes the object, not this body: report, do not check.
		exp.declaredHeader, err = objectChecksumHeader(r.Header)
	} else {
		exp.headerChecksum, err = checksumHeaders(r.Header)
		exp.declaredHeader = exp.headerChecksum
	}
	if err != nil {
		return exp, err
	}
	if exp.trailerAlgs, err = declaredTrailers(r.Header, mode); err != nil {
		return exp, err
	}
	declared, err := declaredAlgorithm(r.Header)
	if err != nil {
		return exp, err
	}
	if err := checkSingleAlgorithm(exp, declared); err != nil {
		return exp, err
	}
	exp.computeAlgs = algorithmsToCompute(exp, declared)
	return exp, nil
}

// decodedLength is the payload length the request promises: for
// aws-chunked bodies x-amz-decoded-content-length (required by S3 for
// the signed form), otherwise Content-Length.
func decodedLength(r *http.Request, mode PayloadMode) (int64, error) {
	if !mode.chunked() {
		return r.ContentLength, nil // -1 when unknown
	}
	v := r.Header.Get("X-Amz-Decoded-Content-Length")
	if v == "" {
		if mode == PayloadStreamingSigned {
			return -1, s3err.New(s3err.MissingContentLength,
				"x-amz-decoded-content-length is required with STREAMING-AWS4-HMAC-SHA256-PAYLOAD.")
		}
		return -1, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return -1, s3err.Wrap(s3err.InvalidArgument, err, "x-amz-decoded-content-length is not a valid length.")
	}
	return n, nil
}

// declaredTrailers parses x-amz-trailer: a comma list of checksum
// header names. Only the trailer modes may declare trailers.
func declaredTrailers(h http.Header, mode PayloadMode) ([]ChecksumAlgorithm, error) {
	var algs []ChecksumAlgorithm
	for _, v := range h.Values("X-Amz-Trailer") {
		for _, name := range strings.Split(v, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			alg, ok := checksumAlgorithmForHeader(name)
			if !ok {
				return nil, s3err.Newf(s3err.InvalidRequest, "The trailer %q is not supported.", name)
			}
			if containsAlg(algs, alg) {
				return nil, s3err.Newf(s3err.InvalidRequest, "The trailer %q is declared twice.", name)
			}
			algs = append(algs, alg)
		}
	}
	if len(algs) > 0 && mode != PayloadStreamingSignedTrailer && mode != PayloadStreamingUnsignedTrailer {
		return nil, s3err.New(s3err.InvalidRequest,
			"x-amz-trailer requires x-amz-content-sha256 STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or STREAMING-UNSIGNED-PAYLOAD-TRAILER.")
	}
	return algs, nil
}

// checkSingleAlgorithm enforces S3's one-checksum-per-request rule across
// the header value, the trailers and the declared algorithm.
func checkSingleAlgorithm(exp expectations, declared ChecksumAlgorithm) error {
	algs := append([]ChecksumAlgorithm(nil), exp.trailerAlgs...)
	if exp.headerChecksum != nil && !containsAlg(algs, exp.headerChecksum.Algorithm) {
		algs = append(algs, exp.headerChecksum.Algorithm)
	}
	if len(algs) > 1 {
		return s3err.New(s3err.InvalidRequest,
			"Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
	}
	if declared != "" && len(algs) == 1 && algs[0] != declared {
		return s3err.Newf(s3err.InvalidRequest,
			"Value for x-amz-sdk-checksum-algorithm header is invalid: %s does not match the %s provided.", declared, algs[0])
	}
	return nil
}

// algorithmsToCompute lists, in fixed order, the algorithms the Body
// hashes with.
func algorithmsToCompute(exp expectations, declared ChecksumAlgorithm) []ChecksumAlgorithm {
	var out []ChecksumAlgorithm
	for _, a := range checksumAlgorithms {
		if a == declared || containsAlg(exp.trailerAlgs, a) ||
			(exp.headerChecksum != nil && exp.headerChecksum.Algorithm == a) {
			out = append(out, a)
		}
	}
	return out
}

// StripAWSChunked removes the "aws-chunked" coding from a Content-Encoding
// value. S3 does not store it: it describes the upload framing, not the
// object.
func StripAWSChunked(contentEncoding string) string {
	var kept []string
	for _, c := range strings.Split(contentEncoding, ",") {
		c = strings.TrimSpace(c)
		if c != "" && !strings.EqualFold(c, "aws-chunked") {
			kept = append(kept, c)
		}
	}
	return strings.Join(kept, ",")
}

// ensure Body satisfies io.ReadCloser.
var _ io.ReadCloser = (*Body)(nil)
