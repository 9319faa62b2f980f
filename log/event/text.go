package event

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/annal-storage/annal/log/hlc"
)

// textEnvelope is the readable form used by golden files and debugging.
type textEnvelope struct {
	Type    string          `json:"type"`
	Version uint16          `json:"version"`
	Shard   uint64          `json:"shard"`
	Seq     uint64          `json:"seq"`
	HLC     hlc.Timestamp   `json:"hlc"`
	Tenant  uint64          `json:"tenant"`
	Actor   string          `json:"actor"`
	ID      ID              `json:"id"`
	Header  Header          `json:"header"`
	Sealing Sealing         `json:"sealing"`
	Body    json.RawMessage `json:"body,omitempty"`
	Payload []byte          `json:"payload,omitempty"`
}

// Text renders the envelope readably: an unsealed payload is shown as its
// decoded body, a sealed one as opaque bytes.
func (e *Envelope) Text() (string, error) {
	t := textEnvelope{Type: e.Type.String(), Version: e.Version, Shard: e.Shard, Seq: e.Seq, HLC: e.HLC,
		Tenant: e.Tenant, Actor: e.Actor, ID: e.ID, Header: e.Header, Sealing: e.Sealing}
	if e.Sealing == SealingNone {
		b, err := DecodeBody(e.Type, e.Payload)
		if err != nil {
			return "", err
		}
		if t.Body, err = json.Marshal(b); err != nil {
			return "", fmt.Errorf("render %s body: %w", e.Type, err)
		}
	} else {
		t.Payload = e.Payload
	}
	out, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return "", fmt.Errorf("render envelope: %w", err)
	}
	return string(out), nil
}

// ParseText is the inverse of Text.
func ParseText(s string) (Envelope, error) {
	var t textEnvelope
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return Envelope{}, fmt.Errorf("parse envelope text: %w", err)
	}
	typ, ok := TypeByName(t.Type)
	if !ok {
		return Envelope{}, fmt.Errorf("parse envelope text: unknown type %q", t.Type)
	}
	e := Envelope{Version: t.Version, Type: typ, Shard: t.Shard, Seq: t.Seq, HLC: t.HLC, Tenant: t.Tenant,
		Actor: t.Actor, ID: t.ID, Header: t.Header, Sealing: t.Sealing, Payload: t.Payload}
	if t.Sealing == SealingNone {
		b, err := NewBody(typ)
		if err != nil {
			return Envelope{}, err
		}
		bd := json.NewDecoder(bytes.NewReader(t.Body))
		bd.DisallowUnknownFields()
		if err := bd.Decode(b); err != nil {
			return Envelope{}, fmt.Errorf("parse %s body: %w", t.Type, err)
		}
		if e.Payload, err = EncodeBody(b); err != nil {
			return Envelope{}, err
		}
	}
	return e, nil
}
