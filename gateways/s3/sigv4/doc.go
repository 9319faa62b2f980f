// Package sigv4 authenticates S3 requests signed with AWS Signature
// Version 4 and decodes their payloads.
//
// It owns: parsing the Authorization header and presigned query
// parameters; S3's canonicalisation (no path normalisation, per-segment
// URI encoding, sorted query, trimmed header values); the string to sign,
// key derivation and constant-time signature comparison; clock-skew and
// presign-expiry rules; and the payload modes of x-amz-content-sha256 —
// UNSIGNED-PAYLOAD, a literal SHA-256, and the aws-chunked streaming
// forms STREAMING-AWS4-HMAC-SHA256-PAYLOAD, …-PAYLOAD-TRAILER and
// STREAMING-UNSIGNED-PAYLOAD-TRAILER, with their chunk and trailer
// signatures and x-amz-checksum-* trailers. It also verifies Content-MD5
// and x-amz-checksum-* headers while the body streams.
//
// Use:
//
//	res, err := v.Verify(r)       // *s3err.Error on failure
//	io.Copy(dst, res.Body)        // decoded bytes; checks run at EOF
//	res.Body.Checksums()          // computed x-amz-checksum-* values
//
// Invariants:
//   - Anonymous requests are refused (AccessDenied); there is no public
//     access path.
//   - Every x-amz-* request header must be covered by the signature.
//   - The payload is never trusted before Body.Read returns io.EOF; every
//     other outcome of reading it is an *s3err.Error and sticky.
//   - Memory is bounded whatever the client sends: chunk data streams
//     through, lines and trailers have fixed limits.
//   - No wall clock, no randomness: time comes from Config.Now.
//   - Every error returned to callers is an *s3err.Error with the code AWS
//     uses for the same fault.
//
// sigv4 imports only the standard library and gateways/s3/s3err. It must
// not import annal's core packages (commands, log, projections, chunks,
// keys): identity reaches it through the Credentials interface.
package sigv4
