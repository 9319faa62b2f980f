package s3

import (
	"encoding/base64"
	"net/http"

	"github.com/annal-storage/annal/commands"
	"github.com/annal-storage/annal/gateways/s3/s3err"
	"github.com/annal-storage/annal/gateways/s3/s3xml"
)

// listKeysMax is S3's page size limit and default.
const listKeysMax = 1000

// encoder renders keys and prefixes of a listing, URL-encoded when the
// request asked for encoding-type=url.
type encoder struct{ url bool }

func newEncoder(c *call) (encoder, error) {
	switch v := c.req.Query.Get("encoding-type"); v {
	case "":
		return encoder{}, nil
	case "url":
		return encoder{url: true}, nil
	default:
		return encoder{}, s3err.New(s3err.InvalidArgument, "Invalid Encoding Method specified in Request").
			With("ArgumentName", "encoding-type").With("ArgumentValue", v)
	}
}

func (e encoder) s(v string) string {
	if e.url {
		return s3xml.URLEncodeKey(v)
	}
	return v
}

func (e encoder) typ() string {
	if e.url {
		return "url"
	}
	return ""
}

func (e encoder) prefixes(cps []string) []s3xml.CommonPrefix {
	out := make([]s3xml.CommonPrefix, 0, len(cps))
	for _, cp := range cps {
		out = append(out, s3xml.CommonPrefix{Prefix: e.s(cp)})
	}
	return out
}

func (e encoder) objects(infos []commands.ObjectInfo, o *s3xml.Owner) []s3xml.Object {
	out := make([]s3xml.Object, 0, len(infos))
	for _, info := range infos {
		out = append(out, s3xml.Object{Key: e.s(info.Key), LastModified: xmlTime(info.MtimeNs), ETag: info.ETag(),
			Size: info.Size, StorageClass: "STANDARD", Owner: o})
	}
	return out
}

// listing runs one page of a key listing with the common parameters.
func (h *Handler) listing(c *call, after string) (commands.ListOutput, int, error) {
	maxKeys, err := intParam(c, "max-keys", listKeysMax, listKeysMax)
	if err != nil {
		return commands.ListOutput{}, 0, err
	}
	q := c.req.Query
	out, err := h.svc.ListObjects(c.ctx, c.p, c.bucket(), commands.ListInput{
		Prefix: q.Get("prefix"), Delimiter: q.Get("delimiter"), After: after, MaxKeys: maxKeys})
	return out, maxKeys, err
}

// listObjectsV1 is ListObjects with marker paging. NextMarker is sent
// only with a delimiter, as S3 does; otherwise clients resume after the
// last key.
func (h *Handler) listObjectsV1(c *call) error {
	enc, err := newEncoder(c)
	if err != nil {
		return err
	}
	q := c.req.Query
	out, maxKeys, err := h.listing(c, q.Get("marker"))
	if err != nil {
		return err
	}
	o := owner(c.p)
	res := s3xml.ListBucketResult{Name: c.bucket(), Prefix: enc.s(q.Get("prefix")), Marker: enc.s(q.Get("marker")),
		MaxKeys: maxKeys, Delimiter: enc.s(q.Get("delimiter")), EncodingType: enc.typ(), IsTruncated: out.IsTruncated,
		Contents: enc.objects(out.Objects, &o), CommonPrefixes: enc.prefixes(out.CommonPrefixes)}
	if out.IsTruncated && q.Get("delimiter") != "" {
		res.NextMarker = enc.s(out.NextAfter)
	}
	return s3xml.WriteResponse(c.w, http.StatusOK, res)
}

// listObjectsV2 pages with an opaque continuation token (the last key or
// common prefix returned, base64url) or start-after.
func (h *Handler) listObjectsV2(c *call) error {
	enc, err := newEncoder(c)
	if err != nil {
		return err
	}
	q := c.req.Query
	after := q.Get("start-after")
	token, hasToken := q["continuation-token"]
	if hasToken {
		if after, err = decodeToken(token[0]); err != nil {
			return err
		}
	}
	out, maxKeys, err := h.listing(c, after)
	if err != nil {
		return err
	}
	var o *s3xml.Owner
	if q.Get("fetch-owner") == "true" {
		ow := owner(c.p)
		o = &ow
	}
	res := s3xml.ListBucketResultV2{Name: c.bucket(), Prefix: enc.s(q.Get("prefix")), StartAfter: enc.s(q.Get("start-after")),
		ContinuationToken: q.Get("continuation-token"), KeyCount: len(out.Objects) + len(out.CommonPrefixes),
		MaxKeys: maxKeys, Delimiter: enc.s(q.Get("delimiter")), EncodingType: enc.typ(), IsTruncated: out.IsTruncated,
		Contents: enc.objects(out.Objects, o), CommonPrefixes: enc.prefixes(out.CommonPrefixes)}
	if out.IsTruncated {
		res.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(out.NextAfter))
	}
	return s3xml.WriteResponse(c.w, http.StatusOK, res)
}

func decodeToken(token string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || token == "" {
		return "", s3err.New(s3err.InvalidArgument, "The continuation token provided is incorrect").
			With("ArgumentName", "continuation-token")
	}
	return string(b), nil
}

// listObjectVersions lists versions and delete markers, keys in order
// and each key's versions newest first.
func (h *Handler) listObjectVersions(c *call) error {
	enc, err := newEncoder(c)
	if err != nil {
		return err
	}
	maxKeys, err := intParam(c, "max-keys", listKeysMax, listKeysMax)
	if err != nil {
		return err
	}
	q := c.req.Query
	if q.Get("version-id-marker") != "" && q.Get("key-marker") == "" {
		return s3err.New(s3err.InvalidArgument, "A version-id marker cannot be specified without a key marker.")
	}
	out, err := h.svc.ListVersions(c.ctx, c.p, c.bucket(), commands.VersionsInput{Prefix: q.Get("prefix"),
		Delimiter: q.Get("delimiter"), KeyMarker: q.Get("key-marker"), VersionIDMarker: q.Get("version-id-marker"), MaxKeys: maxKeys})
	if err != nil {
		return err
	}
	o := owner(c.p)
	res := s3xml.ListVersionsResult{Name: c.bucket(), Prefix: enc.s(q.Get("prefix")), KeyMarker: enc.s(q.Get("key-marker")),
		VersionIDMarker: q.Get("version-id-marker"), MaxKeys: maxKeys, Delimiter: enc.s(q.Get("delimiter")),
		EncodingType: enc.typ(), IsTruncated: out.IsTruncated, CommonPrefixes: enc.prefixes(out.CommonPrefixes)}
	if out.IsTruncated {
		res.NextKeyMarker, res.NextVersionIDMarker = enc.s(out.NextKeyMarker), out.NextVersionIDMarker
	}
	for _, v := range out.Versions {
		res.Entries = append(res.Entries, s3xml.VersionEntry{DeleteMarker: v.DeleteMarker, Key: enc.s(v.Key),
			VersionID: v.VersionID, IsLatest: v.IsLatest, LastModified: xmlTime(v.MtimeNs), ETag: v.ETag(),
			Size: v.Size, StorageClass: "STANDARD", Owner: &o})
	}
	return s3xml.WriteResponse(c.w, http.StatusOK, res)
}
