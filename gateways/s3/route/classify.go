package route

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/annal-storage/annal/gateways/s3/s3err"
)

// Style is how the request named its bucket.
type Style int

// Addressing styles.
const (
	// PathStyle: http://host/bucket/key.
	PathStyle Style = iota
	// VirtualHostedStyle: http://bucket.base-domain/key.
	VirtualHostedStyle
)

// Request is a classified S3 request.
type Request struct {
	Operation Operation
	Style     Style
	Bucket    string // empty for service-level requests
	Key       string // decoded; empty for bucket-level requests
	Query     url.Values
	// Feature names what made the request Unsupported (a sub-resource
	// such as "lifecycle", or "post-object", "cors-preflight").
	Feature string
}

// NotImplemented is the error a handler sends for an Unsupported
// request.
func (r Request) NotImplemented() *s3err.Error {
	return s3err.Newf(s3err.NotImplemented, "%s is not implemented.", r.Feature).WithResource(r.Bucket, r.Key)
}

// unsupportedSubresources are S3 sub-resources outside annal's API
// subset (ADR-014). A request naming any of them is Unsupported whatever
// else it carries.
var unsupportedSubresources = []string{
	"accelerate", "analytics", "attributes", "cors", "encryption", "intelligent-tiering", "inventory",
	"legal-hold", "lifecycle", "logging", "metadataConfiguration", "metadataTable", "metrics",
	"notification", "object-lock", "ownershipControls", "policy", "policyStatus", "publicAccessBlock",
	"renameObject", "replication", "requestPayment", "restore", "retention", "select", "select-type",
	"session", "torrent", "website",
}

// Router classifies requests against the configured base domains.
type Router struct {
	domains []string // lower-case, no port, longest first
}

// New returns a Router for the given base domains, such as
// "s3.example.com" or "localhost". A request whose host is
// "<bucket>.<domain>" is virtual-hosted; any other host (the domain
// itself, an IP address, an unknown name) is path-style.
func New(baseDomains ...string) (*Router, error) {
	rt := &Router{}
	for _, d := range baseDomains {
		d = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(d), "."))
		if d == "" || strings.ContainsAny(d, ":/ ") {
			return nil, fmt.Errorf("route: invalid base domain %q", d)
		}
		rt.domains = append(rt.domains, d)
	}
	sort.Slice(rt.domains, func(i, j int) bool { return len(rt.domains[i]) > len(rt.domains[j]) })
	return rt, nil
}

// Classify decides the addressing style, extracts bucket and key, and
// names the operation. Out-of-scope requests come back with Operation
// Unsupported and no error; malformed ones with an *s3err.Error
// (InvalidURI, InvalidBucketName, KeyTooLongError, InvalidArgument,
// MethodNotAllowed).
func (rt *Router) Classify(r *http.Request) (Request, error) {
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return Request{}, s3err.Wrap(s3err.InvalidURI, err, "")
	}
	req := Request{Query: query}
	if err := rt.locate(r, &req); err != nil {
		return Request{}, err
	}
	if r.Method == http.MethodOptions {
		req.Feature = "cors-preflight"
		return req, nil
	}
	switch {
	case req.Bucket == "":
		err = classifyService(r, &req)
	case req.Key == "":
		err = classifyBucket(r, &req)
	default:
		err = classifyObject(r, &req)
	}
	if err != nil {
		return Request{}, err
	}
	return req, nil
}

// locate fills Style, Bucket and Key from the host and the decoded path.
func (rt *Router) locate(r *http.Request, req *Request) error {
	path := r.URL.Path
	if path == "" {
		path = "/"
	}
	if path[0] != '/' {
		return s3err.New(s3err.InvalidURI, "")
	}
	if bucket, ok := rt.virtualHostBucket(r.Host); ok {
		req.Style, req.Bucket, req.Key = VirtualHostedStyle, bucket, path[1:]
	} else {
		req.Style = PathStyle
		req.Bucket, req.Key, _ = strings.Cut(path[1:], "/")
	}
	if req.Bucket == "" {
		if req.Key != "" {
			return s3err.New(s3err.InvalidURI, "") // "//key" names no bucket
		}
		return nil
	}
	if err := ValidateBucketName(req.Bucket); err != nil {
		return err
	}
	if req.Key == "" {
		return nil
	}
	return wrapKeyError(ValidateKey(req.Key), req.Bucket, req.Key)
}

func wrapKeyError(err error, bucket, key string) error {
	var e *s3err.Error
	if errors.As(err, &e) {
		return e.WithResource(bucket, key)
	}
	return err
}

// virtualHostBucket returns the bucket label of host when host is
// "<bucket>.<base domain>".
func (rt *Router) virtualHostBucket(host string) (string, bool) {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, d := range rt.domains {
		if host == d {
			return "", false // the endpoint itself: path-style
		}
	}
	for _, d := range rt.domains {
		if bucket, ok := strings.CutSuffix(host, "."+d); ok && bucket != "" {
			return bucket, true
		}
	}
	return "", false
}

func has(q url.Values, name string) bool {
	_, ok := q[name]
	return ok
}

// unsupportedFeature returns the first out-of-scope sub-resource named
// by q, or "".
func unsupportedFeature(q url.Values) string {
	for _, s := range unsupportedSubresources {
		if has(q, s) {
			return s
		}
	}
	return ""
}

func methodNotAllowed(r *http.Request) error {
	return s3err.Newf(s3err.MethodNotAllowed, "The specified method (%s) is not allowed against this resource.", r.Method)
}

func classifyService(r *http.Request, req *Request) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed(r)
	}
	if f := unsupportedFeature(req.Query); f != "" {
		req.Feature = f
		return nil
	}
	req.Operation = ListBuckets
	return nil
}
