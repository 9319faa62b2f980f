package s3

import (
	"net/http"

	"github.com/annal-storage/annal/gateways/s3/s3err"
	"github.com/annal-storage/annal/gateways/s3/s3xml"
)

// listBuckets lists the caller's tenant's buckets only.
func (h *Handler) listBuckets(c *call) error {
	buckets, err := h.svc.ListBuckets(c.ctx, c.p)
	if err != nil {
		return err
	}
	out := s3xml.ListAllMyBucketsResult{Owner: owner(c.p), Buckets: []s3xml.Bucket{}}
	prefix := c.req.Query.Get("prefix")
	for _, b := range buckets {
		if len(b.Name) >= len(prefix) && b.Name[:len(prefix)] == prefix {
			out.Buckets = append(out.Buckets, s3xml.Bucket{Name: b.Name, CreationDate: xmlTime(b.CreatedNs)})
		}
	}
	out.Prefix = prefix
	return s3xml.WriteResponse(c.w, http.StatusOK, out)
}

// createBucket creates a namespace. Bucket names are scoped per tenant:
// a name another tenant uses is free for this one.
func (h *Handler) createBucket(c *call) error {
	if err := checkACLHeaders(c.r.Header); err != nil {
		return err
	}
	if c.r.Header.Get("X-Amz-Bucket-Object-Lock-Enabled") == "true" {
		return s3err.New(s3err.NotImplemented, "Object Lock is not implemented; annal uses retention holds.")
	}
	body, err := readSmallBody(c, s3xml.ConfigBodyBytesMax)
	if err != nil {
		return err
	}
	if _, err := s3xml.DecodeCreateBucketConfiguration(body); err != nil {
		return err
	}
	if err := h.svc.CreateBucket(c.ctx, c.p, c.bucket()); err != nil {
		return err
	}
	c.w.Header().Set("Location", "/"+c.bucket())
	c.w.WriteHeader(http.StatusOK)
	return nil
}

func (h *Handler) headBucket(c *call) error {
	if err := h.svc.HeadBucket(c.ctx, c.p, c.bucket()); err != nil {
		return err
	}
	c.w.Header().Set("X-Amz-Bucket-Region", h.region)
	c.w.WriteHeader(http.StatusOK)
	return nil
}

func (h *Handler) deleteBucket(c *call) error {
	if err := h.svc.DeleteBucket(c.ctx, c.p, c.bucket()); err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) getBucketLocation(c *call) error {
	if err := h.svc.HeadBucket(c.ctx, c.p, c.bucket()); err != nil {
		return err
	}
	loc := s3xml.LocationConstraint{}
	if h.region != "us-east-1" {
		loc.Region = h.region
	}
	return s3xml.WriteResponse(c.w, http.StatusOK, loc)
}

func (h *Handler) getBucketVersioning(c *call) error {
	status, err := h.svc.Versioning(c.ctx, c.p, c.bucket())
	if err != nil {
		return err
	}
	return s3xml.WriteResponse(c.w, http.StatusOK, s3xml.VersioningConfiguration{Status: status})
}

func (h *Handler) putBucketVersioning(c *call) error {
	body, err := readSmallBody(c, s3xml.ConfigBodyBytesMax)
	if err != nil {
		return err
	}
	cfg, err := s3xml.DecodeVersioningConfiguration(body)
	if err != nil {
		return err
	}
	if err := h.svc.SetVersioning(c.ctx, c.p, c.bucket(), cfg.Status); err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusOK)
	return nil
}

// getBucketACL reports annal's only access model: the owning tenant has
// full control.
func (h *Handler) getBucketACL(c *call) error {
	if err := h.svc.HeadBucket(c.ctx, c.p, c.bucket()); err != nil {
		return err
	}
	return s3xml.WriteResponse(c.w, http.StatusOK, s3xml.OwnerFullControl(owner(c.p)))
}

// Bucket tags are not stored: a bucket never has any.
func (h *Handler) getBucketTagging(c *call) error {
	if err := h.svc.HeadBucket(c.ctx, c.p, c.bucket()); err != nil {
		return err
	}
	return s3err.New(s3err.NoSuchTagSet, "")
}

func (h *Handler) putBucketTagging(c *call) error {
	if err := h.svc.HeadBucket(c.ctx, c.p, c.bucket()); err != nil {
		return err
	}
	return s3err.New(s3err.NotImplemented, "Bucket tagging is not implemented.")
}

func (h *Handler) deleteBucketTagging(c *call) error {
	if err := h.svc.HeadBucket(c.ctx, c.p, c.bucket()); err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}
