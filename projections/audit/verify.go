package audit

import (
	"fmt"

	"github.com/annal-storage/annal/log/kv"
)

// Break is the first broken link of a chain.
type Break struct {
	Seq    uint64 `json:"seq"`
	Reason string `json:"reason"`
}

// Report is the outcome of verifying one audit shard.
type Report struct {
	Records uint64   `json:"records"`
	Head    [32]byte `json:"-"`
	Break   *Break   `json:"break,omitempty"`
}

// OK reports an intact chain.
func (r Report) OK() bool { return r.Break == nil }

// EventSource calls fn with every stored event of the shard, in sequence
// order, until fn returns false (log.ReadEvents).
type EventSource func(fn func(seq uint64, raw []byte) (bool, error)) error

// VerifyChain recomputes a shard's chain from its event store and checks
// it against the stored links and head: a missing sequence (a gap), a
// record whose bytes changed (tampering), a link that does not follow its
// predecessor, or a head that does not match all name the first sequence
// where they occur.
func VerifyChain(proj kv.Reader, events EventSource) (Report, error) {
	var rep Report
	var prev [32]byte
	fail := func(seq uint64, format string, args ...any) (bool, error) {
		rep.Break = &Break{Seq: seq, Reason: fmt.Sprintf(format, args...)}
		return false, nil
	}
	err := events(func(seq uint64, raw []byte) (bool, error) {
		if want := rep.Records + 1; seq != want {
			return fail(want, "record %d is missing (next stored is %d)", want, seq)
		}
		l, ok, err := GetLink(proj, seq)
		switch {
		case err != nil:
			return false, err
		case !ok:
			return fail(seq, "record %d has no chain link", seq)
		case l.Prev != prev:
			return fail(seq, "record %d does not follow its predecessor's hash", seq)
		case ChainHash(prev, raw) != l.Hash:
			return fail(seq, "record %d was altered: its bytes do not match its hash", seq)
		}
		prev = l.Hash
		rep.Records++
		return true, nil
	})
	if err != nil || rep.Break != nil {
		return rep, err
	}
	h, err := GetHead(proj)
	if err != nil {
		return rep, err
	}
	switch {
	case h.Seq != rep.Records:
		rep.Break = &Break{Seq: rep.Records + 1, Reason: fmt.Sprintf("head names record %d but the store ends at %d", h.Seq, rep.Records)}
	case h.Hash != prev:
		rep.Break = &Break{Seq: h.Seq, Reason: "head hash does not match the chain"}
	}
	rep.Head = prev
	return rep, nil
}
