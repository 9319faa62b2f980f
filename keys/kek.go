package keys

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// KEKProvider is a tenant key-encryption-key provider: the internal one
// (KEKs in annal's own KEK shard) or an external KMS (Vault transit,
// KMIP, PKCS#11, cloud KMS) behind the same interface. Callers never
// branch on the provider, and no method hands out a KEK.
type KEKProvider interface {
	Name() string
	Health(ctx context.Context) error
	// Wrap seals key material under the tenant's current KEK.
	Wrap(ctx context.Context, tenant uint64, plaintext, aad []byte) ([]byte, error)
	// Unwrap opens key material wrapped under the tenant's KEK.
	Unwrap(ctx context.Context, tenant uint64, wrapped, aad []byte) ([]byte, error)
	// Rotate starts a new KEK epoch for the tenant.
	Rotate(ctx context.Context, tenant uint64) (uint32, error)
	// Destroy destroys the tenant's KEK (crypto-shred); everything it
	// wrapped becomes unreadable.
	Destroy(ctx context.Context, tenant uint64) error
}

var (
	// ErrKekDestroyed: the tenant's KEK was destroyed (crypto-shred).
	ErrKekDestroyed = errors.New("tenant key destroyed")
	// ErrKekUnavailable: the provider cannot serve the tenant now and the
	// cache has nothing valid (retriable: TenantKekUnavailable).
	ErrKekUnavailable = errors.New("tenant key unavailable")
)

// TTL bounds of the tenant key cache (REQUIREMENTS I-K15, Decision 5).
const (
	MinKekTTL     = 5 * time.Second
	MaxKekTTL     = 300 * time.Second
	DefaultKekTTL = 60 * time.Second
)

// EffectiveTTL applies ±10 % jitter (jitter in [-1, 1]) to a TTL and
// clamps the result to the bounds: a 300 s TTL never lasts 330 s.
func EffectiveTTL(ttl time.Duration, jitter float64) time.Duration {
	jitter = max(-1, min(1, jitter))
	d := ttl + time.Duration(float64(ttl)*0.1*jitter)
	return max(MinKekTTL, min(MaxKekTTL, d))
}

// TenantKeySource fetches a tenant's payload key, unwrapped, and the TTL
// to cache it for.
type TenantKeySource interface {
	FetchPayloadKey(ctx context.Context, tenant uint64) (key []byte, ttl time.Duration, err error)
}

// TenantKeys caches unwrapped tenant payload keys for their TTL. Within
// the TTL it serves from the cache even if the provider is unreachable
// (Decision 4); after it, the tenant's operations fail until the provider
// answers. Invalidate drops a tenant at once (crypto-shred broadcast).
type TenantKeys struct {
	src    TenantKeySource
	now    func() time.Time
	jitter func() float64

	mu      sync.Mutex
	entries map[uint64]cached
}

type cached struct {
	key     []byte
	expires time.Time
}

// NewTenantKeys returns a cache over src. now and jitter are injected (the
// real clock and a random source in production, simulated in the sim).
func NewTenantKeys(src TenantKeySource, now func() time.Time, jitter func() float64) *TenantKeys {
	return &TenantKeys{src: src, now: now, jitter: jitter, entries: map[uint64]cached{}}
}

// PayloadKey returns the tenant's payload key.
func (t *TenantKeys) PayloadKey(ctx context.Context, tenant uint64) ([]byte, error) {
	now := t.now()
	t.mu.Lock()
	e, ok := t.entries[tenant]
	t.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.key, nil
	}
	key, ttl, err := t.src.FetchPayloadKey(ctx, tenant)
	if err != nil {
		if errors.Is(err, ErrKekDestroyed) {
			t.Invalidate(tenant)
		}
		return nil, fmt.Errorf("tenant %d payload key: %w", tenant, err)
	}
	t.mu.Lock()
	t.entries[tenant] = cached{key: key, expires: now.Add(EffectiveTTL(ttl, t.jitter()))}
	t.mu.Unlock()
	return key, nil
}

// Invalidate forgets a tenant's cached key.
func (t *TenantKeys) Invalidate(tenant uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e, ok := t.entries[tenant]; ok {
		clear(e.key)
		delete(t.entries, tenant)
	}
}

// Cached reports whether a tenant's key is cached and unexpired.
func (t *TenantKeys) Cached(tenant uint64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.entries[tenant]
	return ok && t.now().Before(e.expires)
}
