package control

import (
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	p "github.com/annal-storage/annal/projections"
)

// Compliance state on the control shard (ADR-014): namespace compliance
// tags, retention holds, shredded tenants and audit export policies.
//
//	T/<tenant u64><namespace>   namespace compliance tags ([]string)
//	H/<hold id>                 Hold

// Hold states.
const (
	HoldActive   = "active"
	HoldReleased = "released"
	HoldExpired  = "expired"
)

// Hold is a retention hold.
type Hold struct {
	ID        string `msgpack:"i"`
	TenantID  uint64 `msgpack:"t"`
	Scope     string `msgpack:"s"`
	Namespace string `msgpack:"n,omitempty"`
	KeyHash   []byte `msgpack:"k,omitempty"`
	SealedKey []byte `msgpack:"sk,omitempty"`
	Reason    string `msgpack:"r,omitempty"`
	Source    string `msgpack:"o"`
	PlacedNs  int64  `msgpack:"at"`
	ExpiresNs int64  `msgpack:"e,omitempty"`
	FloorNs   int64  `msgpack:"f,omitempty"`
	State     string `msgpack:"st"`
	EndedNs   int64  `msgpack:"en,omitempty"`
	// Token is the chunk retention made for this hold when its tenant was
	// shredded (zero otherwise).
	Token [16]byte `msgpack:"tk,omitempty"`
}

// ActiveAt reports whether the hold holds at time ns.
func (h Hold) ActiveAt(ns int64) bool {
	return h.State == HoldActive && (h.ExpiresNs == 0 || ns < h.ExpiresNs)
}

// Covers reports whether the hold covers a namespace of its tenant (an
// object hold covers only objects whose key hash it names).
func (h Hold) Covers(namespace string) bool {
	return h.Scope == event.HoldScopeTenant || h.Namespace == namespace
}

func nsTagsKey(t uint64, ns string) []byte { return p.Key([]byte("T/"), p.U64(t), []byte(ns)) }
func holdKey(id string) []byte             { return p.Key([]byte("H/"), []byte(id)) }

// NamespaceTags returns a namespace's compliance tags.
func NamespaceTags(r kv.Reader, tenant uint64, ns string) ([]string, error) {
	var tags []string
	_, err := p.Get(r, nsTagsKey(tenant, ns), &tags)
	return tags, err
}

// GetHold returns a hold or ErrNotFound.
func GetHold(r kv.Reader, id string) (Hold, error) {
	var h Hold
	ok, err := p.Get(r, holdKey(id), &h)
	if err == nil && !ok {
		err = p.Errorf(p.ErrNotFound, "hold %s", id)
	}
	return h, err
}

// Holds lists every hold (tenant 0) or a tenant's, in id order.
func Holds(r kv.Reader, tenant uint64) ([]Hold, error) {
	var out []Hold
	err := kv.Scan(r, []byte("H/"), kv.PrefixEnd([]byte("H/")), func(_, v []byte) error {
		var h Hold
		if err := p.Decode(v, &h); err != nil {
			return err
		}
		if tenant == 0 || h.TenantID == tenant {
			out = append(out, h)
		}
		return nil
	})
	return out, err
}

func validateCompliance(r kv.Reader, body event.Body) (bool, error) {
	switch b := body.(type) {
	case *event.ComplianceTagsSet:
		if _, err := liveTenant(r, b.TenantID); err != nil {
			return true, err
		}
		if b.Namespace != "" {
			_, err := NamespaceByName(r, b.TenantID, b.Namespace)
			return true, err
		}
		return true, nil
	case *event.RetentionHoldPlaced:
		return true, validateHoldPlaced(r, b)
	case *event.RetentionHoldExtended:
		h, err := activeHold(r, b.HoldID)
		if err == nil && (h.ExpiresNs == 0 || b.ExpiresNs <= h.ExpiresNs) {
			err = p.Errorf(p.ErrUnderRetention, "hold %s can only be lengthened (ends %d, asked %d)", h.ID, h.ExpiresNs, b.ExpiresNs)
		}
		return true, err
	case *event.RetentionHoldReleased:
		h, err := activeHold(r, b.HoldID)
		if err == nil && b.ReleasedNs < h.FloorNs {
			err = p.Errorf(p.ErrUnderRetention, "hold %s is under its %s compliance floor until %d", h.ID, h.Source, h.FloorNs)
		}
		return true, err
	case *event.RetentionHoldExpired:
		h, err := activeHold(r, b.HoldID)
		if err == nil && (h.ExpiresNs == 0 || b.ExpiredNs < h.ExpiresNs) {
			err = p.Errorf(p.ErrPreconditionFailed, "hold %s has not expired", h.ID)
		}
		return true, err
	case *event.TenantShredded:
		_, err := liveTenant(r, b.TenantID)
		return true, err
	case *event.TenantAuditPolicySet:
		_, err := mustTenant(r, b.TenantID)
		return true, err
	}
	return false, nil
}

func validateHoldPlaced(r kv.Reader, b *event.RetentionHoldPlaced) error {
	if _, err := liveTenant(r, b.TenantID); err != nil {
		return err
	}
	if _, err := GetHold(r, b.HoldID); err == nil || b.HoldID == "" {
		return p.Errorf(p.ErrAlreadyExists, "hold %q", b.HoldID)
	}
	switch b.Scope {
	case event.HoldScopeTenant:
	case event.HoldScopeNamespace, event.HoldScopeObject:
		if _, err := NamespaceByName(r, b.TenantID, b.Namespace); err != nil {
			return err
		}
		if b.Scope == event.HoldScopeObject && len(b.KeyHash) == 0 {
			return p.Errorf(p.ErrInvalid, "an object hold names a key")
		}
	default:
		return p.Errorf(p.ErrInvalid, "hold scope %q", b.Scope)
	}
	if b.ExpiresNs != 0 && (b.ExpiresNs <= b.PlacedNs || b.ExpiresNs < b.FloorNs) {
		return p.Errorf(p.ErrInvalid, "hold ends at %d, before it starts or below its floor", b.ExpiresNs)
	}
	return nil
}

func activeHold(r kv.Reader, id string) (Hold, error) {
	h, err := GetHold(r, id)
	if err == nil && h.State != HoldActive {
		err = p.Errorf(p.ErrPreconditionFailed, "hold %s is %s", id, h.State)
	}
	return h, err
}

// liveTenant returns a tenant that is not shredded.
func liveTenant(r kv.Reader, id uint64) (Tenant, error) {
	t, err := mustTenant(r, id)
	if err == nil && t.Shredded {
		err = p.Errorf(p.ErrNotFound, "tenant %d was crypto-shredded", id)
	}
	return t, err
}

func applyCompliance(w kv.Writer, body event.Body) (bool, error) {
	switch b := body.(type) {
	case *event.ComplianceTagsSet:
		if b.Namespace != "" {
			return true, p.Put(w, nsTagsKey(b.TenantID, b.Namespace), b.Tags)
		}
		return true, updateTenant(w, b.TenantID, func(t *Tenant) { t.Compliance = b.Tags })
	case *event.RetentionHoldPlaced:
		return true, p.Put(w, holdKey(b.HoldID), &Hold{ID: b.HoldID, TenantID: b.TenantID, Scope: b.Scope, Namespace: b.Namespace,
			KeyHash: b.KeyHash, SealedKey: b.SealedKey, Reason: b.Reason, Source: b.Source, PlacedNs: b.PlacedNs,
			ExpiresNs: b.ExpiresNs, FloorNs: b.FloorNs, State: HoldActive})
	case *event.RetentionHoldExtended:
		return true, updateHold(w, b.HoldID, func(h *Hold) { h.ExpiresNs = b.ExpiresNs })
	case *event.RetentionHoldReleased:
		return true, updateHold(w, b.HoldID, func(h *Hold) { h.State, h.EndedNs = HoldReleased, b.ReleasedNs })
	case *event.RetentionHoldExpired:
		return true, updateHold(w, b.HoldID, func(h *Hold) { h.State, h.EndedNs = HoldExpired, b.ExpiredNs })
	case *event.TenantShredded:
		return true, applyShredded(w, b)
	case *event.TenantAuditPolicySet:
		return true, updateTenant(w, b.TenantID, func(t *Tenant) { t.Backpressure, t.ValveSeconds = b.Backpressure, b.ValveSeconds })
	}
	return false, nil
}

func updateTenant(w kv.Writer, id uint64, change func(*Tenant)) error {
	t, err := mustTenant(w, id)
	p.Must(err == nil, "tenant %d missing at apply: %v", id, err)
	change(&t)
	return p.Put(w, tenantKey(id), &t)
}

func updateHold(w kv.Writer, id string, change func(*Hold)) error {
	h, err := GetHold(w, id)
	p.Must(err == nil, "hold %s missing at apply: %v", id, err)
	change(&h)
	return p.Put(w, holdKey(id), &h)
}

// applyShredded releases a shredded tenant's names: namespaces deleted
// (shards marked purged), access keys revoked, tenant marked shredded,
// retention tokens noted on their holds.
func applyShredded(w kv.Writer, b *event.TenantShredded) error {
	nss, err := NamespacesOf(w, b.TenantID)
	if err != nil {
		return err
	}
	for _, ns := range nss {
		if err := w.Delete(namespaceKey(ns.TenantID, ns.Name)); err != nil {
			return err
		}
		if err := w.Delete(nsTagsKey(ns.TenantID, ns.Name)); err != nil {
			return err
		}
	}
	if err := markPurged(w, b.TenantID); err != nil {
		return err
	}
	aks, err := AccessKeysOf(w, b.TenantID)
	if err != nil {
		return err
	}
	for _, ak := range aks {
		ak.Revoked = true
		if err := p.Put(w, accessKeyKey(ak.ID), &ak); err != nil {
			return err
		}
	}
	for _, hr := range b.RetentionTokens {
		if err := updateHold(w, hr.HoldID, func(h *Hold) { h.Token = hr.Token }); err != nil {
			return err
		}
	}
	return updateTenant(w, b.TenantID, func(t *Tenant) { t.Shredded, t.ShreddedNs = true, b.ShreddedNs })
}

// markPurged marks every namespace shard the tenant ever had purged, so
// nodes stop and drop their replicas.
func markPurged(w kv.Writer, tenant uint64) error {
	owners, ids, err := NamespaceShards(w)
	if err != nil {
		return err
	}
	for _, id := range ids {
		o := owners[id]
		if o.TenantID != tenant {
			continue
		}
		o.Deleted, o.Purged, o.Name = true, true, ""
		if err := p.Put(w, shardOwnerKey(id), &o); err != nil {
			return err
		}
	}
	return nil
}
