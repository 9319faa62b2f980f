// Package s3err owns the S3 gateway's error vocabulary: one table mapping
// every S3 error code the gateway emits to its HTTP status and default
// message, the typed *Error that carries a code through the gateway, and
// the writer that renders it as the XML error body S3 clients parse.
//
// Invariants:
//   - Every Code constant has exactly one row in the table; Status and
//     DefaultMessage never guess for a listed code. An unlisted code is a
//     programming error and renders as 500 InternalError.
//   - An error that is not an *Error (after errors.As) is rendered as
//     InternalError with the default message: causes never leak to the
//     client, because they may name internal state of another tenant.
//   - HEAD requests and 304 responses get a status line and headers but
//     never a body (RFC 9110 §9.3.2, §15.4.5).
//
// s3err imports only the standard library. It must not import annal's
// core packages (commands, log, projections, chunks, keys): the domain
// maps its errors onto these codes in the gateway handler, never here.
package s3err
