package s3

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/annal-storage/annal/commands"
	"github.com/annal-storage/annal/gateways/s3/route"
	"github.com/annal-storage/annal/gateways/s3/s3err"
	"github.com/annal-storage/annal/gateways/s3/sigv4"
	"github.com/annal-storage/annal/log/event"
)

// WorkflowRefHeader is the advisory header the gateway hands to the core
// untouched, through commands.WithWorkflowRef.
const WorkflowRefHeader = "X-Annal-Workflow-Ref"

// Config configures the gateway. The zero value of every field but
// Service has a working default.
type Config struct {
	Service *commands.Service
	// Now is the clock for SigV4 time checks (default time.Now): the
	// gateway is an I/O boundary, tests inject a skewed clock.
	Now func() time.Time
	// BaseDomains are the hosts under which "<bucket>.<domain>" is
	// virtual-hosted addressing (default "localhost").
	BaseDomains []string
	// Region is reported by GetBucketLocation and HeadBucket; requests
	// may sign for any region (default "us-east-1").
	Region string
	Logger *slog.Logger
}

// Handler is the S3 gateway.
type Handler struct {
	svc      *commands.Service
	verifier *sigv4.Verifier
	router   *route.Router
	region   string
	log      *slog.Logger

	hostID    string
	idPrefix  uint32
	idCounter atomic.Uint64
}

// NewHandler returns the S3 gateway over a command service with the
// default configuration (the binary's entry point).
func NewHandler(svc *commands.Service) http.Handler {
	h, err := New(Config{Service: svc})
	if err != nil {
		panic(err) // the defaults are valid
	}
	return h
}

// New returns the S3 gateway for cfg.
func New(cfg Config) (*Handler, error) {
	if cfg.Service == nil {
		return nil, errors.New("s3: Config needs a Service")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if len(cfg.BaseDomains) == 0 {
		cfg.BaseDomains = []string{"localhost"}
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &Handler{svc: cfg.Service, region: cfg.Region, log: cfg.Logger}
	var err error
	if h.router, err = route.New(cfg.BaseDomains...); err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	creds := sigv4.CredentialsFunc(h.credentials)
	if h.verifier, err = sigv4.New(sigv4.Config{Credentials: creds, Now: cfg.Now}); err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	var seed [8]byte
	_, _ = rand.Read(seed[:])
	h.idPrefix = binary.BigEndian.Uint32(seed[:4])
	h.hostID = fmt.Sprintf("annal-%08x", binary.BigEndian.Uint32(seed[4:]))
	return h, nil
}

// credentials resolves an access key through the control shard.
func (h *Handler) credentials(ctx context.Context, accessKeyID string) (string, any, error) {
	secret, p, err := h.svc.Credentials(ctx, accessKeyID)
	if errors.Is(err, commands.ErrNotFound) {
		return "", nil, fmt.Errorf("%w: %w", sigv4.ErrUnknownAccessKey, err)
	}
	if err != nil {
		return "", nil, fmt.Errorf("credentials of %s: %w", accessKeyID, err)
	}
	return secret, p, nil
}

// call is one authenticated, classified request on its way through a
// handler.
type call struct {
	w   http.ResponseWriter
	r   *http.Request
	ctx context.Context
	req route.Request
	res *sigv4.Result
	p   commands.Principal
}

func (c *call) bucket() string { return c.req.Bucket }
func (c *call) key() string    { return c.req.Key }

// ServeHTTP classifies (no I/O), authenticates, refuses out-of-scope
// requests, and dispatches to the operation's handler. Every answer
// carries x-amz-request-id.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := h.requestID()
	w.Header().Set(s3err.HeaderRequestID, requestID)
	w.Header().Set(s3err.HeaderHostID, h.hostID)
	req, classifyErr := h.router.Classify(r)
	if isHealthCheck(r, classifyErr) {
		w.WriteHeader(http.StatusOK)
		return
	}
	c, err := h.authenticate(w, r, req, classifyErr)
	if err == nil {
		defer c.res.Body.Close()
		err = h.dispatch(c)
		if err != nil && c.res.SignaturePending {
			err = signatureFirst(c, err)
		}
	}
	if err != nil {
		h.fail(w, r, req, err, requestID)
	}
}

// isHealthCheck: "HEAD /" on the endpoint itself answers 200 without
// authentication, for load balancers. (HEAD on a virtual-hosted bucket
// is HeadBucket and classifies without error.)
func isHealthCheck(r *http.Request, classifyErr error) bool {
	return r.Method == http.MethodHead && (r.URL.Path == "/" || r.URL.Path == "") &&
		s3err.CodeOf(classifyErr) == s3err.MethodNotAllowed
}

// authenticate verifies the signature before reporting anything about
// the request's shape, so anonymous callers learn nothing.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request, req route.Request, classifyErr error) (*call, error) {
	res, err := h.verifier.VerifyWith(r, sigv4.Options{
		ObjectChecksumHeaders: req.Operation == route.CompleteMultipartUpload,
	})
	if err != nil {
		return nil, err
	}
	if classifyErr != nil {
		res.Body.Close()
		return nil, classifyErr
	}
	p, ok := res.Principal.(commands.Principal)
	switch {
	case !ok:
		err = fmt.Errorf("credentials returned principal %T", res.Principal)
	case res.SessionToken != "":
		err = s3err.New(s3err.InvalidToken, "annal issues no session tokens; sign with an access key only.")
	case req.Operation == route.Unsupported:
		err = req.NotImplemented()
	}
	if err != nil {
		res.Body.Close()
		return nil, err
	}
	return &call{w: w, r: r, ctx: requestContext(r), req: req, res: res, p: p}, nil
}

// requestContext carries the advisory workflow reference, exactly as
// sent (valid or not: judging it is the core's business), into the
// context the core sees.
func requestContext(r *http.Request) context.Context {
	ctx := r.Context()
	if ref, ok := r.Header[WorkflowRefHeader]; ok && len(ref) > 0 {
		ctx = commands.WithWorkflowRef(ctx, ref[0])
	}
	return ctx
}

// signatureFirst handles a failure of a request whose signature is
// checked only at the end of its body: the body is drained, and if the
// signature (or another integrity check) fails, that is the answer, so
// a caller without the secret learns nothing about the target.
func signatureFirst(c *call, err error) error {
	if _, bodyErr := io.Copy(io.Discard, c.res.Body); bodyErr != nil {
		return bodyErr
	}
	return err
}

// fail writes err as an S3 error response and logs internal errors with
// their cause.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, req route.Request, err error, requestID string) {
	e := toS3(err, req.Operation, req.Bucket, req.Key)
	status := s3err.Write(w, r, e, requestID, h.hostID)
	if securityCodes[e.Code] {
		// A refused request is a security decision: audited, without the
		// bucket or key (tenant content the system shard must not hold).
		h.svc.RecordSecurity(event.AuditRecorded{Op: "S3 " + req.Operation.String(), Outcome: event.AuditOutcomeDenied,
			Code: string(e.Code), Details: []event.Pair{{K: "request_id", V: requestID}}})
	}
	if status >= 500 && status != http.StatusNotImplemented {
		h.log.Warn("s3 request failed", "request_id", requestID, "operation", req.Operation.String(),
			"status", status, "code", string(e.Code), "err", err)
	}
}

// securityCodes are the S3 answers that are security decisions.
var securityCodes = map[s3err.Code]bool{
	s3err.InvalidAccessKeyID: true, s3err.SignatureDoesNotMatch: true, s3err.AccessDenied: true,
	s3err.InvalidToken: true, s3err.RequestTimeTooSkewed: true,
}

// requestID returns a unique id per request: a random per-process prefix
// and a counter, in the 16 upper-case hex digits S3 uses.
func (h *Handler) requestID() string {
	return fmt.Sprintf("%08X%08X", h.idPrefix, uint32(h.idCounter.Add(1)))
}

// handlers maps each supported operation to its handler.
var handlers = map[route.Operation]func(*Handler, *call) error{
	route.ListBuckets:             (*Handler).listBuckets,
	route.CreateBucket:            (*Handler).createBucket,
	route.HeadBucket:              (*Handler).headBucket,
	route.DeleteBucket:            (*Handler).deleteBucket,
	route.GetBucketLocation:       (*Handler).getBucketLocation,
	route.GetBucketVersioning:     (*Handler).getBucketVersioning,
	route.PutBucketVersioning:     (*Handler).putBucketVersioning,
	route.GetBucketAcl:            (*Handler).getBucketACL,
	route.GetBucketTagging:        (*Handler).getBucketTagging,
	route.PutBucketTagging:        (*Handler).putBucketTagging,
	route.DeleteBucketTagging:     (*Handler).deleteBucketTagging,
	route.ListObjects:             (*Handler).listObjectsV1,
	route.ListObjectsV2:           (*Handler).listObjectsV2,
	route.ListObjectVersions:      (*Handler).listObjectVersions,
	route.ListMultipartUploads:    (*Handler).listMultipartUploads,
	route.DeleteObjects:           (*Handler).deleteObjects,
	route.PutObject:               (*Handler).putObject,
	route.CopyObject:              (*Handler).copyObject,
	route.GetObject:               (*Handler).getObject,
	route.HeadObject:              (*Handler).headObject,
	route.DeleteObject:            (*Handler).deleteObject,
	route.GetObjectAcl:            (*Handler).getObjectACL,
	route.GetObjectTagging:        (*Handler).getObjectTagging,
	route.PutObjectTagging:        (*Handler).putObjectTagging,
	route.DeleteObjectTagging:     (*Handler).deleteObjectTagging,
	route.CreateMultipartUpload:   (*Handler).createMultipartUpload,
	route.UploadPart:              (*Handler).uploadPart,
	route.UploadPartCopy:          (*Handler).uploadPartCopy,
	route.CompleteMultipartUpload: (*Handler).completeMultipartUpload,
	route.AbortMultipartUpload:    (*Handler).abortMultipartUpload,
	route.ListParts:               (*Handler).listParts,
}

func (h *Handler) dispatch(c *call) error {
	fn, ok := handlers[c.req.Operation]
	if !ok {
		return s3err.Newf(s3err.NotImplemented, "%v is not implemented.", c.req.Operation)
	}
	return fn(h, c)
}
