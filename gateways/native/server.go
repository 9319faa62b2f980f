package native

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/annal-storage/annal/commands"
	"github.com/annal-storage/annal/gateways/native/wire"
	"github.com/annal-storage/annal/gateways/s3/sigv4"
	"github.com/annal-storage/annal/keys"
	"github.com/annal-storage/annal/log/event"
)

// Config configures the native API handler.
type Config struct {
	Service *commands.Service
	// Now is the clock signatures are checked against. Required.
	Now func() time.Time
	// Capacity reports the storage behind the node for statfs; nil
	// reports zeros.
	Capacity func() (totalBytes, freeBytes uint64)
	// ServerVersion is announced at GET /v1/version.
	ServerVersion string
	Logger        *slog.Logger
}

// maxJSONBytes bounds a JSON request body.
const maxJSONBytes = 1 << 20

// maxNameBytes is the longest name (NAME_MAX).
const maxNameBytes = 255

type handler struct {
	cfg      Config
	svc      *commands.Service
	verifier *sigv4.Verifier
	log      *slog.Logger
	mux      *http.ServeMux
}

// NewHandler returns the native API handler.
func NewHandler(cfg Config) (http.Handler, error) {
	if cfg.Service == nil || cfg.Now == nil {
		return nil, errors.New("native: Config needs Service and Now")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	svc := cfg.Service
	creds := sigv4.CredentialsFunc(func(ctx context.Context, accessKeyID string) (string, any, error) {
		secret, p, err := svc.Credentials(ctx, accessKeyID)
		if errors.Is(err, commands.ErrNotFound) {
			return "", nil, fmt.Errorf("%w: %v", sigv4.ErrUnknownAccessKey, err)
		}
		return secret, p, err
	})
	v, err := sigv4.New(sigv4.Config{Credentials: creds, Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	h := &handler{cfg: cfg, svc: svc, verifier: v, log: cfg.Logger, mux: http.NewServeMux()}
	h.routes()
	return h.mux, nil
}

func (h *handler) routes() {
	h.mux.HandleFunc("GET "+wire.PathVersion, h.version)
	for pattern, fn := range map[string]func(http.ResponseWriter, *request) error{
		"GET /v1/buckets/{bucket}":                          h.bucket,
		"PUT /v1/buckets/{bucket}":                          h.createBucket,
		"GET /v1/buckets/{bucket}/statfs":                   h.statfs,
		"POST /v1/buckets/{bucket}/rename":                  h.rename,
		"GET /v1/buckets/{bucket}/inodes/{ino}":             h.getAttr,
		"PATCH /v1/buckets/{bucket}/inodes/{ino}":           h.setAttr,
		"GET /v1/buckets/{bucket}/inodes/{ino}/children":    h.children,
		"POST /v1/buckets/{bucket}/inodes/{ino}/children":   h.create,
		"DELETE /v1/buckets/{bucket}/inodes/{ino}/children": h.remove,
		"GET /v1/buckets/{bucket}/inodes/{ino}/data":        h.read,
		"POST /v1/buckets/{bucket}/inodes/{ino}/data":       h.write,
		"GET /v1/buckets/{bucket}/inodes/{ino}/xattrs":      h.getXattr,
		"PUT /v1/buckets/{bucket}/inodes/{ino}/xattrs":      h.setXattr,
		"DELETE /v1/buckets/{bucket}/inodes/{ino}/xattrs":   h.removeXattr,
	} {
		h.mux.Handle(pattern, h.auth(pattern, fn))
	}
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &wire.Error{Code: wire.CodeNotSupported, Message: r.Method + " " + r.URL.Path + " is not part of the native API v1"})
	})
}

func (h *handler) version(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, wire.Version{API: wire.API, Server: h.cfg.ServerVersion})
}

// request is an authenticated native API request.
type request struct {
	r      *http.Request
	ctx    context.Context
	p      commands.Principal
	bucket string
	ino    uint64
	body   io.Reader
}

// auth verifies the signature, parses the common path parts and runs fn,
// mapping its error.
func (h *handler) auth(pattern string, fn func(http.ResponseWriter, *request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		res, err := h.verifier.Verify(r)
		if err != nil {
			h.svc.RecordSecurity(event.AuditRecorded{Op: "native " + pattern, Outcome: event.AuditOutcomeDenied, Code: string(wire.CodeUnauthenticated)})
			writeError(w, &wire.Error{Code: wire.CodeUnauthenticated, Message: err.Error()})
			h.log.Debug("native: unauthenticated", "op", pattern, "err", err)
			return
		}
		defer res.Body.Close()
		p, _ := res.Principal.(commands.Principal)
		req := &request{r: r, ctx: r.Context(), p: p, bucket: r.PathValue("bucket"), body: res.Body}
		if s := r.PathValue("ino"); s != "" {
			if req.ino, err = strconv.ParseUint(s, 10, 64); err != nil || req.ino == 0 {
				writeError(w, &wire.Error{Code: wire.CodeInvalid, Message: "inode number " + strconv.Quote(s)})
				return
			}
		}
		err = fn(w, req)
		if err != nil {
			e := errorOf(err)
			if e.Code == wire.CodeInternal {
				h.log.Warn("native: request failed", "op", pattern, "bucket", req.bucket, "ino", req.ino, "err", err)
			}
			writeError(w, e)
		}
		h.log.Debug("native", "op", pattern, "bucket", req.bucket, "ino", req.ino, "code", wire.CodeOf(errorOrNil(err)),
			"ms", time.Since(start).Milliseconds())
	})
}

func errorOrNil(err error) error {
	if err == nil {
		return nil
	}
	return errorOf(err)
}

// errorTable maps domain errors to wire codes: the one place the native
// API translates errors.
var errorTable = []struct {
	err  error
	code wire.Code
}{
	// Compliance (ADR-014): held data and shredded tenants refuse
	// (EACCES); a key that cannot be confirmed is retriable (EIO).
	{commands.ErrUnderRetention, wire.CodeAccessDenied},
	{keys.ErrKekDestroyed, wire.CodeAccessDenied},
	{keys.ErrKekUnavailable, wire.CodeUnavailable},
	{commands.ErrNamespacePurged, wire.CodeNoSuchBucket},
	{commands.ErrThrottled, wire.CodeUnavailable},
	{commands.ErrNotFound, wire.CodeNotFound},
	{commands.ErrAlreadyExists, wire.CodeAlreadyExists},
	{commands.ErrNotEmpty, wire.CodeNotEmpty},
	{commands.ErrNotDirectory, wire.CodeNotDirectory},
	{commands.ErrIsDirectory, wire.CodeIsDirectory},
	{commands.ErrParentNotDirectory, wire.CodeParentNotDirectory},
	{commands.ErrInvalid, wire.CodeInvalid},
	{commands.ErrNoData, wire.CodeNoData},
	{commands.ErrLoop, wire.CodeLoop},
	{commands.ErrCrossDevice, wire.CodeCrossDevice},
	{commands.ErrNoSuchBucket, wire.CodeNoSuchBucket},
	{commands.ErrNamespaceSealed, wire.CodeNoSuchBucket},
	{commands.ErrAccessDenied, wire.CodeAccessDenied},
	{commands.ErrPreconditionFailed, wire.CodePreconditionFailed},
	{commands.ErrConflict, wire.CodeConflict},
	{commands.ErrUnavailable, wire.CodeUnavailable},
	{commands.ErrAmbiguous, wire.CodeUnavailable},
	{context.DeadlineExceeded, wire.CodeUnavailable},
}

// errorOf maps an error to its wire form; anything unknown is Internal.
func errorOf(err error) *wire.Error {
	var we *wire.Error
	if errors.As(err, &we) {
		return we
	}
	for _, e := range errorTable {
		if errors.Is(err, e.err) {
			return &wire.Error{Code: e.code, Message: err.Error()}
		}
	}
	return &wire.Error{Code: wire.CodeInternal, Message: err.Error()}
}

func writeError(w http.ResponseWriter, e *wire.Error) {
	writeJSON(w, e.Code.Status(), e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (req *request) decode(v any) error {
	dec := json.NewDecoder(io.LimitReader(req.body, maxJSONBytes))
	if err := dec.Decode(v); err != nil {
		return &wire.Error{Code: wire.CodeInvalid, Message: "request body: " + err.Error()}
	}
	return nil
}

func (req *request) query(name string) string { return req.r.URL.Query().Get(name) }

func (req *request) queryInt(name string, def int64) (int64, error) {
	s := req.query(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, &wire.Error{Code: wire.CodeInvalid, Message: fmt.Sprintf("query parameter %s=%q", name, s)}
	}
	return n, nil
}

// checkName refuses names no POSIX path (or S3 key) can hold.
func checkName(name string) error {
	switch {
	case len(name) > maxNameBytes:
		return &wire.Error{Code: wire.CodeNameTooLong, Message: fmt.Sprintf("name of %d bytes", len(name))}
	case !utf8.ValidString(name):
		return &wire.Error{Code: wire.CodeInvalid, Message: "names are UTF-8 (every path is also an S3 key)"}
	}
	return nil
}

func attrOf(a commands.Attr) wire.Attr {
	return wire.Attr{Ino: a.Ino, Mode: a.Mode, Nlink: a.Nlink, Uid: a.Uid, Gid: a.Gid, Size: a.Size,
		AtimeNs: a.AtimeNs, MtimeNs: a.MtimeNs, CtimeNs: a.CtimeNs, Target: a.Target}
}

func replyAttr(w http.ResponseWriter, status int, a commands.Attr, err error) error {
	if err != nil {
		return err
	}
	writeJSON(w, status, attrOf(a))
	return nil
}
