package commands

import (
	"context"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	annallog "github.com/annal-storage/annal/log"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/projections/control"
	"github.com/annal-storage/annal/projections/namespace"
)

// Principal is an authenticated caller.
type Principal struct {
	Tenant    uint64
	AccessKey string
	// Admin: the cluster administrator (admin token), not a tenant.
	Admin bool
}

// Actor names the principal in events and audit records.
func (p Principal) Actor() string {
	if p.Admin {
		return "admin"
	}
	return p.AccessKey
}

// TenantSpec describes a new tenant.
type TenantSpec struct {
	Name          string
	Org           string
	Project       string
	Workload      string
	Compliance    []string
	DedupIsolated bool
}

// DecideCreateTenant decides a TenantCreated event.
func DecideCreateTenant(v kv.Reader, env Env, actor string, spec TenantSpec) (*Decision, error) {
	if spec.Org == "" {
		spec.Org = spec.Name
	}
	id, err := control.NextTenantID(v)
	if err != nil {
		return nil, err
	}
	b := &event.TenantCreated{TenantID: id, Name: spec.Name, Org: spec.Org, Project: spec.Project, Workload: spec.Workload,
		Compliance: spec.Compliance, DedupIsolated: spec.DedupIsolated, CreatedNs: NowNs(env.Clock.Now())}
	if err := (control.Projection{}).Validate(v, nil, b); err != nil {
		return nil, err
	}
	return &Decision{Shard: ControlShard, Tenant: id, Actor: actor, Events: []Pending{{Body: b}}}, nil
}

// CreateTenant creates a tenant and its first access key.
func (s *Service) CreateTenant(ctx context.Context, actor string, spec TenantSpec) (control.Tenant, control.AccessKey, error) {
	d, _, err := s.run(ctx, ControlShard, func(v kv.Reader) (*Decision, error) {
		return DecideCreateTenant(v, s.env, actor, spec)
	})
	if err != nil {
		return control.Tenant{}, control.AccessKey{}, fmt.Errorf("create tenant %q: %w", spec.Name, err)
	}
	b := d.Events[0].Body.(*event.TenantCreated)
	if err := s.EnsureTenantKek(ctx, b.TenantID); err != nil {
		return control.Tenant{}, control.AccessKey{}, err
	}
	ak, err := s.IssueAccessKey(ctx, actor, b.TenantID)
	t := control.Tenant{ID: b.TenantID, Name: b.Name, Org: b.Org, Project: b.Project, Workload: b.Workload,
		Compliance: b.Compliance, DedupIsolated: b.DedupIsolated, CreatedNs: b.CreatedNs}
	return t, ak, err
}

var keyAlphabet = base32.StdEncoding.WithPadding(base32.NoPadding)

// DecideIssueAccessKey decides new credentials for a tenant.
func DecideIssueAccessKey(v kv.Reader, env Env, actor string, tenant uint64) (*Decision, error) {
	idBytes := make([]byte, 12)
	secret := make([]byte, 30)
	_, _ = env.Rand.Read(idBytes)
	_, _ = env.Rand.Read(secret)
	b := &event.AccessKeyIssued{TenantID: tenant, AccessKeyID: "AK" + strings.ToUpper(keyAlphabet.EncodeToString(idBytes))[:18],
		Secret: base64.RawStdEncoding.EncodeToString(secret), CreatedNs: NowNs(env.Clock.Now())}
	if err := (control.Projection{}).Validate(v, nil, b); err != nil {
		return nil, err
	}
	return &Decision{Shard: ControlShard, Tenant: tenant, Actor: actor, Events: []Pending{{Body: b}}}, nil
}

// IssueAccessKey creates credentials for a tenant.
func (s *Service) IssueAccessKey(ctx context.Context, actor string, tenant uint64) (control.AccessKey, error) {
	d, _, err := s.run(ctx, ControlShard, func(v kv.Reader) (*Decision, error) {
		return DecideIssueAccessKey(v, s.env, actor, tenant)
	})
	if err != nil {
		return control.AccessKey{}, fmt.Errorf("issue access key: %w", err)
	}
	b := d.Events[0].Body.(*event.AccessKeyIssued)
	return control.AccessKey{ID: b.AccessKeyID, TenantID: b.TenantID, Secret: b.Secret, CreatedNs: b.CreatedNs}, nil
}

// Credentials returns the secret and principal of an access key: from the
// local control replica, then, for keys it does not know yet, after a read
// barrier. Revoked and unknown keys return ErrNotFound.
func (s *Service) Credentials(ctx context.Context, accessKeyID string) (string, Principal, error) {
	get := func(v kv.Reader) (control.AccessKey, error) { return control.AccessKeyByID(v, accessKeyID) }
	ak, err := s.readControl(ctx, get)
	if err != nil {
		return "", Principal{}, err
	}
	if ak.Revoked {
		return "", Principal{}, fmt.Errorf("%w: access key %s revoked", ErrNotFound, accessKeyID)
	}
	return ak.Secret, Principal{Tenant: ak.TenantID, AccessKey: ak.ID}, nil
}

// readControl reads the local control replica and falls back to a
// linearizable read when the answer is "not found" (it may be too new).
func readControl[T any](ctx context.Context, s *Service, get func(kv.Reader) (T, error)) (T, error) {
	v := s.log.LocalRead(ControlShard)
	out, err := get(v)
	v.Close()
	if err == nil || !errors.Is(err, ErrNotFound) {
		return out, err
	}
	lv, rerr := s.read(ctx, ControlShard)
	if rerr != nil {
		return out, rerr
	}
	defer lv.Close()
	return get(lv)
}

func (s *Service) readControl(ctx context.Context, get func(kv.Reader) (control.AccessKey, error)) (control.AccessKey, error) {
	return readControl(ctx, s, get)
}

// Tenants lists tenants (linearizable).
func (s *Service) Tenants(ctx context.Context) ([]control.Tenant, error) {
	v, err := s.read(ctx, ControlShard)
	if err != nil {
		return nil, err
	}
	defer v.Close()
	return control.Tenants(v)
}

// TenantByName finds a tenant (linearizable).
func (s *Service) TenantByName(ctx context.Context, name string) (control.Tenant, error) {
	v, err := s.read(ctx, ControlShard)
	if err != nil {
		return control.Tenant{}, err
	}
	defer v.Close()
	return control.TenantByName(v, name)
}

// Bucket is a namespace as S3 sees it.
type Bucket struct {
	Name      string
	Shard     uint64
	CreatedNs int64
}

// DecideCreateNamespace decides the control half of a bucket creation.
func DecideCreateNamespace(v kv.Reader, env Env, p Principal, name string) (*Decision, error) {
	shard, err := control.NextShardID(v)
	if err != nil {
		return nil, err
	}
	b := &event.NamespaceCreated{TenantID: p.Tenant, Name: name, ShardID: shard, CreatedNs: NowNs(env.Clock.Now())}
	if err := (control.Projection{}).Validate(v, nil, b); err != nil {
		return nil, err
	}
	return &Decision{Shard: ControlShard, Tenant: p.Tenant, Actor: p.Actor(), Events: []Pending{{Body: b}}}, nil
}

// DecideOpenNamespace decides the first event of a namespace shard; nil
// when it is already open.
func DecideOpenNamespace(v kv.Reader, env Env, p Principal, shard uint64, name string) (*Decision, error) {
	if _, err := namespace.GetMeta(v); err == nil {
		return nil, nil
	}
	b := &event.NamespaceOpened{Name: name, CreatedNs: NowNs(env.Clock.Now())}
	return &Decision{Shard: shard, Tenant: p.Tenant, Actor: p.Actor(), Events: []Pending{{Body: b}}}, nil
}

// CreateBucket creates a namespace for the principal's tenant. Names are
// scoped per tenant. A creation interrupted between its two steps is
// completed by the next attempt.
func (s *Service) CreateBucket(ctx context.Context, p Principal, name string) error {
	// A tenant whose creation stopped before its KEK existed gets it now.
	if err := s.EnsureTenantKek(ctx, p.Tenant); err != nil {
		return fmt.Errorf("create bucket %q: %w", name, err)
	}
	var shard uint64
	d, _, err := s.run(ctx, ControlShard, func(v kv.Reader) (*Decision, error) {
		ns, err := control.NamespaceByName(v, p.Tenant, name)
		if err == nil {
			shard = ns.ShardID
			return nil, nil
		}
		return DecideCreateNamespace(v, s.env, p, name)
	})
	if err != nil {
		return fmt.Errorf("create bucket %q: %w", name, err)
	}
	existed := d == nil
	if !existed {
		shard = d.Events[0].Body.(*event.NamespaceCreated).ShardID
	}
	if err := s.log.Ensure(ctx, shard, annallog.KindNamespace); err != nil {
		return fmt.Errorf("create bucket %q: %w", name, err)
	}
	opened, _, err := s.run(ctx, shard, func(v kv.Reader) (*Decision, error) {
		return DecideOpenNamespace(v, s.env, p, shard, name)
	})
	if err != nil {
		return fmt.Errorf("create bucket %q: open namespace: %w", name, err)
	}
	if existed && opened == nil {
		return fmt.Errorf("%w: bucket %q", ErrAlreadyExists, name)
	}
	// Data is now written under the tenant's and bucket's compliance
	// tags: their default holds start here (ADR-014).
	if err := s.ensureDefaultHolds(ctx, p.Tenant); err != nil {
		return fmt.Errorf("create bucket %q: default holds: %w", name, err)
	}
	return nil
}

// ListBuckets lists the principal's tenant's namespaces in name order.
func (s *Service) ListBuckets(ctx context.Context, p Principal) ([]Bucket, error) {
	if err := s.checkTenantKey(ctx, p.Tenant); err != nil {
		return nil, err
	}
	v, err := s.read(ctx, ControlShard)
	if err != nil {
		return nil, err
	}
	defer v.Close()
	nss, err := control.NamespacesOf(v, p.Tenant)
	if err != nil {
		return nil, err
	}
	out := make([]Bucket, 0, len(nss))
	for _, ns := range nss {
		out = append(out, Bucket{Name: ns.Name, Shard: ns.ShardID, CreatedNs: ns.CreatedNs})
	}
	return out, nil
}

// bucketShard routes a bucket name to its namespace shard, from the local
// control replica first (namespace shards never move), and checks that
// the namespace is open.
func (s *Service) bucketShard(ctx context.Context, p Principal, name string) (uint64, error) {
	ns, err := readControl(ctx, s, func(v kv.Reader) (control.Namespace, error) {
		return control.NamespaceByName(v, p.Tenant, name)
	})
	if errors.Is(err, ErrNotFound) {
		return 0, fmt.Errorf("%w: %q", ErrNoSuchBucket, name)
	}
	if err != nil {
		return 0, err
	}
	if err := s.checkTenantKey(ctx, p.Tenant); err != nil {
		return 0, err
	}
	if err := s.log.Ensure(ctx, ns.ShardID, annallog.KindNamespace); err != nil {
		return 0, err
	}
	return ns.ShardID, nil
}

// readNamespace returns a linearizable view of an open bucket's namespace.
func (s *Service) readNamespace(ctx context.Context, p Principal, bucket string) (annallog.View, uint64, error) {
	shard, err := s.bucketShard(ctx, p, bucket)
	if err != nil {
		return nil, 0, err
	}
	v, err := s.read(ctx, shard)
	if err != nil {
		return nil, 0, err
	}
	if m, err := namespace.GetMeta(v); err != nil || m.Sealed {
		v.Close()
		return nil, 0, fmt.Errorf("%w: %q", ErrNoSuchBucket, bucket)
	}
	return v, shard, nil
}

// HeadBucket checks that the bucket exists for the principal.
func (s *Service) HeadBucket(ctx context.Context, p Principal, name string) error {
	v, _, err := s.readNamespace(ctx, p, name)
	if err != nil {
		return err
	}
	return v.Close()
}

// DecideSealNamespace decides the NamespaceSealed that starts a bucket's
// deletion; nil when the namespace is sealed already.
func DecideSealNamespace(v kv.Reader, p Principal, shard uint64) (*Decision, error) {
	m, err := namespace.GetMeta(v)
	if err != nil {
		return nil, err
	}
	if m.Sealed {
		return nil, nil
	}
	b := &event.NamespaceSealed{}
	if err := (namespace.Projection{}).Validate(v, nil, b); err != nil {
		return nil, err
	}
	return &Decision{Shard: shard, Tenant: p.Tenant, Actor: p.Actor(), Events: []Pending{{Body: b}}}, nil
}

// DecideDeleteNamespace decides the NamespaceDeleted that releases a
// bucket name after its namespace shard was sealed. nil when the name no
// longer belongs to that shard: a concurrent deletion released it and
// the name may already name a new, unsealed namespace, which must not be
// released in its place (found by the simulator).
func DecideDeleteNamespace(v kv.Reader, p Principal, name string, sealedShard uint64) (*Decision, error) {
	ns, err := control.NamespaceByName(v, p.Tenant, name)
	if errors.Is(err, ErrNotFound) || (err == nil && ns.ShardID != sealedShard) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	b := &event.NamespaceDeleted{TenantID: p.Tenant, Name: name, ShardID: ns.ShardID}
	return &Decision{Shard: ControlShard, Tenant: p.Tenant, Actor: p.Actor(), Events: []Pending{{Body: b}}}, nil
}

// DeleteBucket deletes an empty bucket: the namespace shard is sealed
// (refusing if it has entries or uploads), then the name is released.
func (s *Service) DeleteBucket(ctx context.Context, p Principal, name string) error {
	shard, err := s.bucketShard(ctx, p, name)
	if err != nil {
		return err
	}
	_, _, err = s.run(ctx, shard, func(v kv.Reader) (*Decision, error) {
		return DecideSealNamespace(v, p, shard)
	})
	if err != nil {
		return fmt.Errorf("delete bucket %q: %w", name, err)
	}
	_, _, err = s.run(ctx, ControlShard, func(v kv.Reader) (*Decision, error) {
		return DecideDeleteNamespace(v, p, name, shard)
	})
	if err != nil {
		return fmt.Errorf("delete bucket %q: %w", name, err)
	}
	return nil
}
