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
// Use (see Example):
//
//	res, err := v.VerifyWith(r, sigv4.Options{ObjectChecksumHeaders: op == CompleteMultipartUpload})
//	io.Copy(dst, res.Body)        // decoded bytes; every check runs by EOF
//	res.Body.Checksums()          // computed x-amz-checksum-* values
//
// The handler never needs to know the payload mode: Result.Body hides
// it. UNSIGNED-PAYLOAD passes bytes through; a literal SHA-256 is
// compared at EOF (XAmzContentSHA256Mismatch); the STREAMING-* modes are
// de-framed, each chunk signature chained from the seed signature
// (SignatureDoesNotMatch), the trailer checksum compared (BadDigest) and
// the trailer signature checked; x-amz-decoded-content-length or
// Content-Length must match (IncompleteBody). Content-MD5 and a
// x-amz-checksum-<alg> header are checked in every mode.
//
// A header-authenticated request without x-amz-content-sha256 (curl
// --aws-sigv4 signs that way) is signed over the SHA-256 of its body: a
// bodiless one is verified at once with the empty hash; for one with a
// body the signature itself is checked at EOF (PayloadDeferredSHA256,
// Result.SignaturePending), so the handler must not act on, or reveal
// anything about, the target before the body has ended cleanly.
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
