package keys

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
)

func TestEffectiveTTLJitterClamped(t *testing.T) {
	for _, c := range []struct {
		ttl    time.Duration
		jitter float64
		want   time.Duration
	}{
		{60 * time.Second, 0, 60 * time.Second},
		{60 * time.Second, 1, 66 * time.Second},
		{60 * time.Second, -1, 54 * time.Second},
		{300 * time.Second, 1, 300 * time.Second}, // 330 s clamped to the 300 s bound
		{5 * time.Second, -1, 5 * time.Second},    // 4.5 s clamped to the 5 s bound
		{60 * time.Second, 7, 66 * time.Second},   // jitter itself clamped to ±1
	} {
		if got := EffectiveTTL(c.ttl, c.jitter); got != c.want {
			t.Errorf("EffectiveTTL(%v, %v) = %v, want %v", c.ttl, c.jitter, got, c.want)
		}
	}
}

type fakeSource struct {
	key     []byte
	ttl     time.Duration
	err     error
	fetches int
}

func (f *fakeSource) FetchPayloadKey(context.Context, uint64) ([]byte, time.Duration, error) {
	f.fetches++
	return append([]byte(nil), f.key...), f.ttl, f.err
}

// TestTenantKeysCache: within the TTL the cache serves without asking the
// provider (an outage is invisible); after it the provider is asked again
// and its failure surfaces; Invalidate (shred broadcast) drops the key at
// once.
func TestTenantKeysCache(t *testing.T) {
	now := time.Unix(1000, 0)
	src := &fakeSource{key: bytes.Repeat([]byte{1}, 32), ttl: 10 * time.Second}
	tk := NewTenantKeys(src, func() time.Time { return now }, func() float64 { return 0 })
	ctx := context.Background()
	if _, err := tk.PayloadKey(ctx, 7); err != nil || src.fetches != 1 {
		t.Fatalf("first fetch: %v, %d fetches", err, src.fetches)
	}
	src.err = ErrKekUnavailable // the provider goes away
	now = now.Add(9 * time.Second)
	if _, err := tk.PayloadKey(ctx, 7); err != nil || src.fetches != 1 {
		t.Fatalf("within TTL: %v, %d fetches", err, src.fetches)
	}
	now = now.Add(2 * time.Second)
	if _, err := tk.PayloadKey(ctx, 7); !errors.Is(err, ErrKekUnavailable) {
		t.Fatalf("after TTL with the provider down: %v", err)
	}
	src.err = nil
	if _, err := tk.PayloadKey(ctx, 7); err != nil || !tk.Cached(7) {
		t.Fatalf("provider back: %v", err)
	}
	tk.Invalidate(7)
	if tk.Cached(7) {
		t.Fatal("invalidated key still cached")
	}
	src.err = ErrKekDestroyed
	if _, err := tk.PayloadKey(ctx, 7); !errors.Is(err, ErrKekDestroyed) {
		t.Fatalf("destroyed KEK: %v", err)
	}
}

func TestWrapTamper(t *testing.T) {
	key := bytes.Repeat([]byte{3}, 32)
	w, err := Wrap(key, [WrapNonceBytes]byte{1}, []byte("secret key material"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Unwrap(key, w, []byte("aad")); err != nil || string(got) != "secret key material" {
		t.Fatalf("unwrap: %q %v", got, err)
	}
	for i := range w {
		bad := append([]byte(nil), w...)
		bad[i] ^= 0x10
		if _, err := Unwrap(key, bad, []byte("aad")); !errors.Is(err, ErrUnwrap) {
			t.Fatalf("flipped byte %d accepted", i)
		}
	}
	if _, err := Unwrap(key, w, []byte("other")); !errors.Is(err, ErrUnwrap) {
		t.Fatal("wrong aad accepted")
	}
}
