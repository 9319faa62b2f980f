package s3err

import (
	"net/http"
	"sort"
)

// Code is an S3 error code as it appears in the <Code> element of an
// error body. Codes are the ones Amazon S3 documents; clients switch on
// them, so a code is never renamed.
type Code string

// The error codes the gateway emits. Each has a row in table.
const (
	AccessDenied                      Code = "AccessDenied"
	AuthorizationHeaderMalformed      Code = "AuthorizationHeaderMalformed"
	AuthorizationQueryParametersError Code = "AuthorizationQueryParametersError"
	BadDigest                         Code = "BadDigest"
	BucketAlreadyExists               Code = "BucketAlreadyExists"
	BucketAlreadyOwnedByYou           Code = "BucketAlreadyOwnedByYou"
	BucketNotEmpty                    Code = "BucketNotEmpty"
	ConditionalRequestConflict        Code = "ConditionalRequestConflict"
	EntityTooLarge                    Code = "EntityTooLarge"
	EntityTooSmall                    Code = "EntityTooSmall"
	ExpiredToken                      Code = "ExpiredToken"
	IllegalVersioningConfiguration    Code = "IllegalVersioningConfigurationException"
	IncompleteBody                    Code = "IncompleteBody"
	InternalError                     Code = "InternalError"
	InvalidAccessKeyID                Code = "InvalidAccessKeyId"
	InvalidArgument                   Code = "InvalidArgument"
	InvalidBucketName                 Code = "InvalidBucketName"
	InvalidBucketState                Code = "InvalidBucketState"
	InvalidDigest                     Code = "InvalidDigest"
	InvalidEncryptionAlgorithm        Code = "InvalidEncryptionAlgorithmError"
	InvalidLocationConstraint         Code = "InvalidLocationConstraint"
	InvalidObjectState                Code = "InvalidObjectState"
	InvalidPart                       Code = "InvalidPart"
	InvalidPartOrder                  Code = "InvalidPartOrder"
	InvalidRange                      Code = "InvalidRange"
	InvalidRequest                    Code = "InvalidRequest"
	InvalidStorageClass               Code = "InvalidStorageClass"
	InvalidTag                        Code = "InvalidTag"
	InvalidToken                      Code = "InvalidToken"
	InvalidURI                        Code = "InvalidURI"
	KeyTooLongError                   Code = "KeyTooLongError"
	MalformedTrailerError             Code = "MalformedTrailerError"
	MalformedXML                      Code = "MalformedXML"
	MaxMessageLengthExceeded          Code = "MaxMessageLengthExceeded"
	MetadataTooLarge                  Code = "MetadataTooLarge"
	MethodNotAllowed                  Code = "MethodNotAllowed"
	MissingContentLength              Code = "MissingContentLength"
	MissingRequestBodyError           Code = "MissingRequestBodyError"
	MissingSecurityHeader             Code = "MissingSecurityHeader"
	NoSuchBucket                      Code = "NoSuchBucket"
	NoSuchKey                         Code = "NoSuchKey"
	NoSuchTagSet                      Code = "NoSuchTagSet"
	NoSuchUpload                      Code = "NoSuchUpload"
	NoSuchVersion                     Code = "NoSuchVersion"
	NotImplemented                    Code = "NotImplemented"
	NotModified                       Code = "NotModified"
	OperationAborted                  Code = "OperationAborted"
	PreconditionFailed                Code = "PreconditionFailed"
	RequestTimeTooSkewed              Code = "RequestTimeTooSkewed"
	RequestTimeout                    Code = "RequestTimeout"
	ServiceUnavailable                Code = "ServiceUnavailable"
	SignatureDoesNotMatch             Code = "SignatureDoesNotMatch"
	SlowDown                          Code = "SlowDown"
	TooManyBuckets                    Code = "TooManyBuckets"
	XAmzContentSHA256Mismatch         Code = "XAmzContentSHA256Mismatch"
)

type row struct {
	status  int
	message string
}

// table is the one place an S3 code meets its HTTP status and default
// message. Messages follow Amazon S3's wording so that tools which print
// them read as they do against AWS.
var table = map[Code]row{
	AccessDenied:                      {http.StatusForbidden, "Access Denied"},
	AuthorizationHeaderMalformed:      {http.StatusBadRequest, "The authorization header is malformed."},
	AuthorizationQueryParametersError: {http.StatusBadRequest, "The authorization query parameters are malformed."},
	BadDigest:                         {http.StatusBadRequest, "The Content-MD5 or checksum you specified did not match what we received."},
	BucketAlreadyExists:               {http.StatusConflict, "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again."},
	BucketAlreadyOwnedByYou:           {http.StatusConflict, "Your previous request to create the named bucket succeeded and you already own it."},
	BucketNotEmpty:                    {http.StatusConflict, "The bucket you tried to delete is not empty."},
	ConditionalRequestConflict:        {http.StatusConflict, "A conflicting conditional operation is currently in progress against this resource. Please try again."},
	EntityTooLarge:                    {http.StatusBadRequest, "Your proposed upload exceeds the maximum allowed object size."},
	EntityTooSmall:                    {http.StatusBadRequest, "Your proposed upload is smaller than the minimum allowed object size."},
	ExpiredToken:                      {http.StatusBadRequest, "The provided token has expired."},
	IllegalVersioningConfiguration:    {http.StatusBadRequest, "The versioning configuration specified in the request is invalid."},
	IncompleteBody:                    {http.StatusBadRequest, "You did not provide the number of bytes specified by the Content-Length HTTP header."},
	InternalError:                     {http.StatusInternalServerError, "We encountered an internal error. Please try again."},
	InvalidAccessKeyID:                {http.StatusForbidden, "The AWS access key Id you provided does not exist in our records."},
	InvalidArgument:                   {http.StatusBadRequest, "Invalid Argument"},
	InvalidBucketName:                 {http.StatusBadRequest, "The specified bucket is not valid."},
	InvalidBucketState:                {http.StatusConflict, "The request is not valid with the current state of the bucket."},
	InvalidDigest:                     {http.StatusBadRequest, "The Content-MD5 you specified is not valid."},
	InvalidEncryptionAlgorithm:        {http.StatusBadRequest, "The encryption request you specified is not valid."},
	InvalidLocationConstraint:         {http.StatusBadRequest, "The specified location constraint is not valid."},
	InvalidObjectState:                {http.StatusForbidden, "The operation is not valid for the current state of the object."},
	InvalidPart:                       {http.StatusBadRequest, "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag."},
	InvalidPartOrder:                  {http.StatusBadRequest, "The list of parts was not in ascending order. The parts list must be specified in order by part number."},
	InvalidRange:                      {http.StatusRequestedRangeNotSatisfiable, "The requested range is not satisfiable"},
	InvalidRequest:                    {http.StatusBadRequest, "Invalid Request"},
	InvalidStorageClass:               {http.StatusBadRequest, "The storage class you specified is not valid."},
	InvalidTag:                        {http.StatusBadRequest, "The tag provided was not a valid tag."},
	InvalidToken:                      {http.StatusBadRequest, "The provided token is malformed or otherwise invalid."},
	InvalidURI:                        {http.StatusBadRequest, "Couldn't parse the specified URI."},
	KeyTooLongError:                   {http.StatusBadRequest, "Your key is too long."},
	MalformedTrailerError:             {http.StatusBadRequest, "The request contained trailing data that was not well-formed or did not conform to our published schema."},
	MalformedXML:                      {http.StatusBadRequest, "The XML you provided was not well-formed or did not validate against our published schema."},
	MaxMessageLengthExceeded:          {http.StatusBadRequest, "Your request was too big."},
	MetadataTooLarge:                  {http.StatusBadRequest, "Your metadata headers exceed the maximum allowed metadata size."},
	MethodNotAllowed:                  {http.StatusMethodNotAllowed, "The specified method is not allowed against this resource."},
	MissingContentLength:              {http.StatusLengthRequired, "You must provide the Content-Length HTTP header."},
	MissingRequestBodyError:           {http.StatusBadRequest, "Request Body is empty."},
	MissingSecurityHeader:             {http.StatusBadRequest, "Your request is missing a required header."},
	NoSuchBucket:                      {http.StatusNotFound, "The specified bucket does not exist."},
	NoSuchKey:                         {http.StatusNotFound, "The specified key does not exist."},
	NoSuchTagSet:                      {http.StatusNotFound, "The TagSet does not exist."},
	NoSuchUpload:                      {http.StatusNotFound, "The specified multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have been aborted or completed."},
	NoSuchVersion:                     {http.StatusNotFound, "The specified version does not exist."},
	NotImplemented:                    {http.StatusNotImplemented, "A header or query you provided implies functionality that is not implemented."},
	NotModified:                       {http.StatusNotModified, "Not Modified"},
	OperationAborted:                  {http.StatusConflict, "A conflicting conditional operation is currently in progress against this resource. Try again."},
	PreconditionFailed:                {http.StatusPreconditionFailed, "At least one of the pre-conditions you specified did not hold."},
	RequestTimeTooSkewed:              {http.StatusForbidden, "The difference between the request time and the server's time is too large."},
	RequestTimeout:                    {http.StatusBadRequest, "Your socket connection to the server was not read from or written to within the timeout period."},
	ServiceUnavailable:                {http.StatusServiceUnavailable, "Service is unable to handle request."},
	SignatureDoesNotMatch:             {http.StatusForbidden, "The request signature we calculated does not match the signature you provided. Check your key and signing method."},
	SlowDown:                          {http.StatusServiceUnavailable, "Please reduce your request rate."},
	TooManyBuckets:                    {http.StatusBadRequest, "You have attempted to create more buckets than allowed."},
	XAmzContentSHA256Mismatch:         {http.StatusBadRequest, "The provided 'x-amz-content-sha256' header does not match what was computed."},
}

// Status returns the HTTP status for code, or 500 for a code missing from
// the table.
func Status(code Code) int {
	if r, ok := table[code]; ok {
		return r.status
	}
	return http.StatusInternalServerError
}

// DefaultMessage returns the S3 wording for code, or InternalError's
// message for a code missing from the table.
func DefaultMessage(code Code) string {
	if r, ok := table[code]; ok {
		return r.message
	}
	return table[InternalError].message
}

// Known reports whether code has a row in the table.
func Known(code Code) bool {
	_, ok := table[code]
	return ok
}

// Codes lists every code in the table, sorted, for tests and docs.
func Codes() []Code {
	codes := make([]Code, 0, len(table))
	for c := range table {
		codes = append(codes, c)
	}
	sort.Slice(codes, func(i, j int) bool { return codes[i] < codes[j] })
	return codes
}
