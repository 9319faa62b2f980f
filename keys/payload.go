package keys

import (
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
// Tenant payload keys derive from the payload root today; when tenant KEKs
// arrive they derive from the tenant's KEK instead, so destroying the KEK
// makes every payload of that tenant unreadable (crypto-shred).

// PayloadInfo is the HKDF label of per-event payload keys.
const PayloadInfo = "annal-event-payload-v1"

// ErrPayloadOpen: a sealed payload fails authentication (tampered, moved
// to another event, or the key is gone).
var ErrPayloadOpen = errors.New("sealed payload failed authentication")

// PayloadKeys seals and opens event payloads.
type PayloadKeys struct {
	root []byte
}

// NewPayloadKeys returns payload keys derived from a 32-byte root.
func NewPayloadKeys(root []byte) (*PayloadKeys, error) {
	if len(root) < MinMasterKeySizeBytes {
		return nil, fmt.Errorf("payload root of %d bytes is too short", len(root))
	}
	return &PayloadKeys{root: append([]byte(nil), root...)}, nil
}

func (p *PayloadKeys) scopeKey(system bool, tenant uint64) []byte {
	info := binary.BigEndian.AppendUint64([]byte("annal-tenant-payload-v1/"), tenant)
	if system {
		info = []byte("annal-system-payload-v1")
	}
	k, err := hkdf.Key(sha256.New, p.root, nil, string(info), 32)
	if err != nil {
		panic(fmt.Sprintf("hkdf: %v", err)) // cannot fail for 32 bytes of SHA-256
	}
	return k
}

func (p *PayloadKeys) aead(system bool, tenant uint64, eventID [16]byte) cipher.AEAD {
	k, err := hkdf.Key(sha256.New, p.scopeKey(system, tenant), eventID[:], PayloadInfo, 32)
	if err != nil {
		panic(fmt.Sprintf("hkdf: %v", err))
	}
	b, err := aes.NewCipher(k)
	if err != nil {
		panic(fmt.Sprintf("aes: %v", err))
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		panic(fmt.Sprintf("gcm: %v", err))
	}
	return g
}

var zeroNonce = make([]byte, 12)

// SealPayload seals plaintext for one event; aad binds it to the event's
// identity (see event.PayloadAAD).
func (p *PayloadKeys) SealPayload(system bool, tenant uint64, eventID [16]byte, aad, plaintext []byte) ([]byte, error) {
	return p.aead(system, tenant, eventID).Seal(nil, zeroNonce, plaintext, aad), nil
}

// OpenPayload opens what SealPayload sealed.
func (p *PayloadKeys) OpenPayload(system bool, tenant uint64, eventID [16]byte, aad, sealed []byte) ([]byte, error) {
	out, err := p.aead(system, tenant, eventID).Open(nil, zeroNonce, sealed, aad)
	if err != nil {
		return nil, ErrPayloadOpen
	}
	return out, nil
}
