// Package control is the projection of the control shard: tenants, their
// access keys, namespaces and the namespace→shard map, cluster settings.
//
// Key space (under the shard's projection prefix):
//
//	t/<tenant u64>          Tenant
//	n/<tenant name>         tenant id (u64)
//	a/<access key id>       AccessKey
//	s/<tenant u64><name>    Namespace (live namespaces)
//	h/<shard u64>           ShardOwner (every namespace shard ever made)
//	c/tenant, c/shard       highest id handed out
//	g/<setting>             setting value
//	T/..., H/...            compliance tags and retention holds (compliance.go)
//
// control must not import anything but log/event, log/kv and projections.
package control

import (
	"fmt"
	"sort"

	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	p "github.com/annal-storage/annal/projections"
)

// FirstNamespaceShard is the lowest shard id given to namespaces; lower ids
// are reserved for system shards.
const FirstNamespaceShard = 1000

// Tenant is a tenant record.
type Tenant struct {
	ID            uint64   `msgpack:"i"`
	Name          string   `msgpack:"n"`
	Org           string   `msgpack:"o"`
	Project       string   `msgpack:"p,omitempty"`
	Workload      string   `msgpack:"w,omitempty"`
	Compliance    []string `msgpack:"c,omitempty"`
	DedupIsolated bool     `msgpack:"d,omitempty"`
	CreatedNs     int64    `msgpack:"at"`
	// Shredded: the tenant was crypto-shredded at ShreddedNs (ADR-014).
	Shredded   bool  `msgpack:"x,omitempty"`
	ShreddedNs int64 `msgpack:"xn,omitempty"`
	// Backpressure: a stalled audit export throttles the tenant's writes
	// instead of letting event GC pass it; ValveSeconds overrides the
	// safety valve (0: the cluster default).
	Backpressure bool  `msgpack:"bp,omitempty"`
	ValveSeconds int64 `msgpack:"vs,omitempty"`
}

// AccessKey is an S3-style credential.
type AccessKey struct {
	ID        string `msgpack:"i"`
	TenantID  uint64 `msgpack:"t"`
	Secret    string `msgpack:"s"`
	CreatedNs int64  `msgpack:"at"`
	Revoked   bool   `msgpack:"r,omitempty"`
}

// Namespace is a live namespace of a tenant.
type Namespace struct {
	TenantID  uint64 `msgpack:"t"`
	Name      string `msgpack:"n"`
	ShardID   uint64 `msgpack:"s"`
	CreatedNs int64  `msgpack:"at"`
}

// ShardOwner says which namespace a shard holds (or held).
type ShardOwner struct {
	TenantID uint64 `msgpack:"t"`
	Name     string `msgpack:"n"`
	Deleted  bool   `msgpack:"d,omitempty"`
	// Purged: the tenant was crypto-shredded and the shard purged; nodes
	// drop their replicas of it.
	Purged bool `msgpack:"p,omitempty"`
}

func tenantKey(id uint64) []byte        { return p.Key([]byte("t/"), p.U64(id)) }
func tenantNameKey(name string) []byte  { return p.Key([]byte("n/"), []byte(name)) }
func accessKeyKey(id string) []byte     { return p.Key([]byte("a/"), []byte(id)) }
func shardOwnerKey(shard uint64) []byte { return p.Key([]byte("h/"), p.U64(shard)) }
func settingKey(name string) []byte     { return p.Key([]byte("g/"), []byte(name)) }
func namespacePrefix(t uint64) []byte   { return p.Key([]byte("s/"), p.U64(t)) }
func namespaceKey(t uint64, n string) []byte {
	return p.Key(namespacePrefix(t), []byte(n))
}

var (
	counterTenant = []byte("c/tenant")
	counterShard  = []byte("c/shard")
)

// Projection is the control shard projection.
type Projection struct{}

// Validate implements projections.Projection.
func (Projection) Validate(r kv.Reader, _ *event.Envelope, body event.Body) error {
	if ok, err := validateCompliance(r, body); ok {
		return err
	}
	switch b := body.(type) {
	case *event.TenantCreated:
		return validateTenantCreated(r, b)
	case *event.AccessKeyIssued:
		if _, err := liveTenant(r, b.TenantID); err != nil {
			return err
		}
		if ok, err := p.Get(r, accessKeyKey(b.AccessKeyID), &AccessKey{}); err != nil || ok {
			return orErr(err, p.Errorf(p.ErrAlreadyExists, "access key %s", b.AccessKeyID))
		}
	case *event.AccessKeyRevoked:
		if _, err := AccessKeyByID(r, b.AccessKeyID); err != nil {
			return err
		}
	case *event.NamespaceCreated:
		if _, err := liveTenant(r, b.TenantID); err != nil {
			return err
		}
		return validateNamespaceCreated(r, b)
	case *event.NamespaceDeleted:
		ns, err := NamespaceByName(r, b.TenantID, b.Name)
		if err != nil {
			return err
		}
		if ns.ShardID != b.ShardID {
			return p.Errorf(p.ErrPreconditionFailed, "namespace %q is on shard %d, not %d", b.Name, ns.ShardID, b.ShardID)
		}
	case *event.SettingChanged, *event.ClusterFormatVersionRaised:
	default:
		return p.Errorf(p.ErrInvalid, "%s is not a control event", body.EventType())
	}
	return nil
}

func validateTenantCreated(r kv.Reader, b *event.TenantCreated) error {
	if b.Name == "" || b.TenantID == 0 {
		return p.Errorf(p.ErrInvalid, "tenant needs a name and an id")
	}
	if ok, err := p.Get(r, tenantKey(b.TenantID), &Tenant{}); err != nil || ok {
		return orErr(err, p.Errorf(p.ErrAlreadyExists, "tenant id %d", b.TenantID))
	}
	if _, ok, err := r.Get(tenantNameKey(b.Name)); err != nil || ok {
		return orErr(err, p.Errorf(p.ErrAlreadyExists, "tenant %q", b.Name))
	}
	return nil
}

func validateNamespaceCreated(r kv.Reader, b *event.NamespaceCreated) error {
	if _, err := mustTenant(r, b.TenantID); err != nil {
		return err
	}
	if b.ShardID < FirstNamespaceShard {
		return p.Errorf(p.ErrInvalid, "shard id %d is reserved", b.ShardID)
	}
	if ok, err := p.Get(r, namespaceKey(b.TenantID, b.Name), &Namespace{}); err != nil || ok {
		return orErr(err, p.Errorf(p.ErrAlreadyExists, "namespace %q", b.Name))
	}
	if ok, err := p.Get(r, shardOwnerKey(b.ShardID), &ShardOwner{}); err != nil || ok {
		return orErr(err, p.Errorf(p.ErrAlreadyExists, "shard %d", b.ShardID))
	}
	return nil
}

func orErr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

// CheckGuard implements projections.Projection; the control shard takes no
// guards.
func (Projection) CheckGuard(_ kv.Reader, g event.Guard) error {
	return p.Errorf(p.ErrInvalid, "control shard has no guard kind %d", g.Kind)
}

// Apply implements projections.Projection.
func (Projection) Apply(w kv.Writer, _ *event.Envelope, body event.Body) error {
	if ok, err := applyCompliance(w, body); ok {
		return err
	}
	switch b := body.(type) {
	case *event.TenantCreated:
		t := Tenant{ID: b.TenantID, Name: b.Name, Org: b.Org, Project: b.Project, Workload: b.Workload,
			Compliance: b.Compliance, DedupIsolated: b.DedupIsolated, CreatedNs: b.CreatedNs}
		if err := p.Put(w, tenantKey(t.ID), &t); err != nil {
			return err
		}
		if err := w.Set(tenantNameKey(t.Name), p.U64(t.ID)); err != nil {
			return err
		}
		return raiseCounter(w, counterTenant, t.ID)
	case *event.AccessKeyIssued:
		return p.Put(w, accessKeyKey(b.AccessKeyID), &AccessKey{ID: b.AccessKeyID, TenantID: b.TenantID, Secret: b.Secret, CreatedNs: b.CreatedNs})
	case *event.AccessKeyRevoked:
		ak, err := AccessKeyByID(w, b.AccessKeyID)
		p.Must(err == nil, "revoke unknown key: %v", err)
		ak.Revoked = true
		return p.Put(w, accessKeyKey(ak.ID), &ak)
	case *event.NamespaceCreated:
		ns := Namespace{TenantID: b.TenantID, Name: b.Name, ShardID: b.ShardID, CreatedNs: b.CreatedNs}
		if err := p.Put(w, namespaceKey(ns.TenantID, ns.Name), &ns); err != nil {
			return err
		}
		if err := p.Put(w, shardOwnerKey(ns.ShardID), &ShardOwner{TenantID: ns.TenantID, Name: ns.Name}); err != nil {
			return err
		}
		return raiseCounter(w, counterShard, ns.ShardID)
	case *event.NamespaceDeleted:
		if err := w.Delete(namespaceKey(b.TenantID, b.Name)); err != nil {
			return err
		}
		return p.Put(w, shardOwnerKey(b.ShardID), &ShardOwner{TenantID: b.TenantID, Name: b.Name, Deleted: true})
	case *event.SettingChanged:
		return w.Set(settingKey(b.Name), []byte(b.New))
	case *event.ClusterFormatVersionRaised:
		return w.Set([]byte("f"), p.U64(uint64(b.To)))
	}
	panic(fmt.Sprintf("control: apply of unexpected %s", body.EventType()))
}

func raiseCounter(w kv.Writer, key []byte, v uint64) error {
	cur, err := counter(w, key)
	if err != nil || cur >= v {
		return err
	}
	return w.Set(key, p.U64(v))
}

func counter(r kv.Reader, key []byte) (uint64, error) {
	b, ok, err := r.Get(key)
	if err != nil || !ok {
		return 0, err
	}
	return kv.Uint64(b), nil
}

// NextTenantID is the id a new tenant should take.
func NextTenantID(r kv.Reader) (uint64, error) {
	c, err := counter(r, counterTenant)
	return c + 1, err
}

// NextShardID is the shard id a new namespace should take.
func NextShardID(r kv.Reader) (uint64, error) {
	c, err := counter(r, counterShard)
	if c < FirstNamespaceShard {
		c = FirstNamespaceShard - 1
	}
	return c + 1, err
}

func mustTenant(r kv.Reader, id uint64) (Tenant, error) {
	var t Tenant
	ok, err := p.Get(r, tenantKey(id), &t)
	if err != nil {
		return t, err
	}
	if !ok {
		return t, p.Errorf(p.ErrNotFound, "tenant %d", id)
	}
	return t, nil
}

// TenantByID returns a tenant or ErrNotFound.
func TenantByID(r kv.Reader, id uint64) (Tenant, error) { return mustTenant(r, id) }

// TenantByName returns a tenant or ErrNotFound.
func TenantByName(r kv.Reader, name string) (Tenant, error) {
	b, ok, err := r.Get(tenantNameKey(name))
	if err != nil {
		return Tenant{}, err
	}
	if !ok {
		return Tenant{}, p.Errorf(p.ErrNotFound, "tenant %q", name)
	}
	return mustTenant(r, kv.Uint64(b))
}

// Tenants lists every tenant in id order.
func Tenants(r kv.Reader) ([]Tenant, error) {
	var out []Tenant
	err := kv.Scan(r, []byte("t/"), kv.PrefixEnd([]byte("t/")), func(_, v []byte) error {
		var t Tenant
		if err := p.Decode(v, &t); err != nil {
			return err
		}
		out = append(out, t)
		return nil
	})
	return out, err
}

// AccessKeyByID returns a credential (revoked ones included) or ErrNotFound.
func AccessKeyByID(r kv.Reader, id string) (AccessKey, error) {
	var ak AccessKey
	ok, err := p.Get(r, accessKeyKey(id), &ak)
	if err != nil {
		return ak, err
	}
	if !ok {
		return ak, p.Errorf(p.ErrNotFound, "access key %s", id)
	}
	return ak, nil
}

// AccessKeysOf lists a tenant's credentials in key id order.
func AccessKeysOf(r kv.Reader, tenant uint64) ([]AccessKey, error) {
	var out []AccessKey
	err := kv.Scan(r, []byte("a/"), kv.PrefixEnd([]byte("a/")), func(_, v []byte) error {
		var ak AccessKey
		if err := p.Decode(v, &ak); err != nil {
			return err
		}
		if ak.TenantID == tenant {
			out = append(out, ak)
		}
		return nil
	})
	return out, err
}

// NamespaceByName returns a live namespace or ErrNotFound.
func NamespaceByName(r kv.Reader, tenant uint64, name string) (Namespace, error) {
	var ns Namespace
	ok, err := p.Get(r, namespaceKey(tenant, name), &ns)
	if err != nil {
		return ns, err
	}
	if !ok {
		return ns, p.Errorf(p.ErrNotFound, "namespace %q", name)
	}
	return ns, nil
}

// NamespacesOf lists a tenant's live namespaces in name order.
func NamespacesOf(r kv.Reader, tenant uint64) ([]Namespace, error) {
	var out []Namespace
	pre := namespacePrefix(tenant)
	err := kv.Scan(r, pre, kv.PrefixEnd(pre), func(_, v []byte) error {
		var ns Namespace
		if err := p.Decode(v, &ns); err != nil {
			return err
		}
		out = append(out, ns)
		return nil
	})
	return out, err
}

// NamespaceShards lists every namespace shard ever created, deleted ones
// included, in shard order.
func NamespaceShards(r kv.Reader) (map[uint64]ShardOwner, []uint64, error) {
	owners := map[uint64]ShardOwner{}
	var ids []uint64
	err := kv.Scan(r, []byte("h/"), kv.PrefixEnd([]byte("h/")), func(k, v []byte) error {
		var o ShardOwner
		if err := p.Decode(v, &o); err != nil {
			return err
		}
		id := kv.Uint64(k[2:])
		owners[id] = o
		ids = append(ids, id)
		return nil
	})
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return owners, ids, err
}

// Setting returns a setting's value and whether it was ever set.
func Setting(r kv.Reader, name string) (string, bool, error) {
	b, ok, err := r.Get(settingKey(name))
	return string(b), ok, err
}
