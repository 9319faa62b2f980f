package server

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/annal-storage/annal/commands"
	"github.com/annal-storage/annal/keys"
	annallog "github.com/annal-storage/annal/log"
	"github.com/annal-storage/annal/projections/control"
	"github.com/annal-storage/annal/projections/keyring"
)

// The node's compliance work (ADR-014): audit shards started beside the
// others, the audit consumers of the audit shards this node leads, the
// queue of direct security records, hold expiry, the shred broadcast
// (dropping cached keys when the KEK replica applies a destruction), and
// dropping purged namespace shards.

// complianceInterval paces the audit consumer and the shred watcher.
const complianceInterval = 250 * time.Millisecond

// holdExpiryInterval paces hold expiry.
const holdExpiryInterval = 10 * time.Second

// freshKeys is the tenant key source of the serving path: it confirms
// the tenant's KEK against a linearizable read of the KEK shard, so a
// node cut off from the KEK shard cannot renew a key after its TTL.
type freshKeys struct {
	internal *commands.InternalKeys
	host     interface {
		Barrier(ctx context.Context, shard uint64) error
	}
}

// freshWait bounds how long a key check waits for the KEK shard (an
// election after a node loss takes a few hundred milliseconds).
const freshWait = 5 * time.Second

func (f freshKeys) FetchPayloadKey(ctx context.Context, tenant uint64) ([]byte, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, freshWait)
	defer cancel()
	for {
		attempt, stop := context.WithTimeout(ctx, time.Second)
		err := f.host.Barrier(attempt, commands.KekShard)
		stop()
		if err == nil {
			return f.internal.FetchPayloadKey(ctx, tenant)
		}
		select {
		case <-ctx.Done():
			return nil, 0, fmt.Errorf("%w: KEK shard: %v", keys.ErrKekUnavailable, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// compliance is the node's compliance state.
type compliance struct {
	serving *keys.TenantKeys
	mu      sync.Mutex
	// invalidated: tenants whose destroyed keys this node dropped.
	invalidated map[uint64]bool
	lastExpiry  time.Time
	lastEventGC time.Time
}

// complianceConfig wires the service's compliance hooks.
func (n *Node) complianceConfig(cfg *commands.Config, ck *ClusterKeys) {
	n.comp = &compliance{invalidated: map[uint64]bool{},
		serving: keys.NewTenantKeys(freshKeys{internal: ck.Internal, host: n.host}, time.Now, ck.jitter)}
	cfg.TenantKeyCheck = func(ctx context.Context, tenant uint64) error {
		_, err := n.comp.serving.PayloadKey(ctx, tenant)
		return err
	}
	cfg.InvalidateTenant = func(tenant uint64) {
		ck.Tenants.Invalidate(tenant)
		n.comp.serving.Invalidate(tenant)
	}
	cfg.Events = func(shard, from uint64, fn func(uint64, []byte) (bool, error)) error {
		return annallog.ReadEvents(n.store, shard, from, fn)
	}
	cfg.ShardInfo = func(shard uint64) (uint64, uint64, error) {
		last, err := annallog.LastSeq(n.store, shard)
		if err != nil {
			return 0, 0, err
		}
		c, err := annallog.CompactedThrough(n.store, shard)
		return last, c, err
	}
}

// Event GC defaults: a pass every eventGCInterval on the control shard's
// leader; the newest eventGCRetain events of each shard always stay for
// forensic replay.
const (
	eventGCInterval = 10 * time.Minute
	eventGCRetain   = 10000
)

// reconcileCompliance runs with the reconcile loop: start audit shards,
// drop purged namespace shards, drop destroyed keys.
func (n *Node) reconcileCompliance(ctx context.Context) error {
	v := n.host.LocalRead(commands.ControlShard)
	ts, err := control.Tenants(v)
	owners, ids, err2 := control.NamespaceShards(v)
	v.Close()
	if err != nil || err2 != nil {
		return fmt.Errorf("reconcile compliance: %v %v", err, err2)
	}
	if err := n.host.StartShard(commands.SystemAuditShard, annallog.KindAudit); err != nil {
		return err
	}
	for _, t := range ts {
		if err := n.host.StartShard(commands.AuditShardOf(t.ID), annallog.KindAudit); err != nil {
			return err
		}
	}
	for _, id := range ids {
		if owners[id].Purged && n.hasShard(id) {
			if err := n.host.DropShard(ctx, id); err != nil {
				return err
			}
			n.log.Info("dropped purged namespace shard of a shredded tenant", "shard", id)
		}
	}
	return n.invalidateDestroyed()
}

// hasShard reports whether this node runs or stores a shard.
func (n *Node) hasShard(id uint64) bool {
	if n.host.Started(id) {
		return true
	}
	k, err := annallog.StoredKind(n.store, id)
	return err == nil && k != 0
}

// invalidateDestroyed is the receiving end of a shred's broadcast: when
// this node's KEK replica has applied a destruction, the cached key goes.
func (n *Node) invalidateDestroyed() error {
	v := n.host.LocalRead(commands.KekShard)
	ids, err := keyring.DestroyedTenants(v)
	v.Close()
	if err != nil {
		return err
	}
	n.comp.mu.Lock()
	defer n.comp.mu.Unlock()
	for _, id := range ids {
		if !n.comp.invalidated[id] {
			n.keys.Tenants.Invalidate(id)
			n.comp.serving.Invalidate(id)
			n.comp.invalidated[id] = true
			n.log.Info("tenant key destroyed: cached key dropped", "tenant", id)
		}
	}
	return nil
}

// complianceLoop runs the audit consumers of the audit shards this node
// leads, flushes queued security records and expires holds.
func (n *Node) complianceLoop(ctx context.Context) {
	ctx, cancel := n.stopContext(ctx)
	defer cancel()
	t := time.NewTicker(complianceInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := n.complianceStep(ctx); err != nil && ctx.Err() == nil {
			n.log.Warn("compliance step", "err", err)
		}
	}
}

func (n *Node) complianceStep(ctx context.Context) error {
	if err := n.service.FlushAudit(ctx); err != nil {
		return err
	}
	v := n.host.LocalRead(commands.ControlShard)
	ts, err := control.Tenants(v)
	v.Close()
	if err != nil {
		return err
	}
	tenants := []uint64{0}
	for _, t := range ts {
		tenants = append(tenants, t.ID)
	}
	for _, id := range tenants {
		shard := commands.SystemAuditShard
		if id != 0 {
			shard = commands.AuditShardOf(id)
		}
		if leader, ok := n.host.Leader(shard); !ok || leader != n.cfg.NodeID {
			continue
		}
		if _, err := n.service.ConsumeAudit(ctx, id); err != nil {
			return err
		}
	}
	if leader, ok := n.host.Leader(commands.ControlShard); ok && leader == n.cfg.NodeID && time.Since(n.comp.lastEventGC) > eventGCInterval {
		n.comp.lastEventGC = time.Now()
		rep, err := n.service.CollectEvents(ctx, commands.DefaultAuditValve, eventGCRetain)
		if err != nil {
			return err
		}
		if rep != (commands.EventGCReport{}) {
			n.log.Info("event gc pass", "events_compacted", rep.Compacted, "audit_gaps", rep.Gaps, "tenants_throttled", rep.Throttled)
		}
	}
	if leader, ok := n.host.Leader(commands.ControlShard); ok && leader == n.cfg.NodeID && time.Since(n.comp.lastExpiry) > holdExpiryInterval {
		n.comp.lastExpiry = time.Now()
		if k, err := n.service.ExpireHolds(ctx); err != nil {
			return err
		} else if k > 0 {
			n.log.Info("retention holds expired", "count", k)
		}
	}
	return nil
}
