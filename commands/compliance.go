package commands

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	annallog "github.com/annal-storage/annal/log"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/projections"
	"github.com/annal-storage/annal/projections/chunkstate"
	"github.com/annal-storage/annal/projections/control"
	"github.com/annal-storage/annal/projections/keyring"
	"github.com/annal-storage/annal/projections/namespace"
)

// Compliance (ADR-014): compliance tags and the retention they imply,
// retention holds and their enforcement, audit shard ids.

// Compliance errors, re-exported for gateways.
var (
	// ErrUnderRetention: a retention hold forbids the change (S3
	// AccessDenied, EPERM).
	ErrUnderRetention = projections.ErrUnderRetention
	// ErrRetentionHoldRequired: a shred refused because compliance tags
	// imply retention and no hold exists (permanent).
	ErrRetentionHoldRequired = projections.ErrRetentionHoldRequired
	// ErrNamespacePurged: the namespace belonged to a shredded tenant.
	ErrNamespacePurged = projections.ErrNamespacePurged
)

// Audit shards: the system audit shard and one per tenant at a fixed
// offset (far above namespace shard ids, which count up from 1000).
const (
	SystemAuditShard     uint64 = 3
	TenantAuditShardBase uint64 = 1 << 40
)

// AuditShardOf returns a tenant's audit shard.
func AuditShardOf(tenant uint64) uint64 { return TenantAuditShardBase + tenant }

// IsAuditShard reports whether a shard is an audit shard.
func IsAuditShard(shard uint64) bool {
	return shard == SystemAuditShard || shard > TenantAuditShardBase
}

// isNamespaceShard reports whether a shard holds tenant namespace data.
func isNamespaceShard(shard uint64) bool {
	return shard >= control.FirstNamespaceShard && !IsAuditShard(shard)
}

const nsPerDay = int64(24 * time.Hour)

// Regimes maps the known compliance tags to the retention they imply
// (REQUIREMENTS ADR-010): HIPAA six years; GDPR and revFADP none by
// default (retention is the controller's policy: place holds). A custom
// tag "NAME=DURATION" (DURATION as 30d or 7y) implies DURATION.
var Regimes = map[string]int64{
	"HIPAA":   6 * 365 * nsPerDay,
	"GDPR":    0,
	"revFADP": 0,
}

// TagRetention returns the retention a compliance tag implies (0: none)
// and the tag's canonical name.
func TagRetention(tag string) (int64, string, error) {
	if ns, ok := Regimes[tag]; ok {
		return ns, tag, nil
	}
	name, dur, ok := strings.Cut(tag, "=")
	if !ok || name == "" {
		return 0, tag, nil
	}
	ns, err := parseDays(dur)
	if err != nil {
		return 0, "", fmt.Errorf("%w: compliance tag %q: %v", ErrInvalid, tag, err)
	}
	return ns, name, nil
}

func parseDays(s string) (int64, error) {
	if len(s) < 2 {
		return 0, fmt.Errorf("duration %q: want Nd or Ny", s)
	}
	n, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
	if err != nil || n <= 0 || n > 1000*365 {
		return 0, fmt.Errorf("duration %q: want Nd or Ny", s)
	}
	switch s[len(s)-1] {
	case 'd':
		return n * nsPerDay, nil
	case 'y':
		return n * 365 * nsPerDay, nil
	}
	return 0, fmt.Errorf("duration %q: want Nd or Ny", s)
}

// impliesRetention reports whether any tag implies retention.
func impliesRetention(tags []string) bool {
	for _, t := range tags {
		if ns, _, err := TagRetention(t); err == nil && ns > 0 {
			return true
		}
	}
	return false
}

// HoldSpec describes a hold to place.
type HoldSpec struct {
	Tenant uint64
	// Scope is event.HoldScopeTenant, HoldScopeNamespace or
	// HoldScopeObject; Bucket and Key narrow it.
	Scope  string
	Bucket string
	Key    string
	Reason string
	// DurationNs 0 holds until released.
	DurationNs int64
	// Source is "manual" or the compliance tag that implied the hold.
	Source  string
	FloorNs int64
}

// DecidePlaceHold decides RetentionHoldPlaced on the control view.
func DecidePlaceHold(v kv.Reader, env Env, actor string, keyHashSecret []byte, spec HoldSpec) (*Decision, error) {
	now := NowNs(env.Clock.Now())
	b := &event.RetentionHoldPlaced{HoldID: "h-" + env.Token(6), TenantID: spec.Tenant, Scope: spec.Scope, Namespace: spec.Bucket,
		Reason: spec.Reason, Source: spec.Source, PlacedNs: now, FloorNs: spec.FloorNs}
	if b.Source == "" {
		b.Source = "manual"
	}
	if spec.DurationNs > 0 {
		b.ExpiresNs = now + spec.DurationNs
	}
	if spec.Scope == event.HoldScopeObject {
		ns, err := control.NamespaceByName(v, spec.Tenant, spec.Bucket)
		if err != nil {
			return nil, err
		}
		if _, _, err := namespace.SplitKey(spec.Key); err != nil {
			return nil, err
		}
		b.KeyHash = KeyHash(keyHashSecret, ns.ShardID, spec.Key)
		if b.SealedKey, err = sealHoldKey(env, spec.Tenant, b.HoldID, spec.Key); err != nil {
			return nil, err
		}
	}
	if err := (control.Projection{}).Validate(v, nil, b); err != nil {
		return nil, err
	}
	return &Decision{Shard: ControlShard, Tenant: spec.Tenant, Actor: actor, Events: []Pending{{Body: b}}}, nil
}

// holdKeyID is the id under which an object hold's key is sealed.
func holdKeyID(holdID string) [16]byte {
	var id [16]byte
	copy(id[:], "hold/"+holdID)
	return id
}

func holdKeyAAD(tenant uint64, holdID string) []byte {
	return fmt.Appendf(nil, "annal-hold-key-v1/%d/%s", tenant, holdID)
}

// sealHoldKey seals an object hold's key under the tenant's payload key
// (clear when the service seals nothing: tests and the simulator).
func sealHoldKey(env Env, tenant uint64, holdID, key string) ([]byte, error) {
	if env.Payloads == nil {
		return []byte(key), nil
	}
	return env.Payloads.SealPayload(false, tenant, holdKeyID(holdID), holdKeyAAD(tenant, holdID), []byte(key))
}

// HoldKey opens an object hold's key; after a shred it is gone.
func (s *Service) HoldKey(h control.Hold) (string, error) {
	if h.Scope != event.HoldScopeObject {
		return "", nil
	}
	if s.env.Payloads == nil {
		return string(h.SealedKey), nil
	}
	b, err := s.env.Payloads.OpenPayload(false, h.TenantID, holdKeyID(h.ID), holdKeyAAD(h.TenantID, h.ID), h.SealedKey)
	return string(b), err
}

// PlaceHold places a retention hold.
func (s *Service) PlaceHold(ctx context.Context, actor string, spec HoldSpec) (control.Hold, error) {
	d, _, err := s.run(ctx, ControlShard, func(v kv.Reader) (*Decision, error) {
		return DecidePlaceHold(v, s.env, actor, s.cfg.KeyHashSecret, spec)
	})
	if err != nil {
		return control.Hold{}, fmt.Errorf("place hold: %w", err)
	}
	b := d.Events[0].Body.(*event.RetentionHoldPlaced)
	return s.Hold(ctx, b.HoldID)
}

// Hold returns one hold (linearizable).
func (s *Service) Hold(ctx context.Context, id string) (control.Hold, error) {
	v, err := s.read(ctx, ControlShard)
	if err != nil {
		return control.Hold{}, err
	}
	defer v.Close()
	return control.GetHold(v, id)
}

// Holds lists holds (tenant 0: all), linearizable.
func (s *Service) Holds(ctx context.Context, tenant uint64) ([]control.Hold, error) {
	v, err := s.read(ctx, ControlShard)
	if err != nil {
		return nil, err
	}
	defer v.Close()
	return control.Holds(v, tenant)
}

// ExtendHold moves a hold's end to expiresNs (later only).
func (s *Service) ExtendHold(ctx context.Context, actor, id string, expiresNs int64, reason string) (control.Hold, error) {
	var h control.Hold
	_, _, err := s.run(ctx, ControlShard, func(v kv.Reader) (*Decision, error) {
		var err error
		if h, err = control.GetHold(v, id); err != nil {
			return nil, err
		}
		b := &event.RetentionHoldExtended{HoldID: id, ExpiresNs: expiresNs, Reason: reason, ExtendedNs: NowNs(s.env.Clock.Now())}
		if err := (control.Projection{}).Validate(v, nil, b); err != nil {
			return nil, err
		}
		return &Decision{Shard: ControlShard, Tenant: h.TenantID, Actor: actor, Events: []Pending{{Body: b}}}, nil
	})
	if err != nil {
		return h, fmt.Errorf("extend hold %s: %w", id, err)
	}
	return s.Hold(ctx, id)
}

// ReleaseHold ends a hold (never below its compliance floor). The chunks
// a shred retained for it are released too.
func (s *Service) ReleaseHold(ctx context.Context, actor, id, reason string) (control.Hold, error) {
	return s.endHold(ctx, actor, id, func(h control.Hold, now int64) event.Body {
		return &event.RetentionHoldReleased{HoldID: id, Reason: reason, ReleasedNs: now}
	})
}

func (s *Service) endHold(ctx context.Context, actor, id string, body func(control.Hold, int64) event.Body) (control.Hold, error) {
	var h control.Hold
	_, _, err := s.run(ctx, ControlShard, func(v kv.Reader) (*Decision, error) {
		var err error
		if h, err = control.GetHold(v, id); err != nil {
			return nil, err
		}
		b := body(h, NowNs(s.env.Clock.Now()))
		if err := (control.Projection{}).Validate(v, nil, b); err != nil {
			return nil, err
		}
		return &Decision{Shard: ControlShard, Tenant: h.TenantID, Actor: actor, Events: []Pending{{Body: b}}}, nil
	})
	if err != nil {
		return h, fmt.Errorf("end hold %s: %w", id, err)
	}
	if h.Token != ([16]byte{}) {
		if err := s.releaseRetention(ctx, h.Token); err != nil {
			return h, err
		}
	}
	return s.Hold(ctx, id)
}

// ExpireHolds ends every active hold whose time is up (the node's hold
// worker calls it); it returns how many expired.
func (s *Service) ExpireHolds(ctx context.Context) (int, error) {
	hs, err := s.Holds(ctx, 0)
	if err != nil {
		return 0, err
	}
	now := NowNs(s.env.Clock.Now())
	n := 0
	for _, h := range hs {
		if h.State != control.HoldActive || h.ExpiresNs == 0 || now < h.ExpiresNs {
			continue
		}
		_, err := s.endHold(ctx, "system:retention", h.ID, func(_ control.Hold, now int64) event.Body {
			return &event.RetentionHoldExpired{HoldID: h.ID, ExpiredNs: now}
		})
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// releaseRetention drops a retention token from every chunk it keeps, in
// bounded steps.
func (s *Service) releaseRetention(ctx context.Context, token [16]byte) error {
	for {
		d, _, err := s.run(ctx, FirstChunkShard, func(v kv.Reader) (*Decision, error) {
			ids, err := chunkstate.RetainedBy(v, token, 512)
			if err != nil || len(ids) == 0 {
				return nil, err
			}
			b := &event.ChunkRetentionReleased{Token: token, Chunks: ids, ReleasedNs: NowNs(s.env.Clock.Now())}
			return &Decision{Shard: FirstChunkShard, Actor: "system:retention", Events: []Pending{{Body: b}}}, nil
		})
		if err != nil || d == nil {
			return err
		}
	}
}

// SetComplianceTags replaces a tenant's (bucket "") or a namespace's
// compliance tags. Tags that imply retention place their default holds at
// once if the tenant already has data, else at its first namespace.
func (s *Service) SetComplianceTags(ctx context.Context, actor string, tenant uint64, bucket string, tags []string) error {
	for _, t := range tags {
		if _, _, err := TagRetention(t); err != nil {
			return err
		}
	}
	_, _, err := s.run(ctx, ControlShard, func(v kv.Reader) (*Decision, error) {
		b := &event.ComplianceTagsSet{TenantID: tenant, Namespace: bucket, Tags: tags, SetNs: NowNs(s.env.Clock.Now())}
		if err := (control.Projection{}).Validate(v, nil, b); err != nil {
			return nil, err
		}
		return &Decision{Shard: ControlShard, Tenant: tenant, Actor: actor, Events: []Pending{{Body: b}}}, nil
	})
	if err != nil {
		return fmt.Errorf("set compliance tags: %w", err)
	}
	return s.ensureDefaultHolds(ctx, tenant)
}

// ensureDefaultHolds places, for every namespace of the tenant (data has
// been written under the tags), the default hold each retention-implying
// tag asks for, unless an active hold from that tag already covers it.
func (s *Service) ensureDefaultHolds(ctx context.Context, tenant uint64) error {
	v, err := s.read(ctx, ControlShard)
	if err != nil {
		return err
	}
	specs, err := missingDefaultHolds(v, tenant, NowNs(s.env.Clock.Now()))
	v.Close()
	if err != nil {
		return err
	}
	for _, spec := range specs {
		if _, err := s.PlaceHold(ctx, "system:compliance", spec); err != nil && !errors.Is(err, ErrAlreadyExists) {
			return err
		}
	}
	return nil
}

// missingDefaultHolds lists the default holds a tenant's tags imply and
// lacks: a tenant-scope hold per tenant tag, a namespace-scope hold per
// namespace tag, once the tenant has a namespace.
func missingDefaultHolds(v kv.Reader, tenant uint64, now int64) ([]HoldSpec, error) {
	t, err := control.TenantByID(v, tenant)
	if err != nil {
		return nil, err
	}
	nss, err := control.NamespacesOf(v, tenant)
	if err != nil || len(nss) == 0 || t.Shredded {
		return nil, err
	}
	holds, err := control.Holds(v, tenant)
	if err != nil {
		return nil, err
	}
	has := func(source, ns string) bool {
		for _, h := range holds {
			if h.Source == source && h.ActiveAt(now) && (h.Scope == event.HoldScopeTenant || (ns != "" && h.Namespace == ns)) {
				return true
			}
		}
		return false
	}
	var out []HoldSpec
	add := func(tags []string, scope, ns string) {
		for _, tag := range tags {
			ret, name, err := TagRetention(tag)
			if err != nil || ret == 0 || has(name, ns) {
				continue
			}
			out = append(out, HoldSpec{Tenant: tenant, Scope: scope, Bucket: ns, Reason: "default hold of compliance tag " + name,
				DurationNs: ret, Source: name, FloorNs: now + ret})
		}
	}
	add(t.Compliance, event.HoldScopeTenant, "")
	for _, ns := range nss {
		tags, err := control.NamespaceTags(v, tenant, ns.Name)
		if err != nil {
			return nil, err
		}
		add(tags, event.HoldScopeNamespace, ns.Name)
	}
	return out, nil
}

// activeHolds returns the tenant's holds active now, from the local
// control replica (holds change rarely; a hold takes effect for requests
// decided after it reached this replica).
func (s *Service) activeHolds(tenant uint64) ([]control.Hold, error) {
	v := s.log.LocalRead(ControlShard)
	defer v.Close()
	hs, err := control.Holds(v, tenant)
	if err != nil {
		return nil, err
	}
	now := NowNs(s.env.Clock.Now())
	out := hs[:0]
	for _, h := range hs {
		if h.ActiveAt(now) {
			out = append(out, h)
		}
	}
	return out, nil
}

// checkHolds refuses a namespace decision that would drop content under
// an active hold (ADR-014): deleting or replacing an object version, or a
// POSIX change of file content or names. A delete that only places a
// delete marker (versioning enabled) hides the name and keeps the bytes,
// so it passes.
func (s *Service) checkHolds(v kv.Reader, d *Decision) error {
	if !isNamespaceShard(d.Shard) {
		return nil
	}
	for _, pe := range d.Events {
		if event.SystemSealed(pe.Body.EventType()) {
			return nil // a shred's freeze and purge
		}
	}
	if err := s.throttled(d.Tenant); err != nil {
		return err
	}
	if !destructive(v, d) {
		return nil
	}
	holds, err := s.activeHolds(d.Tenant)
	if err != nil || len(holds) == 0 {
		return err
	}
	meta, err := namespace.GetMeta(v)
	if err != nil {
		return nil // not opened: nothing to hold
	}
	for _, pe := range d.Events {
		if key, ok := destroys(v, pe.Body); ok {
			if h, held := heldBy(holds, meta.Name, KeyHash(s.cfg.KeyHashSecret, d.Shard, key), key == ""); held {
				return fmt.Errorf("%w: hold %s (%s) covers %q", ErrUnderRetention, h.ID, h.Source, meta.Name)
			}
		}
	}
	return nil
}

// destructive is a cheap pre-filter: does any event of d drop content?
func destructive(v kv.Reader, d *Decision) bool {
	for _, pe := range d.Events {
		if _, ok := destroys(v, pe.Body); ok {
			return true
		}
	}
	return false
}

// destroys reports whether an event drops content and which S3 key it
// touches ("" for POSIX events, which act on inodes). Creating, appending
// and growing destroy nothing; overwriting, shrinking, unlinking the last
// name of a non-empty file and renaming over one do.
func destroys(v kv.Reader, body event.Body) (string, bool) {
	switch b := body.(type) {
	case *event.ObjectDeleted:
		return b.Key, b.MarkerVersionID == "" && !isDeleteMarker(v, b.Key, b.VersionID)
	case *event.ObjectPut:
		return b.Key, b.VersionID == namespace.NullVersion && hasNullVersion(v, b.Key)
	case *event.MultipartCompleted:
		u, err := namespace.GetUpload(v, b.UploadID)
		return u.Key, err == nil && b.VersionID == namespace.NullVersion && hasNullVersion(v, u.Key)
	case *event.EntryUnlinked:
		return "", lastNameOfContent(v, b.Parent, b.Name)
	case *event.EntryRenamed:
		return "", lastNameOfContent(v, b.TargetParent, b.TargetName)
	case *event.FileWritten:
		size := fileSize(v, b.Ino)
		for _, w := range b.Writes {
			if w.Offset < size {
				return "", true
			}
		}
	case *event.FileTruncated:
		return "", b.Size < fileSize(v, b.Ino)
	}
	return "", false
}

// fileSize is an inode's current content size (0 when unknown).
func fileSize(v kv.Reader, ino uint64) int64 {
	in, err := namespace.GetInode(v, ino)
	if err != nil {
		return 0
	}
	c, err := namespace.FileContent(v, in)
	if err != nil {
		return 0
	}
	return c.Size
}

// lastNameOfContent reports whether (parent, name) is the last name of a
// file with content: removing or replacing it drops that content.
func lastNameOfContent(v kv.Reader, parent uint64, name string) bool {
	d, ok, err := namespace.Lookup(v, parent, name)
	if err != nil || !ok || d.Kind != namespace.KindFile {
		return false
	}
	in, err := namespace.GetInode(v, d.Ino)
	return err == nil && in.Nlink <= 1 && fileSize(v, d.Ino) > 0
}

// isDeleteMarker reports whether a key's version is a delete marker
// (removing one drops no bytes).
func isDeleteMarker(v kv.Reader, key, id string) bool {
	if id == "" {
		return false
	}
	res, err := namespace.Resolve(v, key)
	if err != nil || !res.Found {
		return false
	}
	ver, ok, err := namespace.VersionByID(v, res.Entry.Ino, id)
	return err == nil && ok && ver.DeleteMarker
}

func hasNullVersion(v kv.Reader, key string) bool {
	res, err := namespace.Resolve(v, key)
	if err != nil || !res.Found {
		return false
	}
	_, ok, err := namespace.VersionByID(v, res.Entry.Ino, namespace.NullVersion)
	return err == nil && ok
}

// heldBy finds a hold covering a key of a namespace; anyKey (POSIX
// events) matches object holds in the namespace too.
func heldBy(holds []control.Hold, ns string, keyHash []byte, anyKey bool) (control.Hold, bool) {
	for _, h := range holds {
		switch {
		case h.Scope == event.HoldScopeTenant, h.Scope == event.HoldScopeNamespace && h.Namespace == ns:
			return h, true
		case h.Scope == event.HoldScopeObject && h.Namespace == ns && (anyKey || string(h.KeyHash) == string(keyHash)):
			return h, true
		}
	}
	return control.Hold{}, false
}

// checkTenantKey refuses to serve a tenant whose key is destroyed or
// cannot be confirmed after the KEK cache TTL (ADR-014).
func (s *Service) checkTenantKey(ctx context.Context, tenant uint64) error {
	if s.cfg.TenantKeyCheck == nil || tenant == 0 {
		return nil
	}
	return s.cfg.TenantKeyCheck(ctx, tenant)
}

// ensureAudit starts this node's replica of an audit shard.
func (s *Service) ensureAudit(ctx context.Context, shard uint64) error {
	return s.log.Ensure(ctx, shard, annallog.KindAudit)
}

// TenantKeyInfo returns a tenant's KEK record (TTL, destroyed), without
// key material use (linearizable).
func (s *Service) TenantKeyInfo(ctx context.Context, tenant uint64) (keyring.TenantKey, error) {
	v, err := s.read(ctx, KekShard)
	if err != nil {
		return keyring.TenantKey{}, err
	}
	defer v.Close()
	tk, ok, err := keyring.GetTenantKey(v, tenant)
	if err == nil && !ok {
		err = fmt.Errorf("%w: tenant %d has no KEK", ErrNotFound, tenant)
	}
	return tk, err
}

// SetAuditPolicy sets how a stalled audit export of the tenant is
// handled: backpressure (throttle its writes) or the safety valve
// (valveSeconds, 0: the cluster default).
func (s *Service) SetAuditPolicy(ctx context.Context, actor string, tenant uint64, backpressure bool, valveSeconds int64) error {
	_, _, err := s.run(ctx, ControlShard, func(v kv.Reader) (*Decision, error) {
		b := &event.TenantAuditPolicySet{TenantID: tenant, Backpressure: backpressure, ValveSeconds: valveSeconds}
		if err := (control.Projection{}).Validate(v, nil, b); err != nil {
			return nil, err
		}
		return &Decision{Shard: ControlShard, Tenant: tenant, Actor: actor, Events: []Pending{{Body: b}}}, nil
	})
	return err
}
