// Package client is the native API client: typed calls for every v1
// endpoint, SigV4 request signing with a tenant access key, the
// shared-credentials file reader, TLS and retries across server
// restarts.
//
// Invariants:
//   - A request that may have reached the server is retried only when
//     repeating it cannot change the outcome (reads, positional writes,
//     attribute sets, xattr sets); anything else is retried only when it
//     provably never left the client (the connection was refused).
//   - Errors from the server are *wire.Error values with a stable code;
//     transport failures are wrapped Go errors.
//   - No plaintext leaves the process except to the configured endpoint.
//
// client imports only the standard library and gateways/native/wire; it
// must not import the server side (commands, gateways/native), so a
// compute-node client links none of it.
package client
