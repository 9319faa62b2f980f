package keys

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// Payload sealing. Event payloads (names, attributes, inline data, chunk
// references) are sealed under a payload key: the system's for system
// shards, the tenant's for tenant shards. Each event gets its own key,
// HKDF(payload key, salt = event id, "annal-event-payload-v1"): event ids
// are unique 128-bit values, so every key seals exactly one payload and a
// fixed nonce is safe; there is no nonce budget to track.
//
// Tenant payload keys are random keys wrapped by the tenant's KEK
// (TenantKeys unwraps and caches them), so destroying the KEK makes every
// payload of that tenant unreadable (crypto-shred).

// PayloadInfo is the HKDF label of per-event payload keys.
const PayloadInfo = "annal-event-payload-v1"

// ErrPayloadOpen: a sealed payload fails authentication (tampered, moved
// to another event, or the key is gone).
var ErrPayloadOpen = errors.New("sealed payload failed authentication")

// PayloadKeys seals and opens event payloads.
type PayloadKeys struct {
	root []byte
	// tenants, when set, supplies tenant payload keys (unwrapped by the
	// tenant's KEK); otherwise they derive from root (tests).
	tenants *TenantKeys
}

// NewPayloadKeys returns payload keys whose system scope derives from a
// 32-byte root and whose tenant scopes come from tenants (nil: derived
// from the root too).
func NewPayloadKeys(root []byte, tenants *TenantKeys) (*PayloadKeys, error) {
	if len(root) < MinMasterKeySizeBytes {
		return nil, fmt.Errorf("payload root of %d bytes is too short", len(root))
	}
	return &PayloadKeys{root: append([]byte(nil), root...), tenants: tenants}, nil
}

func (p *PayloadKeys) scopeKey(system bool, tenant uint64) ([]byte, error) {
	if !system && p.tenants != nil {
		return p.tenants.PayloadKey(context.Background(), tenant)
	}
	info := binary.BigEndian.AppendUint64([]byte("annal-tenant-payload-v1/"), tenant)
	if system {
		info = []byte("annal-system-payload-v1")
	}
	return hkdf.Key(sha256.New, p.root, nil, string(info), 32)
}

func (p *PayloadKeys) aead(system bool, tenant uint64, eventID [16]byte) (cipher.AEAD, error) {
	scope, err := p.scopeKey(system, tenant)
	if err != nil {
		return nil, err
	}
	k, err := hkdf.Key(sha256.New, scope, eventID[:], PayloadInfo, 32)
	if err != nil {
		return nil, err
	}
	b, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

var zeroNonce = make([]byte, 12)

// SealPayload seals plaintext for one event; aad binds it to the event's
// identity (see event.PayloadAAD).
func (p *PayloadKeys) SealPayload(system bool, tenant uint64, eventID [16]byte, aad, plaintext []byte) ([]byte, error) {
	g, err := p.aead(system, tenant, eventID)
	if err != nil {
		return nil, err
	}
	return g.Seal(nil, zeroNonce, plaintext, aad), nil
}

// OpenPayload opens what SealPayload sealed.
func (p *PayloadKeys) OpenPayload(system bool, tenant uint64, eventID [16]byte, aad, sealed []byte) ([]byte, error) {
	g, err := p.aead(system, tenant, eventID)
	if err != nil {
		return nil, err
	}
	out, err := g.Open(nil, zeroNonce, sealed, aad)
	if err != nil {
		return nil, ErrPayloadOpen
	}
	return out, nil
}
