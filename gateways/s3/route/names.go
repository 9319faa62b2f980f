package route

import (
	"net"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/annal-storage/annal/gateways/s3/s3err"
)

// KeyBytesMax is S3's limit on an object key's UTF-8 length.
const KeyBytesMax = 1024

// Bucket name length bounds (general-purpose buckets).
const (
	bucketNameCharsMin = 3
	bucketNameCharsMax = 63
)

// reservedBucketPrefixes and reservedBucketSuffixes are names AWS keeps
// for its own features; allowing them would make annal buckets that no
// S3 client can address the same way.
var (
	reservedBucketPrefixes = []string{"xn--", "sthree-", "amzn-s3-demo-"}
	reservedBucketSuffixes = []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"}
)

// ValidateBucketName applies S3's general-purpose bucket naming rules:
// 3–63 characters of lower-case letters, digits, dots and hyphens; each
// dot-separated label starts and ends with a letter or digit (so no
// "..", ".-" or "-."); not an IPv4 address; not a reserved prefix or
// suffix. Failures are InvalidBucketName.
func ValidateBucketName(name string) error {
	bad := func(reason string) error {
		return s3err.Newf(s3err.InvalidBucketName, "The specified bucket is not valid: %s.", reason).WithResource(name, "")
	}
	if len(name) < bucketNameCharsMin || len(name) > bucketNameCharsMax {
		return bad("length must be 3 to 63 characters")
	}
	for _, label := range strings.Split(name, ".") {
		if !validLabel(label) {
			return bad("labels must be lower-case letters, digits and hyphens, starting and ending with a letter or digit")
		}
	}
	if ip := net.ParseIP(name); ip != nil {
		return bad("it must not be formatted as an IP address")
	}
	for _, p := range reservedBucketPrefixes {
		if strings.HasPrefix(name, p) {
			return bad("the prefix " + p + " is reserved")
		}
	}
	for _, s := range reservedBucketSuffixes {
		if strings.HasSuffix(name, s) {
			return bad("the suffix " + s + " is reserved")
		}
	}
	return nil
}

func validLabel(label string) bool {
	if label == "" {
		return false
	}
	for i := 0; i < len(label); i++ {
		c := label[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (c != '-' || i == 0 || i == len(label)-1) {
			return false
		}
	}
	return true
}

// ValidateKey checks an object key: non-empty, valid UTF-8, at most
// 1024 bytes. Any other character, "//", "." segments and spaces are
// legal S3 keys and are preserved.
func ValidateKey(key string) error {
	switch {
	case key == "":
		return s3err.New(s3err.InvalidArgument, "The object key must not be empty.")
	case len(key) > KeyBytesMax:
		return s3err.New(s3err.KeyTooLongError, "")
	case !utf8.ValidString(key):
		return s3err.New(s3err.InvalidArgument, "The object key must be valid UTF-8.")
	}
	return nil
}

// CopySource is the parsed x-amz-copy-source header.
type CopySource struct {
	Bucket    string
	Key       string
	VersionID string
}

// ParseCopySource parses x-amz-copy-source ("[/]bucket/key[?versionId=v]",
// URL-encoded). The version query is split off before decoding, so a
// key containing an encoded '?' stays intact. Access-point ARNs are not
// supported.
func ParseCopySource(v string) (CopySource, error) {
	bad := s3err.New(s3err.InvalidArgument, "Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
	raw, query, hasQuery := strings.Cut(v, "?")
	var src CopySource
	if hasQuery {
		q, err := url.ParseQuery(query)
		if err != nil || len(q) != 1 || len(q["versionId"]) != 1 || q.Get("versionId") == "" {
			return CopySource{}, bad
		}
		src.VersionID = q.Get("versionId")
	}
	path, err := url.PathUnescape(raw)
	if err != nil {
		return CopySource{}, bad
	}
	path = strings.TrimPrefix(path, "/")
	if strings.HasPrefix(path, "arn:") {
		return CopySource{}, s3err.New(s3err.NotImplemented, "Access point copy sources are not supported.")
	}
	bucket, key, ok := strings.Cut(path, "/")
	if !ok || key == "" {
		return CopySource{}, bad
	}
	if err := ValidateBucketName(bucket); err != nil {
		return CopySource{}, err
	}
	if err := ValidateKey(key); err != nil {
		return CopySource{}, err
	}
	src.Bucket, src.Key = bucket, key
	return src, nil
}
