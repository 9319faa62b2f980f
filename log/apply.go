package log

import (
	"errors"
	"fmt"

	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/projections"
	"github.com/annal-storage/annal/projections/audit"
	"github.com/annal-storage/annal/projections/chunkstate"
	"github.com/annal-storage/annal/projections/control"
	"github.com/annal-storage/annal/projections/keyring"
	"github.com/annal-storage/annal/projections/namespace"
	"github.com/vmihailenco/msgpack/v5"
)

// Kind is a shard kind; it selects the projection the shard folds into.
type Kind uint8

// Shard kinds.
const (
	KindControl   Kind = 1
	KindNamespace Kind = 2
	KindChunk     Kind = 3
	// KindKeys is the keys shard (system master-key epochs).
	KindKeys Kind = 4
	// KindKeks is the KEK shard (tenant KEKs of the internal provider).
	KindKeks Kind = 5
	// KindAudit is an audit shard (one per tenant plus the system one).
	KindAudit Kind = 6
)

// String names a kind.
func (k Kind) String() string {
	switch k {
	case KindControl:
		return "control"
	case KindNamespace:
		return "namespace"
	case KindChunk:
		return "chunk"
	case KindKeys:
		return "keys"
	case KindKeks:
		return "keks"
	case KindAudit:
		return "audit"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// ProjectionFor returns the projection of a shard kind.
func ProjectionFor(k Kind) (projections.Projection, error) {
	switch k {
	case KindControl:
		return control.Projection{}, nil
	case KindNamespace:
		return namespace.Projection{}, nil
	case KindChunk:
		return chunkstate.Projection{}, nil
	case KindKeys, KindKeks:
		return keyring.Projection{}, nil
	case KindAudit:
		return audit.Projection{}, nil
	}
	return nil, fmt.Errorf("no projection for shard kind %d", k)
}

// Applier applies proposals to one shard.
type Applier struct {
	Shard      uint64
	Kind       Kind
	Projection projections.Projection
	// Keys open sealed payloads and guards; nil reads only clear ones.
	Keys event.PayloadCipher
}

// NewApplier returns the applier of a shard.
func NewApplier(shard uint64, kind Kind, keys event.PayloadCipher) (*Applier, error) {
	proj, err := ProjectionFor(kind)
	if err != nil {
		return nil, err
	}
	return &Applier{Shard: shard, Kind: kind, Projection: proj, Keys: keys}, nil
}

// ErrHalted is returned (wrapping the cause) when a shard must stop
// applying: the state is left exactly as before the offending proposal.
var ErrHalted = errors.New("shard halted")

// Body decodes an envelope's body, opening a sealed payload.
func Body(env *event.Envelope, keys event.PayloadCipher) (event.Body, error) {
	payload, err := event.Open(keys, env)
	if err != nil {
		return nil, err
	}
	return event.DecodeBody(env.Type, payload)
}

type decoded struct {
	env  event.Envelope
	body event.Body
}

// Apply applies one proposal to w. It returns the proposal's Result; an
// error means storage failed or the shard must halt (ErrHalted), and in
// both cases nothing of the proposal was written.
func (a *Applier) Apply(w kv.Writer, data []byte) (Result, error) {
	prop, err := DecodeProposal(data)
	if errors.Is(err, event.ErrSchemaTooNew) {
		return Result{Status: StatusHalted, Reason: err.Error()}, fmt.Errorf("%w: %w", ErrHalted, err)
	}
	if err != nil {
		return reject(err), nil
	}
	evs, res, err := a.decodeAll(w, prop)
	if err != nil || res != nil {
		if err != nil {
			return Result{Status: StatusHalted, Reason: err.Error()}, err
		}
		return *res, nil
	}
	if dup, res, err := a.duplicate(w, evs); err != nil || dup {
		return res, err
	}
	guards, err := a.guards(prop, &evs[0].env)
	if err != nil {
		return reject(err), nil
	}
	over := kv.NewOverlay(w)
	res2, err := a.tentative(over, guards, evs)
	if err != nil || res2.Status != StatusAccepted {
		return res2, err
	}
	if err := a.ensureKind(w); err != nil {
		return Result{}, err
	}
	return res2, over.ApplyTo(w)
}

// guards returns a proposal's guards, opening sealed ones.
func (a *Applier) guards(p Proposal, first *event.Envelope) ([]event.Guard, error) {
	if p.SealedGuards == nil {
		return p.Guards, nil
	}
	raw, err := event.OpenGuards(a.Keys, first, p.SealedGuards)
	if err != nil {
		return nil, fmt.Errorf("%w: guards: %v", ErrMalformedProposal, err)
	}
	var gs []event.Guard
	if err := msgpack.Unmarshal(raw, &gs); err != nil {
		return nil, fmt.Errorf("%w: guards: %v", ErrMalformedProposal, err)
	}
	return gs, nil
}

func reject(err error) Result {
	return Result{Status: StatusRejected, Code: projections.ErrorCode(err), Reason: err.Error()}
}

// decodeAll decodes every envelope and body. Unreadable formats halt;
// malformed bytes and wrong shards reject; on a frozen or purged shard
// (a crypto-shredded tenant's) every event but the purge is rejected
// before its payload is opened, so no replica needs the destroyed key.
func (a *Applier) decodeAll(r kv.Reader, prop Proposal) ([]decoded, *Result, error) {
	if len(prop.Events) == 0 {
		r := reject(fmt.Errorf("%w: no events", ErrMalformedProposal))
		return nil, &r, nil
	}
	frozen, err := ShredState(r, a.Shard)
	if err != nil {
		return nil, nil, err
	}
	evs := make([]decoded, 0, len(prop.Events))
	for _, raw := range prop.Events {
		env, err := event.Decode(raw)
		if errors.Is(err, event.ErrSchemaTooNew) {
			return nil, nil, fmt.Errorf("%w: %w", ErrHalted, err)
		}
		if err != nil {
			r := reject(err)
			return nil, &r, nil
		}
		if env.Shard != a.Shard || env.Seq != 0 {
			r := reject(fmt.Errorf("%w: event for shard %d seq %d proposed to shard %d", ErrMalformedProposal, env.Shard, env.Seq, a.Shard))
			return nil, &r, nil
		}
		if err := admitFrozen(frozen, env.Type); err != nil {
			r := reject(err)
			return nil, &r, nil
		}
		payload, err := event.Open(a.Keys, &env)
		if err != nil {
			// Opening depends on this replica's keys: rejecting here while
			// another replica accepts would diverge. Halt instead.
			return nil, nil, fmt.Errorf("%w: %w", ErrHalted, err)
		}
		body, err := event.DecodeBody(env.Type, payload)
		if errors.Is(err, event.ErrUnknownType) || errors.Is(err, event.ErrSkippable) {
			// An unknown type would make this replica diverge: halt.
			return nil, nil, fmt.Errorf("%w: %w", ErrHalted, err)
		}
		if err != nil {
			r := reject(err)
			return nil, &r, nil
		}
		evs = append(evs, decoded{env: env, body: body})
	}
	return evs, nil, nil
}

// duplicate reports a proposal whose events were all applied before.
func (a *Applier) duplicate(r kv.Reader, evs []decoded) (bool, Result, error) {
	seen := 0
	var first uint64
	for i, d := range evs {
		b, ok, err := r.Get(eventIDKey(a.Shard, d.env.ID[:]))
		if err != nil {
			return false, Result{}, err
		}
		if ok {
			seen++
			if i == 0 {
				first = kv.Uint64(b)
			}
		}
	}
	switch {
	case seen == 0:
		return false, Result{}, nil
	case seen == len(evs) && first != 0:
		return true, Result{Status: StatusDuplicate, FirstSeq: first, Count: len(evs)}, nil
	}
	return true, reject(fmt.Errorf("%w: %d of %d event ids already applied", ErrMalformedProposal, seen, len(evs))), nil
}

// tentative checks guards and, event by event, validates and applies into
// the overlay, so later events of the proposal see earlier ones.
func (a *Applier) tentative(over *kv.Overlay, guards []event.Guard, evs []decoded) (Result, error) {
	proj := kv.PrefixWriter(over, ProjectionPrefix(a.Shard))
	for _, g := range guards {
		if err := a.Projection.CheckGuard(proj, g); err != nil {
			if projections.ErrorCode(err) == "" {
				return Result{}, fmt.Errorf("guard: %w", err) // storage failure
			}
			return reject(err), nil
		}
	}
	last, err := LastSeq(over, a.Shard)
	if err != nil {
		return Result{}, err
	}
	first := last + 1
	for i := range evs {
		d := &evs[i]
		if err := a.Projection.Validate(proj, &d.env, d.body); err != nil {
			if projections.ErrorCode(err) == "" {
				return Result{}, fmt.Errorf("validate %s: %w", d.env.Type, err) // storage failure
			}
			return reject(err), nil
		}
		if c, ok := d.body.(*event.EventsCompacted); ok {
			if err := a.checkCompaction(over, c, last); err != nil {
				return reject(err), nil
			}
			if err := a.compact(over, c.ThroughSeq); err != nil {
				return Result{}, err
			}
		}
		last++
		d.env.Seq = last
		if err := a.append(over, &d.env); err != nil {
			return Result{}, err
		}
		if err := a.Projection.Apply(proj, &d.env, d.body); err != nil {
			return Result{}, fmt.Errorf("apply %s seq %d: %w", d.env.Type, last, err)
		}
		if err := a.markShred(over, d.env.Type); err != nil {
			return Result{}, err
		}
	}
	if err := over.Set(lastSeqKey(a.Shard), kv.AppendUint64(nil, last)); err != nil {
		return Result{}, err
	}
	return Result{Status: StatusAccepted, FirstSeq: first, Count: len(evs)}, nil
}

// append stores an event in the event store and its id in the dedup index.
func (a *Applier) append(w kv.Writer, env *event.Envelope) error {
	raw, err := env.Encode()
	if err != nil {
		return err
	}
	if err := w.Set(eventKey(a.Shard, env.Seq), raw); err != nil {
		return err
	}
	return w.Set(eventIDKey(a.Shard, env.ID[:]), kv.AppendUint64(nil, env.Seq))
}

func (a *Applier) ensureKind(w kv.Writer) error {
	k, err := StoredKind(w, a.Shard)
	if err != nil || k == a.Kind {
		return err
	}
	if k != 0 {
		return fmt.Errorf("shard %d is stored as %s, opened as %s", a.Shard, k, a.Kind)
	}
	return w.Set(kindKey(a.Shard), []byte{byte(a.Kind)})
}

// Shred states of a namespace shard (ADR-014), kept in the shard's key
// space outside the projection so the apply path reads them before it
// opens any payload.
const (
	ShredNone   uint8 = 0
	ShredFrozen uint8 = 1 // NamespaceShredStarted applied: only the purge is admitted
	ShredPurged uint8 = 2 // NamespacePurged applied: nothing is admitted
)

// ShredState returns a shard's shred state.
func ShredState(r kv.Reader, shard uint64) (uint8, error) {
	b, ok, err := r.Get(shredKey(shard))
	if err != nil || !ok || len(b) != 1 {
		return ShredNone, err
	}
	return b[0], nil
}

// admitFrozen decides, from the shred state and the type alone, whether
// an event may apply: deterministic on every replica, whatever keys it
// holds.
func admitFrozen(state uint8, t event.Type) error {
	switch {
	case state == ShredNone:
		return nil
	case state == ShredFrozen && (t == event.TypeNamespacePurged || t == event.TypeNamespaceShredStarted):
		return nil
	}
	return fmt.Errorf("%w: shard is %s", projections.ErrNamespacePurged, map[bool]string{true: "purged", false: "being purged"}[state == ShredPurged])
}

// markShred records the shred state an applied event moves the shard to.
func (a *Applier) markShred(w kv.Writer, t event.Type) error {
	switch t {
	case event.TypeNamespaceShredStarted:
		return w.Set(shredKey(a.Shard), []byte{ShredFrozen})
	case event.TypeNamespacePurged:
		return w.Set(shredKey(a.Shard), []byte{ShredPurged})
	}
	return nil
}
