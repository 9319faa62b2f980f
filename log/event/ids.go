package event

import (
	"encoding/hex"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// The fixed-size ids encode as msgpack bin (compact, exact length checked
// on decode) and as hex text in JSON and golden files.

func encodeFixed(enc *msgpack.Encoder, b []byte) error { return enc.EncodeBytes(b) }

func decodeFixed(dec *msgpack.Decoder, dst []byte, what string) error {
	b, err := dec.DecodeBytes()
	if err != nil {
		return err
	}
	if len(b) != len(dst) {
		return fmt.Errorf("%s of %d bytes, want %d", what, len(b), len(dst))
	}
	copy(dst, b)
	return nil
}

func parseHex(dst []byte, text []byte, what string) error {
	b, err := hex.DecodeString(string(text))
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if len(b) != len(dst) {
		return fmt.Errorf("%s of %d bytes, want %d", what, len(b), len(dst))
	}
	copy(dst, b)
	return nil
}

// EncodeMsgpack implements msgpack.CustomEncoder.
func (id ID) EncodeMsgpack(enc *msgpack.Encoder) error { return encodeFixed(enc, id[:]) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (id *ID) DecodeMsgpack(dec *msgpack.Decoder) error { return decodeFixed(dec, id[:], "event id") }

// MarshalText renders hex.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText parses hex.
func (id *ID) UnmarshalText(b []byte) error { return parseHex(id[:], b, "event id") }

func (c ChunkID) String() string { return hex.EncodeToString(c[:]) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (c ChunkID) EncodeMsgpack(enc *msgpack.Encoder) error { return encodeFixed(enc, c[:]) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (c *ChunkID) DecodeMsgpack(dec *msgpack.Decoder) error {
	return decodeFixed(dec, c[:], "chunk id")
}

// MarshalText renders hex.
func (c ChunkID) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText parses hex.
func (c *ChunkID) UnmarshalText(b []byte) error { return parseHex(c[:], b, "chunk id") }

func (s SegmentID) String() string { return hex.EncodeToString(s[:]) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (s SegmentID) EncodeMsgpack(enc *msgpack.Encoder) error { return encodeFixed(enc, s[:]) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (s *SegmentID) DecodeMsgpack(dec *msgpack.Decoder) error {
	return decodeFixed(dec, s[:], "segment id")
}

// MarshalText renders hex.
func (s SegmentID) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses hex.
func (s *SegmentID) UnmarshalText(b []byte) error { return parseHex(s[:], b, "segment id") }
