package s3

import (
	"context"
	"errors"
	"time"

	"github.com/annal-storage/annal/commands"
	"github.com/annal-storage/annal/gateways/s3/route"
	"github.com/annal-storage/annal/gateways/s3/s3err"
	"github.com/annal-storage/annal/keys"
)

// domainError is one row of the error table: a core error and the S3
// error a client sees for it.
type domainError struct {
	err  error
	code s3err.Code
	// message replaces the code's default wording when set.
	message string
	// retryAfter is sent as Retry-After with 503 answers.
	retryAfter time.Duration
}

// Messages for the rows where annal's model differs from S3's.
const (
	msgPosixKey = "annal stores keys as POSIX paths: a key must not contain empty, \".\" or \"..\" " +
		"components, components longer than 255 bytes, or NUL, and a folder key (ending in \"/\") cannot hold data."
	msgKeyConflict = "annal stores keys as POSIX paths: an object and a folder cannot share a name " +
		"(\"a\" and \"a/b\" cannot both exist)."
	msgConflict = "The key is being changed by concurrent requests; please retry."

	msgUnderRetention = "A retention hold covers this data: it cannot be deleted or overwritten until the hold ends " +
		"(with versioning enabled, a delete without a version id hides the name and keeps the bytes)."
	msgShredded       = "The tenant's data was crypto-shredded; it can no longer be read."
	msgKekUnavailable = "The tenant's key cannot be confirmed right now; please retry."
	msgThrottled      = "Writes are throttled until the tenant's audit export catches up; please retry."
)

// errorTable maps the core's domain errors (commands' sentinels) to S3
// errors. It is the only place the gateway makes that translation; the
// first row whose error matches wins, so the more specific sentinels
// come first. An error matching no row is an InternalError whose cause
// is logged, never shown.
var errorTable = []domainError{
	// Compliance (ADR-014).
	{err: commands.ErrUnderRetention, code: s3err.AccessDenied, message: msgUnderRetention},
	{err: keys.ErrKekDestroyed, code: s3err.AccessDenied, message: msgShredded},
	{err: keys.ErrKekUnavailable, code: s3err.ServiceUnavailable, message: msgKekUnavailable, retryAfter: time.Second},
	{err: commands.ErrNamespacePurged, code: s3err.NoSuchBucket},
	{err: commands.ErrThrottled, code: s3err.SlowDown, message: msgThrottled, retryAfter: 5 * time.Second},
	{err: commands.ErrNoSuchBucket, code: s3err.NoSuchBucket},
	{err: commands.ErrNamespaceSealed, code: s3err.NoSuchBucket, message: "The specified bucket is being deleted."},
	{err: commands.ErrNoSuchVersion, code: s3err.NoSuchVersion},
	{err: commands.ErrNoSuchUpload, code: s3err.NoSuchUpload},
	{err: commands.ErrNotFound, code: s3err.NoSuchKey},
	{err: commands.ErrAlreadyExists, code: s3err.BucketAlreadyOwnedByYou},
	{err: commands.ErrNotEmpty, code: s3err.BucketNotEmpty},
	{err: commands.ErrPreconditionFailed, code: s3err.PreconditionFailed},
	{err: commands.ErrBadDigest, code: s3err.BadDigest},
	{err: commands.ErrInvalidPartOrder, code: s3err.InvalidPartOrder},
	{err: commands.ErrInvalidPart, code: s3err.InvalidPart},
	{err: commands.ErrEntityTooSmall, code: s3err.EntityTooSmall},
	{err: commands.ErrParentNotDirectory, code: s3err.InvalidArgument, message: msgKeyConflict},
	{err: commands.ErrIsDirectory, code: s3err.InvalidArgument, message: msgKeyConflict},
	{err: commands.ErrNotDirectory, code: s3err.InvalidArgument, message: msgKeyConflict},
	{err: commands.ErrInvalid, code: s3err.InvalidArgument, message: msgPosixKey},
	{err: commands.ErrAccessDenied, code: s3err.AccessDenied},
	{err: commands.ErrConflict, code: s3err.SlowDown, message: msgConflict, retryAfter: time.Second},
	{err: commands.ErrUnavailable, code: s3err.ServiceUnavailable, retryAfter: time.Second},
	{err: commands.ErrAmbiguous, code: s3err.ServiceUnavailable, retryAfter: time.Second},
	{err: context.DeadlineExceeded, code: s3err.ServiceUnavailable, retryAfter: time.Second},
}

// toS3 turns any error a handler meets into the *s3err.Error to send.
// Errors that already are S3 errors (from the protocol packages) pass
// through; domain errors go through errorTable; the rest become
// InternalError. op selects the few operation-specific readings.
func toS3(err error, op route.Operation, bucket, key string) *s3err.Error {
	var e *s3err.Error
	if errors.As(err, &e) {
		if e.Resource == "" && bucket != "" {
			return e.WithResource(bucket, key)
		}
		return e
	}
	for _, row := range errorTable {
		if errors.Is(err, row.err) {
			out := s3err.Wrap(operationCode(row.code, op), err, row.message)
			out.RetryAfter = row.retryAfter
			return out.WithResource(bucket, resourceKey(op, key))
		}
	}
	return s3err.Wrap(s3err.InternalError, err, "").WithResource(bucket, resourceKey(op, key))
}

// operationCode adjusts a table code where S3 answers differently for a
// bucket-level operation: a missing key there means a missing bucket
// (the namespace vanished between routing and reading it).
func operationCode(code s3err.Code, op route.Operation) s3err.Code {
	if code == s3err.NoSuchKey && op.Scope() != route.ScopeObject {
		return s3err.NoSuchBucket
	}
	return code
}

// resourceKey names the key in an error only for object operations.
func resourceKey(op route.Operation, key string) string {
	if op.Scope() != route.ScopeObject {
		return ""
	}
	return key
}
