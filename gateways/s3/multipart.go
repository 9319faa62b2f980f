package s3

import (
	"net/http"
	"strings"

	"github.com/annal-storage/annal/commands"
	"github.com/annal-storage/annal/gateways/s3/s3xml"
	"github.com/annal-storage/annal/log/event"
)

// partsMax is S3's limit on parts per upload (and on part numbers).
const partsMax = 10000

func (h *Handler) createMultipartUpload(c *call) error {
	if err := checkWriteOptions(c); err != nil {
		return err
	}
	attrs, err := objectAttrs(c.r.Header)
	if err != nil {
		return err
	}
	id, err := h.svc.CreateUpload(c.ctx, c.p, c.bucket(), c.key(), attrs, event.PosixAttrs{})
	if err != nil {
		return err
	}
	echoSSE(c)
	return s3xml.WriteResponse(c.w, http.StatusOK, s3xml.InitiateMultipartUploadResult{
		Bucket: c.bucket(), Key: c.key(), UploadID: id,
		ChecksumAlgorithm: strings.ToUpper(c.r.Header.Get("X-Amz-Checksum-Algorithm"))})
}

// uploadPart streams one part; like PutObject it is recorded only after
// the body verified.
func (h *Handler) uploadPart(c *call) error {
	n, err := partNumber(c)
	if err != nil {
		return err
	}
	if err := checkSSE(c.r.Header, ""); err != nil {
		return err
	}
	if _, err := bodyLength(c); err != nil {
		return err
	}
	part, err := h.svc.UploadPart(c.ctx, c.p, c.bucket(), c.key(), c.req.Query.Get("uploadId"), n, c.res.Body, nil)
	if err != nil {
		return err
	}
	c.w.Header().Set("ETag", part.ETag)
	setBodyChecksums(c)
	c.w.WriteHeader(http.StatusOK)
	return nil
}

// uploadPartCopy makes a part from a range of an existing object.
func (h *Handler) uploadPartCopy(c *call) error {
	n, err := partNumber(c)
	if err != nil {
		return err
	}
	src, from, err := h.openCopySource(c)
	if err != nil {
		return err
	}
	rng, err := copySourceRange(c, src.Info.Size)
	if err != nil {
		src.Close()
		return err
	}
	part, err := h.svc.UploadPartCopy(c.ctx, c.p, c.bucket(), c.key(), c.req.Query.Get("uploadId"), n, src, rng)
	if err != nil {
		return err
	}
	if from.VersionID != "" {
		c.w.Header().Set("X-Amz-Copy-Source-Version-Id", from.VersionID)
	}
	return s3xml.WriteResponse(c.w, http.StatusOK, s3xml.CopyPartResult{LastModified: xmlTime(part.MtimeNs), ETag: part.ETag})
}

// completeMultipartUpload binds the listed parts into a version after
// checking order, ETags and sizes (InvalidPartOrder, InvalidPart,
// EntityTooSmall).
func (h *Handler) completeMultipartUpload(c *call) error {
	cond, err := writeConditions(c.r.Header)
	if err != nil {
		return err
	}
	body, err := readSmallBody(c, s3xml.CompleteBodyBytesMax)
	if err != nil {
		return err
	}
	doc, err := s3xml.DecodeCompleteMultipartUpload(body)
	if err != nil {
		return err
	}
	parts := make([]commands.CompletedPart, 0, len(doc.Parts))
	for _, p := range doc.Parts {
		parts = append(parts, commands.CompletedPart{Number: int32(p.PartNumber), ETag: p.ETag})
	}
	info, err := h.svc.CompleteUpload(c.ctx, c.p, c.bucket(), c.key(), c.req.Query.Get("uploadId"), parts, cond)
	if err != nil {
		return err
	}
	setVersionHeader(c.w.Header(), info.VersionID)
	return s3xml.WriteResponse(c.w, http.StatusOK, s3xml.CompleteMultipartUploadResult{
		Location: "/" + c.bucket() + "/" + c.key(), Bucket: c.bucket(), Key: c.key(), ETag: info.ETag()})
}

func (h *Handler) abortMultipartUpload(c *call) error {
	if err := h.svc.AbortUpload(c.ctx, c.p, c.bucket(), c.key(), c.req.Query.Get("uploadId")); err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) listParts(c *call) error {
	maxParts, err := intParam(c, "max-parts", listKeysMax, listKeysMax)
	if err != nil {
		return err
	}
	marker, err := intParam(c, "part-number-marker", 0, partsMax)
	if err != nil {
		return err
	}
	uploadID := c.req.Query.Get("uploadId")
	_, parts, more, err := h.svc.ListParts(c.ctx, c.p, c.bucket(), c.key(), uploadID, int32(marker), maxParts)
	if err != nil {
		return err
	}
	o := owner(c.p)
	res := s3xml.ListPartsResult{Bucket: c.bucket(), Key: c.key(), UploadID: uploadID, PartNumberMarker: marker,
		MaxParts: maxParts, IsTruncated: more, Initiator: s3xml.Initiator(o), Owner: o, StorageClass: "STANDARD"}
	for _, p := range parts {
		res.Parts = append(res.Parts, s3xml.Part{PartNumber: int(p.Number), LastModified: xmlTime(p.MtimeNs), ETag: p.ETag, Size: p.Size})
		res.NextPartNumberMarker = int(p.Number)
	}
	return s3xml.WriteResponse(c.w, http.StatusOK, res)
}

// listMultipartUploads pages uploads in progress by (key, upload id),
// rolling keys up into common prefixes when a delimiter is given.
func (h *Handler) listMultipartUploads(c *call) error {
	enc, err := newEncoder(c)
	if err != nil {
		return err
	}
	maxUploads, err := intParam(c, "max-uploads", listKeysMax, listKeysMax)
	if err != nil {
		return err
	}
	q := c.req.Query
	o := owner(c.p)
	res := s3xml.ListMultipartUploadsResult{Bucket: c.bucket(), KeyMarker: enc.s(q.Get("key-marker")),
		UploadIDMarker: q.Get("upload-id-marker"), Prefix: enc.s(q.Get("prefix")), Delimiter: enc.s(q.Get("delimiter")),
		MaxUploads: maxUploads, EncodingType: enc.typ()}
	page := uploadPage{max: maxUploads, prefix: q.Get("prefix"), delim: q.Get("delimiter")}
	keyMarker, idMarker := q.Get("key-marker"), q.Get("upload-id-marker")
	for !page.done {
		ups, more, err := h.svc.ListUploads(c.ctx, c.p, c.bucket(), page.prefix, keyMarker, idMarker, listKeysMax)
		if err != nil {
			return err
		}
		for _, u := range ups {
			if !page.add(pendingUpload{key: u.Key, id: u.ID, initiatedNs: u.InitiatedNs}) {
				break
			}
			keyMarker, idMarker = u.Key, u.ID
		}
		page.done = page.done || !more
	}
	for _, u := range page.uploads {
		res.Uploads = append(res.Uploads, s3xml.Upload{Key: enc.s(u.key), UploadID: u.id, Initiator: s3xml.Initiator(o),
			Owner: o, StorageClass: "STANDARD", Initiated: xmlTime(u.initiatedNs)})
	}
	res.CommonPrefixes = enc.prefixes(page.prefixes)
	if res.IsTruncated = page.truncated; page.truncated {
		res.NextKeyMarker, res.NextUploadIDMarker = enc.s(page.lastKey), page.lastID
	}
	return s3xml.WriteResponse(c.w, http.StatusOK, res)
}

// pendingUpload is one multipart upload in progress.
type pendingUpload struct {
	key, id     string
	initiatedNs int64
}

// uploadPage collects one page of uploads and common prefixes.
type uploadPage struct {
	max             int
	prefix, delim   string
	uploads         []pendingUpload
	prefixes        []string
	lastKey, lastID string
	truncated, done bool
}

// add takes one upload; false when the page is full.
func (p *uploadPage) add(u pendingUpload) bool {
	cp := ""
	if p.delim != "" {
		if i := strings.Index(u.key[len(p.prefix):], p.delim); i >= 0 {
			cp = u.key[:len(p.prefix)+i+len(p.delim)]
		}
	}
	if cp != "" && len(p.prefixes) > 0 && p.prefixes[len(p.prefixes)-1] == cp {
		return true
	}
	if len(p.uploads)+len(p.prefixes) >= p.max {
		p.truncated, p.done = true, true
		return false
	}
	if cp != "" {
		p.prefixes = append(p.prefixes, cp)
		p.lastKey, p.lastID = cp, ""
	} else {
		p.uploads = append(p.uploads, u)
		p.lastKey, p.lastID = u.key, u.id
	}
	return true
}
