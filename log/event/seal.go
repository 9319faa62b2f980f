package event

import (
	"encoding/binary"
	"fmt"
)

// PayloadCipher seals and opens payloads; keys.PayloadKeys implements it.
type PayloadCipher interface {
	SealPayload(system bool, tenant uint64, eventID [16]byte, aad, plaintext []byte) ([]byte, error)
	OpenPayload(system bool, tenant uint64, eventID [16]byte, aad, sealed []byte) ([]byte, error)
}

// PayloadAAD binds a sealed payload to its event: format version, type,
// shard, tenant and event id (REQUIREMENTS Decision 8). A payload moved to
// another event, shard or tenant fails to open.
func PayloadAAD(e *Envelope, purpose string) []byte {
	aad := []byte("annal-payload-v1/" + purpose + "/")
	aad = binary.BigEndian.AppendUint16(aad, e.Version)
	aad = binary.BigEndian.AppendUint16(aad, uint16(e.Type))
	aad = binary.BigEndian.AppendUint64(aad, e.Shard)
	aad = binary.BigEndian.AppendUint64(aad, e.Tenant)
	return append(aad, e.ID[:]...)
}

// Seal sets e's payload to body sealed as sealing says (SealingNone keeps
// it clear).
func Seal(c PayloadCipher, e *Envelope, sealing Sealing, body []byte) error {
	e.Sealing = sealing
	if sealing == SealingNone {
		e.Payload = body
		return nil
	}
	out, err := c.SealPayload(sealing == SealingSystem, e.Tenant, e.ID, PayloadAAD(e, "body"), body)
	if err != nil {
		return fmt.Errorf("seal %s payload: %w", e.Type, err)
	}
	e.Payload = out
	return nil
}

// Open returns e's payload in the clear.
func Open(c PayloadCipher, e *Envelope) ([]byte, error) {
	if e.Sealing == SealingNone {
		return e.Payload, nil
	}
	if c == nil {
		return nil, fmt.Errorf("event %s is sealed and no payload keys are configured", e.ID)
	}
	out, err := c.OpenPayload(e.Sealing == SealingSystem, e.Tenant, e.ID, PayloadAAD(e, "body"), e.Payload)
	if err != nil {
		return nil, fmt.Errorf("open %s payload: %w", e.Type, err)
	}
	return out, nil
}

// SealGuards seals a proposal's encoded guards under the scope of its
// first event (guards name keys, so they are tenant content too).
func SealGuards(c PayloadCipher, first *Envelope, guards []byte) ([]byte, error) {
	if first.Sealing == SealingNone {
		return guards, nil
	}
	return c.SealPayload(first.Sealing == SealingSystem, first.Tenant, first.ID, PayloadAAD(first, "guards"), guards)
}

// OpenGuards opens what SealGuards sealed.
func OpenGuards(c PayloadCipher, first *Envelope, sealed []byte) ([]byte, error) {
	if first.Sealing == SealingNone {
		return sealed, nil
	}
	if c == nil {
		return nil, fmt.Errorf("guards are sealed and no payload keys are configured")
	}
	return c.OpenPayload(first.Sealing == SealingSystem, first.Tenant, first.ID, PayloadAAD(first, "guards"), sealed)
}
