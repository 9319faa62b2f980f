// Package keyring is the projection of the key shards: system master-key
// epochs (the keys shard) and tenant KEKs of the internal provider (the
// KEK shard). It stores key material only sealed under the cluster's
// key-wrapping key; unsealing is the node's business (package keys).
//
// Key space (under the shard's projection prefix):
//
//	cur               current system epoch (u32)
//	e/<epoch u32>     Epoch
//	t/<tenant u64>    TenantKey
//
// keyring must not import anything but log/event, log/kv and projections.
package keyring

import (
	"encoding/binary"
	"fmt"

	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	p "github.com/annal-storage/annal/projections"
)

// TTL bounds of the tenant KEK cache, in seconds (REQUIREMENTS I-K15).
const (
	MinKekTTLSeconds     = 5
	MaxKekTTLSeconds     = 300
	DefaultKekTTLSeconds = 60
)

// Epoch is one system master-key epoch.
type Epoch struct {
	Epoch     uint32 `msgpack:"e"`
	SealedKey []byte `msgpack:"k,omitempty"`
	CreatedNs int64  `msgpack:"c"`
	Retired   bool   `msgpack:"r,omitempty"`
	RetiredNs int64  `msgpack:"rn,omitempty"`
}

// TenantKey is a tenant's KEK (internal provider) and wrapped payload key.
type TenantKey struct {
	TenantID          uint64 `msgpack:"t"`
	KekEpoch          uint32 `msgpack:"e"`
	SealedKek         []byte `msgpack:"k,omitempty"`
	WrappedPayloadKey []byte `msgpack:"p,omitempty"`
	TTLSeconds        uint32 `msgpack:"s,omitempty"`
	Destroyed         bool   `msgpack:"d,omitempty"`
	DestroyedNs       int64  `msgpack:"dn,omitempty"`
}

// TTL returns the tenant's KEK cache TTL in seconds.
func (t TenantKey) TTL() uint32 {
	if t.TTLSeconds == 0 {
		return DefaultKekTTLSeconds
	}
	return t.TTLSeconds
}

var currentKey = []byte("cur")

func epochKey(e uint32) []byte  { return binary.BigEndian.AppendUint32([]byte("e/"), e) }
func tenantKey(t uint64) []byte { return p.Key([]byte("t/"), p.U64(t)) }

// CurrentEpoch returns the current system epoch (0 before the first).
func CurrentEpoch(r kv.Reader) (uint32, error) {
	b, ok, err := r.Get(currentKey)
	if err != nil || !ok {
		return 0, err
	}
	return binary.BigEndian.Uint32(b), nil
}

// GetEpoch returns one epoch.
func GetEpoch(r kv.Reader, e uint32) (Epoch, bool, error) {
	var ep Epoch
	ok, err := p.Get(r, epochKey(e), &ep)
	return ep, ok, err
}

// Epochs lists every epoch in order.
func Epochs(r kv.Reader) ([]Epoch, error) {
	var out []Epoch
	err := kv.Scan(r, []byte("e/"), kv.PrefixEnd([]byte("e/")), func(_, v []byte) error {
		var ep Epoch
		if err := p.Decode(v, &ep); err != nil {
			return err
		}
		out = append(out, ep)
		return nil
	})
	return out, err
}

// GetTenantKey returns a tenant's key record.
func GetTenantKey(r kv.Reader, tenant uint64) (TenantKey, bool, error) {
	var tk TenantKey
	ok, err := p.Get(r, tenantKey(tenant), &tk)
	return tk, ok, err
}

// Projection is the key shards' projection.
type Projection struct{}

// Validate implements projections.Projection.
func (Projection) Validate(r kv.Reader, _ *event.Envelope, body event.Body) error {
	switch b := body.(type) {
	case *event.SystemEpochCreated:
		cur, err := CurrentEpoch(r)
		if err != nil {
			return err
		}
		if b.Epoch != cur+1 || len(b.SealedKey) == 0 {
			return p.Errorf(p.ErrPreconditionFailed, "epoch %d after current %d", b.Epoch, cur)
		}
	case *event.SystemEpochRetired:
		return validateRetire(r, b)
	case *event.TenantKekCreated:
		if _, ok, err := GetTenantKey(r, b.TenantID); err != nil || ok {
			return orErr(err, p.Errorf(p.ErrAlreadyExists, "tenant %d has a KEK", b.TenantID))
		}
	case *event.TenantKekRotated:
		tk, err := liveTenantKey(r, b.TenantID)
		if err == nil && b.KekEpoch != tk.KekEpoch+1 {
			err = p.Errorf(p.ErrPreconditionFailed, "KEK epoch %d after %d", b.KekEpoch, tk.KekEpoch)
		}
		return err
	case *event.TenantKekDestroyed:
		_, err := liveTenantKey(r, b.TenantID)
		return err
	case *event.TenantKekTTLSet:
		if b.TTLSeconds < MinKekTTLSeconds || b.TTLSeconds > MaxKekTTLSeconds {
			return p.Errorf(p.ErrInvalid, "KEK cache TTL %d s outside [%d, %d]", b.TTLSeconds, MinKekTTLSeconds, MaxKekTTLSeconds)
		}
		_, err := liveTenantKey(r, b.TenantID)
		return err
	default:
		return p.Errorf(p.ErrInvalid, "%s is not a key shard event", body.EventType())
	}
	return nil
}

func validateRetire(r kv.Reader, b *event.SystemEpochRetired) error {
	cur, err := CurrentEpoch(r)
	if err != nil {
		return err
	}
	ep, ok, err := GetEpoch(r, b.Epoch)
	if err != nil {
		return err
	}
	if !ok || ep.Retired || b.Epoch == cur {
		return p.Errorf(p.ErrPreconditionFailed, "epoch %d cannot be retired", b.Epoch)
	}
	return nil
}

func liveTenantKey(r kv.Reader, tenant uint64) (TenantKey, error) {
	tk, ok, err := GetTenantKey(r, tenant)
	if err != nil {
		return tk, err
	}
	if !ok || tk.Destroyed {
		return tk, p.Errorf(p.ErrNotFound, "tenant %d has no live KEK", tenant)
	}
	return tk, nil
}

func orErr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

// CheckGuard implements projections.Projection; key shards take no guards.
func (Projection) CheckGuard(_ kv.Reader, g event.Guard) error {
	return p.Errorf(p.ErrInvalid, "key shard has no guard kind %d", g.Kind)
}

// Apply implements projections.Projection.
func (Projection) Apply(w kv.Writer, _ *event.Envelope, body event.Body) error {
	switch b := body.(type) {
	case *event.SystemEpochCreated:
		if err := p.Put(w, epochKey(b.Epoch), &Epoch{Epoch: b.Epoch, SealedKey: b.SealedKey, CreatedNs: b.CreatedNs}); err != nil {
			return err
		}
		return w.Set(currentKey, binary.BigEndian.AppendUint32(nil, b.Epoch))
	case *event.SystemEpochRetired:
		ep, _, err := GetEpoch(w, b.Epoch)
		if err != nil {
			return err
		}
		ep.Retired, ep.RetiredNs, ep.SealedKey = true, b.RetiredNs, nil
		return p.Put(w, epochKey(b.Epoch), &ep)
	case *event.TenantKekCreated:
		return p.Put(w, tenantKey(b.TenantID), &TenantKey{TenantID: b.TenantID, KekEpoch: b.KekEpoch,
			SealedKek: b.SealedKek, WrappedPayloadKey: b.WrappedPayloadKey})
	case *event.TenantKekRotated:
		return updateTenant(w, b.TenantID, func(tk *TenantKey) {
			tk.KekEpoch, tk.SealedKek, tk.WrappedPayloadKey = b.KekEpoch, b.SealedKek, b.WrappedPayloadKey
		})
	case *event.TenantKekDestroyed:
		return updateTenant(w, b.TenantID, func(tk *TenantKey) {
			tk.Destroyed, tk.DestroyedNs, tk.SealedKek, tk.WrappedPayloadKey = true, b.DestroyedNs, nil, nil
		})
	case *event.TenantKekTTLSet:
		return updateTenant(w, b.TenantID, func(tk *TenantKey) { tk.TTLSeconds = b.TTLSeconds })
	}
	panic(fmt.Sprintf("keyring: apply of unexpected %s", body.EventType()))
}

func updateTenant(w kv.Writer, tenant uint64, change func(*TenantKey)) error {
	tk, ok, err := GetTenantKey(w, tenant)
	if err != nil {
		return err
	}
	p.Must(ok, "tenant %d key record missing", tenant)
	change(&tk)
	return p.Put(w, tenantKey(tenant), &tk)
}

// DestroyedTenants lists the tenants whose KEK is destroyed, in id order.
func DestroyedTenants(r kv.Reader) ([]uint64, error) {
	var out []uint64
	err := kv.Scan(r, []byte("t/"), kv.PrefixEnd([]byte("t/")), func(_, v []byte) error {
		var tk TenantKey
		if err := p.Decode(v, &tk); err != nil {
			return err
		}
		if tk.Destroyed {
			out = append(out, tk.TenantID)
		}
		return nil
	})
	return out, err
}
