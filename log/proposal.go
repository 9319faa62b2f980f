package log

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/annal-storage/annal/log/event"
	"github.com/vmihailenco/msgpack/v5"
)

// proposalVersion is the format of encoded proposals and results.
const proposalVersion uint16 = 1

// Proposal is what a command proposes to one shard: guards the apply path
// re-checks, then events appended atomically if they all validate.
type Proposal struct {
	// Guards are clear guards (unsealed proposals); SealedGuards are the
	// msgpack-encoded guards sealed under the first event's scope.
	Guards       []event.Guard `msgpack:"g,omitempty"`
	SealedGuards []byte        `msgpack:"s,omitempty"`
	// Events are encoded envelopes with Seq 0.
	Events [][]byte `msgpack:"e"`
}

// Encode returns the proposal's bytes (u16 version, then msgpack).
func (p *Proposal) Encode() ([]byte, error) {
	b, err := msgpack.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode proposal: %w", err)
	}
	return append(binary.BigEndian.AppendUint16(nil, proposalVersion), b...), nil
}

// Errors of a log implementation that callers act on.
var (
	// ErrUnavailable: the shard cannot take the request now (no leader,
	// busy, not started); the caller may retry. Nothing was applied.
	ErrUnavailable = errors.New("shard unavailable")
	// ErrAmbiguous: the request may or may not have been applied (a
	// timeout after proposing). Retry with the same proposal: event ids
	// make the retry exactly-once.
	ErrAmbiguous = errors.New("outcome unknown")
)

// ErrMalformedProposal: the bytes are not a proposal this binary reads.
var ErrMalformedProposal = errors.New("malformed proposal")

// DecodeProposal parses a proposal; a newer format returns
// event.ErrSchemaTooNew.
func DecodeProposal(b []byte) (Proposal, error) {
	var p Proposal
	if len(b) < 2 {
		return p, ErrMalformedProposal
	}
	if v := binary.BigEndian.Uint16(b); v > proposalVersion {
		return p, fmt.Errorf("%w: proposal version %d", event.ErrSchemaTooNew, v)
	}
	if err := msgpack.Unmarshal(b[2:], &p); err != nil {
		return p, fmt.Errorf("%w: %v", ErrMalformedProposal, err)
	}
	return p, nil
}

// Status is the outcome of applying one proposal.
type Status uint8

const (
	// StatusAccepted: events appended with sequences FirstSeq…
	StatusAccepted Status = 1
	// StatusRejected: a guard or a validation failed; nothing written.
	StatusRejected Status = 2
	// StatusDuplicate: every event id was applied before (a retried
	// proposal); FirstSeq is the original sequence.
	StatusDuplicate Status = 3
	// StatusHalted: the shard met an event it cannot read and stopped.
	StatusHalted Status = 4
)

// Result reports a proposal's outcome to the proposer.
type Result struct {
	Status   Status `msgpack:"s"`
	FirstSeq uint64 `msgpack:"f,omitempty"`
	Count    int    `msgpack:"n,omitempty"`
	// Code and Reason describe a rejection: Code names the domain error
	// (projections.ErrorCode), Reason is its text.
	Code   string `msgpack:"c,omitempty"`
	Reason string `msgpack:"r,omitempty"`
}

// Encode returns the result's bytes.
func (r Result) Encode() []byte {
	b, err := msgpack.Marshal(&r)
	if err != nil {
		panic(fmt.Sprintf("encode result: %v", err)) // plain struct: cannot fail
	}
	return b
}

// DecodeResult parses a result.
func DecodeResult(b []byte) (Result, error) {
	var r Result
	if err := msgpack.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("decode result: %w", err)
	}
	return r, nil
}
