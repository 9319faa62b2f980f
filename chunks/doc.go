// Package chunks owns annal's bulk-data path below the event log: cutting
// a byte stream into content-defined chunks, naming chunks by content,
// sealing them (AES-256-GCM under a DEK derived per chunk), erasure coding
// or replicating the sealed envelope into fragments, placing fragments on
// distinct devices, and reading, reconstructing and repairing them.
//
// The pipeline, one chunk at a time:
//
//	Chunker.Next → IDSHA256 / IDHMAC → Seal → EncodeFragments → Store.Put
//	Store.Get → Reconstruct → Open
//
// Writer bundles the write side (WriteChunk, WriteStream) and the read side
// (ReadChunk). Directory devices (DirDevice) store fragments as files; raw
// block devices live in chunks/block.
//
// Invariants:
//   - Memory is bounded: the chunker holds at most twice the maximum chunk
//     size, whatever the length of the stream, and WriteStream adds about
//     3.5 maximum chunk sizes per chunk in flight.
//   - Every chunk's bytes are encrypted exactly once (one AEAD pass); no
//     plaintext reaches a Device. The DEK is unique per (epoch, chunk id),
//     which is what makes ConvergentNonce safe.
//   - Every on-disk and wire format (sealed envelope, fragment header,
//     directory-device file) starts with a magic or a u16 big-endian
//     format version at a fixed offset, read first on every decode path.
//     Decoders never panic on any input (fuzzed).
//   - Fragments of one chunk live on distinct devices; placement is a pure
//     function of (chunk id, device ids, health), so every node computes
//     the same one.
//   - A fragment whose header or payload checksum fails counts as missing,
//     never as data. A write succeeds only when every fragment is durable.
//   - Every fragment names the envelope it carries (seal epoch and nonce
//     tag, header version 2). Reconstruction combines fragments of one
//     envelope only, preferring the one the record names; repair never
//     writes a fragment of another envelope than the one it read, and
//     re-sealing (Writer.Reseal) writes beside the old fragments, never
//     over them (ADR-015).
//   - Library code reads no clock and no global randomness: nonces and
//     clocks are injected. Only DirDevice touches the operating system
//     (files, fsync, statfs).
//
// Must not import: anything from annal except keys (chunks is a leaf
// library used by commands and sim), net/http, math/rand, time.Now.
package chunks
