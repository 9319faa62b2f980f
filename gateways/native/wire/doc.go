// Package wire is the native API protocol, version 1: the request and
// response bodies, the error codes, the binary framing of write bodies
// and the path layout. The server (gateways/native) and every client
// (gateways/native/client, and future compute-node clients) share it.
//
// The protocol is described for humans in docs/native-api.md; this
// package is its normative form.
//
// Invariants:
//   - Every path starts with /v1/. A change that an old peer would
//     misread gets a new prefix (/v2/); additions (new optional JSON
//     fields, new endpoints, new error codes) stay in v1, and peers
//     ignore fields they do not know.
//   - Error codes are stable strings; a client maps them, never the
//     message text.
//
// wire imports only the standard library.
package wire
