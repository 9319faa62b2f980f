package sigv4

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"net/http"
	"strings"

	"github.com/annal-storage/annal/gateways/s3/s3err"
)

// ChecksumAlgorithm is an S3 additional-checksum algorithm, spelled as in
// x-amz-checksum-algorithm and x-amz-sdk-checksum-algorithm.
type ChecksumAlgorithm string

// The algorithms S3 defines for x-amz-checksum-*.
const (
	CRC32     ChecksumAlgorithm = "CRC32"
	CRC32C    ChecksumAlgorithm = "CRC32C"
	CRC64NVME ChecksumAlgorithm = "CRC64NVME"
	SHA1      ChecksumAlgorithm = "SHA1"
	SHA256    ChecksumAlgorithm = "SHA256"
)

// checksumAlgorithms is every algorithm, in the order results are listed.
var checksumAlgorithms = []ChecksumAlgorithm{CRC32, CRC32C, CRC64NVME, SHA1, SHA256}

// crc64NVMETable is CRC-64/NVME (poly 0xAD93D23594C93659 reflected =
// 0x9A6C9329AC4BC9B5, init and xorout all ones), which is exactly what
// hash/crc64 computes for a reflected table; check value for
// "123456789" is 0xAE8B14860A799888.
var crc64NVMETable = crc64.MakeTable(0x9a6c9329ac4bc9b5)

var crc32CTable = crc32.MakeTable(crc32.Castagnoli)

// ParseChecksumAlgorithm accepts an algorithm name in any case.
func ParseChecksumAlgorithm(s string) (ChecksumAlgorithm, bool) {
	a := ChecksumAlgorithm(strings.ToUpper(strings.TrimSpace(s)))
	for _, known := range checksumAlgorithms {
		if a == known {
			return a, true
		}
	}
	return "", false
}

// HeaderName is the lower-case header (or trailer) carrying a's value,
// e.g. "x-amz-checksum-crc32c".
func (a ChecksumAlgorithm) HeaderName() string {
	return "x-amz-checksum-" + strings.ToLower(string(a))
}

// New returns a fresh hash for a. Its Sum is the big-endian digest S3
// base64-encodes.
func (a ChecksumAlgorithm) New() hash.Hash {
	switch a {
	case CRC32:
		return crc32.NewIEEE()
	case CRC32C:
		return crc32.New(crc32CTable)
	case CRC64NVME:
		return crc64.New(crc64NVMETable)
	case SHA1:
		return sha1.New()
	case SHA256:
		return sha256.New()
	}
	panic("sigv4: unknown checksum algorithm " + string(a))
}

// Size is the digest length in bytes.
func (a ChecksumAlgorithm) Size() int { return a.New().Size() }

// checksumAlgorithmForHeader maps "x-amz-checksum-crc32" (any case) to
// CRC32. Headers such as x-amz-checksum-algorithm or -type are not values
// and return false.
func checksumAlgorithmForHeader(name string) (ChecksumAlgorithm, bool) {
	suffix, ok := strings.CutPrefix(strings.ToLower(name), "x-amz-checksum-")
	if !ok {
		return "", false
	}
	return ParseChecksumAlgorithm(suffix)
}

// Checksum is one computed or declared checksum: the algorithm and the
// base64 of its big-endian digest, as S3 sends it in headers and XML.
type Checksum struct {
	Algorithm ChecksumAlgorithm
	Value     string
}

// decodeChecksumValue checks that v is base64 of a digest of a's size.
func decodeChecksumValue(a ChecksumAlgorithm, v string) ([]byte, bool) {
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(raw) != a.Size() {
		return nil, false
	}
	return raw, true
}

// checksumHeaders finds the x-amz-checksum-<alg> value headers. S3 allows
// at most one; a value that is not base64 of the right length is refused.
func checksumHeaders(h http.Header) (*Checksum, error) {
	var found *Checksum
	for name, values := range h {
		alg, ok := checksumAlgorithmForHeader(name)
		if !ok {
			continue
		}
		if found != nil || len(values) != 1 {
			return nil, s3err.New(s3err.InvalidRequest,
				"Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
		}
		if _, ok := decodeChecksumValue(alg, strings.TrimSpace(values[0])); !ok {
			return nil, s3err.Newf(s3err.InvalidRequest, "Value for %s header is invalid.", alg.HeaderName())
		}
		found = &Checksum{Algorithm: alg, Value: strings.TrimSpace(values[0])}
	}
	return found, nil
}

// objectChecksumHeader finds the single x-amz-checksum-<alg> header of a
// request where it describes the whole object. The value is returned as
// sent: a composite checksum has the form "<base64>-<parts>".
func objectChecksumHeader(h http.Header) (*Checksum, error) {
	var found *Checksum
	for name, values := range h {
		alg, ok := checksumAlgorithmForHeader(name)
		if !ok {
			continue
		}
		if found != nil || len(values) != 1 {
			return nil, s3err.New(s3err.InvalidRequest,
				"Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
		}
		found = &Checksum{Algorithm: alg, Value: strings.TrimSpace(values[0])}
	}
	return found, nil
}

// declaredAlgorithm reads x-amz-sdk-checksum-algorithm (set by SDKs on
// uploads) or x-amz-checksum-algorithm (CreateMultipartUpload). An
// unknown name is refused.
func declaredAlgorithm(h http.Header) (ChecksumAlgorithm, error) {
	for _, name := range []string{"X-Amz-Sdk-Checksum-Algorithm", "X-Amz-Checksum-Algorithm"} {
		v := h.Get(name)
		if v == "" {
			continue
		}
		alg, ok := ParseChecksumAlgorithm(v)
		if !ok {
			return "", s3err.Newf(s3err.InvalidRequest, "Checksum algorithm %q is not supported.", v)
		}
		return alg, nil
	}
	return "", nil
}

// ParseContentMD5 decodes a Content-MD5 header: base64 of 16 bytes. An
// empty header returns nil; anything else malformed is InvalidDigest.
func ParseContentMD5(v string) ([]byte, error) {
	if v == "" {
		return nil, nil
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
	if err != nil || len(raw) != md5.Size {
		return nil, s3err.Wrap(s3err.InvalidDigest, err, "")
	}
	return raw, nil
}
