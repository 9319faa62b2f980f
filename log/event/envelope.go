package event

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/annal-storage/annal/log/hlc"
	"github.com/vmihailenco/msgpack/v5"
)

// FormatVersion is the envelope format this binary writes and the newest
// it reads.
const FormatVersion uint16 = 1

// MaxEnvelopeBytes bounds a decoded envelope; larger input is rejected
// before any allocation proportional to it.
const MaxEnvelopeBytes = 8 << 20

var (
	// ErrSchemaTooNew: the envelope's format version is newer than this
	// binary understands. The apply path halts the shard on it; offline
	// readers skip the event and count it.
	ErrSchemaTooNew = errors.New("event: schema too new")
	// ErrMalformed: the bytes are not an envelope.
	ErrMalformed = errors.New("event: malformed envelope")
	// ErrUnknownType: the type code is not registered and not skippable.
	ErrUnknownType = errors.New("event: unknown type")
	// ErrSkippable: the type is unknown but marked skippable.
	ErrSkippable = errors.New("event: unknown skippable type")
)

// ID is a 128-bit event id chosen by the proposer; the apply path rejects
// an id it has already applied (replay protection).
type ID [16]byte

// String renders the id in hex.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// ChunkID is a content address (see package chunks).
type ChunkID [32]byte

// Sealing says how the payload is protected.
type Sealing uint8

const (
	// SealingNone: payload is the plain msgpack body.
	SealingNone Sealing = 0
	// SealingTenant: payload is sealed under the tenant's payload key.
	SealingTenant Sealing = 1
	// SealingSystem: payload is sealed under the system payload key.
	SealingSystem Sealing = 2
)

// Header holds what the system may see without tenant keys: compaction,
// GC, refcounting and the system audit work from it alone.
type Header struct {
	// KeyHash is a keyed hash of the object key (never the name itself).
	KeyHash   []byte    `msgpack:"k,omitempty"`
	ChunkRefs []ChunkID `msgpack:"c,omitempty"`
	SizeBytes int64     `msgpack:"s,omitempty"`
	Tombstone bool      `msgpack:"t,omitempty"`
}

// Envelope is one event as stored in the log and the event store.
type Envelope struct {
	Version uint16
	Type    Type
	Shard   uint64
	// Seq is assigned by the apply path; proposers leave it zero.
	Seq     uint64
	HLC     hlc.Timestamp
	Tenant  uint64
	Actor   string
	ID      ID
	Header  Header
	Sealing Sealing
	Payload []byte
}

// envelopeV1 is the on-wire field order of format version 1.
type envelopeV1 struct {
	//lint:ignore U1000 msgpack reads the as_array tag of this field
	_msgpack struct{} `msgpack:",as_array"`
	Type     Type
	Shard    uint64
	Seq      uint64
	HLC      hlc.Timestamp
	Tenant   uint64
	Actor    string
	ID       ID
	Header   Header
	Sealing  Sealing
	Payload  []byte
}

// Encode returns the envelope's bytes: the u16 format version, then the
// msgpack body of that version.
func (e *Envelope) Encode() ([]byte, error) {
	if e.Version != FormatVersion {
		return nil, fmt.Errorf("encode envelope: version %d, this binary writes %d", e.Version, FormatVersion)
	}
	var buf bytes.Buffer
	buf.Write(binary.BigEndian.AppendUint16(nil, e.Version))
	enc := msgpack.NewEncoder(&buf)
	v1 := envelopeV1{Type: e.Type, Shard: e.Shard, Seq: e.Seq, HLC: e.HLC, Tenant: e.Tenant,
		Actor: e.Actor, ID: e.ID, Header: e.Header, Sealing: e.Sealing, Payload: e.Payload}
	if err := enc.Encode(&v1); err != nil {
		return nil, fmt.Errorf("encode envelope: %w", err)
	}
	return buf.Bytes(), nil
}

// PeekVersion reads the format version without decoding anything else.
func PeekVersion(b []byte) (uint16, error) {
	if len(b) < 2 {
		return 0, fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	return binary.BigEndian.Uint16(b), nil
}

// Decode parses an envelope. A version newer than FormatVersion returns
// ErrSchemaTooNew (with the version filled in) and nothing else.
func Decode(b []byte) (Envelope, error) {
	v, err := PeekVersion(b)
	if err != nil {
		return Envelope{}, err
	}
	if v > FormatVersion {
		return Envelope{Version: v}, fmt.Errorf("%w: version %d, this binary reads up to %d", ErrSchemaTooNew, v, FormatVersion)
	}
	if v == 0 {
		return Envelope{}, fmt.Errorf("%w: version 0", ErrMalformed)
	}
	if len(b) > MaxEnvelopeBytes {
		return Envelope{}, fmt.Errorf("%w: %d bytes exceeds %d", ErrMalformed, len(b), MaxEnvelopeBytes)
	}
	var v1 envelopeV1
	if err := strictUnmarshal(b[2:], &v1); err != nil {
		return Envelope{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	e := Envelope{Version: v, Type: v1.Type, Shard: v1.Shard, Seq: v1.Seq, HLC: v1.HLC,
		Tenant: v1.Tenant, Actor: v1.Actor, ID: v1.ID, Header: v1.Header, Sealing: v1.Sealing, Payload: v1.Payload}
	return e, nil
}

// strictUnmarshal decodes exactly one msgpack value filling all of b.
func strictUnmarshal(b []byte, v any) error {
	r := bytes.NewReader(b)
	dec := msgpack.NewDecoder(r)
	if err := dec.Decode(v); err != nil {
		return err
	}
	if r.Len() != 0 {
		return fmt.Errorf("%d trailing bytes", r.Len())
	}
	return nil
}
