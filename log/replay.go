package log

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
)

// ReplayStats counts what a replay did.
type ReplayStats struct {
	Applied int
	// Skipped counts events this binary cannot read (offline readers skip
	// and count them; the apply path would halt).
	Skipped int
	LastSeq uint64
}

// Replay folds a shard's stored events, in order, into dst as a fresh
// replica would, stopping before the first event for which stop returns
// true (nil: replay all). Each event is validated again: history that does
// not validate is reported as an error.
func Replay(src kv.Reader, shard uint64, kind Kind, keys event.PayloadCipher, dst kv.Writer, stop func(*event.Envelope) bool) (ReplayStats, error) {
	var st ReplayStats
	a, err := NewApplier(shard, kind, keys)
	if err != nil {
		return st, err
	}
	proj := kv.PrefixWriter(dst, ProjectionPrefix(shard))
	base, err := copyBase(src, dst, shard)
	if err != nil {
		return st, err
	}
	st.LastSeq = base
	first := true
	err = ReadEvents(src, shard, base+1, func(seq uint64, raw []byte) (bool, error) {
		env, err := event.Decode(raw)
		if errors.Is(err, event.ErrSchemaTooNew) {
			st.Skipped++
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("event %d: %w", seq, err)
		}
		if stop != nil && stop(&env) {
			if first && base > 0 {
				return false, fmt.Errorf("%w: history through seq %d was garbage-collected (the audit export holds it)", ErrCompacted, base)
			}
			return false, nil
		}
		first = false
		body, err := Body(&env, keys)
		if errors.Is(err, event.ErrSkippable) {
			st.Skipped++
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("event %d: %w", seq, err)
		}
		if err := a.Projection.Validate(proj, &env, body); err != nil {
			return false, fmt.Errorf("event %d (%s) does not validate on replay: %w", seq, env.Type, err)
		}
		if err := a.append(dst, &env); err != nil {
			return false, err
		}
		if err := a.Projection.Apply(proj, &env, body); err != nil {
			return false, fmt.Errorf("event %d: %w", seq, err)
		}
		if err := a.markShred(dst, env.Type); err != nil {
			return false, err
		}
		st.Applied++
		st.LastSeq = seq
		return true, nil
	})
	if err != nil {
		return st, err
	}
	if st.Applied > 0 || base > 0 {
		if err := dst.Set(lastSeqKey(shard), kv.AppendUint64(nil, st.LastSeq)); err != nil {
			return st, err
		}
		if err := dst.Set(kindKey(shard), []byte{byte(kind)}); err != nil {
			return st, err
		}
	}
	return st, nil
}

// DiffShard compares one shard's state in two stores, ignoring the applied
// Raft index (which replay cannot know). It returns "" when identical, or
// a description of the first difference.
func DiffShard(a, b kv.Reader, shard uint64) (string, error) {
	pre := ShardPrefix(shard)
	skip := appliedKey(shard)
	ia := a.NewIter(pre, kv.PrefixEnd(pre))
	defer ia.Close()
	ib := b.NewIter(pre, kv.PrefixEnd(pre))
	defer ib.Close()
	okA, okB := ia.First(), ib.First()
	for {
		if okA && bytes.Equal(ia.Key(), skip) {
			okA = ia.Next()
			continue
		}
		if okB && bytes.Equal(ib.Key(), skip) {
			okB = ib.Next()
			continue
		}
		switch {
		case !okA && !okB:
			return "", nil
		case !okB || (okA && bytes.Compare(ia.Key(), ib.Key()) < 0):
			return fmt.Sprintf("key %q only in the first store", ia.Key()[len(pre):]), nil
		case !okA || bytes.Compare(ib.Key(), ia.Key()) < 0:
			return fmt.Sprintf("key %q only in the second store", ib.Key()[len(pre):]), nil
		case !bytes.Equal(ia.Value(), ib.Value()):
			return fmt.Sprintf("key %q differs: %x vs %x", ia.Key()[len(pre):], ia.Value(), ib.Value()), nil
		}
		okA, okB = ia.Next(), ib.Next()
	}
}
