package sim

import (
	"fmt"
	"slices"

	"github.com/annal-storage/annal/commands"
	annallog "github.com/annal-storage/annal/log"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/projections/control"
	"github.com/annal-storage/annal/projections/namespace"
)

// OracleListing: pages of a listing, concatenated, differ from the
// listing in one page (on the same view).
const OracleListing = "listing"

// OracleBucketDelete: a bucket name was released while its namespace was
// not sealed (its content orphaned).
const OracleBucketDelete = "bucket-delete"

// checkDeletedBuckets: every namespace the control shard marks deleted is
// sealed.
func (w *world) checkDeletedBuckets() {
	store := w.nodes[0].store
	owners, ids, err := control.NamespaceShards(annallog.ProjectionReader(store, commands.ControlShard))
	if err != nil {
		w.violate(OracleBucketDelete, "namespace shards: %v", err)
		return
	}
	for _, id := range ids {
		if !owners[id].Deleted {
			continue
		}
		m, err := namespace.GetMeta(annallog.ProjectionReader(store, id))
		if err != nil || !m.Sealed {
			w.violate(OracleBucketDelete, "bucket %q (shard %d) was deleted but its namespace is not sealed (%v)", owners[id].Name, id, err)
			return
		}
	}
}

// opListObjects is ListObjects: every key's presence and current version
// goes into its history; the listing is also walked in small pages and
// with a delimiter, which must agree with the one-page listing.
func (c *client) opListObjects(bucket string, done func()) {
	hs := make([]*op, len(s3Keys))
	for i, key := range s3Keys {
		hs[i] = c.w.hist.begin(c.w, objName(bucket, key), c.id, s3Head{})
	}
	c.readNamespace(bucket, func(v *shardView, err error) {
		var all commands.ListOutput
		if err == nil {
			all, err = commands.ListObjects(v, commands.ListInput{MaxKeys: 1000})
		}
		for i, key := range s3Keys {
			if err != nil {
				c.w.hist.failed(hs[i])
				continue
			}
			out := s3HeadOut{}
			if j := slices.IndexFunc(all.Objects, func(o commands.ObjectInfo) bool { return o.Key == key }); j >= 0 {
				out = s3HeadOut{Found: true, VersionID: all.Objects[j].VersionID}
			}
			c.w.hist.ok(c.w, hs[i], out)
		}
		if err == nil {
			c.checkPaging(v, bucket, all)
		}
		done()
	})
}

// checkPaging lists the view again two keys per page, and with a
// delimiter, and compares with the one-page listing.
func (c *client) checkPaging(v kv.Reader, bucket string, all commands.ListOutput) {
	var want, paged []string
	for _, o := range all.Objects {
		want = append(want, o.Key)
	}
	in := commands.ListInput{MaxKeys: 2}
	for range 100 {
		page, err := commands.ListObjects(v, in)
		if err != nil {
			c.w.violate(OracleListing, "%s: page after %q: %v", bucket, in.After, err)
			return
		}
		for _, o := range page.Objects {
			paged = append(paged, o.Key)
		}
		if !page.IsTruncated {
			break
		}
		in.After = page.NextAfter
	}
	if !slices.Equal(want, paged) {
		c.w.violate(OracleListing, "%s: one page lists %v, pages of two list %v", bucket, want, paged)
		return
	}
	top, err := commands.ListObjects(v, commands.ListInput{Delimiter: "/", MaxKeys: 1000})
	if err != nil {
		c.w.violate(OracleListing, "%s: delimited listing: %v", bucket, err)
		return
	}
	var rolled []string
	for _, k := range want {
		if i := indexByte(k, '/'); i >= 0 {
			k = k[:i+1]
		}
		if len(rolled) == 0 || rolled[len(rolled)-1] != k {
			rolled = append(rolled, k)
		}
	}
	var got []string
	for _, o := range top.Objects {
		got = append(got, o.Key)
	}
	got = append(got, top.CommonPrefixes...)
	slices.Sort(got)
	// Implicit directories holding only delete-marked files still roll up
	// into a prefix, so the delimited listing may show more prefixes.
	for _, k := range rolled {
		if !slices.Contains(got, k) {
			c.w.violate(OracleListing, "%s: delimited listing %v lacks %q (keys %v)", bucket, got, k, want)
			return
		}
	}
}

func indexByte(s string, b byte) int {
	for i := range len(s) {
		if s[i] == b {
			return i
		}
	}
	return -1
}

// opSetTags is SetTags on the current version (not modelled: tags change
// no content or version).
func (c *client) opSetTags(bucket, key string, done func()) {
	tags := []event.Pair{{K: "k", V: fmt.Sprint(c.rng.IntN(10))}}
	c.bucketShard(bucket, func(shard uint64, err error) {
		if err != nil {
			done()
			return
		}
		c.run(shard, func(v kv.Reader) (*commands.Decision, error) {
			info, err := commands.LookupObject(v, key, "")
			if err != nil {
				return nil, err
			}
			b := &event.ObjectTagsSet{Key: key, VersionID: info.VersionID, Tags: tags}
			if err := (namespace.Projection{}).Validate(v, nil, b); err != nil {
				return nil, err
			}
			return &commands.Decision{Shard: shard, Tenant: c.p.Tenant, Actor: c.p.Actor(), Events: []commands.Pending{{Body: b, Key: key}}}, nil
		}, func(outcome) { done() })
	})
}

// releaseAnyNamespace is the control step of DeleteBucket as it was
// before the simulator found its race: it releases whatever namespace
// holds the name.
func releaseAnyNamespace(v kv.Reader, p commands.Principal, name string) (*commands.Decision, error) {
	ns, err := control.NamespaceByName(v, p.Tenant, name)
	if err != nil {
		return nil, nil
	}
	b := &event.NamespaceDeleted{TenantID: p.Tenant, Name: name, ShardID: ns.ShardID}
	return &commands.Decision{Shard: commands.ControlShard, Tenant: p.Tenant, Actor: p.Actor(), Events: []commands.Pending{{Body: b}}}, nil
}

// maxChurn bounds bucket churn per run: each bucket is a Raft group that
// stays (idle) after deletion.
const maxChurn = 8

// opBucketChurn creates a temporary bucket, writes and deletes an object
// in it, and deletes it again (Service.DeleteBucket: seal the namespace,
// then release the name), racing other clients doing the same.
func (c *client) opBucketChurn(done func()) {
	limit := maxChurn
	if c.w.cfg.Bugs&BugReleaseAnyNamespace != 0 {
		limit *= 8
	}
	if c.w.churned >= limit {
		done()
		return
	}
	c.w.churned++
	name := fmt.Sprintf("tmp%d", c.rng.IntN(2))
	c.w.tracef("op c%d churn %s", c.id, name)
	c.createBucket(name, func(shard uint64, err error) {
		if err != nil {
			done()
			return
		}
		body := c.smallBody()
		c.run(shard, func(v kv.Reader) (*commands.Decision, error) {
			return commands.DecidePutObject(v, c.env, c.p, shard, "k", commands.InlineContent(body), event.ObjectAttrs{}, event.PosixAttrs{}, commands.Conditions{})
		}, func(outcome) {
			c.run(shard, func(v kv.Reader) (*commands.Decision, error) {
				d, _, err := commands.DecideDeleteObject(v, c.env, c.p, shard, "k", "")
				return d, err
			}, func(outcome) { c.deleteBucket(name, shard, done) })
		})
	})
}

// deleteBucket does what Service.DeleteBucket does.
func (c *client) deleteBucket(name string, shard uint64, done func()) {
	c.run(shard, func(v kv.Reader) (*commands.Decision, error) {
		return commands.DecideSealNamespace(v, c.p, shard)
	}, func(o outcome) {
		if o.err != nil {
			c.w.tracef("op c%d churn %s: seal: %v", c.id, name, o.err)
			done()
			return
		}
		c.run(commands.ControlShard, func(v kv.Reader) (*commands.Decision, error) {
			if c.w.cfg.Bugs&BugReleaseAnyNamespace != 0 {
				return releaseAnyNamespace(v, c.p, name)
			}
			return commands.DecideDeleteNamespace(v, c.p, name, shard)
		}, func(o outcome) {
			c.w.tracef("op c%d churn %s deleted: %v", c.id, name, o.err)
			done()
		})
	})
}
