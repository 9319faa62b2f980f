package sim

import (
	"bytes"

	annallog "github.com/annal-storage/annal/log"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
)

// The planted bugs that live outside the Raft model and the clients.
// They exist to prove the oracles can fail (TestPlantedBugs).

// decrementTwice is a kv.Writer that lowers a chunk reference count by
// one more than the apply path asked: a namespace projection's
// "r/<chunk id>" key (under "s/<shard>/p/") written with a smaller value
// above one. It strikes in one entry per run, the first where it can, on
// every replica that applies that entry, so replicas still agree.
type decrementTwice struct {
	kv.Writer
	w          *world
	shard, idx uint64
}

func (d *decrementTwice) Set(key, value []byte) error {
	at := [2]uint64{d.shard, d.idx}
	if (d.w.checks.decrementAt != [2]uint64{} && d.w.checks.decrementAt != at) || !isRefKey(key) || len(value) != 8 {
		return d.Writer.Set(key, value)
	}
	old, ok, err := d.Writer.Get(key)
	if err != nil || !ok || len(old) != 8 {
		return d.Writer.Set(key, value)
	}
	if next := kv.Uint64(value); next < kv.Uint64(old) && next > 1 {
		d.w.checks.decrementAt = at
		d.w.tracef("BUG double-decrement %x", key)
		return d.Writer.Set(key, kv.AppendUint64(nil, next-1))
	}
	return d.Writer.Set(key, value)
}

// isRefKey matches s/<8-byte shard>/p/r/<32-byte chunk id>.
func isRefKey(k []byte) bool {
	return len(k) == 2+8+1+2+2+32 && bytes.HasPrefix(k, []byte("s/")) && bytes.Equal(k[10:15], []byte("/p/r/"))
}

// applyAgain applies a proposal a second time under fresh event ids
// (payloads sealed again for them), so the applier's deduplication cannot
// see it is the same proposal. A second application the projection
// refuses (it panics on a segment created twice) leaves nothing behind:
// the applier writes only after the whole proposal applied to its
// overlay. Proposals with sealed guards are left alone.
func applyAgain(a *annallog.Applier, c event.PayloadCipher, w kv.Writer, data []byte) {
	defer func() { _ = recover() }()
	p, err := annallog.DecodeProposal(data)
	if err != nil || p.SealedGuards != nil {
		return
	}
	for i, raw := range p.Events {
		env, err := event.Decode(raw)
		if err != nil {
			return
		}
		body, err := event.Open(c, &env)
		if err != nil {
			return
		}
		env.ID[0] ^= 0xff
		if err := event.Seal(c, &env, env.Sealing, body); err != nil {
			return
		}
		if p.Events[i], err = env.Encode(); err != nil {
			return
		}
	}
	again, err := p.Encode()
	if err != nil {
		return
	}
	_, _ = a.Apply(w, again)
}

// plantApplyBugs runs the planted bugs of the apply path after an
// accepted namespace proposal.
func (n *node) plantApplyBugs(w kv.Writer, shard, idx uint64, data []byte) error {
	bugs := n.w.cfg.Bugs
	if bugs&BugApplyTwice != 0 && n.id == 0 {
		applyAgain(n.appliers[shard], n.w.payloads, w, data)
	}
	if bugs&BugLocalWrite != 0 && n.id == 0 {
		if err := w.Set(append(annallog.ProjectionPrefix(shard), "zz-local"...), kv.AppendUint64(nil, idx)); err != nil {
			return err
		}
	}
	if bugs&BugLiveOnlyWrite != 0 {
		return w.Set(append(annallog.ProjectionPrefix(shard), "zz-live"...), kv.AppendUint64(nil, idx))
	}
	return nil
}
