package sim

import (
	"crypto/md5"

	"github.com/annal-storage/annal/chunks"
	"github.com/annal-storage/annal/commands"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/projections/namespace"
)

// Staged segments. The Service stages a segment ahead of the final event
// only past maxEventSegments segments of 1024 extents (thousands of
// chunks), which no simulated body reaches; opStagedPut stages the first
// segment of a small body the same way (a SegmentStaged proposal, then
// the ObjectPut referencing it), and the maintenance client drops staged
// segments left unreferenced past a grace (StagedSegmentsDropped), the
// expiry the projection supports and nothing runs yet.

// opStagedPut stores a large body as two segments, the first staged.
func (c *client) opStagedPut(bucket, key string, done func()) {
	if isDirKey(key) {
		done()
		return
	}
	body := c.largeBody()
	h := c.w.hist.begin(c.w, objName(bucket, key), c.id, s3Put{})
	c.w.tracef("op c%d staged put %s/%s %dB", c.id, bucket, key, len(body))
	fail := func() {
		c.w.hist.failed(h)
		done()
	}
	c.bucketShard(bucket, func(shard uint64, err error) {
		if err != nil {
			fail()
			return
		}
		c.storeChunks(body, func(refs []chunks.ChunkRef, err error) {
			xs := commands.ChunkExtents(refs)
			if err != nil || len(xs) < 2 {
				fail()
				return
			}
			staged, err := commands.SegmentedContent(c.env, xs[:len(xs)/2], 0)
			if err != nil {
				fail()
				return
			}
			seg := staged.Fresh[0]
			c.run(shard, func(v kv.Reader) (*commands.Decision, error) {
				b := &event.SegmentStaged{Segment: seg, StagedNs: commands.NowNs(c.env.Clock.Now())}
				if err := (namespace.Projection{}).Validate(v, nil, b); err != nil {
					return nil, err
				}
				return &commands.Decision{Shard: shard, Tenant: c.p.Tenant, Actor: c.p.Actor(), Events: []commands.Pending{{Body: b}}}, nil
			}, func(o outcome) {
				if o.err != nil {
					fail() // a staged segment left behind is dropped after the grace
					return
				}
				c.putAfterStaging(h, bucket, key, shard, body, seg, xs[len(xs)/2:], done)
			})
		})
	})
}

// putAfterStaging decides the ObjectPut whose content is the staged
// segment followed by a fresh one.
func (c *client) putAfterStaging(h *op, bucket, key string, shard uint64, body []byte, staged event.Segment, rest []event.Extent, done func()) {
	fresh, err := commands.SegmentedContent(c.env, rest, 0)
	if err != nil {
		c.w.hist.failed(h)
		done()
		return
	}
	sum := md5.Sum(body)
	wr := commands.Written{Size: int64(len(body)), MD5: sum[:], Fresh: fresh.Fresh,
		Content: event.Content{Size: int64(len(body)), Segments: append([]event.SegmentRef{{ID: staged.ID, Len: staged.Len()}}, fresh.Content.Segments...)}}
	attrs := event.ObjectAttrs{ETag: etagOf(sum[:])}
	c.run(shard, func(v kv.Reader) (*commands.Decision, error) {
		d, err := commands.DecidePutObject(v, c.env, c.p, shard, key, wr, attrs, event.PosixAttrs{}, commands.Conditions{})
		if d != nil {
			h.in = s3Put{VersionID: d.Events[0].Body.(*event.ObjectPut).VersionID, Hash: contentHash(body), ETag: attrs.ETag}
		}
		return d, err
	}, func(o outcome) {
		c.finish(h, o)
		c.w.tracef("op c%d staged put %s/%s done: %v", c.id, bucket, key, o.err)
		if o.err == nil {
			c.sawVersion(bucket, key, h.in.(s3Put).VersionID)
			c.sawETag(bucket, key, attrs.ETag)
		}
		done()
	})
}

// dropStaged drops, in every S3 bucket, segments staged longer ago than
// the grace and still unreferenced.
func (c *client) dropStaged(done func()) {
	var next func(i int)
	next = func(i int) {
		if i == len(s3Buckets) {
			done()
			return
		}
		c.bucketShard(s3Buckets[i], func(shard uint64, err error) {
			if err != nil {
				next(i + 1)
				return
			}
			c.run(shard, func(v kv.Reader) (*commands.Decision, error) {
				before := commands.NowNs(c.env.Clock.Now()) - c.w.par.stagedGraceMs*1_000_000
				ids, err := namespace.StagedBefore(v, before, 64)
				if err != nil || len(ids) == 0 {
					return nil, err
				}
				b := &event.StagedSegmentsDropped{}
				for _, id := range ids {
					b.IDs = append(b.IDs, event.SegmentID(id))
				}
				if err := (namespace.Projection{}).Validate(v, nil, b); err != nil {
					return nil, err
				}
				return &commands.Decision{Shard: shard, Tenant: c.p.Tenant, Actor: c.p.Actor(), Events: []commands.Pending{{Body: b}}}, nil
			}, func(o outcome) {
				if o.err == nil && o.d != nil {
					c.w.tracef("dropped %d staged segments in %s", len(o.d.Events[0].Body.(*event.StagedSegmentsDropped).IDs), s3Buckets[i])
				}
				next(i + 1)
			})
		})
	}
	next(0)
}
