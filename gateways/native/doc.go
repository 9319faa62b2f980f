// Package native is the server side of the native API: the versioned
// HTTP protocol (package wire, docs/native-api.md) that mount clients and,
// later, compute-node clients use for metadata operations and data
// streams on a namespace.
//
// It owns: routing /v1 requests, authenticating them with the tenant's
// access key (AWS SigV4 header signatures, verified by gateways/s3/sigv4),
// decoding bodies, calling commands, and the one table that maps domain
// errors to wire codes.
//
// Invariants:
//   - Every endpoint but GET /v1/version requires a valid signature; the
//     caller acts as the tenant that owns the access key, and a bucket of
//     another tenant is NoSuchBucket (no existence oracle).
//   - Handlers are thin: decode, call one commands.Service method, map the
//     error, encode. Request and response data stream; memory never grows
//     with the size of a read or write.
//   - A write is acknowledged only after its event is committed and
//     applied (fsync on the client returns after that acknowledgement).
//
// native may import commands, gateways/native/wire and gateways/s3/sigv4
// (signature verification only); never log/raft, chunks or projections.
package native
