package commands

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/annal-storage/annal/keys"
	annallog "github.com/annal-storage/annal/log"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/projections/audit"
	"github.com/annal-storage/annal/projections/chunkstate"
)

// Goal: the compliance rules end to end on one replica: holds before
// shreds (refusal, forced path), held bytes retained through a shred,
// chunks shared with another tenant still readable, shredded data
// unreadable, deletes under holds, and every mutation audited.
// Method: the real commands, apply path and projections over memLog,
// with sealed payloads and the internal KEK provider.

type complianceFixture struct {
	t   *testing.T
	svc *Service
	ml  *memLog
	ctx context.Context
}

func newComplianceFixture(t *testing.T) *complianceFixture {
	svc, ml, _ := testService(t, 7)
	svc.cfg.Events = func(shard, from uint64, fn func(uint64, []byte) (bool, error)) error {
		return annallog.ReadEvents(ml.store, shard, from, fn)
	}
	// A fresh cache per check: what a node sees once its cached key is
	// invalidated (or its TTL ended).
	svc.cfg.TenantKeyCheck = func(ctx context.Context, tenant uint64) error {
		internal := NewInternalKeys(testWrapKey)
		internal.SetReader(ml.LocalRead)
		_, _, err := internal.FetchPayloadKey(ctx, tenant)
		return err
	}
	return &complianceFixture{t: t, svc: svc, ml: ml, ctx: context.Background()}
}

func (f *complianceFixture) tenant(name string, tags ...string) Principal {
	f.t.Helper()
	tn, ak, err := f.svc.CreateTenant(f.ctx, "admin", TenantSpec{Name: name, Compliance: tags})
	if err != nil {
		f.t.Fatal(err)
	}
	return Principal{Tenant: tn.ID, AccessKey: ak.ID}
}

func (f *complianceFixture) put(p Principal, bucket, key string, body []byte) {
	f.t.Helper()
	if _, err := f.svc.PutObject(f.ctx, p, PutInput{Bucket: bucket, Key: key, Body: bytes.NewReader(body)}); err != nil {
		f.t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
}

func (f *complianceFixture) get(p Principal, bucket, key string) ([]byte, error) {
	o, err := f.svc.GetObject(f.ctx, p, bucket, key, "")
	if err != nil {
		return nil, err
	}
	r := o.Open(0, o.Info.Size)
	defer r.Close()
	return io.ReadAll(r)
}

func (f *complianceFixture) bucket(p Principal, name string) {
	f.t.Helper()
	if err := f.svc.CreateBucket(f.ctx, p, name); err != nil {
		f.t.Fatal(err)
	}
}

// lines exports an audit shard (tenant 0: the system's).
func (f *complianceFixture) lines(tenant uint64) []AuditLine {
	f.t.Helper()
	if _, err := f.svc.ConsumeAudit(f.ctx, tenant); err != nil {
		f.t.Fatal(err)
	}
	var out []AuditLine
	if _, err := f.svc.ExportAudit(f.ctx, tenant, 1, func(l AuditLine) error { out = append(out, l); return nil }); err != nil {
		f.t.Fatal(err)
	}
	return out
}

func hasOp(lines []AuditLine, op, outcome, detail string) bool {
	for _, l := range lines {
		if l.Op != op || (outcome != "" && l.Outcome != outcome) {
			continue
		}
		if detail == "" {
			return true
		}
		for _, d := range l.Details {
			if strings.Contains(d.V, detail) {
				return true
			}
		}
	}
	return false
}

// TestShredNeedsHoldUnlessForced: a HIPAA tenant that never wrote data
// has no default hold, so a shred is refused (and audited) until forced
// with a reason, which is audited too.
func TestShredNeedsHoldUnlessForced(t *testing.T) {
	f := newComplianceFixture(t)
	f.tenant("med", "HIPAA")
	_, err := f.svc.ShredTenant(f.ctx, "admin", "med", ShredOptions{})
	if !errors.Is(err, ErrRetentionHoldRequired) {
		t.Fatalf("shred without hold: %v", err)
	}
	if _, err := f.svc.ShredTenant(f.ctx, "admin", "med", ShredOptions{Force: true}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("forced shred without reason: %v", err)
	}
	rep, err := f.svc.ShredTenant(f.ctx, "admin", "med", ShredOptions{Force: true, Reason: "court order 17"})
	if err != nil || !rep.Forced || rep.TTLExpiresNs <= rep.KekDestroyedNs {
		t.Fatalf("forced shred: %+v %v", rep, err)
	}
	sys := f.lines(0)
	if !hasOp(sys, "CryptoShredRequested", event.AuditOutcomeDenied, "") || !hasOp(sys, "CryptoShredForced", "", "court order 17") ||
		!hasOp(sys, "CryptoShredExecuted", "", "") || !hasOp(sys, "TenantKekDestroyed", "", "") {
		t.Fatalf("system audit lacks the shred story: %+v", sys)
	}
	for _, l := range sys {
		if l.Tenant != 0 {
			t.Fatalf("system export shows a tenant id: %+v", l)
		}
	}
}

// TestShredRetainsHeldAndKeepsSharedChunks: tenant A (HIPAA, so a
// default hold starts with its first bucket) and tenant B store the same
// bytes (one deduplicated set of chunks); A also stores its own. After
// A's shred A's data is unreadable, B's reads intact, and GC collects
// nothing of A's while the hold lasts; the hold cannot be released below
// its HIPAA floor. Tenant C without tags is shredded too: GC then
// collects C's own chunks but not the ones B shares.
func TestShredRetainsHeldAndKeepsSharedChunks(t *testing.T) {
	f := newComplianceFixture(t)
	a, b, c := f.tenant("a", "HIPAA"), f.tenant("b"), f.tenant("c")
	shared := bytes.Repeat([]byte("shared--"), 8)
	for _, p := range []Principal{a, b, c} {
		f.bucket(p, "data")
		f.put(p, "data", "shared.bin", shared)
	}
	f.put(a, "data", "own.bin", bytes.Repeat([]byte("a-only--"), 8))
	f.put(c, "data", "own.bin", bytes.Repeat([]byte("c-only--"), 8))
	holds, err := f.svc.Holds(f.ctx, a.Tenant)
	if err != nil || len(holds) != 1 || holds[0].Source != "HIPAA" {
		t.Fatalf("default hold: %+v %v", holds, err)
	}
	rep, err := f.svc.ShredTenant(f.ctx, "admin", "a", ShredOptions{})
	if err != nil || rep.RetainedChunks == 0 || rep.Namespaces != 1 {
		t.Fatalf("shred a: %+v %v", rep, err)
	}
	if _, err := f.get(a, "data", "own.bin"); err == nil {
		t.Fatal("shredded tenant's object still readable")
	}
	if _, _, err := f.svc.Credentials(f.ctx, a.AccessKey); !errors.Is(err, ErrNotFound) {
		t.Fatalf("shredded tenant's key still authenticates: %v", err)
	}
	if got, err := f.get(b, "data", "shared.bin"); err != nil || !bytes.Equal(got, shared) {
		t.Fatalf("other tenant's shared object: %v %q", err, got)
	}
	if _, err := f.svc.ReleaseHold(f.ctx, "admin", holds[0].ID, "early"); !errors.Is(err, ErrUnderRetention) {
		t.Fatalf("release below the HIPAA floor: %v", err)
	}
	if _, err := f.svc.ShredTenant(f.ctx, "admin", "c", ShredOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CollectGarbage(f.ctx, GCOptions{}); err != nil { // condemn
		t.Fatal(err)
	}
	gc, err := f.svc.CollectGarbage(f.ctx, GCOptions{}) // collect
	if err != nil || gc.Collected == 0 {
		t.Fatalf("gc after c's shred: %+v %v", gc, err)
	}
	if got, err := f.get(b, "data", "shared.bin"); err != nil || !bytes.Equal(got, shared) {
		t.Fatalf("shared chunks collected: %v", err)
	}
	v := f.ml.LocalRead(FirstChunkShard)
	defer v.Close()
	retained, _ := chunkstate.RetainedBy(v, RetentionToken(f.svc.cfg.KeyHashSecret, holds[0].ID), 100)
	if len(retained) != rep.RetainedChunks {
		t.Fatalf("retained chunks %d, shred reported %d", len(retained), rep.RetainedChunks)
	}
	for _, id := range retained {
		if rec, ok, _ := chunkstate.Get(v, id); !ok || rec.State != chunkstate.Live {
			t.Fatalf("held chunk %s collected: %+v", id, rec)
		}
	}
}

// TestHoldsOnDeletes: under a namespace hold an unversioned delete is
// refused; with versioning a delete only places a marker (the name goes,
// the bytes stay) while deleting the version itself is refused; once the
// hold is released the version can go.
func TestHoldsOnDeletes(t *testing.T) {
	f := newComplianceFixture(t)
	p := f.tenant("d")
	f.bucket(p, "b")
	f.put(p, "b", "k", []byte("kept bytes, 32 of them, exactly."))
	h, err := f.svc.PlaceHold(f.ctx, "admin", HoldSpec{Tenant: p.Tenant, Scope: event.HoldScopeNamespace, Bucket: "b", Reason: "audit"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.DeleteObject(f.ctx, p, "b", "k", ""); !errors.Is(err, ErrUnderRetention) {
		t.Fatalf("unversioned delete under hold: %v", err)
	}
	if err := f.svc.SetVersioning(f.ctx, p, "b", "Enabled"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.DeleteObject(f.ctx, p, "b", "k", ""); err != nil {
		t.Fatalf("versioned delete under hold: %v", err)
	}
	if _, err := f.get(p, "b", "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("name still visible: %v", err)
	}
	if _, err := f.svc.DeleteObject(f.ctx, p, "b", "k", "null"); !errors.Is(err, ErrUnderRetention) {
		t.Fatalf("version delete under hold: %v", err)
	}
	if _, err := f.svc.ReleaseHold(f.ctx, "admin", h.ID, "done"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.DeleteObject(f.ctx, p, "b", "k", "null"); err != nil {
		t.Fatalf("version delete after release: %v", err)
	}
	lines := f.lines(p.Tenant)
	if !hasOp(lines, "RetentionHoldPlaced", "", "") || !hasOp(lines, "RetentionHoldReleased", "", "") {
		t.Fatalf("hold changes not audited")
	}
}

// TestAuditCompleteness: after a mixed workload every event of the
// tenant's namespace shard has exactly one record, in order, its target
// readable by the tenant, and the chain verifies.
func TestAuditCompleteness(t *testing.T) {
	f := newComplianceFixture(t)
	p := f.tenant("w")
	f.bucket(p, "b")
	for i, k := range []string{"x", "y/z", "x", "big"} {
		f.put(p, "b", k, bytes.Repeat([]byte{byte('a' + i)}, 10*(i+1)))
	}
	if _, err := f.svc.DeleteObject(f.ctx, p, "b", "y/z", ""); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.SetVersioning(f.ctx, p, "b", "Enabled"); err != nil {
		t.Fatal(err)
	}
	f.put(p, "b", "x", []byte("v2"))
	bkts, _ := f.svc.ListBuckets(f.ctx, p)
	shard := bkts[0].Shard
	last, _ := annallog.LastSeq(f.ml.store, shard)
	lines := f.lines(p.Tenant)
	next := uint64(1)
	for _, l := range lines {
		if l.SourceShard != shard {
			continue
		}
		if l.SourceSeq != next {
			t.Fatalf("record of seq %d where %d was due", l.SourceSeq, next)
		}
		if l.Op == "ObjectPut" && !strings.Contains(l.Target, "version") {
			t.Fatalf("target not readable: %+v", l)
		}
		next++
	}
	if next-1 != last || last < 7 {
		t.Fatalf("%d records for %d events", next-1, last)
	}
	if n, _ := f.svc.ConsumeAudit(f.ctx, p.Tenant); n != 0 {
		t.Fatalf("second consumer pass recorded %d again", n)
	}
	pv := annallog.ProjectionReader(f.ml.store, AuditShardOf(p.Tenant))
	rep, err := audit.VerifyChain(pv, func(fn func(uint64, []byte) (bool, error)) error {
		return annallog.ReadEvents(f.ml.store, AuditShardOf(p.Tenant), 1, fn)
	})
	if err != nil || !rep.OK() {
		t.Fatalf("chain: %+v %v", rep, err)
	}
}

// TestKekCacheTTLWithoutBroadcast: a node that never hears of the shred
// (its KEK replica is cut off) keeps serving from its cache until the
// TTL ends, then fails: fetching needs the KEK shard, which it cannot
// confirm.
func TestKekCacheTTLWithoutBroadcast(t *testing.T) {
	now := time.Unix(1000, 0)
	unreachable := false
	src := sourceFunc(func(context.Context, uint64) ([]byte, time.Duration, error) {
		if unreachable {
			return nil, 0, keys.ErrKekUnavailable
		}
		return bytes.Repeat([]byte{1}, 32), 30 * time.Second, nil
	})
	tk := keys.NewTenantKeys(src, func() time.Time { return now }, func() float64 { return 0 })
	if _, err := tk.PayloadKey(context.Background(), 5); err != nil {
		t.Fatal(err)
	}
	unreachable = true // shredded elsewhere; no invalidation arrives
	now = now.Add(29 * time.Second)
	if _, err := tk.PayloadKey(context.Background(), 5); err != nil {
		t.Fatalf("within the TTL: %v", err)
	}
	now = now.Add(2 * time.Second)
	if _, err := tk.PayloadKey(context.Background(), 5); !errors.Is(err, keys.ErrKekUnavailable) {
		t.Fatalf("after the TTL: %v", err)
	}
}

type sourceFunc func(context.Context, uint64) ([]byte, time.Duration, error)

func (f sourceFunc) FetchPayloadKey(ctx context.Context, t uint64) ([]byte, time.Duration, error) {
	return f(ctx, t)
}

// TestHoldShredExpiryOrder: hold placed → shred → GC keeps the held
// chunks → hold expires → its retention is released → GC collects them
// (I-C2b).
func TestHoldShredExpiryOrder(t *testing.T) {
	f := newComplianceFixture(t)
	p := f.tenant("e")
	f.bucket(p, "b")
	f.put(p, "b", "k", bytes.Repeat([]byte("held-bytes-"), 8))
	h, err := f.svc.PlaceHold(f.ctx, "admin", HoldSpec{Tenant: p.Tenant, Scope: event.HoldScopeTenant, Reason: "brief", DurationNs: int64(200 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := f.svc.ShredTenant(f.ctx, "admin", "e", ShredOptions{})
	if err != nil || rep.RetainedChunks == 0 {
		t.Fatalf("shred: %+v %v", rep, err)
	}
	gc := func() GCReport {
		t.Helper()
		var total GCReport
		for range 2 {
			r, err := f.svc.CollectGarbage(f.ctx, GCOptions{})
			if err != nil {
				t.Fatal(err)
			}
			total.Condemned += r.Condemned
			total.Collected += r.Collected
		}
		return total
	}
	if r := gc(); r.Condemned != 0 || r.Collected != 0 {
		t.Fatalf("gc under the hold: %+v", r)
	}
	expired := 0
	for i := 0; expired == 0 && i < 1000; i++ { // the test clock moves 1 ms per reading
		if expired, err = f.svc.ExpireHolds(f.ctx); err != nil {
			t.Fatal(err)
		}
	}
	if expired != 1 {
		t.Fatal("hold never expired")
	}
	if r := gc(); r.Collected == 0 {
		t.Fatalf("gc after the hold ended: %+v", r)
	}
	v := f.ml.LocalRead(FirstChunkShard)
	defer v.Close()
	if left, _ := chunkstate.RetainedBy(v, RetentionToken(f.svc.cfg.KeyHashSecret, h.ID), 10); len(left) != 0 {
		t.Fatalf("retention left on %d chunks", len(left))
	}
}

// TestPosixUnlinkUnderHold: a POSIX unlink of held content is refused
// without versioning; with versioning it hides the name (a delete
// marker) and the bytes stay as a noncurrent version.
func TestPosixUnlinkUnderHold(t *testing.T) {
	f := newComplianceFixture(t)
	p := f.tenant("px")
	f.bucket(p, "b")
	f.put(p, "b", "dir/file", []byte("posix-held-bytes"))
	if _, err := f.svc.PlaceHold(f.ctx, "admin", HoldSpec{Tenant: p.Tenant, Scope: event.HoldScopeNamespace, Bucket: "b"}); err != nil {
		t.Fatal(err)
	}
	dir, err := f.svc.Lookup(f.ctx, p, "b", 1, "dir")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Remove(f.ctx, p, "b", dir.Ino, "file", false); !errors.Is(err, ErrUnderRetention) {
		t.Fatalf("unversioned unlink: %v", err)
	}
	if err := f.svc.SetVersioning(f.ctx, p, "b", "Enabled"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Remove(f.ctx, p, "b", dir.Ino, "file", false); err != nil {
		t.Fatalf("versioned unlink: %v", err)
	}
	if _, err := f.svc.Lookup(f.ctx, p, "b", dir.Ino, "file"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("name still visible: %v", err)
	}
	o, err := f.svc.GetObject(f.ctx, p, "b", "dir/file", "null")
	if err != nil {
		t.Fatalf("held version gone: %v", err)
	}
	o.Close()
}
