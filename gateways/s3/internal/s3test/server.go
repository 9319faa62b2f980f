// Package s3test is an in-memory S3 endpoint for the protocol packages'
// interoperability tests: it chains sigv4, route, s3xml and s3err the
// way the real gateway will, over a map instead of annal's core, and
// records what each request looked like on the wire.
//
// It is test infrastructure only. It is not the gateway, stores nothing
// durably, enforces no tenancy, and must never be imported by
// non-test code outside gateways/s3.
package s3test

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/annal-storage/annal/gateways/s3/route"
	"github.com/annal-storage/annal/gateways/s3/s3err"
	"github.com/annal-storage/annal/gateways/s3/s3xml"
	"github.com/annal-storage/annal/gateways/s3/sigv4"
)

// Observation records one request as the server saw it.
type Observation struct {
	Method    string
	Operation route.Operation
	Bucket    string
	Key       string
	Mode      sigv4.PayloadMode
	Presigned bool
	Checksums []sigv4.Checksum
	// HeaderChecksum is the x-amz-checksum-* request header as the
	// verifier reported it (for CompleteMultipartUpload: unchecked).
	HeaderChecksum *sigv4.Checksum
	Header         http.Header
	Body           []byte
	Err            error // the error answered, if any
}

// Server is the fake endpoint. Its zero value is not usable; call New.
type Server struct {
	verifier *sigv4.Verifier
	router   *route.Router
	now      func() time.Time

	mu      sync.Mutex
	buckets map[string]bool
	objects map[string][]byte // bucket + "/" + key
	uploads map[string]map[int][]byte
	nextID  int
	log     []Observation
}

// New returns a Server that authenticates with v and classifies with rt.
func New(v *sigv4.Verifier, rt *route.Router, now func() time.Time) *Server {
	return &Server{verifier: v, router: rt, now: now, buckets: map[string]bool{},
		objects: map[string][]byte{}, uploads: map[string]map[int][]byte{}}
}

// Observations returns a copy of the request log.
func (s *Server) Observations() []Observation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Observation(nil), s.log...)
}

// Object returns a stored object.
func (s *Server) Object(bucket, key string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.objects[bucket+"/"+key]
	return b, ok
}

// ServeHTTP authenticates, classifies, reads the verified body and
// dispatches. Errors are rendered by s3err.Write.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	obs := Observation{Method: r.Method, Header: r.Header.Clone()}
	err := s.serve(w, r, &obs)
	if err != nil {
		obs.Err = err
		s3err.Write(w, r, err, "s3test-request", "s3test-host")
	}
	s.mu.Lock()
	s.log = append(s.log, obs)
	s.mu.Unlock()
}

// serve classifies first (no I/O) so verification knows the operation,
// but reports a classification error only to an authenticated caller.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, obs *Observation) error {
	req, classifyErr := s.router.Classify(r)
	res, err := s.verifier.VerifyWith(r, sigv4.Options{
		ObjectChecksumHeaders: req.Operation == route.CompleteMultipartUpload,
	})
	if err != nil {
		return err
	}
	obs.Mode, obs.Presigned, obs.HeaderChecksum = res.Mode, res.Presigned, res.HeaderChecksum
	if classifyErr != nil {
		return classifyErr
	}
	obs.Operation, obs.Bucket, obs.Key = req.Operation, req.Bucket, req.Key
	if req.Operation == route.Unsupported {
		return req.NotImplemented()
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	obs.Body, obs.Checksums = body, res.Body.Checksums()
	for _, c := range obs.Checksums {
		w.Header().Set(c.Algorithm.HeaderName(), c.Value)
	}
	return s.dispatch(w, req, body)
}

func etag(b []byte) string {
	sum := md5.Sum(b)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

func (s *Server) dispatch(w http.ResponseWriter, req route.Request, body []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := req.Bucket + "/" + req.Key
	switch req.Operation {
	case route.ListBuckets:
		return s.listBuckets(w)
	case route.CreateBucket:
		s.buckets[req.Bucket] = true
	case route.HeadBucket:
		if !s.buckets[req.Bucket] {
			return s3err.New(s3err.NoSuchBucket, "").WithResource(req.Bucket, "")
		}
	case route.GetBucketLocation:
		return s3xml.WriteResponse(w, http.StatusOK, s3xml.LocationConstraint{})
	case route.ListObjectsV2:
		return s.listObjects(w, req)
	case route.PutObject:
		s.objects[name] = body
		w.Header().Set("ETag", etag(body))
	case route.GetObject, route.HeadObject:
		b, ok := s.objects[name]
		if !ok {
			return s3err.New(s3err.NoSuchKey, "").WithResource(req.Bucket, req.Key)
		}
		w.Header().Set("ETag", etag(b))
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.Header().Set("Last-Modified", s.now().UTC().Format(http.TimeFormat))
		if req.Operation == route.GetObject {
			_, _ = w.Write(b)
		}
	case route.DeleteObject:
		delete(s.objects, name)
		w.WriteHeader(http.StatusNoContent)
	case route.DeleteObjects:
		return s.deleteObjects(w, req, body)
	default:
		return s.dispatchMultipart(w, req, body)
	}
	return nil
}

func (s *Server) dispatchMultipart(w http.ResponseWriter, req route.Request, body []byte) error {
	id := req.Query.Get("uploadId")
	switch req.Operation {
	case route.CreateMultipartUpload:
		s.nextID++
		id = fmt.Sprintf("upload-%d", s.nextID)
		s.uploads[id] = map[int][]byte{}
		return s3xml.WriteResponse(w, http.StatusOK, s3xml.InitiateMultipartUploadResult{Bucket: req.Bucket, Key: req.Key, UploadID: id})
	case route.UploadPart:
		parts, ok := s.uploads[id]
		n, err := strconv.Atoi(req.Query.Get("partNumber"))
		if !ok || err != nil {
			return s3err.New(s3err.NoSuchUpload, "")
		}
		parts[n] = body
		w.Header().Set("ETag", etag(body))
		return nil
	case route.CompleteMultipartUpload:
		return s.complete(w, req, id, body)
	case route.AbortMultipartUpload:
		delete(s.uploads, id)
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return s3err.Newf(s3err.NotImplemented, "s3test does not implement %v", req.Operation)
}

func (s *Server) complete(w http.ResponseWriter, req route.Request, id string, body []byte) error {
	parts, ok := s.uploads[id]
	if !ok {
		return s3err.New(s3err.NoSuchUpload, "")
	}
	c, err := s3xml.DecodeCompleteMultipartUpload(strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	var object []byte
	for _, p := range c.Parts {
		data, ok := parts[p.PartNumber]
		if !ok || etag(data) != p.ETag && `"`+p.ETag+`"` != etag(data) {
			return s3err.New(s3err.InvalidPart, "")
		}
		object = append(object, data...)
	}
	delete(s.uploads, id)
	s.objects[req.Bucket+"/"+req.Key] = object
	return s3xml.WriteResponse(w, http.StatusOK, s3xml.CompleteMultipartUploadResult{
		Location: "/" + req.Bucket + "/" + req.Key, Bucket: req.Bucket, Key: req.Key,
		ETag: fmt.Sprintf(`"%x-%d"`, md5.Sum(object), len(c.Parts)),
	})
}

func (s *Server) deleteObjects(w http.ResponseWriter, req route.Request, body []byte) error {
	d, err := s3xml.DecodeDelete(strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	var result s3xml.DeleteResult
	for _, o := range d.Objects {
		delete(s.objects, req.Bucket+"/"+o.Key)
		if !d.Quiet {
			result.Deleted = append(result.Deleted, s3xml.DeletedObject{Key: o.Key, VersionID: o.VersionID})
		}
	}
	return s3xml.WriteResponse(w, http.StatusOK, result)
}

func (s *Server) listBuckets(w http.ResponseWriter) error {
	out := s3xml.ListAllMyBucketsResult{Owner: s3xml.Owner{ID: "s3test"}}
	for b := range s.buckets {
		out.Buckets = append(out.Buckets, s3xml.Bucket{Name: b, CreationDate: s3xml.Timestamp{Time: s.now()}})
	}
	sort.Slice(out.Buckets, func(i, j int) bool { return out.Buckets[i].Name < out.Buckets[j].Name })
	return s3xml.WriteResponse(w, http.StatusOK, out)
}

func (s *Server) listObjects(w http.ResponseWriter, req route.Request) error {
	prefix := req.Query.Get("prefix")
	out := s3xml.ListBucketResultV2{Name: req.Bucket, Prefix: prefix, MaxKeys: 1000}
	var keys []string
	for name := range s.objects {
		if key, ok := strings.CutPrefix(name, req.Bucket+"/"); ok && strings.HasPrefix(key, prefix) {
			keys = append(keys, key)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		b := s.objects[req.Bucket+"/"+k]
		out.Contents = append(out.Contents, s3xml.Object{Key: k, LastModified: s3xml.Timestamp{Time: s.now()},
			ETag: etag(b), Size: int64(len(b)), StorageClass: "STANDARD"})
	}
	out.KeyCount = len(out.Contents)
	return s3xml.WriteResponse(w, http.StatusOK, out)
}
