package s3

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/annal-storage/annal/commands"
	"github.com/annal-storage/annal/gateways/s3/route"
	"github.com/annal-storage/annal/gateways/s3/s3err"
	"github.com/annal-storage/annal/gateways/s3/s3xml"
)

// openCopySource resolves x-amz-copy-source in the caller's tenant and
// checks the x-amz-copy-source-if-* conditions. A source bucket of
// another tenant is NoSuchBucket, like any bucket the caller lacks.
func (h *Handler) openCopySource(c *call) (*commands.Object, route.CopySource, error) {
	src, err := route.ParseCopySource(c.r.Header.Get("X-Amz-Copy-Source"))
	if err != nil {
		return nil, src, err
	}
	if err := checkSSE(c.r.Header, ""); err != nil {
		return nil, src, err
	}
	o, err := h.svc.GetObject(c.ctx, c.p, src.Bucket, src.Key, src.VersionID)
	if err != nil {
		return nil, src, toS3(err, route.GetObject, src.Bucket, src.Key)
	}
	if o.Info.DeleteMarker {
		o.Close()
		return nil, src, s3err.New(s3err.InvalidRequest, "The source of a copy request may not specifically refer to a delete marker by version id.")
	}
	if err := copyConditions(c.r.Header, o.Info); err != nil {
		o.Close()
		return nil, src, err
	}
	return o, src, nil
}

// copyObject writes a new version whose content is the source's (chunks
// are referenced, not copied) with the source's or the request's
// metadata and tags.
func (h *Handler) copyObject(c *call) error {
	if err := checkWriteOptions(c); err != nil {
		return err
	}
	cond, err := writeConditions(c.r.Header)
	if err != nil {
		return err
	}
	src, from, err := h.openCopySource(c)
	if err != nil {
		return err
	}
	in, err := copyInput(c, src.Info, from)
	if err != nil {
		src.Close()
		return err
	}
	in.Conditions = cond
	info, err := h.svc.CopyObject(c.ctx, c.p, src, in)
	if err != nil {
		return err
	}
	hd := c.w.Header()
	setVersionHeader(hd, info.VersionID)
	if from.VersionID != "" {
		hd.Set("X-Amz-Copy-Source-Version-Id", from.VersionID)
	}
	echoSSE(c)
	return s3xml.WriteResponse(c.w, http.StatusOK, s3xml.CopyObjectResult{
		LastModified: xmlTime(info.MtimeNs), ETag: info.ETag()})
}

// copyInput applies x-amz-metadata-directive and x-amz-tagging-directive
// (COPY by default). Copying an object onto itself must change
// something, as S3 requires.
func copyInput(c *call, src commands.ObjectInfo, from route.CopySource) (commands.CopyInput, error) {
	metaDirective, err := directive(c, "X-Amz-Metadata-Directive")
	if err != nil {
		return commands.CopyInput{}, err
	}
	tagDirective, err := directive(c, "X-Amz-Tagging-Directive")
	if err != nil {
		return commands.CopyInput{}, err
	}
	fromRequest, err := objectAttrs(c.r.Header)
	if err != nil {
		return commands.CopyInput{}, err
	}
	attrs := src.Attrs
	if metaDirective == "REPLACE" {
		attrs = fromRequest
		attrs.Tags = src.Attrs.Tags
		attrs.Checksums = src.Attrs.Checksums
	}
	if tagDirective == "REPLACE" {
		attrs.Tags = fromRequest.Tags
	}
	self := from.Bucket == c.bucket() && from.Key == c.key() && (from.VersionID == "" || src.IsLatest)
	if self && metaDirective != "REPLACE" && tagDirective != "REPLACE" && c.r.Header.Get("X-Amz-Storage-Class") == "" {
		return commands.CopyInput{}, s3err.New(s3err.InvalidRequest, "This copy request is illegal because it is trying "+
			"to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
	}
	return commands.CopyInput{Bucket: c.bucket(), Key: c.key(), ReplaceAttrs: true, Attrs: attrs}, nil
}

func directive(c *call, name string) (string, error) {
	switch v := strings.ToUpper(c.r.Header.Get(name)); v {
	case "", "COPY":
		return "COPY", nil
	case "REPLACE":
		return v, nil
	default:
		return "", s3err.Newf(s3err.InvalidArgument, "Unknown %s value: %s", name, c.r.Header.Get(name))
	}
}

// copySourceRange parses x-amz-copy-source-range ("bytes=first-last"),
// which must lie inside the source.
func copySourceRange(c *call, size int64) (commands.CopyRange, error) {
	v := c.r.Header.Get("X-Amz-Copy-Source-Range")
	if v == "" {
		return commands.CopyRange{}, nil
	}
	bad := s3err.New(s3err.InvalidArgument, "The x-amz-copy-source-range value must be of the form bytes=first-last "+
		"where first and last are the zero-based offsets of the first and last bytes to copy")
	spec, ok := strings.CutPrefix(v, "bytes=")
	first, last, ok2 := strings.Cut(spec, "-")
	start, err1 := strconv.ParseInt(first, 10, 64)
	end, err2 := strconv.ParseInt(last, 10, 64)
	if !ok || !ok2 || err1 != nil || err2 != nil || start < 0 || end < start {
		return commands.CopyRange{}, bad
	}
	if end >= size {
		return commands.CopyRange{}, s3err.Newf(s3err.InvalidRange, "Range specified is not valid for source object of size: %d", size)
	}
	return commands.CopyRange{Set: true, Off: start, Len: end - start + 1}, nil
}
