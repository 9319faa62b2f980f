// Package route classifies S3 requests: it decides path-style versus
// virtual-hosted addressing, extracts the bucket and the decoded object
// key, and names the S3 operation from the method, the sub-resources in
// the query and a few headers (x-amz-copy-source, Content-Type for form
// uploads). It also owns the bucket-name and key validators and the
// x-amz-copy-source parser.
//
// Invariants:
//   - Keys are taken from the decoded request path byte for byte: no
//     path cleaning, so "a//b", "./x", trailing slashes, spaces and any
//     UTF-8 survive. Handlers must not route through http.ServeMux, which
//     cleans paths.
//   - Any request naming an out-of-scope sub-resource (lifecycle, policy,
//     cors, object-lock, …) or a form upload is Operation Unsupported,
//     never a guess at a nearby operation; the handler answers 501 with
//     Request.NotImplemented.
//   - Errors are *s3err.Error; classification reads no body and does no
//     I/O.
//
// route imports only the standard library and gateways/s3/s3err. It must
// not import annal's core packages.
package route
