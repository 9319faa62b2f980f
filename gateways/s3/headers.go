package s3

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/annal-storage/annal/commands"
	"github.com/annal-storage/annal/gateways/s3/s3err"
	"github.com/annal-storage/annal/gateways/s3/s3xml"
	"github.com/annal-storage/annal/gateways/s3/sigv4"
	"github.com/annal-storage/annal/log/event"
)

// Object size limits (S3's): a single PUT or part up to 5 GiB; objects
// up to 5 TiB follow from 10,000 parts.
const (
	putBytesMax      = 5 << 30
	userMetaBytesMax = 2 << 10
	metaPrefix       = "x-amz-meta-"
	defaultType      = "binary/octet-stream"
)

// storageClasses are accepted on writes and ignored: annal places data
// by pool policy, not per request. Reads report STANDARD.
var storageClasses = map[string]bool{
	"STANDARD": true, "REDUCED_REDUNDANCY": true, "STANDARD_IA": true, "ONEZONE_IA": true,
	"INTELLIGENT_TIERING": true, "GLACIER": true, "DEEP_ARCHIVE": true, "GLACIER_IR": true, "EXPRESS_ONEZONE": true,
}

// objectAttrs reads the S3-visible attributes a write stores: the
// representation headers, user metadata and the x-amz-tagging header.
func objectAttrs(h http.Header) (event.ObjectAttrs, error) {
	a := event.ObjectAttrs{
		ContentType:        h.Get("Content-Type"),
		ContentEncoding:    sigv4.StripAWSChunked(h.Get("Content-Encoding")),
		ContentDisposition: h.Get("Content-Disposition"),
		ContentLanguage:    h.Get("Content-Language"),
		CacheControl:       h.Get("Cache-Control"),
		Expires:            h.Get("Expires"),
	}
	var err error
	if a.UserMeta, err = userMetadata(h); err != nil {
		return a, err
	}
	if v := h.Get("X-Amz-Tagging"); v != "" {
		if a.Tags, err = parseTaggingHeader(v); err != nil {
			return a, err
		}
	}
	return a, nil
}

// userMetadata collects x-amz-meta-* headers: names lower-cased without
// the prefix, values as sent (repeated headers joined with ","), sorted by
// name, at most 2 KiB in total as S3 allows.
func userMetadata(h http.Header) ([]event.Pair, error) {
	var out []event.Pair
	size := 0
	for name, values := range h {
		lower := strings.ToLower(name)
		if !strings.HasPrefix(lower, metaPrefix) {
			continue
		}
		p := event.Pair{K: lower[len(metaPrefix):], V: strings.Join(values, ",")}
		size += len(p.K) + len(p.V)
		out = append(out, p)
	}
	if size > userMetaBytesMax {
		return nil, s3err.Newf(s3err.MetadataTooLarge,
			"Your metadata headers exceed the maximum allowed metadata size of %d bytes.", userMetaBytesMax)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].K < out[j].K })
	return out, nil
}

// parseTaggingHeader reads x-amz-tagging ("k1=v1&k2=v2", URL-encoded).
func parseTaggingHeader(v string) ([]event.Pair, error) {
	q, err := url.ParseQuery(v)
	if err != nil {
		return nil, s3err.Wrap(s3err.InvalidArgument, err, "The x-amz-tagging header is not a valid query string.")
	}
	tags := make([]s3xml.Tag, 0, len(q))
	for k, vs := range q {
		if len(vs) != 1 {
			return nil, s3err.New(s3err.InvalidTag, "Cannot provide multiple Tags with the same key")
		}
		tags = append(tags, s3xml.Tag{Key: k, Value: vs[0]})
	}
	return tagPairs(tags)
}

// tagPairs checks tags against S3's limits and sorts them by key.
func tagPairs(tags []s3xml.Tag) ([]event.Pair, error) {
	if len(tags) > s3xml.ObjectTagsMax {
		return nil, s3err.Newf(s3err.InvalidTag, "Object tags cannot be greater than %d", s3xml.ObjectTagsMax)
	}
	out := make([]event.Pair, 0, len(tags))
	for _, t := range tags {
		if t.Key == "" || utf8.RuneCountInString(t.Key) > s3xml.TagKeyCharsMax {
			return nil, s3err.New(s3err.InvalidTag, "The TagKey you have provided is invalid")
		}
		if utf8.RuneCountInString(t.Value) > s3xml.TagValueCharsMax {
			return nil, s3err.New(s3err.InvalidTag, "The TagValue you have provided is invalid")
		}
		out = append(out, event.Pair{K: t.Key, V: t.Value})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].K < out[j].K })
	return out, nil
}

// checkWriteOptions refuses request options annal does not implement
// (ACL grants, Object Lock, SSE-C) and validates the ones it accepts as
// no-ops (private canned ACLs, storage classes, SSE-S3).
func checkWriteOptions(c *call) error {
	hd := c.r.Header
	if err := checkACLHeaders(hd); err != nil {
		return err
	}
	if sc := hd.Get("X-Amz-Storage-Class"); sc != "" && !storageClasses[sc] {
		return s3err.New(s3err.InvalidStorageClass, "")
	}
	for _, name := range []string{"X-Amz-Object-Lock-Mode", "X-Amz-Object-Lock-Retain-Until-Date", "X-Amz-Object-Lock-Legal-Hold"} {
		if hd.Get(name) != "" {
			return s3err.New(s3err.NotImplemented, "Object Lock is not implemented; annal uses retention holds.")
		}
	}
	if hd.Get("X-Amz-Website-Redirect-Location") != "" {
		return s3err.New(s3err.NotImplemented, "Website redirects are not implemented.")
	}
	return checkSSE(hd, "X-Amz-Server-Side-Encryption")
}

// checkACLHeaders accepts the canned ACLs that describe annal's only
// access model (the owning tenant has full control) and refuses the rest.
func checkACLHeaders(hd http.Header) error {
	switch acl := hd.Get("X-Amz-Acl"); acl {
	case "", "private", "bucket-owner-full-control", "bucket-owner-read":
	default:
		return s3err.Newf(s3err.NotImplemented, "The canned ACL %q is not implemented; buckets and objects are private to their tenant.", acl)
	}
	for name := range hd {
		if strings.HasPrefix(strings.ToLower(name), "x-amz-grant-") {
			return s3err.New(s3err.NotImplemented, "ACL grants are not implemented; buckets and objects are private to their tenant.")
		}
	}
	return nil
}

// checkSSE applies the SSE rules: SSE-S3 (AES256) is what annal does
// anyway and is accepted; SSE-KMS needs a key id naming the tenant's own
// KMS key, and no tenant has one configured yet, so it is refused;
// SSE-C is refused because annal never takes keys from clients.
func checkSSE(hd http.Header, name string) error {
	for n := range hd {
		if strings.Contains(strings.ToLower(n), "server-side-encryption-customer-") {
			return s3err.New(s3err.InvalidRequest,
				"SSE-C is not supported: annal encrypts every object with keys it manages; send no customer key.")
		}
	}
	switch alg := hd.Get(name); alg {
	case "", "AES256":
		return nil
	case "aws:kms", "aws:kms:dsse":
		return s3err.Newf(s3err.InvalidArgument,
			"SSE-KMS accepts only your tenant's own KMS key, and none is configured (key %q); use AES256 or omit the header.",
			hd.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"))
	default:
		return s3err.Newf(s3err.InvalidArgument, "The encryption method %q is not supported.", alg)
	}
}

// echoSSE repeats an accepted SSE-S3 request header in the response.
func echoSSE(c *call) {
	if c.r.Header.Get("X-Amz-Server-Side-Encryption") == "AES256" {
		c.w.Header().Set("X-Amz-Server-Side-Encryption", "AES256")
	}
}

// writeConditions reads If-Match / If-None-Match on a write.
func writeConditions(hd http.Header) (commands.Conditions, error) {
	var cond commands.Conditions
	if v := hd.Get("If-None-Match"); v != "" {
		if strings.TrimSpace(v) != "*" {
			return cond, s3err.New(s3err.NotImplemented, "If-None-Match on writes supports only \"*\".")
		}
		cond.IfNoneMatchStar = true
	}
	if v := strings.TrimSpace(hd.Get("If-Match")); v != "" {
		if v == "*" {
			return cond, s3err.New(s3err.NotImplemented, "If-Match: * on writes is not implemented.")
		}
		cond.IfMatch = quoteETag(v)
	}
	return cond, nil
}

// quoteETag normalises an ETag to its quoted form.
func quoteETag(v string) string {
	v = strings.TrimPrefix(strings.TrimSpace(v), "W/")
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return v
	}
	return `"` + v + `"`
}

// httpTime renders Unix nanoseconds as an RFC 1123 GMT date.
func httpTime(ns int64) string {
	return time.Unix(0, ns).UTC().Format(http.TimeFormat)
}

// xmlTime renders Unix nanoseconds for XML documents.
func xmlTime(ns int64) s3xml.Timestamp {
	return s3xml.Timestamp{Time: time.Unix(0, ns).UTC()}
}

// setObjectHeaders writes the representation headers of a version.
func setObjectHeaders(hd http.Header, info commands.ObjectInfo) {
	a := info.Attrs
	ct := a.ContentType
	if ct == "" {
		ct = defaultType
	}
	hd.Set("Content-Type", ct)
	hd.Set("ETag", info.ETag())
	hd.Set("Last-Modified", httpTime(info.MtimeNs))
	hd.Set("Accept-Ranges", "bytes")
	for name, v := range map[string]string{
		"Content-Encoding": a.ContentEncoding, "Content-Disposition": a.ContentDisposition,
		"Content-Language": a.ContentLanguage, "Cache-Control": a.CacheControl, "Expires": a.Expires,
	} {
		if v != "" {
			hd.Set(name, v)
		}
	}
	for _, m := range a.UserMeta {
		hd[metaPrefix+m.K] = []string{m.V}
	}
	if len(a.Tags) > 0 {
		hd.Set("X-Amz-Tagging-Count", strconv.Itoa(len(a.Tags)))
	}
	setVersionHeader(hd, info.VersionID)
}

// setVersionHeader reports a version id; unversioned writes ("null")
// report none, as S3 does for buckets that never had versioning.
func setVersionHeader(hd http.Header, versionID string) {
	if versionID != "" && versionID != "null" {
		hd.Set("X-Amz-Version-Id", versionID)
	}
}

// setChecksumHeaders returns stored whole-object checksums when the
// client asked for them (x-amz-checksum-mode: ENABLED).
func setChecksumHeaders(c *call, info commands.ObjectInfo) {
	if !strings.EqualFold(c.r.Header.Get("X-Amz-Checksum-Mode"), "ENABLED") || len(info.Attrs.Checksums) == 0 {
		return
	}
	for _, p := range info.Attrs.Checksums {
		if alg, ok := sigv4.ParseChecksumAlgorithm(p.K); ok {
			c.w.Header().Set(alg.HeaderName(), p.V)
		}
	}
	c.w.Header().Set("X-Amz-Checksum-Type", "FULL_OBJECT")
}

// checksumPairs turns verified body checksums into stored attributes.
func checksumPairs(sums []sigv4.Checksum) []event.Pair {
	out := make([]event.Pair, 0, len(sums))
	for _, s := range sums {
		out = append(out, event.Pair{K: string(s.Algorithm), V: s.Value})
	}
	return out
}

// setBodyChecksums echoes the checksums computed over a request body.
func setBodyChecksums(c *call) {
	for _, s := range c.res.Body.Checksums() {
		c.w.Header().Set(s.Algorithm.HeaderName(), s.Value)
	}
}

// overrideHeaders applies GetObject's response-* query parameters
// (used by presigned download links).
func overrideHeaders(c *call) {
	for param, name := range map[string]string{
		"response-content-type": "Content-Type", "response-content-language": "Content-Language",
		"response-expires": "Expires", "response-cache-control": "Cache-Control",
		"response-content-disposition": "Content-Disposition", "response-content-encoding": "Content-Encoding",
	} {
		if v := c.req.Query.Get(param); v != "" {
			c.w.Header().Set(name, v)
		}
	}
}

// owner describes the caller's tenant as an S3 owner.
func owner(p commands.Principal) s3xml.Owner {
	id := "annal-tenant-" + strconv.FormatUint(p.Tenant, 10)
	return s3xml.Owner{ID: id, DisplayName: id}
}
