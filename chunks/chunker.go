package chunks

import (
	"errors"
	"fmt"
	"io"
	"math/bits"
)

// ChunkingMode selects how a Chunker cuts.
type ChunkingMode uint8

const (
	// ContentDefined cuts with FastCDC so boundaries follow content and an
	// insertion moves only the boundaries near it (dedup across versions).
	ContentDefined ChunkingMode = iota
	// Fixed cuts every AvgSizeBytes; it exists for benchmarks.
	Fixed
)

// Default chunk sizes (Decisions §11).
const (
	DefaultMinChunkBytes = 256 << 10
	DefaultAvgChunkBytes = 1 << 20
	DefaultMaxChunkBytes = 4 << 20
)

// gearWindowBytes is how many trailing bytes the gear hash depends on; a
// minimum chunk shorter than this would cut on hash state that still
// depends on where the chunk started.
const gearWindowBytes = 64

// ErrInvalidChunkerParams reports chunker parameters that violate the
// bounds documented on ChunkerParams.
var ErrInvalidChunkerParams = errors.New("invalid chunker params")

// ChunkerParams configures a Chunker.
//
// ContentDefined requires 64 <= MinSizeBytes <= AvgSizeBytes <=
// MaxSizeBytes, with AvgSizeBytes a power of two of at least 2^4. Fixed
// requires 1 <= AvgSizeBytes and cuts chunks of exactly AvgSizeBytes
// (except the last); FixedChunkerParams sets all three sizes equal.
type ChunkerParams struct {
	Mode         ChunkingMode
	MinSizeBytes int
	AvgSizeBytes int
	MaxSizeBytes int
}

// DefaultChunkerParams returns FastCDC with min 256 KiB, average 1 MiB,
// max 4 MiB.
func DefaultChunkerParams() ChunkerParams {
	return ChunkerParams{
		Mode:         ContentDefined,
		MinSizeBytes: DefaultMinChunkBytes,
		AvgSizeBytes: DefaultAvgChunkBytes,
		MaxSizeBytes: DefaultMaxChunkBytes,
	}
}

// FixedChunkerParams returns fixed-size chunking of sizeBytes.
func FixedChunkerParams(sizeBytes int) ChunkerParams {
	return ChunkerParams{Mode: Fixed, MinSizeBytes: sizeBytes, AvgSizeBytes: sizeBytes, MaxSizeBytes: sizeBytes}
}

// Validate reports whether the parameters are usable.
func (p ChunkerParams) Validate() error {
	switch p.Mode {
	case Fixed:
		if p.AvgSizeBytes < 1 || p.MinSizeBytes > p.AvgSizeBytes || p.AvgSizeBytes > p.MaxSizeBytes {
			return fmt.Errorf("%w: fixed size %d (min %d, max %d)", ErrInvalidChunkerParams, p.AvgSizeBytes, p.MinSizeBytes, p.MaxSizeBytes)
		}
	case ContentDefined:
		if p.MinSizeBytes < gearWindowBytes || p.MinSizeBytes > p.AvgSizeBytes || p.AvgSizeBytes > p.MaxSizeBytes {
			return fmt.Errorf("%w: need %d <= min %d <= avg %d <= max %d", ErrInvalidChunkerParams, gearWindowBytes, p.MinSizeBytes, p.AvgSizeBytes, p.MaxSizeBytes)
		}
		if p.AvgSizeBytes < 16 || p.AvgSizeBytes&(p.AvgSizeBytes-1) != 0 {
			return fmt.Errorf("%w: avg %d is not a power of two >= 16", ErrInvalidChunkerParams, p.AvgSizeBytes)
		}
	default:
		return fmt.Errorf("%w: unknown mode %d", ErrInvalidChunkerParams, p.Mode)
	}
	return nil
}

// normalizationLevel is FastCDC's normalized-chunking level: before the
// average size the cut mask has this many extra bits (cuts are rarer),
// after it this many fewer (cuts are likelier), which narrows the chunk
// size distribution around the average.
const normalizationLevel = 2

// Chunker cuts a stream into chunks. It reads through one buffer of twice
// the maximum chunk size, allocated once, so memory stays bounded whatever
// the stream's length. A Chunker is not safe for concurrent use.
type Chunker struct {
	source     io.Reader
	params     ChunkerParams
	maskSmall  uint64 // harder mask, used below the average size
	maskLarge  uint64 // easier mask, used from the average size on
	buffer     []byte // window is buffer[start:end]
	start, end int
	sourceDone bool  // source returned io.EOF
	err        error // sticky read error
}

// NewChunker returns a Chunker reading from source.
func NewChunker(source io.Reader, params ChunkerParams) (*Chunker, error) {
	if err := params.Validate(); err != nil {
		return nil, err
	}
	c := &Chunker{source: source, params: params, buffer: make([]byte, 2*params.MaxSizeBytes)}
	if params.Mode == ContentDefined {
		avgBits := bits.TrailingZeros(uint(params.AvgSizeBytes))
		c.maskSmall = topBitsMask(avgBits + normalizationLevel)
		c.maskLarge = topBitsMask(avgBits - normalizationLevel)
	}
	return c, nil
}

// topBitsMask returns a mask of the n most significant bits. The gear hash
// shifts left, so its top bits depend on the last 64 bytes: a cut there
// depends on content only, not on where the chunk began.
func topBitsMask(n int) uint64 {
	return ^uint64(0) << (64 - n)
}

// Next returns the next chunk, or io.EOF after the last one. Every chunk
// is between MinSizeBytes and MaxSizeBytes long except the last, which may
// be shorter; an empty stream yields io.EOF at once.
//
// The returned slice aliases the Chunker's buffer: it is valid only until
// the next call to Next. Callers that keep a chunk must copy it. A read
// error from the source is returned (wrapped) by this and every later call.
func (c *Chunker) Next() ([]byte, error) {
	if c.err != nil {
		return nil, c.err
	}
	if err := c.fill(); err != nil {
		c.err = fmt.Errorf("chunker: read: %w", err)
		return nil, c.err
	}
	window := c.buffer[c.start:c.end]
	if len(window) == 0 {
		return nil, io.EOF
	}
	n := c.cut(window)
	c.start += n
	return window[:n:n], nil
}

// fill makes the window hold at least MaxSizeBytes, or everything left in
// the source. It moves the window to the buffer's front only when the tail
// has no room, so most chunks are returned without copying.
func (c *Chunker) fill() error {
	need := c.params.MaxSizeBytes
	if c.sourceDone || c.end-c.start >= need {
		return nil
	}
	if len(c.buffer)-c.start < need {
		c.end = copy(c.buffer, c.buffer[c.start:c.end])
		c.start = 0
	}
	n, err := io.ReadFull(c.source, c.buffer[c.end:c.start+need])
	c.end += n
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		c.sourceDone = true
		return nil
	}
	return err
}

// cut returns the length of the chunk at the front of window, which holds
// at least MaxSizeBytes unless the stream ends within it.
func (c *Chunker) cut(window []byte) int {
	if c.params.Mode == Fixed {
		return min(len(window), c.params.AvgSizeBytes)
	}
	return fastCDCCut(window, c.params.MinSizeBytes, c.params.AvgSizeBytes, c.params.MaxSizeBytes, c.maskSmall, c.maskLarge)
}

// fastCDCCut is FastCDC (Xia et al., 2016/2020) with cut-point skipping and
// normalized chunking: no hashing below the minimum size, the hard mask up
// to the average size, the easy mask up to the maximum.
func fastCDCCut(data []byte, minSize, avgSize, maxSize int, maskSmall, maskLarge uint64) int {
	n := len(data)
	if n <= minSize {
		return n
	}
	n = min(n, maxSize)
	data = data[:n]
	normal := min(avgSize, n)
	var hash uint64
	i := minSize
	for ; i < normal; i++ {
		hash = hash<<1 + gear[data[i]]
		if hash&maskSmall == 0 {
			return i + 1
		}
	}
	for ; i < n; i++ {
		hash = hash<<1 + gear[data[i]]
		if hash&maskLarge == 0 {
			return i + 1
		}
	}
	return n
}
