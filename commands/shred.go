package commands

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/annal-storage/annal/keys"
	annallog "github.com/annal-storage/annal/log"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/projections/chunkstate"
	"github.com/annal-storage/annal/projections/control"
	"github.com/annal-storage/annal/projections/keyring"
	"github.com/annal-storage/annal/projections/namespace"
)

// Crypto-shred (ADR-014). The order is binding: a replica halts on a
// payload it cannot open, so everything that needs the tenant's key
// happens before the key goes.
//
//  1. Holds and tags: tags implying retention and no active hold refuse
//     the shred with ErrRetentionHoldRequired, unless forced (with a
//     reason, audited).
//  2. An audit record of the decision (at once, not queued).
//  3. Each namespace shard of the tenant is frozen (NamespaceShredStarted:
//     the apply path admits nothing else, before opening payloads); the
//     tenant's audit consumer records what the shards hold; the chunks
//     under each covering hold are retained on the chunk shard under an
//     opaque token; the shard is purged (NamespacePurged: projection and
//     chunk references gone, shard admits nothing more).
//  4. TenantShredded on the control shard: names released, access keys
//     revoked, tenant marked shredded, tokens noted on their holds.
//  5. TenantKekDestroyed on the KEK shard. Every node drops its cached key
//     when its KEK replica applies it (the broadcast); this node at once.
//     Nothing waits for acknowledgements: a node that misses the
//     broadcast stops serving when its cache TTL ends.

// ShredOptions qualify a shred.
type ShredOptions struct {
	// Force shreds even though compliance tags imply retention and no
	// hold exists; Reason is then required and audited.
	Force  bool
	Reason string
}

// ShredReport says what a shred did.
type ShredReport struct {
	Tenant         uint64   `json:"tenant"`
	Forced         bool     `json:"forced,omitempty"`
	Namespaces     int      `json:"namespaces"`
	RetainedChunks int      `json:"retained_chunks"`
	Holds          []string `json:"holds,omitempty"`
	KekDestroyedNs int64    `json:"kek_destroyed_ns"`
	BroadcastNs    int64    `json:"broadcast_ns"`
	TTLExpiresNs   int64    `json:"ttl_expires_ns"`
}

// ShredTenant crypto-shreds a tenant.
func (s *Service) ShredTenant(ctx context.Context, actor, name string, opts ShredOptions) (ShredReport, error) {
	t, holds, shards, err := s.shredPlan(ctx, name)
	if err != nil {
		return ShredReport{}, err
	}
	rep := ShredReport{Tenant: t.ID, Forced: opts.Force}
	if err := s.shredAllowed(ctx, actor, t, holds, opts); err != nil {
		return rep, err
	}
	for _, sh := range shards {
		if err := s.freezeNamespace(ctx, actor, t.ID, sh); err != nil {
			return rep, err
		}
	}
	if _, err := s.ConsumeAudit(ctx, t.ID); err != nil {
		return rep, err
	}
	tokens := map[string][16]byte{}
	for _, sh := range shards {
		n, err := s.retainHeld(ctx, t.ID, sh, holds, tokens)
		if err != nil {
			return rep, err
		}
		rep.RetainedChunks += n
		if err := s.purgeNamespace(ctx, actor, t.ID, sh); err != nil {
			return rep, err
		}
		rep.Namespaces++
	}
	if err := s.releaseNames(ctx, actor, t.ID, opts, tokens); err != nil {
		return rep, err
	}
	for id := range tokens {
		rep.Holds = append(rep.Holds, id)
	}
	sort.Strings(rep.Holds)
	return s.destroyKek(ctx, actor, t.ID, opts, rep)
}

// shredPlan reads the tenant, its active holds and its namespace shards.
func (s *Service) shredPlan(ctx context.Context, name string) (control.Tenant, []control.Hold, []control.Namespace, error) {
	v, err := s.read(ctx, ControlShard)
	if err != nil {
		return control.Tenant{}, nil, nil, err
	}
	defer v.Close()
	t, err := control.TenantByName(v, name)
	if err == nil && t.Shredded {
		err = fmt.Errorf("%w: tenant %q was already shredded", ErrNotFound, name)
	}
	if err != nil {
		return t, nil, nil, err
	}
	all, err := control.Holds(v, t.ID)
	if err != nil {
		return t, nil, nil, err
	}
	now := NowNs(s.env.Clock.Now())
	var holds []control.Hold
	for _, h := range all {
		if h.ActiveAt(now) {
			holds = append(holds, h)
		}
	}
	nss, err := control.NamespacesOf(v, t.ID)
	if err != nil {
		return t, nil, nil, err
	}
	owners, ids, err := control.NamespaceShards(v)
	for _, id := range ids { // deleted namespaces' shards are purged too
		if o := owners[id]; o.TenantID == t.ID && o.Deleted && !o.Purged {
			nss = append(nss, control.Namespace{TenantID: t.ID, ShardID: id})
		}
	}
	return t, holds, nss, err
}

// shredAllowed applies the hold rule (REQUIREMENTS ADR-010) and writes the
// decision's audit record before anything is destroyed.
func (s *Service) shredAllowed(ctx context.Context, actor string, t control.Tenant, holds []control.Hold, opts ShredOptions) error {
	tags, err := s.allTags(ctx, t)
	if err != nil {
		return err
	}
	rec := event.AuditRecorded{TenantID: t.ID, Category: event.AuditCategorySecurity, Op: "CryptoShredRequested", Actor: actor,
		Outcome: event.AuditOutcomeSuccess, Target: fmt.Sprintf("tenant %d", t.ID), WallNs: NowNs(s.env.Clock.Now()),
		Details: []event.Pair{{K: "active_holds", V: fmt.Sprint(len(holds))}}}
	switch {
	case impliesRetention(tags) && len(holds) == 0 && !opts.Force:
		rec.Outcome, rec.Code = event.AuditOutcomeDenied, "RetentionHoldRequired"
		if err := s.recordNow(ctx, rec); err != nil {
			return err
		}
		return fmt.Errorf("%w: tenant %d has compliance tags %v that imply retention and no hold; place a hold or force with a reason",
			ErrRetentionHoldRequired, t.ID, tags)
	case opts.Force && opts.Reason == "":
		return fmt.Errorf("%w: a forced shred needs a reason", ErrInvalid)
	case opts.Force:
		rec.Op = "CryptoShredForced"
		rec.Details = append(rec.Details, event.Pair{K: "reason", V: opts.Reason})
	}
	return s.recordNow(ctx, rec)
}

// allTags returns the tenant's tags and its namespaces'.
func (s *Service) allTags(ctx context.Context, t control.Tenant) ([]string, error) {
	v, err := s.read(ctx, ControlShard)
	if err != nil {
		return nil, err
	}
	defer v.Close()
	tags := append([]string(nil), t.Compliance...)
	nss, err := control.NamespacesOf(v, t.ID)
	for _, ns := range nss {
		nt, err := control.NamespaceTags(v, t.ID, ns.Name)
		if err != nil {
			return nil, err
		}
		tags = append(tags, nt...)
	}
	return tags, err
}

// freezeNamespace proposes NamespaceShredStarted (once).
func (s *Service) freezeNamespace(ctx context.Context, actor string, tenant uint64, ns control.Namespace) error {
	if err := s.log.Ensure(ctx, ns.ShardID, annallog.KindNamespace); err != nil {
		return err
	}
	_, _, err := s.run(ctx, ns.ShardID, func(v kv.Reader) (*Decision, error) {
		if m, err := namespace.GetMeta(v); err == nil && m.Shredding {
			return nil, nil
		}
		b := &event.NamespaceShredStarted{StartedNs: NowNs(s.env.Clock.Now())}
		return &Decision{Shard: ns.ShardID, Tenant: tenant, Actor: actor, Events: []Pending{{Body: b}}}, nil
	})
	if err != nil {
		return fmt.Errorf("freeze namespace shard %d: %w", ns.ShardID, err)
	}
	return nil
}

// purgeNamespace proposes NamespacePurged (once).
func (s *Service) purgeNamespace(ctx context.Context, actor string, tenant uint64, ns control.Namespace) error {
	_, _, err := s.run(ctx, ns.ShardID, func(v kv.Reader) (*Decision, error) {
		if m, err := namespace.GetMeta(v); err == nil && m.Purged {
			return nil, nil
		}
		b := &event.NamespacePurged{PurgedNs: NowNs(s.env.Clock.Now())}
		return &Decision{Shard: ns.ShardID, Tenant: tenant, Actor: actor, Events: []Pending{{Body: b}}}, nil
	})
	if err != nil {
		return fmt.Errorf("purge namespace shard %d: %w", ns.ShardID, err)
	}
	return nil
}

// RetentionToken is the opaque token of the chunk retention made for a
// hold at a shred: keyed, so it names neither hold nor tenant to anyone
// without the cluster secret, and deterministic, so a retried shred
// reuses it.
func RetentionToken(secret []byte, holdID string) [16]byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("annal-retention-token-v1/" + holdID))
	var t [16]byte
	copy(t[:], m.Sum(nil))
	return t
}

// retainHeld retains, on the chunk shard, every chunk of a frozen
// namespace that an active hold covers: all referenced chunks for tenant
// and namespace holds, the chunks of every version of the key for object
// holds.
func (s *Service) retainHeld(ctx context.Context, tenant uint64, ns control.Namespace, holds []control.Hold, tokens map[string][16]byte) (int, error) {
	v, err := s.read(ctx, ns.ShardID)
	if err != nil {
		return 0, err
	}
	defer v.Close()
	meta, err := namespace.GetMeta(v)
	if err != nil || meta.Purged {
		return 0, nil // never opened, or purged by an earlier attempt
	}
	n := 0
	for _, h := range holds {
		if !h.Covers(meta.Name) {
			continue
		}
		ids, err := s.heldChunks(v, h)
		if err != nil {
			return n, err
		}
		tok := RetentionToken(s.cfg.KeyHashSecret, h.ID)
		tokens[h.ID] = tok
		k, err := s.retainChunks(ctx, tok, ids)
		if err != nil {
			return n, err
		}
		n += k
	}
	return n, nil
}

// heldChunks lists the chunks a hold covers in a namespace view.
func (s *Service) heldChunks(v kv.Reader, h control.Hold) ([]event.ChunkID, error) {
	var out []event.ChunkID
	if h.Scope != event.HoldScopeObject {
		err := namespace.ChunkRefTotals(v, func(c [32]byte, refs uint64) error {
			if refs > 0 {
				out = append(out, event.ChunkID(c))
			}
			return nil
		})
		return out, err
	}
	key, err := s.HoldKey(h)
	if err != nil {
		return nil, err
	}
	res, err := namespace.Resolve(v, key)
	if err != nil || !res.Found {
		return nil, nil
	}
	vs, err := namespace.Versions(v, res.Entry.Ino)
	if err != nil {
		return nil, err
	}
	seen := map[event.ChunkID]bool{}
	for _, ver := range vs {
		xs, err := namespace.ContentExtents(v, ver.Content, 0, ver.Content.Size)
		if err != nil {
			return nil, err
		}
		for _, x := range xs {
			if !x.IsHole() && !seen[x.Chunk] {
				seen[x.Chunk] = true
				out = append(out, x.Chunk)
			}
		}
	}
	return out, nil
}

// retainChunks proposes ChunksRetained for the chunks not yet retained by
// the token, in bounded batches.
func (s *Service) retainChunks(ctx context.Context, tok [16]byte, ids []event.ChunkID) (int, error) {
	done := 0
	for len(ids) > 0 {
		batch := ids[:min(len(ids), 512)]
		ids = ids[len(batch):]
		d, _, err := s.run(ctx, FirstChunkShard, func(v kv.Reader) (*Decision, error) {
			var todo []event.ChunkID
			for _, c := range batch {
				rec, ok, err := chunkstate.Get(v, c)
				if err != nil {
					return nil, err
				}
				if ok && rec.State != chunkstate.Collecting && !hasRetention(rec, tok) {
					todo = append(todo, c)
				}
			}
			if len(todo) == 0 {
				return nil, nil
			}
			b := &event.ChunksRetained{Token: tok, Chunks: todo, RetainedNs: NowNs(s.env.Clock.Now())}
			return &Decision{Shard: FirstChunkShard, Actor: "system:retention", Events: []Pending{{Body: b}}}, nil
		})
		if err != nil {
			return done, fmt.Errorf("retain held chunks: %w", err)
		}
		if d != nil {
			done += len(d.Events[0].Body.(*event.ChunksRetained).Chunks)
		}
	}
	return done, nil
}

func hasRetention(rec chunkstate.Record, tok [16]byte) bool {
	for _, t := range rec.Retained {
		if t == tok {
			return true
		}
	}
	return false
}

// releaseNames proposes TenantShredded.
func (s *Service) releaseNames(ctx context.Context, actor string, tenant uint64, opts ShredOptions, tokens map[string][16]byte) error {
	var hr []event.HoldRetention
	for id, tok := range tokens {
		hr = append(hr, event.HoldRetention{HoldID: id, Token: tok})
	}
	sort.Slice(hr, func(i, j int) bool { return hr[i].HoldID < hr[j].HoldID })
	_, _, err := s.run(ctx, ControlShard, func(v kv.Reader) (*Decision, error) {
		if t, err := control.TenantByID(v, tenant); err != nil || t.Shredded {
			return nil, err
		}
		b := &event.TenantShredded{TenantID: tenant, Forced: opts.Force, Reason: opts.Reason, RetentionTokens: hr, ShreddedNs: NowNs(s.env.Clock.Now())}
		return &Decision{Shard: ControlShard, Tenant: tenant, Actor: actor, Events: []Pending{{Body: b}}}, nil
	})
	if err != nil {
		return fmt.Errorf("release tenant names: %w", err)
	}
	return nil
}

// destroyKek proposes TenantKekDestroyed, drops this node's cached key at
// once and records the times: destruction, broadcast (the destruction's
// commit reaches every KEK replica, whose nodes drop their keys), and the
// end of the longest cache TTL a node that missed it may still serve.
func (s *Service) destroyKek(ctx context.Context, actor string, tenant uint64, opts ShredOptions, rep ShredReport) (ShredReport, error) {
	var ttl uint32 = keyring.DefaultKekTTLSeconds
	_, _, err := s.run(ctx, KekShard, func(v kv.Reader) (*Decision, error) {
		tk, ok, err := keyring.GetTenantKey(v, tenant)
		if err != nil || !ok || tk.Destroyed {
			return nil, err
		}
		ttl = tk.TTL()
		rep.KekDestroyedNs = NowNs(s.env.Clock.Now())
		b := &event.TenantKekDestroyed{TenantID: tenant, Reason: opts.Reason, Forced: opts.Force, DestroyedNs: rep.KekDestroyedNs}
		return &Decision{Shard: KekShard, Tenant: tenant, Actor: actor, Events: []Pending{{Body: b}}}, nil
	})
	if err != nil {
		return rep, fmt.Errorf("destroy tenant KEK: %w", err)
	}
	if s.cfg.InvalidateTenant != nil {
		s.cfg.InvalidateTenant(tenant)
	}
	rep.BroadcastNs = NowNs(s.env.Clock.Now())
	rep.TTLExpiresNs = rep.KekDestroyedNs + keys.EffectiveTTL(time.Duration(ttl)*time.Second, 1).Nanoseconds()
	rec := event.AuditRecorded{TenantID: tenant, Category: event.AuditCategorySecurity, Op: "CryptoShredExecuted", Actor: actor,
		Outcome: event.AuditOutcomeSuccess, Target: fmt.Sprintf("tenant %d", tenant), WallNs: rep.BroadcastNs,
		Details: []event.Pair{{K: "kek_destroyed_ns", V: fmt.Sprint(rep.KekDestroyedNs)}, {K: "broadcast_ns", V: fmt.Sprint(rep.BroadcastNs)},
			{K: "ttl_expires_ns", V: fmt.Sprint(rep.TTLExpiresNs)}, {K: "namespaces", V: fmt.Sprint(rep.Namespaces)},
			{K: "retained_chunks", V: fmt.Sprint(rep.RetainedChunks)}, {K: "forced", V: fmt.Sprint(opts.Force)}}}
	if err := s.recordNow(ctx, rec); err != nil && !errors.Is(err, ErrAlreadyExists) {
		return rep, err
	}
	return rep, nil
}
