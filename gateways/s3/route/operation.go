package route

import "strconv"

// Operation is the S3 API operation a request invokes.
type Operation int

// The operations the gateway classifies. Unsupported is the zero value:
// anything not positively recognised is answered 501 NotImplemented.
const (
	Unsupported Operation = iota

	ListBuckets

	CreateBucket
	HeadBucket
	DeleteBucket
	ListObjects
	ListObjectsV2
	ListObjectVersions
	GetBucketVersioning
	PutBucketVersioning
	GetBucketLocation
	GetBucketAcl
	GetBucketTagging
	PutBucketTagging
	DeleteBucketTagging
	ListMultipartUploads
	DeleteObjects

	PutObject
	CopyObject
	GetObject
	HeadObject
	DeleteObject
	GetObjectAcl
	GetObjectTagging
	PutObjectTagging
	DeleteObjectTagging
	CreateMultipartUpload
	UploadPart
	UploadPartCopy
	CompleteMultipartUpload
	AbortMultipartUpload
	ListParts

	operationCount // keep last
)

var operationNames = [operationCount]string{
	Unsupported:             "Unsupported",
	ListBuckets:             "ListBuckets",
	CreateBucket:            "CreateBucket",
	HeadBucket:              "HeadBucket",
	DeleteBucket:            "DeleteBucket",
	ListObjects:             "ListObjects",
	ListObjectsV2:           "ListObjectsV2",
	ListObjectVersions:      "ListObjectVersions",
	GetBucketVersioning:     "GetBucketVersioning",
	PutBucketVersioning:     "PutBucketVersioning",
	GetBucketLocation:       "GetBucketLocation",
	GetBucketAcl:            "GetBucketAcl",
	GetBucketTagging:        "GetBucketTagging",
	PutBucketTagging:        "PutBucketTagging",
	DeleteBucketTagging:     "DeleteBucketTagging",
	ListMultipartUploads:    "ListMultipartUploads",
	DeleteObjects:           "DeleteObjects",
	PutObject:               "PutObject",
	CopyObject:              "CopyObject",
	GetObject:               "GetObject",
	HeadObject:              "HeadObject",
	DeleteObject:            "DeleteObject",
	GetObjectAcl:            "GetObjectAcl",
	GetObjectTagging:        "GetObjectTagging",
	PutObjectTagging:        "PutObjectTagging",
	DeleteObjectTagging:     "DeleteObjectTagging",
	CreateMultipartUpload:   "CreateMultipartUpload",
	UploadPart:              "UploadPart",
	UploadPartCopy:          "UploadPartCopy",
	CompleteMultipartUpload: "CompleteMultipartUpload",
	AbortMultipartUpload:    "AbortMultipartUpload",
	ListParts:               "ListParts",
}

// String is the AWS API name of the operation.
func (o Operation) String() string {
	if o >= 0 && o < operationCount {
		return operationNames[o]
	}
	return "Operation(" + strconv.Itoa(int(o)) + ")"
}

// Scope is what an operation addresses.
type Scope int

// Scopes, from the service down to one object.
const (
	ScopeService Scope = iota
	ScopeBucket
	ScopeObject
)

// Scope reports whether o addresses the service, a bucket or an object.
// Unsupported reports ScopeService.
func (o Operation) Scope() Scope {
	switch {
	case o >= CreateBucket && o <= DeleteObjects:
		return ScopeBucket
	case o >= PutObject && o < operationCount:
		return ScopeObject
	}
	return ScopeService
}

// IsWrite reports whether o changes state; handlers use it to refuse
// writes on read-only namespaces before touching the body.
func (o Operation) IsWrite() bool {
	switch o {
	case CreateBucket, DeleteBucket, PutBucketVersioning, PutBucketTagging, DeleteBucketTagging, DeleteObjects,
		PutObject, CopyObject, DeleteObject, PutObjectTagging, DeleteObjectTagging, CreateMultipartUpload,
		UploadPart, UploadPartCopy, CompleteMultipartUpload, AbortMultipartUpload:
		return true
	}
	return false
}
