package s3

import (
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/annal-storage/annal/commands"
	"github.com/annal-storage/annal/gateways/s3/s3err"
	"github.com/annal-storage/annal/log/event"
)

// copyBufferBytes is the buffer a GET streams through.
const copyBufferBytes = 256 << 10

// putObject streams the verified body into the data plane. The core
// commits the version only after the body reached a clean EOF, so a
// failed check or an aborted client leaves nothing visible.
func (h *Handler) putObject(c *call) error {
	if err := checkWriteOptions(c); err != nil {
		return err
	}
	attrs, err := objectAttrs(c.r.Header)
	if err != nil {
		return err
	}
	cond, err := writeConditions(c.r.Header)
	if err != nil {
		return err
	}
	if _, err := bodyLength(c); err != nil {
		return err
	}
	info, err := h.svc.PutObject(c.ctx, c.p, commands.PutInput{
		Bucket: c.bucket(), Key: c.key(), Body: c.res.Body, Attrs: attrs, Conditions: cond,
		Checksums: func() []event.Pair { return checksumPairs(c.res.Body.Checksums()) },
	})
	if err != nil {
		return err
	}
	hd := c.w.Header()
	hd.Set("ETag", info.ETag())
	setVersionHeader(hd, info.VersionID)
	setBodyChecksums(c)
	echoSSE(c)
	c.w.WriteHeader(http.StatusOK)
	return nil
}

// openObject resolves the requested version for a read.
func (h *Handler) openObject(c *call) (*commands.Object, error) {
	o, err := h.svc.GetObject(c.ctx, c.p, c.bucket(), c.key(), c.req.Query.Get("versionId"))
	var marker *commands.DeleteMarkerError
	if errors.As(err, &marker) {
		c.w.Header().Set("X-Amz-Delete-Marker", "true")
		setVersionHeader(c.w.Header(), marker.VersionID)
	}
	if err != nil {
		return nil, err
	}
	if o.Info.DeleteMarker {
		o.Close()
		c.w.Header().Set("X-Amz-Delete-Marker", "true")
		setVersionHeader(c.w.Header(), o.Info.VersionID)
		return nil, s3err.New(s3err.MethodNotAllowed, "The specified method is not allowed against a delete marker.")
	}
	return o, nil
}

// prepareRead checks preconditions, the SSE-C refusal, the part number
// and the range, and writes the headers every read shares.
func prepareRead(c *call, info commands.ObjectInfo) (byteRange, error) {
	if err := checkSSE(c.r.Header, ""); err != nil {
		return byteRange{}, err
	}
	hd := c.w.Header()
	if err := readConditions(c.r.Header, info, getConditionHeaders); err != nil {
		if s3err.CodeOf(err) == s3err.NotModified {
			hd.Set("ETag", info.ETag())
			hd.Set("Last-Modified", httpTime(info.MtimeNs))
		}
		return byteRange{}, err
	}
	if pn := c.req.Query.Get("partNumber"); pn != "" && pn != "1" {
		return byteRange{}, s3err.New(s3err.NotImplemented, "Reading by part number is implemented for part 1 only.")
	}
	rng, err := parseRange(c.r.Header.Get("Range"), info.Size)
	if err != nil {
		hd.Set("Content-Range", "bytes */"+strconv.FormatInt(info.Size, 10))
		return rng, err
	}
	setObjectHeaders(hd, info)
	overrideHeaders(c)
	if !rng.partial {
		setChecksumHeaders(c, info)
	}
	hd.Set("Content-Length", strconv.FormatInt(rng.n, 10))
	if rng.partial {
		hd.Set("Content-Range", "bytes "+strconv.FormatInt(rng.off, 10)+"-"+
			strconv.FormatInt(rng.off+rng.n-1, 10)+"/"+strconv.FormatInt(info.Size, 10))
	}
	return rng, nil
}

// getObject streams one range (or all) of a version from one consistent
// snapshot. Once the status line is out an error can only cut the
// connection, so the client sees a short body rather than a wrong one.
func (h *Handler) getObject(c *call) error {
	o, err := h.openObject(c)
	if err != nil {
		return err
	}
	rng, err := prepareRead(c, o.Info)
	if err != nil {
		o.Close()
		return err
	}
	body := o.Open(rng.off, rng.n)
	defer body.Close()
	status := http.StatusOK
	if rng.partial {
		status = http.StatusPartialContent
	}
	c.w.WriteHeader(status)
	if _, err := io.CopyBuffer(c.w, body, make([]byte, copyBufferBytes)); err != nil {
		h.log.Warn("s3 GET aborted mid-body", "bucket", c.bucket(), "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}

func (h *Handler) headObject(c *call) error {
	o, err := h.openObject(c)
	if err != nil {
		return err
	}
	defer o.Close()
	rng, err := prepareRead(c, o.Info)
	if err != nil {
		return err
	}
	if rng.partial {
		c.w.WriteHeader(http.StatusPartialContent)
		return nil
	}
	c.w.WriteHeader(http.StatusOK)
	return nil
}

// deleteObject removes a key (a delete marker when versioned) or one
// version. Deleting what does not exist succeeds, as in S3.
func (h *Handler) deleteObject(c *call) error {
	res, err := h.svc.DeleteObject(c.ctx, c.p, c.bucket(), c.key(), c.req.Query.Get("versionId"))
	if err != nil {
		return err
	}
	setDeleteHeaders(c.w.Header(), res)
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

func setDeleteHeaders(hd http.Header, res commands.DeleteResult) {
	if res.DeleteMarker {
		hd.Set("X-Amz-Delete-Marker", "true")
	}
	if res.VersionID != "" {
		hd.Set("X-Amz-Version-Id", res.VersionID)
	}
}
