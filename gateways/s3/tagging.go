package s3

import (
	"net/http"

	"github.com/annal-storage/annal/gateways/s3/s3xml"
)

func (h *Handler) getObjectTagging(c *call) error {
	o, err := h.openObject(c)
	if err != nil {
		return err
	}
	o.Close()
	out := s3xml.Tagging{TagSet: []s3xml.Tag{}}
	for _, t := range o.Info.Attrs.Tags {
		out.TagSet = append(out.TagSet, s3xml.Tag{Key: t.K, Value: t.V})
	}
	setVersionHeader(c.w.Header(), o.Info.VersionID)
	return s3xml.WriteResponse(c.w, http.StatusOK, out)
}

func (h *Handler) putObjectTagging(c *call) error {
	body, err := readSmallBody(c, s3xml.TaggingBodyBytesMax)
	if err != nil {
		return err
	}
	t, err := s3xml.DecodeTagging(body, s3xml.ObjectTagsMax)
	if err != nil {
		return err
	}
	tags, err := tagPairs(t.TagSet)
	if err != nil {
		return err
	}
	vid, err := h.svc.SetTags(c.ctx, c.p, c.bucket(), c.key(), c.req.Query.Get("versionId"), tags)
	if err != nil {
		return err
	}
	setVersionHeader(c.w.Header(), vid)
	c.w.WriteHeader(http.StatusOK)
	return nil
}

func (h *Handler) deleteObjectTagging(c *call) error {
	vid, err := h.svc.SetTags(c.ctx, c.p, c.bucket(), c.key(), c.req.Query.Get("versionId"), nil)
	if err != nil {
		return err
	}
	setVersionHeader(c.w.Header(), vid)
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// getObjectACL reports the owner's full control, for an existing object.
func (h *Handler) getObjectACL(c *call) error {
	o, err := h.openObject(c)
	if err != nil {
		return err
	}
	o.Close()
	return s3xml.WriteResponse(c.w, http.StatusOK, s3xml.OwnerFullControl(owner(c.p)))
}
