// Package s3 is the S3 gateway: it authenticates requests (sigv4),
// classifies them (route), calls commands and renders answers (s3xml) and
// errors (s3err, one table).
//
// Layout: handler.go (authentication, dispatch table, request ids),
// errors.go (the one table from the core's domain errors to S3 codes),
// bucket.go, object.go, copy.go, delete.go, list.go, multipart.go,
// tagging.go (one function per operation), headers.go and request.go
// (header and query rules). Behaviour choices are in ADR-011.
//
// Invariants: handlers are thin (decode, call, map error, encode); request
// bodies stream into the data plane and response bodies stream out of it,
// so memory never grows with object size; nothing is committed before the
// verified body reached a clean EOF; every response carries
// x-amz-request-id; another tenant's bucket is indistinguishable from a
// missing one.
//
// s3 may import commands (and the log/event types of its API) and its
// own sub-packages; never log/raft, projections or chunks.
package s3
