package event

import (
	"fmt"
	"sort"

	"github.com/vmihailenco/msgpack/v5"
)

// Type is an event type code. Codes are fixed forever.
type Type uint16

// SkippableTypeFlag marks types that binaries which do not know them may
// skip without diverging (informational events only).
const SkippableTypeFlag Type = 0x8000

// Body is a typed, past-tense event body.
type Body interface {
	EventType() Type
}

type typeInfo struct {
	name string
	new  func() Body
}

var (
	byType = map[Type]typeInfo{}
	byName = map[string]Type{}
)

// register adds a body type; it panics on a reused code or name, which is a
// programming error caught by any test run.
func register(t Type, name string, newBody func() Body) {
	if _, dup := byType[t]; dup {
		panic(fmt.Sprintf("event: type code %d registered twice", t))
	}
	if _, dup := byName[name]; dup {
		panic(fmt.Sprintf("event: type name %q registered twice", name))
	}
	if got := newBody().EventType(); got != t {
		panic(fmt.Sprintf("event: %s reports type %d, registered as %d", name, got, t))
	}
	byType[t] = typeInfo{name: name, new: newBody}
	byName[name] = t
}

// Name returns the registered name of t, or "Type(n)".
func (t Type) String() string {
	if ti, ok := byType[t]; ok {
		return ti.name
	}
	return fmt.Sprintf("Type(%d)", uint16(t))
}

// TypeByName resolves a registered type name.
func TypeByName(name string) (Type, bool) {
	t, ok := byName[name]
	return t, ok
}

// Types returns every registered type in code order.
func Types() []Type {
	out := make([]Type, 0, len(byType))
	for t := range byType {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// NewBody returns a zero body of type t.
func NewBody(t Type) (Body, error) {
	ti, ok := byType[t]
	if !ok {
		if t&SkippableTypeFlag != 0 {
			return nil, fmt.Errorf("%w: %d", ErrSkippable, t)
		}
		return nil, fmt.Errorf("%w: %d", ErrUnknownType, t)
	}
	return ti.new(), nil
}

// EncodeBody msgpack-encodes a body.
func EncodeBody(b Body) ([]byte, error) {
	out, err := msgpack.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", b.EventType(), err)
	}
	return out, nil
}

// DecodeBody decodes an unsealed payload of type t.
func DecodeBody(t Type, payload []byte) (Body, error) {
	b, err := NewBody(t)
	if err != nil {
		return nil, err
	}
	if len(payload) > MaxEnvelopeBytes {
		return nil, fmt.Errorf("%w: payload of %d bytes", ErrMalformed, len(payload))
	}
	if err := strictUnmarshal(payload, b); err != nil {
		return nil, fmt.Errorf("%w: %s body: %v", ErrMalformed, t, err)
	}
	return b, nil
}
