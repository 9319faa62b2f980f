package sim

import (
	"fmt"

	"github.com/annal-storage/annal/commands"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/projections/control"
)

// Buckets of the workload: two S3 buckets (beta versioned from the
// start) and one driven through POSIX events.
const (
	bucketAlpha = "alpha"
	bucketBeta  = "beta"
	bucketGamma = "gamma"
)

var s3Buckets = []string{bucketAlpha, bucketBeta}

// bootstrap creates the tenant and the buckets through the same decide
// functions as the Service, under faults, before the workload starts.
type bootstrap struct {
	done   bool
	shards map[string]uint64
}

func (w *world) startBootstrap() {
	w.boot = &bootstrap{shards: map[string]uint64{}}
	c := w.clients[0]
	w.at(50, func() {
		c.runPersist(commands.ControlShard, func(v kv.Reader) (*commands.Decision, error) {
			if t, err := control.TenantByName(v, "sim"); err == nil {
				c.p.Tenant = t.ID
				return nil, nil
			}
			return commands.DecideCreateTenant(v, c.env, "sim", commands.TenantSpec{Name: "sim"})
		}, func(o outcome) {
			if o.err != nil {
				w.violate(OracleLiveness, "bootstrap: create tenant: %v", o.err)
				return
			}
			if o.d != nil {
				c.p.Tenant = o.d.Events[0].Body.(*event.TenantCreated).TenantID
			}
			for _, cl := range w.clients {
				cl.p = commands.Principal{Tenant: c.p.Tenant, AccessKey: fmt.Sprintf("sim-%d", cl.id)}
			}
			w.tracef("bootstrap tenant %d", c.p.Tenant)
			w.createBuckets([]string{bucketAlpha, bucketBeta, bucketGamma})
		})
	})
}

// createBuckets creates the buckets, spread over the clients (a client
// runs one operation at a time), then starts the workload.
func (w *world) createBuckets(names []string) {
	k := min(len(w.clients), len(names))
	pending := k
	for i := range k {
		var mine []string
		for j := i; j < len(names); j += k {
			mine = append(mine, names[j])
		}
		w.createSome(w.clients[i], mine, func() {
			if pending--; pending > 0 {
				return
			}
			w.setVersioning(w.clients[0], bucketBeta, func() {
				w.boot.done = true
				w.tracef("bootstrap done")
				for _, cl := range w.clients {
					cl.loop()
				}
			})
		})
	}
}

// createSome creates buckets one after the other with one client.
func (w *world) createSome(c *client, names []string, k func()) {
	if len(names) == 0 {
		k()
		return
	}
	c.createBucket(names[0], func(shard uint64, err error) {
		if err != nil {
			w.violate(OracleLiveness, "bootstrap: create bucket %s: %v", names[0], err)
			return
		}
		w.boot.shards[names[0]] = shard
		w.createSome(c, names[1:], k)
	})
}

func (w *world) setVersioning(c *client, bucket string, k func()) {
	shard := w.boot.shards[bucket]
	c.runPersist(shard, func(v kv.Reader) (*commands.Decision, error) {
		return commands.DecideSetVersioning(v, c.p, shard, "Enabled")
	}, func(o outcome) {
		if o.err != nil {
			w.violate(OracleLiveness, "bootstrap: versioning of %s: %v", bucket, o.err)
			return
		}
		k()
	})
}

// createBucket does what Service.CreateBucket does: the control half,
// then the namespace's first event; an interrupted creation is finished
// by the next attempt.
func (c *client) createBucket(name string, k func(uint64, error)) {
	var shard uint64
	c.runPersist(commands.ControlShard, func(v kv.Reader) (*commands.Decision, error) {
		if ns, err := control.NamespaceByName(v, c.p.Tenant, name); err == nil {
			shard = ns.ShardID
			return nil, nil
		}
		return commands.DecideCreateNamespace(v, c.env, c.p, name)
	}, func(o outcome) {
		if o.err != nil {
			k(0, o.err)
			return
		}
		if o.d != nil {
			shard = o.d.Events[0].Body.(*event.NamespaceCreated).ShardID
		}
		c.runPersist(shard, func(v kv.Reader) (*commands.Decision, error) {
			return commands.DecideOpenNamespace(v, c.env, c.p, shard, name)
		}, func(o outcome) { k(shard, o.err) })
	})
}
