package sim

import (
	"errors"
	"fmt"

	"github.com/annal-storage/annal/commands"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/projections/namespace"
)

// The S3 workload: every operation does what the Service method of the
// same name does, step by step, and records what the client observed in
// the per-key histories.

// s3Keys are the keys of the S3 buckets: nested, so puts collide with
// implicit directories, and one folder key.
var s3Keys = []string{"a", "b", "a/x", "a/y/z", "c/d", "c/", "e", "f/g"}

func objName(bucket, key string) string { return "s3:" + bucket + "/" + key }

// loop runs operations until the safety phase ends.
func (c *client) loop() {
	if c.maintenance {
		c.maintLoop()
		return
	}
	if c.w.phase != phaseSafety || c.w.fail != nil {
		c.busy = false
		return
	}
	c.busy = true
	c.w.at(c.w.between(0, c.w.par.thinkMaxMs), func() {
		c.nextOp(func() {
			c.opsDone++
			c.loop()
		})
	})
}

func (c *client) nextOp(done func()) {
	bucket := s3Buckets[c.rng.IntN(len(s3Buckets))]
	key := s3Keys[c.rng.IntN(len(s3Keys))]
	r := c.rng.IntN(100)
	if c.w.cfg.Bugs&BugReleaseAnyNamespace != 0 && r >= 50 {
		c.opBucketChurn(done)
		return
	}
	switch {
	case r < 12:
		c.opPut(bucket, key, c.smallBody(), c.conditions(bucket, key), done)
	case r < 24:
		c.opPut(bucket, key, c.largeBody(), c.conditions(bucket, key), done)
	case r < 40:
		c.opGet(bucket, key, done)
	case r < 48:
		c.opDelete(bucket, key, "", done)
	case r < 53 && !isDirKey(key): // folder keys address only their current version
		c.opDelete(bucket, key, c.knownVersion(bucket, key), done)
	case r < 59:
		c.opListVersions(bucket, done)
	case r < 61:
		c.opSetVersioning(bucketAlpha, []string{namespace.VersioningEnabled, namespace.VersioningSuspended}[c.rng.IntN(2)], done)
	case r < 67:
		c.opCopy(bucket, key, s3Buckets[c.rng.IntN(len(s3Buckets))], s3Keys[c.rng.IntN(len(s3Keys))], done)
	case r < 72:
		c.opMultipart(bucket, key, done)
	case r < 76:
		c.opListObjects(bucket, done)
	case r < 78:
		c.opSetTags(bucket, key, done)
	case r < 80:
		c.opBucketChurn(done)
	case r < 82:
		c.opStagedPut(bucket, key, done)
	default:
		c.opPosix(done)
	}
}

func (c *client) conditions(bucket, key string) commands.Conditions {
	switch c.rng.IntN(12) {
	case 0:
		return commands.Conditions{IfNoneMatchStar: true}
	case 1:
		if es := c.w.etags[objName(bucket, key)]; len(es) > 0 {
			return commands.Conditions{IfMatch: es[c.rng.IntN(len(es))]}
		}
	}
	return commands.Conditions{}
}

// sawETag remembers a few ETags a key held, for If-Match puts.
func (c *client) sawETag(bucket, key, etag string) {
	name := objName(bucket, key)
	es := append(c.w.etags[name], etag)
	if len(es) > 4 {
		es = es[1:]
	}
	c.w.etags[name] = es
}

// knownVersion picks a version id some client saw for the key ("" when
// none).
func (c *client) knownVersion(bucket, key string) string {
	vs := c.w.versions[objName(bucket, key)]
	if len(vs) == 0 {
		return ""
	}
	return vs[c.rng.IntN(len(vs))]
}

func (c *client) sawVersion(bucket, key, id string) {
	name := objName(bucket, key)
	for _, v := range c.w.versions[name] {
		if v == id {
			return
		}
	}
	c.w.versions[name] = append(c.w.versions[name], id)
}

// finish ends a write's history entry from its outcome: acknowledged,
// ambiguous (left pending), or definitely without effect.
func (c *client) finish(o *op, res outcome) {
	switch {
	case res.err == nil:
		c.w.hist.ok(c.w, o, nil)
	case errors.Is(res.err, errAmbiguous):
	default:
		c.w.hist.failed(o)
	}
}

// opPut is PutObject: store the body, then decide the ObjectPut on a
// linearizable view.
func (c *client) opPut(bucket, key string, body []byte, cond commands.Conditions, done func()) {
	h := c.w.hist.begin(c.w, objName(bucket, key), c.id, s3Put{})
	c.w.tracef("op c%d put %s/%s %dB", c.id, bucket, key, len(body))
	fail := func(err error) {
		c.w.tracef("op c%d put %s/%s: %v", c.id, bucket, key, err)
		c.w.hist.failed(h)
		done()
	}
	if _, _, err := namespace.SplitKey(key); err != nil {
		fail(err)
		return
	}
	if isDirKey(key) {
		body = nil
	}
	c.bucketShard(bucket, func(shard uint64, err error) {
		if err != nil {
			fail(err)
			return
		}
		c.storeBody(body, false, func(wr commands.Written, err error) {
			if err != nil {
				fail(err)
				return
			}
			attrs := event.ObjectAttrs{ETag: etagOf(wr.MD5)}
			c.run(shard, func(v kv.Reader) (*commands.Decision, error) {
				d, err := commands.DecidePutObject(v, c.env, c.p, shard, key, wr, attrs, event.PosixAttrs{}, cond)
				if d != nil {
					h.in = s3Put{VersionID: d.Events[0].Body.(*event.ObjectPut).VersionID, Hash: contentHash(body), ETag: attrs.ETag,
						IfNoneMatch: cond.IfNoneMatchStar, IfMatch: cond.IfMatch}
				}
				return d, err
			}, func(o outcome) {
				c.finish(h, o)
				if o.err == nil {
					c.sawVersion(bucket, key, h.in.(s3Put).VersionID)
					c.sawETag(bucket, key, attrs.ETag)
				}
				c.w.tracef("op c%d put %s/%s done: %v", c.id, bucket, key, o.err)
				done()
			})
		})
	})
}

// opGet is GetObject on a linearizable view, content read from the data
// plane.
func (c *client) opGet(bucket, key string, done func()) {
	h := c.w.hist.begin(c.w, objName(bucket, key), c.id, s3Get{})
	c.readNamespace(bucket, func(v *shardView, err error) {
		if err != nil {
			c.w.hist.failed(h)
			done()
			return
		}
		out, err := c.getObject(v, key)
		if err != nil {
			c.w.tracef("op c%d get %s/%s: %v", c.id, bucket, key, err)
			c.w.hist.stats.ReadErrors++
			c.w.hist.failed(h)
		} else {
			c.w.hist.ok(c.w, h, out)
		}
		done()
	})
}

// getObject reads the current version of key on a view.
func (c *client) getObject(v kv.Reader, key string) (s3GetOut, error) {
	info, err := commands.LookupObject(v, key, "")
	if errors.Is(err, commands.ErrNotFound) {
		return s3GetOut{}, nil
	}
	if err != nil {
		return s3GetOut{}, err
	}
	data, err := c.readContent(v, info.Content)
	if err != nil {
		return s3GetOut{}, err
	}
	return s3GetOut{Found: true, VersionID: info.VersionID, Hash: contentHash(data)}, nil
}

// readNamespace is a linearizable view of an open bucket.
func (c *client) readNamespace(bucket string, k func(*shardView, error)) {
	c.bucketShard(bucket, func(shard uint64, err error) {
		if err != nil {
			k(nil, err)
			return
		}
		c.read(shard, func(v *shardView, err error) {
			if err == nil {
				if m, merr := namespace.GetMeta(v); merr != nil || m.Sealed {
					err = fmt.Errorf("%w: %q", commands.ErrNoSuchBucket, bucket)
				}
			}
			k(v, err)
		})
	})
}

// opDelete is DeleteObject (of the current version when versionID is
// empty).
func (c *client) opDelete(bucket, key, versionID string, done func()) {
	h := c.w.hist.begin(c.w, objName(bucket, key), c.id, s3Absent{})
	c.w.tracef("op c%d delete %s/%s %q", c.id, bucket, key, versionID)
	c.bucketShard(bucket, func(shard uint64, err error) {
		if err != nil {
			c.w.hist.failed(h)
			done()
			return
		}
		c.run(shard, func(v kv.Reader) (*commands.Decision, error) {
			if _, err := namespace.GetMeta(v); err != nil {
				return nil, fmt.Errorf("%w: %q", commands.ErrNoSuchBucket, bucket)
			}
			d, _, err := commands.DecideDeleteObject(v, c.env, c.p, shard, key, versionID)
			switch {
			case d != nil:
				b := d.Events[0].Body.(*event.ObjectDeleted)
				h.in = s3Delete{VersionID: b.VersionID, Marker: b.MarkerVersionID}
			case err == nil && versionID != "":
				h.in = s3NoVersion{VersionID: versionID}
			case err == nil:
				h.in = s3Absent{}
			}
			return d, err
		}, func(o outcome) {
			c.finish(h, o)
			c.w.tracef("op c%d delete %s/%s done: %v", c.id, bucket, key, o.err)
			done()
		})
	})
}

// opListVersions lists the bucket's versions and records, for every file
// key, the version list it saw.
func (c *client) opListVersions(bucket string, done func()) {
	var hs []*op
	for _, key := range s3Keys {
		if !isDirKey(key) {
			hs = append(hs, c.w.hist.begin(c.w, objName(bucket, key), c.id, s3List{}))
		}
	}
	c.readNamespace(bucket, func(v *shardView, err error) {
		var lists map[string][]string
		if err == nil {
			lists, err = listVersions(v)
		}
		for _, h := range hs {
			if err != nil {
				c.w.hist.failed(h)
				continue
			}
			key := h.obj[len(objName(bucket, "")):]
			got := lists[key]
			if got == nil {
				got = []string{}
			}
			c.w.hist.ok(c.w, h, got)
			for _, id := range got {
				if id[len(id)-1] != '!' {
					c.sawVersion(bucket, key, id)
				}
			}
		}
		done()
	})
}

// listVersions runs ListVersions over a whole view: each key's version
// ids, newest first, delete markers suffixed with "!".
func listVersions(v kv.Reader) (map[string][]string, error) {
	out, err := commands.ListVersions(v, commands.VersionsInput{MaxKeys: 100000})
	if err != nil {
		return nil, err
	}
	lists := map[string][]string{}
	for _, info := range out.Versions {
		id := info.VersionID
		if info.DeleteMarker {
			id += "!"
		}
		lists[info.Key] = append(lists[info.Key], id)
	}
	return lists, nil
}

// opSetVersioning is SetVersioning.
func (c *client) opSetVersioning(bucket, status string, done func()) {
	c.w.tracef("op c%d versioning %s %s", c.id, bucket, status)
	c.bucketShard(bucket, func(shard uint64, err error) {
		if err != nil {
			done()
			return
		}
		c.run(shard, func(v kv.Reader) (*commands.Decision, error) {
			return commands.DecideSetVersioning(v, c.p, shard, status)
		}, func(outcome) { done() })
	})
}

func isDirKey(key string) bool { return len(key) > 0 && key[len(key)-1] == '/' }

// opCopy is CopyObject: read the source on a linearizable view, then put
// its content (inline bytes copied, extents referenced) at the target.
func (c *client) opCopy(srcBucket, srcKey, dstBucket, dstKey string, done func()) {
	if isDirKey(srcKey) || isDirKey(dstKey) {
		done()
		return
	}
	get := c.w.hist.begin(c.w, objName(srcBucket, srcKey), c.id, s3Get{})
	c.w.tracef("op c%d copy %s/%s → %s/%s", c.id, srcBucket, srcKey, dstBucket, dstKey)
	c.readNamespace(srcBucket, func(v *shardView, err error) {
		if err != nil {
			c.w.hist.failed(get)
			done()
			return
		}
		info, err := commands.LookupObject(v, srcKey, "")
		if errors.Is(err, commands.ErrNotFound) {
			c.w.hist.ok(c.w, get, s3GetOut{})
			done()
			return
		}
		var data []byte
		if err == nil {
			data, err = c.readContent(v, info.Content)
		}
		if err != nil {
			c.w.hist.stats.ReadErrors++
			c.w.hist.failed(get)
			done()
			return
		}
		c.w.hist.ok(c.w, get, s3GetOut{Found: true, VersionID: info.VersionID, Hash: contentHash(data)})
		wr, err := copyContent(c.env, v, info.Content, data)
		if err != nil {
			done()
			return
		}
		attrs := info.Attrs
		attrs.ETag = info.ETag()
		c.putWritten(dstBucket, dstKey, wr, attrs, contentHash(data), done)
	})
}

// copyContent is the Service's copyContent for a whole object: inline
// bytes are copied, extents referenced by new segments, bytes past the
// segments a hole.
func copyContent(env commands.Env, v kv.Reader, c event.Content, data []byte) (commands.Written, error) {
	if len(c.Segments) == 0 {
		return commands.InlineContent(data), nil
	}
	xs, err := namespace.ContentExtents(v, c, 0, c.Size)
	if err != nil {
		return commands.Written{}, err
	}
	covered := int64(0)
	for _, x := range xs {
		covered += x.Len
	}
	if covered < c.Size {
		xs = append(xs, event.Extent{Len: c.Size - covered})
	}
	return commands.SegmentedContent(env, xs, c.Size)
}

// putWritten decides and proposes an ObjectPut of stored content.
func (c *client) putWritten(bucket, key string, wr commands.Written, attrs event.ObjectAttrs, hash string, done func()) {
	h := c.w.hist.begin(c.w, objName(bucket, key), c.id, s3Put{})
	c.bucketShard(bucket, func(shard uint64, err error) {
		if err != nil {
			c.w.hist.failed(h)
			done()
			return
		}
		c.run(shard, func(v kv.Reader) (*commands.Decision, error) {
			d, err := commands.DecidePutObject(v, c.env, c.p, shard, key, wr, attrs, event.PosixAttrs{}, commands.Conditions{})
			if d != nil {
				h.in = s3Put{VersionID: d.Events[0].Body.(*event.ObjectPut).VersionID, Hash: hash, ETag: attrs.ETag}
			}
			return d, err
		}, func(o outcome) {
			c.finish(h, o)
			if o.err == nil {
				c.sawVersion(bucket, key, h.in.(s3Put).VersionID)
			}
			done()
		})
	})
}

// opMultipart runs a whole multipart upload: start it, upload one or two
// parts (sometimes part 1 twice), then complete it with part 1 (S3 needs
// 5 MiB in every part but the last, so two small parts must fail with
// EntityTooSmall) or abort it.
func (c *client) opMultipart(bucket, key string, done func()) {
	if isDirKey(key) {
		done()
		return
	}
	c.w.tracef("op c%d multipart %s/%s", c.id, bucket, key)
	c.bucketShard(bucket, func(shard uint64, err error) {
		if err != nil {
			done()
			return
		}
		c.run(shard, func(v kv.Reader) (*commands.Decision, error) {
			return commands.DecideCreateUpload(v, c.env, c.p, shard, key, event.ObjectAttrs{}, event.PosixAttrs{})
		}, func(o outcome) {
			if o.err != nil {
				done()
				return
			}
			up := &upload{c: c, bucket: bucket, key: key, shard: shard, id: o.d.Events[0].Body.(*event.MultipartStarted).UploadID, done: done}
			up.parts(1+c.rng.IntN(3), 1)
		})
	})
}

type upload struct {
	c            *client
	bucket, key  string
	shard        uint64
	id           string
	part1, part2 []byte
	etag1, etag2 string
	done         func()
}

// parts uploads n parts (numbers 1, 2, then 1 again), then finishes.
func (u *upload) parts(n, number int) {
	c := u.c
	if n == 0 {
		u.complete()
		return
	}
	body := c.largeBody()
	if c.rng.IntN(3) == 0 {
		body = c.smallBody()
	}
	c.storeBody(body, true, func(wr commands.Written, err error) {
		if err != nil {
			u.abort()
			return
		}
		etag := etagOf(wr.MD5)
		c.run(u.shard, func(v kv.Reader) (*commands.Decision, error) {
			return commands.DecideRecordPart(v, c.env, c.p, u.shard, u.key, u.id, int32(number), wr, etag)
		}, func(o outcome) {
			if o.err != nil {
				u.abort()
				return
			}
			if number == 1 {
				u.part1, u.etag1 = body, etag
			} else {
				u.part2, u.etag2 = body, etag
			}
			u.parts(n-1, 3-number)
		})
	})
}

func (u *upload) complete() {
	c := u.c
	if u.etag1 == "" || c.rng.IntN(5) == 0 {
		u.abort()
		return
	}
	parts := []commands.CompletedPart{{Number: 1, ETag: u.etag1}}
	if u.etag2 != "" && c.rng.IntN(3) == 0 {
		parts = append(parts, commands.CompletedPart{Number: 2, ETag: u.etag2})
	}
	h := c.w.hist.begin(c.w, objName(u.bucket, u.key), c.id, s3Put{})
	c.run(u.shard, func(v kv.Reader) (*commands.Decision, error) {
		d, _, err := commands.DecideCompleteUpload(v, c.env, c.p, u.shard, u.key, u.id, parts, commands.Conditions{})
		if d != nil {
			b := d.Events[0].Body.(*event.MultipartCompleted)
			h.in = s3Put{VersionID: b.VersionID, Hash: contentHash(u.part1), ETag: b.ETag}
		}
		return d, err
	}, func(o outcome) {
		c.finish(h, o)
		c.w.tracef("op c%d complete %s/%s: %v", c.id, u.bucket, u.key, o.err)
		if o.err == nil {
			c.sawVersion(u.bucket, u.key, h.in.(s3Put).VersionID)
			u.done()
			return
		}
		u.abort()
	})
}

// abort aborts the upload; one that cannot be aborted stays in progress
// (its parts keep their references).
func (u *upload) abort() {
	c := u.c
	c.run(u.shard, func(v kv.Reader) (*commands.Decision, error) {
		d, err := commands.DecideAbortUpload(v, c.p, u.shard, u.key, u.id)
		if errors.Is(err, commands.ErrNoSuchUpload) {
			return nil, nil
		}
		return d, err
	}, func(outcome) { u.done() })
}
