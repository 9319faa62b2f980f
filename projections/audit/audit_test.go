package audit_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/annal-storage/annal/keys"
	annallog "github.com/annal-storage/annal/log"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/projections"
	"github.com/annal-storage/annal/projections/audit"
)

// Goal: the audit shard's chain detects tampering and gaps, derived
// records are gap-free and exactly-once per source event, and the export
// watermark yields per-source-shard GC watermarks.
// Method: drive the real apply path (log.Applier) over an in-memory store,
// then damage the stored events and verify offline.

const shard = 3

type fixture struct {
	t     *testing.T
	store *kv.Mem
	a     *annallog.Applier
	keys  *keys.PayloadKeys
	next  byte
}

func newFixture(t *testing.T) *fixture {
	k, err := keys.NewPayloadKeys(make([]byte, 32), nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := annallog.NewApplier(shard, annallog.KindAudit, k)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, store: kv.NewMem(), a: a, keys: k}
}

func (f *fixture) propose(bodies ...event.Body) annallog.Result {
	f.t.Helper()
	var evs [][]byte
	for _, b := range bodies {
		raw, err := event.EncodeBody(b)
		if err != nil {
			f.t.Fatal(err)
		}
		f.next++
		e := event.Envelope{Version: event.FormatVersion, Type: b.EventType(), Shard: shard, Tenant: 9, Actor: "system:audit", ID: event.ID{f.next}}
		if err := event.Seal(f.keys, &e, event.SealingSystem, raw); err != nil {
			f.t.Fatal(err)
		}
		enc, err := e.Encode()
		if err != nil {
			f.t.Fatal(err)
		}
		evs = append(evs, enc)
	}
	data, err := (&annallog.Proposal{Events: evs}).Encode()
	if err != nil {
		f.t.Fatal(err)
	}
	batch := f.store.NewBatch()
	res, err := f.a.Apply(batch, data)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := batch.Commit(false); err != nil {
		f.t.Fatal(err)
	}
	return res
}

func rec(src, seq uint64) *event.AuditRecorded {
	return &event.AuditRecorded{Category: event.AuditCategoryMutation, Op: "ObjectPut", Actor: "AK1", Outcome: event.AuditOutcomeSuccess,
		SourceShard: src, SourceSeq: seq, WallNs: int64(seq)}
}

func (f *fixture) verify() audit.Report {
	f.t.Helper()
	rep, err := audit.VerifyChain(annallog.ProjectionReader(f.store, shard), func(fn func(uint64, []byte) (bool, error)) error {
		return annallog.ReadEvents(f.store, shard, 1, fn)
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return rep
}

func TestChainVerifiesAndDetectsTampering(t *testing.T) {
	f := newFixture(t)
	f.propose(rec(1000, 1), rec(1000, 2), &event.AuditSourceConsumed{SourceShard: 1000, ThroughSeq: 2})
	f.propose(&event.AuditRecorded{Category: event.AuditCategorySecurity, Op: "Authenticate", Outcome: event.AuditOutcomeDenied, Code: "InvalidAccessKeyId", WallNs: 5})
	f.propose(rec(1000, 4))
	if rep := f.verify(); !rep.OK() || rep.Records != 5 {
		t.Fatalf("intact chain: %+v", rep)
	}
	// A flipped byte in a stored record is reported at that record.
	key := append(annallog.ShardPrefix(shard), "e/"...)
	key = kv.AppendUint64(key, 3)
	raw, _, _ := f.store.Get(key)
	flipped := append([]byte(nil), raw...)
	flipped[len(flipped)-1] ^= 0x01
	set(t, f.store, key, flipped)
	rep := f.verify()
	if rep.OK() || rep.Break.Seq != 3 || !strings.Contains(rep.Break.Reason, "altered") {
		t.Fatalf("flipped byte: %+v", rep.Break)
	}
	set(t, f.store, key, raw)
	// A missing record is a gap.
	b := f.store.NewBatch()
	_ = b.Delete(key)
	_ = b.Commit(false)
	rep = f.verify()
	if rep.OK() || rep.Break.Seq != 3 || !strings.Contains(rep.Break.Reason, "missing") {
		t.Fatalf("gap: %+v", rep.Break)
	}
}

func set(t *testing.T, s *kv.Mem, k, v []byte) {
	b := s.NewBatch()
	if err := b.Set(k, v); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
}

// TestDerivedRecordsExactlyOnce: a source event is recorded once; a
// retried batch (the consumer crashed after proposing) is refused whole.
func TestDerivedRecordsExactlyOnce(t *testing.T) {
	f := newFixture(t)
	if res := f.propose(rec(1000, 1), rec(1000, 2)); res.Status != annallog.StatusAccepted {
		t.Fatalf("first batch: %+v", res)
	}
	res := f.propose(rec(1000, 2), rec(1000, 3))
	if res.Status != annallog.StatusRejected || res.Code != projections.ErrorCode(projections.ErrAlreadyExists) {
		t.Fatalf("overlapping batch: %+v", res)
	}
	v := annallog.ProjectionReader(f.store, shard)
	if c, _ := audit.Consumed(v, 1000); c != 2 {
		t.Fatalf("consumed %d", c)
	}
	if _, err := audit.GetHead(v); err != nil {
		t.Fatal(err)
	}
}

// TestExportWatermark: advancing the export moves each source shard's
// exported-through mark to the newest record it passed, and never runs
// past the head.
func TestExportWatermark(t *testing.T) {
	f := newFixture(t)
	f.propose(rec(1000, 1), rec(1001, 1), rec(1000, 2), rec(1001, 2))
	if res := f.propose(&event.AuditExportWatermarkAdvanced{Seq: 3, AdvancedNs: 10}); res.Status != annallog.StatusAccepted {
		t.Fatalf("advance: %+v", res)
	}
	v := annallog.ProjectionReader(f.store, shard)
	a, _ := audit.Exported(v, 1000)
	b, _ := audit.Exported(v, 1001)
	if a != 2 || b != 1 {
		t.Fatalf("exported marks %d %d, want 2 1", a, b)
	}
	res := f.propose(&event.AuditExportWatermarkAdvanced{Seq: 99, AdvancedNs: 11})
	if res.Status != annallog.StatusRejected || !errors.Is(projections.ErrorFromCode(res.Code, res.Reason), projections.ErrPreconditionFailed) {
		t.Fatalf("advance past head: %+v", res)
	}
}
