package chunks

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"sync"

	"github.com/klauspost/reedsolomon"
)

// Fragment layout, header version 2. All integers are big-endian.
//
//	offset  size  field
//	0       4     magic "ANFG"
//	4       2     header version (FragmentVersion2; FragmentVersion1 read)
//	6       1     profile kind
//	7       1     profile data count
//	8       1     profile parity count
//	9       1     fragment index
//	10      2     envelope nonce tag: first 2 bytes of the seal's nonce
//	12      32    chunk id
//	44      4     sealed envelope length
//	48      4     payload length
//	52      4     CRC32-C of the payload
//	56      4     envelope epoch: the seal's system master-key epoch
//	60      4     CRC32-C of bytes 0..59
//	64      n     payload
//	64+n    pad   zeros up to a multiple of FragmentAlignBytes
//
// Version 1 is the same layout with bytes 10..11 and 56..59 reserved
// (zero): its fragments carry no envelope identity. Readers accept both;
// writers write version 2 only (ADR-015).
//
// The envelope identity (epoch, nonce tag) names which sealed envelope a
// fragment's payload belongs to. A chunk re-sealed under a new epoch, or
// written by two writers straddling a rotation, has fragments of several
// envelopes under the same (chunk id, index) keys; Reed-Solomon over a mix
// of them yields garbage, so reconstruction only ever combines fragments
// of one envelope.
//
// The padding is less than FragmentAlignBytes (4 KiB) per fragment, under
// 1% of a fragment of an average (1 MiB) chunk.
const (
	FragmentVersion1    uint16 = 1
	FragmentVersion2    uint16 = 2
	FragmentHeaderBytes int    = 64
	FragmentAlignBytes  int    = 4096
)

var fragmentMagic = [4]byte{'A', 'N', 'F', 'G'}

var (
	// ErrFragmentCorrupt: a fragment's bytes fail their magic, checksums or
	// consistency checks. Readers treat it as missing; repair rewrites it.
	ErrFragmentCorrupt = errors.New("fragment corrupt")
	// ErrUnknownFragmentVersion: the header version is newer than this
	// binary reads. Readers treat it as missing.
	ErrUnknownFragmentVersion = errors.New("unknown fragment header version")
	// ErrChunkLost: fewer than Profile.Data fragments are usable; the chunk
	// cannot be read (permanent, ChunkLost in the error taxonomy).
	ErrChunkLost = errors.New("chunk lost")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// FragmentHeader is the decoded header of one fragment.
type FragmentHeader struct {
	Version      uint16
	Chunk        ChunkID
	Index        uint8
	Profile      Profile
	SealedBytes  int // length of the whole sealed envelope
	PayloadBytes int
	PayloadCRC   uint32
	// Envelope identifies the sealed envelope the payload belongs to; zero
	// in version-1 fragments (unknown).
	Envelope Envelope
}

// EncodeFragments splits a sealed envelope into profile.Fragments()
// fragments, index i at position i: EC data shards then parity shards, or
// whole copies for replication. Each fragment is a header plus payload,
// zero-padded to a multiple of FragmentAlignBytes, in its own allocation.
// The headers carry the envelope's identity (EnvelopeOf; zero when sealed
// is not an envelope). Encoding is deterministic, so re-encoding rebuilds
// identical fragments.
func EncodeFragments(profile Profile, id ChunkID, sealed []byte) ([][]byte, error) {
	if err := profile.Validate(); err != nil {
		return nil, fmt.Errorf("encode chunk %s: %w", id, err)
	}
	if len(sealed) == 0 || len(sealed) > math.MaxUint32 {
		return nil, fmt.Errorf("encode chunk %s: sealed length %d out of range", id, len(sealed))
	}
	payloadBytes := profile.payloadBytes(len(sealed))
	fragments := make([][]byte, profile.Fragments())
	payloads := make([][]byte, len(fragments))
	for i := range fragments {
		fragments[i] = make([]byte, alignUp(FragmentHeaderBytes+payloadBytes))
		payloads[i] = fragments[i][FragmentHeaderBytes : FragmentHeaderBytes+payloadBytes]
	}
	if err := fillPayloads(profile, sealed, payloads); err != nil {
		return nil, fmt.Errorf("encode chunk %s: %w", id, err)
	}
	envelope := EnvelopeOf(sealed)
	for i, fragment := range fragments {
		h := FragmentHeader{
			Version: FragmentVersion2, Chunk: id, Index: uint8(i), Profile: profile,
			SealedBytes: len(sealed), PayloadBytes: payloadBytes,
			PayloadCRC: crc32.Checksum(payloads[i], castagnoli), Envelope: envelope,
		}
		putFragmentHeader(fragment[:FragmentHeaderBytes], h)
	}
	return fragments, nil
}

// fillPayloads writes the sealed envelope into the (zeroed) payloads.
func fillPayloads(profile Profile, sealed []byte, payloads [][]byte) error {
	if profile.Kind == KindReplicate {
		for _, p := range payloads {
			copy(p, sealed)
		}
		return nil
	}
	rest := sealed
	for _, p := range payloads[:profile.Data] {
		rest = rest[copy(p, rest):]
	}
	enc, err := encoderFor(profile)
	if err != nil {
		return err
	}
	if err := enc.Encode(payloads); err != nil {
		return fmt.Errorf("reed-solomon encode: %w", err)
	}
	return nil
}

// putFragmentHeader encodes h in the layout of h.Version; version 1 has
// no envelope identity (its bytes stay zero).
func putFragmentHeader(b []byte, h FragmentHeader) {
	clear(b[:FragmentHeaderBytes])
	copy(b[0:4], fragmentMagic[:])
	binary.BigEndian.PutUint16(b[4:], h.Version)
	b[6], b[7], b[8], b[9] = byte(h.Profile.Kind), byte(h.Profile.Data), byte(h.Profile.Parity), h.Index
	copy(b[12:44], h.Chunk[:])
	binary.BigEndian.PutUint32(b[44:], uint32(h.SealedBytes))
	binary.BigEndian.PutUint32(b[48:], uint32(h.PayloadBytes))
	binary.BigEndian.PutUint32(b[52:], h.PayloadCRC)
	if h.Version >= FragmentVersion2 {
		binary.BigEndian.PutUint16(b[10:], h.Envelope.NonceTag)
		binary.BigEndian.PutUint32(b[56:], h.Envelope.Epoch)
	}
	binary.BigEndian.PutUint32(b[60:], crc32.Checksum(b[:60], castagnoli))
}

// DecodeFragment checks a fragment and returns its header and payload. The
// payload aliases b. Any failed check returns an error wrapping
// ErrFragmentCorrupt (or ErrUnknownFragmentVersion); it never panics. It
// reads header versions 1 and 2.
func DecodeFragment(b []byte) (FragmentHeader, []byte, error) {
	if len(b) < FragmentHeaderBytes {
		return FragmentHeader{}, nil, fmt.Errorf("fragment of %d bytes: %w", len(b), ErrFragmentCorrupt)
	}
	if !bytes.Equal(b[:4], fragmentMagic[:]) {
		return FragmentHeader{}, nil, fmt.Errorf("fragment magic %x: %w", b[:4], ErrFragmentCorrupt)
	}
	if v := binary.BigEndian.Uint16(b[4:]); v != FragmentVersion1 && v != FragmentVersion2 {
		return FragmentHeader{}, nil, fmt.Errorf("fragment version %d: %w", v, ErrUnknownFragmentVersion)
	}
	if got, want := crc32.Checksum(b[:60], castagnoli), binary.BigEndian.Uint32(b[60:]); got != want {
		return FragmentHeader{}, nil, fmt.Errorf("fragment header crc %08x, stored %08x: %w", got, want, ErrFragmentCorrupt)
	}
	h := parseFragmentHeader(b)
	if err := h.check(b); err != nil {
		return FragmentHeader{}, nil, fmt.Errorf("fragment %d of chunk %s: %w", h.Index, h.Chunk, err)
	}
	payload := b[FragmentHeaderBytes : FragmentHeaderBytes+h.PayloadBytes]
	if got := crc32.Checksum(payload, castagnoli); got != h.PayloadCRC {
		return FragmentHeader{}, nil, fmt.Errorf("fragment %d of chunk %s: payload crc %08x, stored %08x: %w", h.Index, h.Chunk, got, h.PayloadCRC, ErrFragmentCorrupt)
	}
	return h, payload, nil
}

func parseFragmentHeader(b []byte) FragmentHeader {
	h := FragmentHeader{
		Version:      binary.BigEndian.Uint16(b[4:]),
		Index:        b[9],
		Profile:      Profile{Kind: ProfileKind(b[6]), Data: int(b[7]), Parity: int(b[8])},
		SealedBytes:  int(binary.BigEndian.Uint32(b[44:])),
		PayloadBytes: int(binary.BigEndian.Uint32(b[48:])),
		PayloadCRC:   binary.BigEndian.Uint32(b[52:]),
	}
	if h.Version >= FragmentVersion2 {
		h.Envelope = Envelope{Epoch: binary.BigEndian.Uint32(b[56:]), NonceTag: binary.BigEndian.Uint16(b[10:])}
	}
	copy(h.Chunk[:], b[12:44])
	return h
}

// check validates a CRC-clean header against itself and the fragment
// length b.
func (h FragmentHeader) check(b []byte) error {
	if h.Version == FragmentVersion1 && (b[10] != 0 || b[11] != 0 || binary.BigEndian.Uint32(b[56:]) != 0) {
		return fmt.Errorf("reserved bytes set: %w", ErrFragmentCorrupt)
	}
	if err := h.Profile.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrFragmentCorrupt, err)
	}
	if int(h.Index) >= h.Profile.Fragments() {
		return fmt.Errorf("index beyond %s: %w", h.Profile, ErrFragmentCorrupt)
	}
	if h.SealedBytes == 0 || h.PayloadBytes != h.Profile.payloadBytes(h.SealedBytes) {
		return fmt.Errorf("payload %d bytes for sealed %d under %s: %w", h.PayloadBytes, h.SealedBytes, h.Profile, ErrFragmentCorrupt)
	}
	if need := FragmentHeaderBytes + h.PayloadBytes; len(b) < need || len(b) > alignUp(need) {
		return fmt.Errorf("length %d, payload needs %d padded to %d: %w", len(b), need, alignUp(need), ErrFragmentCorrupt)
	}
	return nil
}

// Reconstruct rebuilds a sealed envelope from the fragments of chunk id.
// fragments[i] holds fragment i, or nil when it is missing. Fragments that
// fail DecodeFragment, do not belong at position i of this chunk and
// profile, or belong to another envelope than the one rebuilt (see
// fragmentSet.choose; no envelope is preferred here) count as missing and
// are listed in bad. With fewer than profile.Data usable fragments of any
// one envelope it returns an error wrapping ErrChunkLost. The result never
// aliases fragments.
func Reconstruct(profile Profile, id ChunkID, fragments [][]byte) (sealed []byte, bad []int, err error) {
	if err := profile.Validate(); err != nil {
		return nil, nil, fmt.Errorf("reconstruct chunk %s: %w", id, err)
	}
	if len(fragments) != profile.Fragments() {
		return nil, nil, fmt.Errorf("reconstruct chunk %s: %d fragments given, %s has %d", id, len(fragments), profile, profile.Fragments())
	}
	set := newFragmentSet(profile, id, 0)
	for i, b := range fragments {
		if b != nil && set.add(i, b) != nil {
			bad = append(bad, i)
		}
	}
	sealed, _, err = set.join()
	if err == nil {
		bad = slices.Sorted(slices.Values(append(bad, set.foreign()...)))
	}
	return sealed, bad, err
}

// encoders caches one Reed-Solomon encoder per EC shape; encoders are safe
// for concurrent use and costly to build.
var encoders sync.Map // [2]int{data, parity} → reedsolomon.Encoder

func encoderFor(p Profile) (reedsolomon.Encoder, error) {
	key := [2]int{p.Data, p.Parity}
	if enc, ok := encoders.Load(key); ok {
		return enc.(reedsolomon.Encoder), nil
	}
	enc, err := reedsolomon.New(p.Data, p.Parity)
	if err != nil {
		return nil, fmt.Errorf("reed-solomon %s: %w", p, err)
	}
	actual, _ := encoders.LoadOrStore(key, enc)
	return actual.(reedsolomon.Encoder), nil
}

func alignUp(n int) int {
	return (n + FragmentAlignBytes - 1) / FragmentAlignBytes * FragmentAlignBytes
}
