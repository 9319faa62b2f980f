// Package s3xml owns the XML bodies of the S3 API subset annal serves:
// Go types with encoding/xml tags for every in-scope request and
// response document, the S3 timestamp format, and strict, bounded
// decoders for request bodies.
//
// Invariants:
//   - Response documents carry the S3 namespace
//     (http://s3.amazonaws.com/doc/2006-03-01/) on their root element; the
//     error body (an alias of s3err.Body) carries none. Request decoders
//     accept the root with that namespace or none, as SDKs send either.
//   - Every request decoder reads at most a fixed number of bytes before
//     parsing, refuses DOCTYPEs, trailing content and a wrong root, and
//     enforces S3's count limits (1000 keys per Delete, 10,000 parts per
//     CompleteMultipartUpload, 10/50 tags). Failures are *s3err.Error,
//     mostly MalformedXML. Decoders never panic (fuzzed).
//   - Unknown child elements are ignored, so a newer SDK field never
//     breaks an older gateway.
//   - Timestamps render as UTC ISO 8601 with milliseconds.
//
// s3xml imports only the standard library and gateways/s3/s3err. It must
// not import annal's core packages; handlers fill these types from
// query results.
package s3xml
