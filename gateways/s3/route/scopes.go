package route

import (
	"mime"
	"net/http"

	"github.com/annal-storage/annal/gateways/s3/s3err"
)

// classifyBucket names a bucket-level operation (no key).
func classifyBucket(r *http.Request, req *Request) error {
	q := req.Query
	if f := unsupportedFeature(q); f != "" {
		req.Feature = f
		return nil
	}
	switch r.Method {
	case http.MethodGet:
		return classifyBucketGet(req)
	case http.MethodHead:
		req.Operation = HeadBucket
	case http.MethodPut:
		switch {
		case has(q, "acl"):
			req.Feature = "acl"
		case has(q, "versioning"):
			req.Operation = PutBucketVersioning
		case has(q, "tagging"):
			req.Operation = PutBucketTagging
		default:
			req.Operation = CreateBucket
		}
	case http.MethodDelete:
		switch {
		case has(q, "acl"):
			req.Feature = "acl"
		case has(q, "tagging"):
			req.Operation = DeleteBucketTagging
		default:
			req.Operation = DeleteBucket
		}
	case http.MethodPost:
		if has(q, "delete") {
			req.Operation = DeleteObjects
		} else {
			req.Feature = postFeature(r)
		}
	default:
		return methodNotAllowed(r)
	}
	return nil
}

func classifyBucketGet(req *Request) error {
	q := req.Query
	switch {
	case has(q, "acl"):
		req.Operation = GetBucketAcl
	case has(q, "versioning"):
		req.Operation = GetBucketVersioning
	case has(q, "location"):
		req.Operation = GetBucketLocation
	case has(q, "tagging"):
		req.Operation = GetBucketTagging
	case has(q, "uploads"):
		req.Operation = ListMultipartUploads
	case has(q, "versions"):
		req.Operation = ListObjectVersions
	case has(q, "list-type"):
		if q.Get("list-type") != "2" {
			return s3err.New(s3err.InvalidArgument, "Invalid List Type specified: only list-type=2 is valid.")
		}
		req.Operation = ListObjectsV2
	default:
		req.Operation = ListObjects
	}
	return nil
}

// postFeature names an unsupported POST: a browser form upload when the
// body is multipart/form-data, otherwise a POST with no sub-resource.
func postFeature(r *http.Request) string {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && mt == "multipart/form-data" {
		return "post-object"
	}
	return "post-without-subresource"
}

// classifyObject names an object-level operation.
func classifyObject(r *http.Request, req *Request) error {
	q := req.Query
	if f := unsupportedFeature(q); f != "" {
		req.Feature = f
		return nil
	}
	switch r.Method {
	case http.MethodGet:
		switch {
		case has(q, "acl"):
			req.Operation = GetObjectAcl
		case has(q, "tagging"):
			req.Operation = GetObjectTagging
		case has(q, "uploadId"):
			req.Operation = ListParts
		default:
			req.Operation = GetObject
		}
	case http.MethodHead:
		req.Operation = HeadObject
	case http.MethodPut:
		return classifyObjectPut(r, req)
	case http.MethodDelete:
		switch {
		case has(q, "acl"):
			req.Feature = "acl"
		case has(q, "tagging"):
			req.Operation = DeleteObjectTagging
		case has(q, "uploadId"):
			req.Operation = AbortMultipartUpload
		default:
			req.Operation = DeleteObject
		}
	case http.MethodPost:
		switch {
		case has(q, "uploads"):
			req.Operation = CreateMultipartUpload
		case has(q, "uploadId"):
			req.Operation = CompleteMultipartUpload
		default:
			return methodNotAllowed(r)
		}
	default:
		return methodNotAllowed(r)
	}
	return nil
}

func classifyObjectPut(r *http.Request, req *Request) error {
	q := req.Query
	copying := r.Header.Get("X-Amz-Copy-Source") != ""
	switch {
	case has(q, "acl"):
		req.Feature = "acl"
	case has(q, "tagging"):
		req.Operation = PutObjectTagging
	case has(q, "uploadId") != has(q, "partNumber"):
		return s3err.New(s3err.InvalidArgument, "UploadPart needs both partNumber and uploadId.")
	case has(q, "uploadId") && copying:
		req.Operation = UploadPartCopy
	case has(q, "uploadId"):
		req.Operation = UploadPart
	case copying:
		req.Operation = CopyObject
	default:
		req.Operation = PutObject
	}
	return nil
}
