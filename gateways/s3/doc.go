// Package s3 is the S3 gateway: it authenticates requests (sigv4),
// classifies them (route), calls commands and renders answers (s3xml) and
// errors (s3err, one table).
//
// Invariants: handlers are thin (decode, call, map error, encode); request
// bodies stream into the data plane and response bodies stream out of it,
// so memory never grows with object size; every response carries
// x-amz-request-id.
//
// s3 may import commands, projections' error sentinels via commands, and
// its own sub-packages; never log/raft or chunks.
package s3
