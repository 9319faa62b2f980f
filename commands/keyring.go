package commands

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/annal-storage/annal/keys"
	annallog "github.com/annal-storage/annal/log"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/projections/keyring"
)

// Key shards.
const (
	// KeysShard holds system master-key epochs.
	KeysShard uint64 = 2
	// KekShard holds tenant KEKs of the internal provider.
	KekShard uint64 = 4
)

// Additional-data labels bind wrapped key material to its purpose.
func masterAAD(epoch uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte("annal-master-key-v1/"), epoch)
}

func kekAAD(tenant uint64, epoch uint32) []byte {
	return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64([]byte("annal-tenant-kek-v1/"), tenant), epoch)
}

func payloadKeyAAD(tenant uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte("annal-tenant-payload-key-v1/"), tenant)
}

func (e Env) nonce() [keys.WrapNonceBytes]byte {
	var n [keys.WrapNonceBytes]byte
	_, _ = e.Rand.Read(n[:])
	return n
}

func (e Env) key32() []byte {
	k := make([]byte, 32)
	_, _ = e.Rand.Read(k)
	return k
}

// DecideSystemEpoch decides a new system master-key epoch (the first one
// on a fresh cluster, or a rotation).
func DecideSystemEpoch(v kv.Reader, env Env, wrapKey []byte, actor string) (*Decision, error) {
	cur, err := keyring.CurrentEpoch(v)
	if err != nil {
		return nil, err
	}
	sealed, err := keys.Wrap(wrapKey, env.nonce(), env.key32(), masterAAD(cur+1))
	if err != nil {
		return nil, err
	}
	b := &event.SystemEpochCreated{Epoch: cur + 1, SealedKey: sealed, CreatedNs: NowNs(env.Clock.Now())}
	return &Decision{Shard: KeysShard, Actor: actor, Events: []Pending{{Body: b}}}, nil
}

// DecideTenantKek decides a tenant's first KEK and payload key.
func DecideTenantKek(v kv.Reader, env Env, wrapKey []byte, tenant uint64) (*Decision, error) {
	if _, ok, err := keyring.GetTenantKey(v, tenant); err != nil || ok {
		return nil, err
	}
	kek := env.key32()
	sealed, err := keys.Wrap(wrapKey, env.nonce(), kek, kekAAD(tenant, 1))
	if err != nil {
		return nil, err
	}
	wrapped, err := keys.Wrap(kek, env.nonce(), env.key32(), payloadKeyAAD(tenant))
	if err != nil {
		return nil, err
	}
	b := &event.TenantKekCreated{TenantID: tenant, KekEpoch: 1, SealedKek: sealed, WrappedPayloadKey: wrapped,
		CreatedNs: NowNs(env.Clock.Now())}
	return &Decision{Shard: KekShard, Tenant: tenant, Actor: "system", Events: []Pending{{Body: b}}}, nil
}

// EnsureSystemEpoch creates the first system master-key epoch if the
// cluster has none.
func (s *Service) EnsureSystemEpoch(ctx context.Context) error {
	if err := s.log.Ensure(ctx, KeysShard, annallog.KindKeys); err != nil {
		return err
	}
	_, _, err := s.run(ctx, KeysShard, func(v kv.Reader) (*Decision, error) {
		if cur, err := keyring.CurrentEpoch(v); err != nil || cur > 0 {
			return nil, err
		}
		return DecideSystemEpoch(v, s.env, s.cfg.KeyWrapKey, "system")
	})
	return err
}

// RotateSystemEpoch starts a new system epoch: new chunks are sealed under
// it; older epochs stay readable.
func (s *Service) RotateSystemEpoch(ctx context.Context, actor string) (uint32, error) {
	d, _, err := s.run(ctx, KeysShard, func(v kv.Reader) (*Decision, error) {
		return DecideSystemEpoch(v, s.env, s.cfg.KeyWrapKey, actor)
	})
	if err != nil {
		return 0, err
	}
	return d.Events[0].Body.(*event.SystemEpochCreated).Epoch, nil
}

// EnsureTenantKek creates a tenant's KEK if it has none (idempotent, so a
// tenant creation interrupted before this step is completed later).
func (s *Service) EnsureTenantKek(ctx context.Context, tenant uint64) error {
	if err := s.log.Ensure(ctx, KekShard, annallog.KindKeks); err != nil {
		return err
	}
	_, _, err := s.run(ctx, KekShard, func(v kv.Reader) (*Decision, error) {
		return DecideTenantKek(v, s.env, s.cfg.KeyWrapKey, tenant)
	})
	if err != nil {
		return fmt.Errorf("tenant %d KEK: %w", tenant, err)
	}
	return nil
}

// SetKekTTL sets a tenant's KEK cache TTL (5–300 s).
func (s *Service) SetKekTTL(ctx context.Context, actor string, tenant uint64, seconds uint32) error {
	_, _, err := s.run(ctx, KekShard, func(v kv.Reader) (*Decision, error) {
		b := &event.TenantKekTTLSet{TenantID: tenant, TTLSeconds: seconds}
		if err := (keyring.Projection{}).Validate(v, nil, b); err != nil {
			return nil, err
		}
		return &Decision{Shard: KekShard, Tenant: tenant, Actor: actor, Events: []Pending{{Body: b}}}, nil
	})
	return err
}

// InternalKeys is the node's view of the key shards: the system master
// keys for the chunk data plane (chunks.MasterKeys) and tenant payload
// keys unwrapped by the internal KEK provider (keys.TenantKeySource). It
// reads the local replicas. Unwrapped master keys are cached (an epoch's
// key never changes), but every use re-reads the epoch's record, so a
// retired epoch stops being served the moment its retirement applies on
// this replica, and its cached key is dropped (ADR-015). The key bytes
// are not wiped: a reader may still be using the slice.
type InternalKeys struct {
	wrapKey []byte
	read    func(shard uint64) annallog.View

	mu      sync.Mutex
	masters map[uint32][]byte
}

// NewInternalKeys returns the key view; SetReader must be called before
// use (the log is built after the keys it needs).
func NewInternalKeys(wrapKey []byte) *InternalKeys {
	return &InternalKeys{wrapKey: wrapKey, masters: map[uint32][]byte{}}
}

// SetReader sets how the key shards' local replicas are read.
func (k *InternalKeys) SetReader(read func(shard uint64) annallog.View) { k.read = read }

// Current implements chunks.MasterKeys.
func (k *InternalKeys) Current() (uint32, []byte) {
	v := k.read(KeysShard)
	cur, err := keyring.CurrentEpoch(v)
	v.Close()
	if err != nil || cur == 0 {
		return 0, nil // the writer refuses a missing key
	}
	key, err := k.Key(cur)
	if err != nil {
		return 0, nil
	}
	return cur, key
}

// Key implements chunks.MasterKeys: the key of a known, unretired epoch.
func (k *InternalKeys) Key(epoch uint32) ([]byte, error) {
	v := k.read(KeysShard)
	ep, ok, err := keyring.GetEpoch(v, epoch)
	v.Close()
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if !ok || ep.Retired {
		delete(k.masters, epoch)
		return nil, fmt.Errorf("master key epoch %d unknown or retired", epoch)
	}
	if key, cached := k.masters[epoch]; cached {
		return key, nil
	}
	key, err := keys.Unwrap(k.wrapKey, ep.SealedKey, masterAAD(epoch))
	if err != nil {
		return nil, fmt.Errorf("master key epoch %d: %w", epoch, err)
	}
	k.masters[epoch] = key
	return key, nil
}

// FetchPayloadKey implements keys.TenantKeySource with the internal KEK
// provider: unseal the tenant's KEK, unwrap its payload key.
func (k *InternalKeys) FetchPayloadKey(_ context.Context, tenant uint64) ([]byte, time.Duration, error) {
	v := k.read(KekShard)
	tk, ok, err := keyring.GetTenantKey(v, tenant)
	v.Close()
	switch {
	case err != nil:
		return nil, 0, err
	case !ok:
		return nil, 0, fmt.Errorf("%w: no KEK for tenant %d on this replica yet", keys.ErrKekUnavailable, tenant)
	case tk.Destroyed:
		return nil, 0, keys.ErrKekDestroyed
	}
	kek, err := keys.Unwrap(k.wrapKey, tk.SealedKek, kekAAD(tenant, tk.KekEpoch))
	if err != nil {
		return nil, 0, fmt.Errorf("tenant %d KEK: %w", tenant, err)
	}
	defer clear(kek)
	key, err := keys.Unwrap(kek, tk.WrappedPayloadKey, payloadKeyAAD(tenant))
	if err != nil {
		return nil, 0, fmt.Errorf("tenant %d payload key: %w", tenant, err)
	}
	return key, time.Duration(tk.TTL()) * time.Second, nil
}
