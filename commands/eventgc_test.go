package commands

import (
	"errors"
	"strings"
	"testing"
	"time"

	annallog "github.com/annal-storage/annal/log"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/projections/audit"
)

// Goal: a tenant's stalled audit export blocks only that tenant's event
// GC; after the safety valve GC proceeds and records the gap, or, in
// backpressure mode, the tenant's writes are throttled instead; other
// tenants are never affected. Method: two tenants over memLog, the
// decision evaluated at chosen (simulated) times, then a real pass.
func TestEventGCWatermarksAndSafetyValve(t *testing.T) {
	f := newComplianceFixture(t)
	f.svc.cfg.ShardInfo = func(shard uint64) (uint64, uint64, error) {
		last, err := annallog.LastSeq(f.ml.store, shard)
		if err != nil {
			return 0, 0, err
		}
		c, err := annallog.CompactedThrough(f.ml.store, shard)
		return last, c, err
	}
	a, b := f.tenant("stalled"), f.tenant("exporting")
	shards := map[uint64]uint64{}
	for _, p := range []Principal{a, b} {
		f.bucket(p, "x")
		for _, k := range []string{"1", "2", "3"} {
			f.put(p, "x", k, []byte("v"+k))
		}
		bs, _ := f.svc.ListBuckets(f.ctx, p)
		shards[p.Tenant] = bs[0].Shard
		if _, err := f.svc.ConsumeAudit(f.ctx, p.Tenant); err != nil {
			t.Fatal(err)
		}
	}
	last, _ := f.svc.ExportAudit(f.ctx, b.Tenant, 1, func(AuditLine) error { return nil })
	if err := f.svc.AdvanceAuditExport(f.ctx, b.Tenant, last); err != nil {
		t.Fatal(err)
	}
	view := func(p Principal) kv.Reader { return annallog.ProjectionReader(f.ml.store, AuditShardOf(p.Tenant)) }
	h, _ := audit.GetHead(view(a))
	start := h.LastWallNs
	decide := func(p Principal, after time.Duration, backpressure bool) EventGCStep {
		t.Helper()
		lastSeq, _ := annallog.LastSeq(f.ml.store, shards[p.Tenant])
		step, err := DecideEventGC(view(p), shards[p.Tenant], EventGCParams{NowNs: start + after.Nanoseconds(),
			ValveNs: DefaultAuditValve.Nanoseconds(), Backpressure: backpressure, LastSeq: lastSeq})
		if err != nil {
			t.Fatal(err)
		}
		return step
	}
	if st := decide(a, time.Hour, false); st.Through != 0 || len(st.Audit) != 0 {
		t.Fatalf("stalled tenant within the valve: %+v", st)
	}
	lastB, _ := annallog.LastSeq(f.ml.store, shards[b.Tenant])
	if st := decide(b, time.Hour, false); st.Through != lastB {
		t.Fatalf("exported tenant: through %d, want %d", st.Through, lastB)
	}
	lastA, _ := annallog.LastSeq(f.ml.store, shards[a.Tenant])
	st := decide(a, 25*time.Hour, false)
	gap, ok := firstGap(st.Audit)
	if st.Through != lastA || !ok || gap.FromSeq != 1 || gap.ToSeq != lastA {
		t.Fatalf("after the valve: %+v", st)
	}
	st = decide(a, 25*time.Hour, true)
	if st.Through != 0 || len(st.Audit) != 1 {
		t.Fatalf("backpressure mode: %+v", st)
	}
	if err := f.svc.SetAuditPolicy(f.ctx, "admin", a.Tenant, true, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.propose(f.ctx, &Decision{Shard: AuditShardOf(a.Tenant), Tenant: a.Tenant, Actor: "test", Events: []Pending{{Body: st.Audit[0]}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.PutObject(f.ctx, a, PutInput{Bucket: "x", Key: "4", Body: strings.NewReader("refused")}); !errors.Is(err, ErrThrottled) {
		t.Fatalf("write of a throttled tenant: %v", err)
	}
	f.put(b, "x", "4", []byte("other tenants write on"))
	// A real pass now: b is compacted, a is not (throttled, not past).
	rep, err := f.svc.CollectEvents(f.ctx, DefaultAuditValve, 0)
	if err != nil || rep.Compacted == 0 {
		t.Fatalf("event gc pass: %+v %v", rep, err)
	}
	if c, _ := annallog.CompactedThrough(f.ml.store, shards[a.Tenant]); c != 0 {
		t.Fatalf("stalled tenant compacted through %d", c)
	}
	dst := kv.NewMem()
	batch := dst.NewBatch()
	if _, err := annallog.Replay(f.ml.store, shards[b.Tenant], annallog.KindNamespace, f.ml.payloads, batch, nil); err != nil {
		t.Fatal(err)
	}
	_ = batch.Commit(false)
	if d, _ := annallog.DiffShard(f.ml.store, dst, shards[b.Tenant]); d != "" {
		t.Fatalf("replay after event gc differs: %s", d)
	}
}

func firstGap(bs []event.Body) (*event.AuditGapAccepted, bool) {
	for _, b := range bs {
		if g, ok := b.(*event.AuditGapAccepted); ok {
			return g, true
		}
	}
	return nil, false
}
