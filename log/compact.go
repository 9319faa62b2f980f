package log

import (
	"errors"
	"fmt"

	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/projections"
)

// Event GC (ADR-014). EventsCompacted{ThroughSeq} folds the events
// through ThroughSeq into the shard's base state (s/<shard>/b/..., the
// projection as of ThroughSeq) and deletes them from the event store;
// s/<shard>/t records the point. Replay starts from the base, so a
// replayed shard still equals the live one; only moments before the
// point can no longer be rebuilt (the audit export has them).

func baseKeyPrefix(shard uint64) []byte { return shardKey(shard, "b/") }
func compactedKey(shard uint64) []byte  { return shardKey(shard, "t") }

// CompactedThrough returns the sequence through which a shard's events
// were garbage-collected (0: none).
func CompactedThrough(r kv.Reader, shard uint64) (uint64, error) {
	return getU64(r, compactedKey(shard))
}

// ErrCompacted: the history asked for was garbage-collected.
var ErrCompacted = errors.New("events compacted")

// checkCompaction validates an EventsCompacted against the log: it must
// move the point forward and not past the last applied event.
func (a *Applier) checkCompaction(r kv.Reader, b *event.EventsCompacted, last uint64) error {
	cur, err := CompactedThrough(r, a.Shard)
	if err != nil {
		return err
	}
	if b.ThroughSeq <= cur || b.ThroughSeq > last {
		return projections.Errorf(projections.ErrPreconditionFailed, "compaction through %d: compacted through %d, last %d", b.ThroughSeq, cur, last)
	}
	return nil
}

// compact folds events (compacted point, through] into the base and
// deletes them from the event store.
func (a *Applier) compact(w kv.Writer, through uint64) error {
	cur, err := CompactedThrough(w, a.Shard)
	if err != nil {
		return err
	}
	base := kv.PrefixWriter(w, baseKeyPrefix(a.Shard))
	var envs []event.Envelope
	err = ReadEvents(w, a.Shard, cur+1, func(seq uint64, raw []byte) (bool, error) {
		if seq > through {
			return false, nil
		}
		env, err := event.Decode(raw)
		if err != nil {
			return false, fmt.Errorf("compact event %d: %w", seq, err)
		}
		envs = append(envs, env)
		return true, nil
	})
	if err != nil {
		return err
	}
	for i := range envs {
		body, err := Body(&envs[i], a.Keys)
		if err != nil {
			return fmt.Errorf("%w: compact event %d: %w", ErrHalted, envs[i].Seq, err)
		}
		if err := a.Projection.Apply(base, &envs[i], body); err != nil {
			return fmt.Errorf("compact event %d: %w", envs[i].Seq, err)
		}
	}
	if err := w.DeleteRange(eventKey(a.Shard, cur+1), eventKey(a.Shard, through+1)); err != nil {
		return err
	}
	return w.Set(compactedKey(a.Shard), kv.AppendUint64(nil, through))
}

// copyBase copies a compacted shard's base into dst, as the replayed
// projection's starting state and as the base itself.
func copyBase(src kv.Reader, dst kv.Writer, shard uint64) (uint64, error) {
	through, err := CompactedThrough(src, shard)
	if err != nil || through == 0 {
		return 0, err
	}
	pre := baseKeyPrefix(shard)
	proj := ProjectionPrefix(shard)
	err = kv.Scan(src, pre, kv.PrefixEnd(pre), func(k, v []byte) error {
		rest := k[len(pre):]
		if err := dst.Set(append(append([]byte(nil), pre...), rest...), v); err != nil {
			return err
		}
		return dst.Set(append(append([]byte(nil), proj...), rest...), v)
	})
	if err != nil {
		return 0, err
	}
	// The dedup index keeps the ids of compacted events (replay
	// protection outlives event GC).
	ids := shardKey(shard, "i/")
	err = kv.Scan(src, ids, kv.PrefixEnd(ids), func(k, v []byte) error {
		if kv.Uint64(v) > through {
			return nil
		}
		return dst.Set(append([]byte(nil), k...), append([]byte(nil), v...))
	})
	if err != nil {
		return 0, err
	}
	return through, dst.Set(compactedKey(shard), kv.AppendUint64(nil, through))
}
