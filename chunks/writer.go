package chunks

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/annal-storage/annal/keys"
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
	// Nonces, if set, supplies GCM nonces (crypto/rand.Reader, or a
	// seeded generator in tests); the Writer serializes reads from it.
	// Nil selects ConvergentNonce, the recommended default: with random
	// nonces, two writers racing to store the same new chunk seal it into
	// two different envelopes, and their fragments, which share keys on the
	// same devices, can end up interleaved and unreadable (ChunkCorrupted).
	Nonces io.Reader
	// DedupKey selects chunk ids: nil for SHA-256 ids (cross-tenant
	// dedup), the tenant's dedup key for HMAC ids.
	DedupKey []byte
	// Exists, if set, is asked before storing a chunk; true skips the
	// write (dedup). It should consult the chunk shard, and must revive a
	// condemned chunk before answering true. With ChunksInFlight > 1 it is
	// called concurrently.
	Exists func(ChunkID) bool
	// ChunksInFlight bounds how many chunks WriteStream seals and writes
	// at once (0 means 1). Each holds up to about 3.5 times the maximum
	// chunk size (plaintext copy, envelope, fragments), so memory stays
	// bounded; more than one hides fsync latency.
	ChunksInFlight int
}

// Writer runs the chunk pipeline: id → seal → encode → put, and back. It
// is safe for concurrent use if Exists and Keys are.
type Writer struct {
	cfg     WriterConfig
	nonceMu sync.Mutex
}

// NewWriter checks cfg and returns a Writer.
func NewWriter(cfg WriterConfig) (*Writer, error) {
	if cfg.Store == nil || cfg.Keys == nil {
		return nil, errors.New("new chunk writer: Store and Keys are required")
	}
	if err := cfg.Profile.Validate(); err != nil {
		return nil, fmt.Errorf("new chunk writer: %w", err)
	}
	return &Writer{cfg: cfg}, nil
}

// Store returns the store the writer puts chunks in.
func (w *Writer) Store() *Store { return w.cfg.Store }

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
	nonce, err := w.nextNonce()
	if err != nil {
		return ChunkRef{}, fmt.Errorf("write chunk: %w", err)
	}
	return w.writeChunk(plaintext, nonce)
}

// nextNonce draws a nonce from Nonces, or returns nil when nonces are
// convergent.
func (w *Writer) nextNonce() (*[SealNonceBytes]byte, error) {
	if w.cfg.Nonces == nil {
		return nil, nil
	}
	var nonce [SealNonceBytes]byte
	w.nonceMu.Lock()
	defer w.nonceMu.Unlock()
	if _, err := io.ReadFull(w.cfg.Nonces, nonce[:]); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	return &nonce, nil
}

// writeChunk seals plaintext with nonce (nil: ConvergentNonce) and puts it.
func (w *Writer) writeChunk(plaintext []byte, nonce *[SealNonceBytes]byte) (ChunkRef, error) {
	id := w.ID(plaintext)
	if w.cfg.Exists != nil && w.cfg.Exists(id) {
		return ChunkRef{ID: id, PlaintextBytes: len(plaintext), Deduplicated: true}, nil
	}
	epoch, master := w.cfg.Keys.Current()
	if len(master) < keys.MinMasterKeySizeBytes {
		return ChunkRef{}, fmt.Errorf("write chunk %s: epoch %d key is %d bytes: %w", id, epoch, len(master), ErrMasterKeyInvalid)
	}
	if nonce == nil {
		convergent := ConvergentNonce(epoch, id)
		nonce = &convergent
	}
	sealed := Seal(make([]byte, 0, SealedSize(len(plaintext))), master, epoch, id, *nonce, plaintext)
	placement, err := w.cfg.Store.Put(w.cfg.Profile, id, sealed)
	if err != nil {
		return ChunkRef{}, fmt.Errorf("write chunk: %w", err)
	}
	return ChunkRef{ID: id, Epoch: epoch, PlaintextBytes: len(plaintext), SealedBytes: len(sealed), Placement: placement}, nil
}

// WriteStream chunks r with params and writes every chunk, up to
// ChunksInFlight at once, returning the references in stream order. Nonces
// from Nonces are drawn in stream order, so a seeded source gives the same
// envelopes whatever the scheduling. On error it returns no references; chunks
// already stored are left for orphan collection.
func (w *Writer) WriteStream(r io.Reader, params ChunkerParams) ([]ChunkRef, error) {
	chunker, err := NewChunker(r, params)
	if err != nil {
		return nil, fmt.Errorf("write stream: %w", err)
	}
	s := &streamWrite{writer: w, free: make(chan []byte, max(1, w.cfg.ChunksInFlight))}
	for range cap(s.free) {
		s.free <- nil
	}
	produceErr := s.produce(chunker)
	s.inFlight.Wait()
	if err := errors.Join(append(s.errs, produceErr)...); err != nil {
		return nil, fmt.Errorf("write stream: %w", err)
	}
	refs := make([]ChunkRef, len(s.refs))
	for i, ref := range s.refs {
		refs[i] = *ref
	}
	return refs, nil
}

// streamWrite is one WriteStream call. Chunk buffers circulate through
// free; taking one is the admission ticket, which bounds memory.
type streamWrite struct {
	writer   *Writer
	free     chan []byte
	inFlight sync.WaitGroup
	refs     []*ChunkRef // in stream order, filled by the goroutines
	failed   atomic.Bool
	errsMu   sync.Mutex
	errs     []error
}

// produce feeds chunks to writer goroutines until the stream ends or a
// write fails.
func (s *streamWrite) produce(chunker *Chunker) error {
	for !s.failed.Load() {
		chunk, err := chunker.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		nonce, err := s.writer.nextNonce()
		if err != nil {
			return err
		}
		buffer := append((<-s.free)[:0], chunk...)
		ref := &ChunkRef{}
		s.refs = append(s.refs, ref)
		s.inFlight.Go(func() {
			defer func() { s.free <- buffer }()
			var err error
			if *ref, err = s.writer.writeChunk(buffer, nonce); err != nil {
				s.failed.Store(true)
				s.errsMu.Lock()
				s.errs = append(s.errs, err)
				s.errsMu.Unlock()
			}
		})
	}
	return nil
}

// ReadChunk reads, reconstructs and opens a chunk. Reads prefer the
// envelope of ref.Epoch (when ref.Placement does not name one). The
// report lists unusable fragments met on the way (schedule Store.Repair
// when it is Degraded); it is returned with errors too.
func (w *Writer) ReadChunk(ref ChunkRef) ([]byte, ReadReport, error) {
	placement := ref.Placement
	if placement.Epoch == 0 {
		placement.Epoch = ref.Epoch
	}
	sealed, report, err := w.cfg.Store.Get(ref.ID, placement)
	if err != nil {
		return nil, report, fmt.Errorf("read chunk: %w", err)
	}
	plaintext, err := Open(make([]byte, 0, max(0, len(sealed)-SealOverheadBytes)), w.cfg.Keys.Key, ref.ID, sealed)
	if err != nil {
		return nil, report, fmt.Errorf("read chunk: %w", err)
	}
	return plaintext, report, nil
}

// Reseal seals a stored chunk again under epoch (ADR-015): it reads and
// opens the chunk at ref, seals the plaintext under the epoch's master key
// (the DEK derives from that key and the same chunk id; the nonce is
// ConvergentNonce(epoch, id) unless Nonces is set) and writes the new
// envelope's fragments at Store.ResealPlacement, beside the old ones. It
// returns the new reference; the caller records it, then deletes the old
// fragments (Store.DeleteReplaced). Until then the old envelope is whole,
// so readers of the old record, and a crash at any point, lose nothing.
// The report is the read's: all fragments Missing means this node holds
// none of the chunk.
func (w *Writer) Reseal(ref ChunkRef, epoch uint32) (ChunkRef, ReadReport, error) {
	plaintext, report, err := w.ReadChunk(ref)
	if err != nil {
		return ChunkRef{}, report, fmt.Errorf("reseal chunk %s: %w", ref.ID, err)
	}
	defer clear(plaintext)
	master, err := w.cfg.Keys.Key(epoch)
	if err != nil {
		return ChunkRef{}, report, fmt.Errorf("reseal chunk %s: master key of epoch %d: %w", ref.ID, epoch, err)
	}
	if len(master) < keys.MinMasterKeySizeBytes {
		return ChunkRef{}, report, fmt.Errorf("reseal chunk %s: epoch %d key is %d bytes: %w", ref.ID, epoch, len(master), ErrMasterKeyInvalid)
	}
	nonce, err := w.nextNonce()
	if err != nil {
		return ChunkRef{}, report, fmt.Errorf("reseal chunk %s: %w", ref.ID, err)
	}
	if nonce == nil {
		convergent := ConvergentNonce(epoch, ref.ID)
		nonce = &convergent
	}
	sealed := Seal(make([]byte, 0, SealedSize(len(plaintext))), master, epoch, ref.ID, *nonce, plaintext)
	placement, err := w.cfg.Store.ResealPlacement(ref.ID, ref.Placement)
	if err != nil {
		return ChunkRef{}, report, fmt.Errorf("reseal chunk %s: %w", ref.ID, err)
	}
	placement.Epoch = epoch
	if err := w.cfg.Store.PutAt(ref.ID, placement, sealed); err != nil {
		return ChunkRef{}, report, fmt.Errorf("reseal chunk %s: %w", ref.ID, err)
	}
	return ChunkRef{ID: ref.ID, Epoch: epoch, PlaintextBytes: len(plaintext), SealedBytes: len(sealed), Placement: placement}, report, nil
}
