// Package audit is the projection of an audit shard (one per tenant plus
// the system audit shard, ADR-014): a hash chain over every event of the
// shard, the audit consumer's progress through each source shard, the
// export watermark and what it implies per source shard (the GC consumer
// watermark), recorded gaps and the backpressure flag.
//
// The chain: the hash of the event at seq n is SHA-256 over the hash of
// seq n-1 (32 zero bytes for the first) and the event's stored encoding
// (the envelope with its sequence, exactly the bytes of the event store).
// Each link is stored, so an offline verifier (VerifyChain) recomputes the
// chain from the event store and names the first record whose bytes, link
// or sequence do not match.
//
// Key space (under the shard's projection prefix):
//
//	h                   Head
//	l/<seq u64>         Link
//	c/<shard u64>       source shard consumed through (u64)
//	w                   Export
//	x/<shard u64>       source shard exported through (u64)
//	g/<shard u64>       last gap accepted: source seq (u64)
//	b                   Backpressure
//
// audit must not import anything but log/event, log/kv and projections.
package audit

import (
	"crypto/sha256"
	"fmt"

	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	p "github.com/annal-storage/annal/projections"
)

// Head is the newest link of the chain.
type Head struct {
	Seq   uint64   `msgpack:"q"`
	Hash  [32]byte `msgpack:"h"`
	Count uint64   `msgpack:"n"`
	// LastWallNs is the wall time of the newest record.
	LastWallNs int64 `msgpack:"w,omitempty"`
}

// Link is one event's place in the chain, and the source event an audit
// record was derived from (zero for direct records).
type Link struct {
	Prev        [32]byte `msgpack:"p"`
	Hash        [32]byte `msgpack:"h"`
	SourceShard uint64   `msgpack:"s,omitempty"`
	SourceSeq   uint64   `msgpack:"q,omitempty"`
	WallNs      int64    `msgpack:"w,omitempty"`
}

// Export is the export watermark: every record through Seq has been
// delivered; AdvancedNs is when it last moved.
type Export struct {
	Seq        uint64 `msgpack:"q"`
	AdvancedNs int64  `msgpack:"at"`
}

// Backpressure says whether the tenant's writes are throttled.
type Backpressure struct {
	Engaged bool   `msgpack:"e,omitempty"`
	Reason  string `msgpack:"r,omitempty"`
	SinceNs int64  `msgpack:"at,omitempty"`
}

var (
	headKey         = []byte("h")
	exportKey       = []byte("w")
	backpressureKey = []byte("b")
)

func linkKey(seq uint64) []byte       { return p.Key([]byte("l/"), p.U64(seq)) }
func consumedKey(shard uint64) []byte { return p.Key([]byte("c/"), p.U64(shard)) }
func exportedKey(shard uint64) []byte { return p.Key([]byte("x/"), p.U64(shard)) }
func gapKey(shard uint64) []byte      { return p.Key([]byte("g/"), p.U64(shard)) }
func getU64(r kv.Reader, k []byte) (uint64, error) {
	b, ok, err := r.Get(k)
	if err != nil || !ok {
		return 0, err
	}
	return kv.Uint64(b), nil
}

// ChainHash is the hash of a record: SHA-256(prev ‖ stored encoding).
func ChainHash(prev [32]byte, raw []byte) [32]byte {
	h := sha256.New()
	h.Write(prev[:])
	h.Write(raw)
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// GetHead returns the chain's head (zero before the first event).
func GetHead(r kv.Reader) (Head, error) {
	var h Head
	_, err := p.Get(r, headKey, &h)
	return h, err
}

// GetLink returns the link of one sequence.
func GetLink(r kv.Reader, seq uint64) (Link, bool, error) {
	var l Link
	ok, err := p.Get(r, linkKey(seq), &l)
	return l, ok, err
}

// Consumed returns how far the audit consumer has read a source shard.
func Consumed(r kv.Reader, shard uint64) (uint64, error) { return getU64(r, consumedKey(shard)) }

// Exported returns through which source sequence a source shard's records
// have been exported: the audit export's GC watermark on that shard.
func Exported(r kv.Reader, shard uint64) (uint64, error) { return getU64(r, exportedKey(shard)) }

// LastGap returns the source sequence through which a gap was accepted.
func LastGap(r kv.Reader, shard uint64) (uint64, error) { return getU64(r, gapKey(shard)) }

// GetExport returns the export watermark.
func GetExport(r kv.Reader) (Export, error) {
	var e Export
	_, err := p.Get(r, exportKey, &e)
	return e, err
}

// GetBackpressure returns the backpressure flag.
func GetBackpressure(r kv.Reader) (Backpressure, error) {
	var b Backpressure
	_, err := p.Get(r, backpressureKey, &b)
	return b, err
}

// Projection is the audit shard projection.
type Projection struct{}

// Validate implements projections.Projection.
func (Projection) Validate(r kv.Reader, _ *event.Envelope, body event.Body) error {
	switch b := body.(type) {
	case *event.AuditRecorded:
		return validateRecord(r, b)
	case *event.AuditSourceConsumed:
		c, err := Consumed(r, b.SourceShard)
		if err == nil && b.ThroughSeq < c {
			err = p.Errorf(p.ErrPreconditionFailed, "shard %d consumed through %d, not back to %d", b.SourceShard, c, b.ThroughSeq)
		}
		return err
	case *event.AuditExportWatermarkAdvanced:
		return validateExport(r, b)
	case *event.AuditGapAccepted:
		if b.ToSeq < b.FromSeq || b.SourceShard == 0 {
			return p.Errorf(p.ErrInvalid, "gap %d..%d of shard %d", b.FromSeq, b.ToSeq, b.SourceShard)
		}
		return nil
	case *event.AuditBackpressureEngaged, *event.AuditBackpressureReleased:
		bp, err := GetBackpressure(r)
		_, engage := body.(*event.AuditBackpressureEngaged)
		if err == nil && bp.Engaged == engage {
			err = p.Errorf(p.ErrPreconditionFailed, "backpressure already %v", bp.Engaged)
		}
		return err
	}
	return p.Errorf(p.ErrInvalid, "%s is not an audit shard event", body.EventType())
}

// validateRecord: a derived record must be the next of its source shard
// (no event recorded twice); every record names an operation and outcome.
func validateRecord(r kv.Reader, b *event.AuditRecorded) error {
	if b.Op == "" || b.Outcome == "" || b.Category == "" {
		return p.Errorf(p.ErrInvalid, "audit record needs a category, an operation and an outcome")
	}
	if b.SourceShard == 0 {
		return nil
	}
	c, err := Consumed(r, b.SourceShard)
	if err == nil && b.SourceSeq <= c {
		err = p.Errorf(p.ErrAlreadyExists, "shard %d seq %d already recorded (consumed through %d)", b.SourceShard, b.SourceSeq, c)
	}
	return err
}

func validateExport(r kv.Reader, b *event.AuditExportWatermarkAdvanced) error {
	e, err := GetExport(r)
	if err != nil {
		return err
	}
	h, err := GetHead(r)
	if err != nil {
		return err
	}
	if b.Seq <= e.Seq || b.Seq > h.Seq {
		return p.Errorf(p.ErrPreconditionFailed, "export watermark %d: current %d, head %d", b.Seq, e.Seq, h.Seq)
	}
	return nil
}

// CheckGuard implements projections.Projection; audit shards take no
// guards.
func (Projection) CheckGuard(_ kv.Reader, g event.Guard) error {
	return p.Errorf(p.ErrInvalid, "audit shard has no guard kind %d", g.Kind)
}

// Apply implements projections.Projection: every event extends the chain,
// then folds its own effect.
func (Projection) Apply(w kv.Writer, env *event.Envelope, body event.Body) error {
	link, err := extendChain(w, env, body)
	if err != nil {
		return err
	}
	switch b := body.(type) {
	case *event.AuditRecorded:
		if b.SourceShard != 0 {
			return w.Set(consumedKey(b.SourceShard), p.U64(b.SourceSeq))
		}
		return nil
	case *event.AuditSourceConsumed:
		return w.Set(consumedKey(b.SourceShard), p.U64(b.ThroughSeq))
	case *event.AuditExportWatermarkAdvanced:
		return applyExport(w, b)
	case *event.AuditGapAccepted:
		return w.Set(gapKey(b.SourceShard), p.U64(b.ToSeq))
	case *event.AuditBackpressureEngaged:
		return p.Put(w, backpressureKey, &Backpressure{Engaged: true, Reason: b.Reason, SinceNs: b.EngagedNs})
	case *event.AuditBackpressureReleased:
		return p.Put(w, backpressureKey, &Backpressure{SinceNs: b.ReleasedNs})
	}
	panic(fmt.Sprintf("audit: apply of unexpected %s (link %x)", body.EventType(), link.Hash[:4]))
}

// extendChain links the event to the head.
func extendChain(w kv.Writer, env *event.Envelope, body event.Body) (Link, error) {
	h, err := GetHead(w)
	if err != nil {
		return Link{}, err
	}
	p.Must(env.Seq == h.Seq+1, "audit event seq %d after head %d", env.Seq, h.Seq)
	raw, err := env.Encode()
	if err != nil {
		return Link{}, err
	}
	l := Link{Prev: h.Hash, Hash: ChainHash(h.Hash, raw)}
	if rec, ok := body.(*event.AuditRecorded); ok {
		l.SourceShard, l.SourceSeq, l.WallNs = rec.SourceShard, rec.SourceSeq, rec.WallNs
		h.LastWallNs = rec.WallNs
	}
	if err := p.Put(w, linkKey(env.Seq), &l); err != nil {
		return l, err
	}
	h.Seq, h.Hash, h.Count = env.Seq, l.Hash, h.Count+1
	return l, p.Put(w, headKey, &h)
}

// applyExport moves the export watermark and raises each source shard's
// exported-through mark over the records it passes.
func applyExport(w kv.Writer, b *event.AuditExportWatermarkAdvanced) error {
	e, err := GetExport(w)
	if err != nil {
		return err
	}
	from, to := linkKey(e.Seq+1), linkKey(b.Seq+1)
	type mark struct{ shard, seq uint64 }
	var marks []mark
	err = kv.Scan(w, from, to, func(_, v []byte) error {
		var l Link
		if err := p.Decode(v, &l); err != nil {
			return err
		}
		if l.SourceShard != 0 {
			marks = append(marks, mark{l.SourceShard, l.SourceSeq})
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, m := range marks { // source seqs rise in chain order per shard
		if err := w.Set(exportedKey(m.shard), p.U64(m.seq)); err != nil {
			return err
		}
	}
	return p.Put(w, exportKey, &Export{Seq: b.Seq, AdvancedNs: b.AdvancedNs})
}
