package s3

import (
	"net/http"

	"github.com/annal-storage/annal/gateways/s3/route"
	"github.com/annal-storage/annal/gateways/s3/s3err"
	"github.com/annal-storage/annal/gateways/s3/s3xml"
)

// deleteObjects deletes up to 1000 keys. S3 requires an integrity
// header on this body (Content-MD5 or x-amz-checksum-*), which the
// verifier checks before the document is parsed. A key that fails is
// reported in the result with its S3 code; the others still go.
func (h *Handler) deleteObjects(c *call) error {
	if c.r.Header.Get("Content-Md5") == "" && c.res.HeaderChecksum == nil && c.r.Header.Get("X-Amz-Trailer") == "" {
		return s3err.New(s3err.InvalidRequest, "Missing required header for this request: Content-MD5 or x-amz-checksum-*")
	}
	if err := h.svc.HeadBucket(c.ctx, c.p, c.bucket()); err != nil {
		return err
	}
	body, err := readSmallBody(c, s3xml.DeleteBodyBytesMax)
	if err != nil {
		return err
	}
	doc, err := s3xml.DecodeDelete(body)
	if err != nil {
		return err
	}
	var res s3xml.DeleteResult
	for _, o := range doc.Objects {
		out, err := h.svc.DeleteObject(c.ctx, c.p, c.bucket(), o.Key, o.VersionID)
		if err != nil {
			e := toS3(err, route.DeleteObject, c.bucket(), o.Key)
			res.Errors = append(res.Errors, s3xml.DeleteError{Key: o.Key, VersionID: o.VersionID, Code: e.Code, Message: e.ClientMessage()})
			continue
		}
		if doc.Quiet {
			continue
		}
		d := s3xml.DeletedObject{Key: o.Key, VersionID: o.VersionID}
		if out.DeleteMarker {
			d.DeleteMarker = true
			d.DeleteMarkerVersionID = out.VersionID
		}
		res.Deleted = append(res.Deleted, d)
	}
	return s3xml.WriteResponse(c.w, http.StatusOK, res)
}
