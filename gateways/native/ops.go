package native

import (
	"io"
	"net/http"
	"strconv"

	"github.com/annal-storage/annal/commands"
	"github.com/annal-storage/annal/gateways/native/wire"
)

// bucket is the mount handshake: the bucket exists for the caller, and
// its root.
func (h *handler) bucket(w http.ResponseWriter, req *request) error {
	a, err := h.svc.GetAttr(req.ctx, req.p, req.bucket, commands.RootIno)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, wire.Bucket{Name: req.bucket, Root: attrOf(a)})
	return nil
}

// createBucket creates a bucket (namespace) for the caller's tenant;
// AlreadyExists when the tenant has it.
func (h *handler) createBucket(w http.ResponseWriter, req *request) error {
	if err := h.svc.CreateBucket(req.ctx, req.p, req.bucket); err != nil {
		return err
	}
	return h.bucket(w, req)
}

// Inodes are not a limited resource; statfs reports these constants.
const (
	statfsFiles     = 1 << 40
	statfsFreeFiles = 1 << 39
)

func (h *handler) statfs(w http.ResponseWriter, req *request) error {
	if err := h.svc.HeadBucket(req.ctx, req.p, req.bucket); err != nil {
		return err
	}
	out := wire.StatFS{Files: statfsFiles, FreeFiles: statfsFreeFiles, NameMax: maxNameBytes}
	if h.cfg.Capacity != nil {
		out.TotalBytes, out.FreeBytes = h.cfg.Capacity()
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *handler) getAttr(w http.ResponseWriter, req *request) error {
	a, err := h.svc.GetAttr(req.ctx, req.p, req.bucket, req.ino)
	return replyAttr(w, http.StatusOK, a, err)
}

func (h *handler) setAttr(w http.ResponseWriter, req *request) error {
	var in wire.SetAttrRequest
	if err := req.decode(&in); err != nil {
		return err
	}
	a, err := h.svc.SetAttr(req.ctx, req.p, req.bucket, req.ino, commands.SetAttrInput{
		Mode: in.Mode, Uid: in.Uid, Gid: in.Gid, Size: in.Size, AtimeNs: in.AtimeNs, MtimeNs: in.MtimeNs,
		AtimeNow: in.AtimeNow, MtimeNow: in.MtimeNow})
	return replyAttr(w, http.StatusOK, a, err)
}

// children is a lookup (?name=) or a listing page (?after=&limit=).
func (h *handler) children(w http.ResponseWriter, req *request) error {
	if req.r.URL.Query().Has("name") {
		a, err := h.svc.Lookup(req.ctx, req.p, req.bucket, req.ino, req.query("name"))
		return replyAttr(w, http.StatusOK, a, err)
	}
	limit, err := req.queryInt("limit", 1000)
	if err != nil {
		return err
	}
	limit = min(max(limit, 1), commands.MaxReadDirEntries)
	es, err := h.svc.ReadDir(req.ctx, req.p, req.bucket, req.ino, req.query("after"), int(limit))
	if err != nil {
		return err
	}
	out := wire.Entries{Entries: make([]wire.Entry, 0, len(es)), More: len(es) == int(limit)}
	for _, e := range es {
		out.Entries = append(out.Entries, wire.Entry{Name: e.Name, Attr: attrOf(e.Attr), Cursor: e.Cursor})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

var kinds = map[string]uint8{wire.TypeFile: commands.KindFile, wire.TypeDir: commands.KindDir, wire.TypeSymlink: commands.KindSymlink}

func (h *handler) create(w http.ResponseWriter, req *request) error {
	var in wire.CreateRequest
	if err := req.decode(&in); err != nil {
		return err
	}
	if err := checkName(in.Name); err != nil {
		return err
	}
	if in.Type == wire.TypeLink {
		a, err := h.svc.Link(req.ctx, req.p, req.bucket, in.Ino, req.ino, in.Name)
		return replyAttr(w, http.StatusCreated, a, err)
	}
	kind, ok := kinds[in.Type]
	if !ok {
		return &wire.Error{Code: wire.CodeNotSupported, Message: "node type " + strconv.Quote(in.Type)}
	}
	a, err := h.svc.CreateNode(req.ctx, req.p, req.bucket, kind, commands.NodeInput{Parent: req.ino, Name: in.Name,
		Mode: in.Mode, Uid: in.Uid, Gid: in.Gid, Target: in.Target})
	return replyAttr(w, http.StatusCreated, a, err)
}

func (h *handler) remove(w http.ResponseWriter, req *request) error {
	err := h.svc.Remove(req.ctx, req.p, req.bucket, req.ino, req.query("name"), req.query("dir") == "1")
	if err == nil {
		w.WriteHeader(http.StatusNoContent)
	}
	return err
}

func (h *handler) rename(w http.ResponseWriter, req *request) error {
	var in wire.RenameRequest
	if err := req.decode(&in); err != nil {
		return err
	}
	if err := checkName(in.TargetName); err != nil {
		return err
	}
	err := h.svc.Rename(req.ctx, req.p, req.bucket, commands.RenameInput{SourceParent: in.SourceParent,
		SourceName: in.SourceName, TargetParent: in.TargetParent, TargetName: in.TargetName, NoReplace: in.NoReplace})
	if err == nil {
		w.WriteHeader(http.StatusNoContent)
	}
	return err
}

// read streams bytes [offset, offset+length) of a file, clamped to its
// size. A failure after the status line aborts the response, so the
// client sees a short body, never wrong bytes.
func (h *handler) read(w http.ResponseWriter, req *request) error {
	off, err := req.queryInt("offset", 0)
	if err != nil {
		return err
	}
	n, err := req.queryInt("length", 1<<62)
	if err != nil {
		return err
	}
	rc, a, err := h.svc.ReadFile(req.ctx, req.p, req.bucket, req.ino, off, n)
	if err != nil {
		return err
	}
	defer rc.Close()
	n = max(min(n, a.Size-off), 0)
	w.Header().Set(wire.HeaderSize, strconv.FormatInt(a.Size, 10))
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	w.WriteHeader(http.StatusOK)
	buf := make([]byte, 1<<20)
	if _, err := io.CopyBuffer(w, rc, buf); err != nil {
		h.log.Warn("native: read aborted", "bucket", req.bucket, "ino", req.ino, "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}

func (h *handler) write(w http.ResponseWriter, req *request) error {
	spans, err := wire.ReadSpanTable(req.body)
	if err != nil {
		return &wire.Error{Code: wire.CodeInvalid, Message: err.Error()}
	}
	in := commands.WriteInput{Ino: req.ino, Data: req.body, Append: req.query("append") == "1"}
	for _, s := range spans {
		in.Spans = append(in.Spans, commands.WriteSpan{Offset: s.Offset, Len: s.Len})
	}
	a, err := h.svc.WriteFile(req.ctx, req.p, req.bucket, in)
	return replyAttr(w, http.StatusOK, a, err)
}

// getXattr returns one value (?name=) or the list of names.
func (h *handler) getXattr(w http.ResponseWriter, req *request) error {
	if !req.r.URL.Query().Has("name") {
		names, err := h.svc.ListXattrs(req.ctx, req.p, req.bucket, req.ino)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, wire.XattrNames{Names: append([]string{}, names...)})
		return nil
	}
	v, err := h.svc.GetXattr(req.ctx, req.p, req.bucket, req.ino, req.query("name"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(v)))
	_, _ = w.Write(v) // a client gone mid-response is not a server error
	return nil
}

// maxXattrBytes is the largest xattr value (XATTR_SIZE_MAX).
const maxXattrBytes = 64 << 10

func (h *handler) setXattr(w http.ResponseWriter, req *request) error {
	mode := commands.XattrAny
	switch req.query("mode") {
	case wire.XattrCreate:
		mode = commands.XattrCreate
	case wire.XattrReplace:
		mode = commands.XattrReplace
	}
	v, err := io.ReadAll(io.LimitReader(req.body, maxXattrBytes+1))
	if err != nil {
		return err
	}
	if len(v) > maxXattrBytes {
		return &wire.Error{Code: wire.CodeInvalid, Message: "xattr value over 64 KiB"}
	}
	if err := h.svc.SetXattr(req.ctx, req.p, req.bucket, req.ino, req.query("name"), v, mode); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handler) removeXattr(w http.ResponseWriter, req *request) error {
	if err := h.svc.RemoveXattr(req.ctx, req.p, req.bucket, req.ino, req.query("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
