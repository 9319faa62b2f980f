package chunks

import (
	"errors"
	"fmt"
	"io"
)

// MasterKeys supplies system master keys by epoch. The caller implements
// it over the keys shard's projection (production) or a fixed table
// (tests, simulator). Implementations must be safe for concurrent use.
type MasterKeys interface {
	// Current returns the epoch new chunks are sealed under and its key.
	Current() (epoch uint32, key []byte)
	// Key returns the key of an epoch, or an error when it is unknown or
	// retired.
	Key(epoch uint32) ([]byte, error)
}

// ChunkRef is what the write path records about a chunk (in the
// ChunkPlacementRecorded event) and what the read path needs back.
type ChunkRef struct {
	ID             ChunkID
	Epoch          uint32
	PlaintextBytes int
	SealedBytes    int
	Placement      Placement
	// Deduplicated is set when WriteChunk found the chunk already stored
	// and wrote nothing; Epoch, SealedBytes and Placement are then zero and
	// the caller takes them from the existing chunk's record.
	Deduplicated bool
}

// WriterConfig configures a Writer.
type WriterConfig struct {
	Store   *Store
	Profile Profile
	Keys    MasterKeys
	// Nonces supplies GCM nonces: crypto/rand.Reader in production, a
	// seeded generator in tests and the simulator. The Writer is safe for
	// concurrent use only if Nonces is.
	Nonces io.Reader
	// DedupKey selects chunk ids: nil for SHA-256 ids (cross-tenant
	// dedup), the tenant's dedup key for HMAC ids.
	DedupKey []byte
	// Exists, if set, is asked before storing a chunk; true skips the
	// write (dedup). It should consult the chunk shard, and must revive a
	// condemned chunk before answering true.
	Exists func(ChunkID) bool
}

// Writer runs the chunk pipeline: id → seal → encode → put, and back.
type Writer struct {
	cfg WriterConfig
}

// NewWriter checks cfg and returns a Writer.
func NewWriter(cfg WriterConfig) (*Writer, error) {
	if cfg.Store == nil || cfg.Keys == nil || cfg.Nonces == nil {
		return nil, errors.New("new chunk writer: Store, Keys and Nonces are required")
	}
	if err := cfg.Profile.Validate(); err != nil {
		return nil, fmt.Errorf("new chunk writer: %w", err)
	}
	return &Writer{cfg: cfg}, nil
}

// ID returns the chunk id the writer gives plaintext.
func (w *Writer) ID(plaintext []byte) ChunkID {
	if w.cfg.DedupKey != nil {
		return IDHMAC(w.cfg.DedupKey, plaintext)
	}
	return IDSHA256(plaintext)
}

// WriteChunk stores one chunk and returns its reference. It returns only
// after every fragment is durable (Store.Put). plaintext is not retained.
func (w *Writer) WriteChunk(plaintext []byte) (ChunkRef, error) {
	id := w.ID(plaintext)
	if w.cfg.Exists != nil && w.cfg.Exists(id) {
		return ChunkRef{ID: id, PlaintextBytes: len(plaintext), Deduplicated: true}, nil
	}
	var nonce [SealNonceBytes]byte
	if _, err := io.ReadFull(w.cfg.Nonces, nonce[:]); err != nil {
		return ChunkRef{}, fmt.Errorf("write chunk %s: nonce: %w", id, err)
	}
	epoch, master := w.cfg.Keys.Current()
	sealed := Seal(make([]byte, 0, SealedSize(len(plaintext))), master, epoch, id, nonce, plaintext)
	placement, err := w.cfg.Store.Put(w.cfg.Profile, id, sealed)
	if err != nil {
		return ChunkRef{}, fmt.Errorf("write chunk: %w", err)
	}
	return ChunkRef{ID: id, Epoch: epoch, PlaintextBytes: len(plaintext), SealedBytes: len(sealed), Placement: placement}, nil
}

// WriteStream chunks r with params and writes every chunk, returning the
// references in stream order. Memory stays bounded by the chunker's buffer
// and one chunk in flight.
func (w *Writer) WriteStream(r io.Reader, params ChunkerParams) ([]ChunkRef, error) {
	chunker, err := NewChunker(r, params)
	if err != nil {
		return nil, fmt.Errorf("write stream: %w", err)
	}
	var refs []ChunkRef
	for {
		chunk, err := chunker.Next()
		if err == io.EOF {
			return refs, nil
		}
		if err != nil {
			return refs, fmt.Errorf("write stream: %w", err)
		}
		ref, err := w.WriteChunk(chunk)
		if err != nil {
			return refs, fmt.Errorf("write stream: chunk %d: %w", len(refs), err)
		}
		refs = append(refs, ref)
	}
}

// ReadChunk reads, reconstructs and opens a chunk. The report lists
// unusable fragments met on the way (schedule Store.Repair when it is
// Degraded); it is returned with errors too.
func (w *Writer) ReadChunk(ref ChunkRef) ([]byte, ReadReport, error) {
	sealed, report, err := w.cfg.Store.Get(ref.ID, ref.Placement)
	if err != nil {
		return nil, report, fmt.Errorf("read chunk: %w", err)
	}
	plaintext, err := Open(make([]byte, 0, max(0, len(sealed)-SealOverheadBytes)), w.cfg.Keys.Key, ref.ID, sealed)
	if err != nil {
		return nil, report, fmt.Errorf("read chunk: %w", err)
	}
	return plaintext, report, nil
}
