package log

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/annal-storage/annal/keys"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
)

func payloadKeys(t *testing.T, b byte) *keys.PayloadKeys {
	t.Helper()
	root := make([]byte, 32)
	root[0] = b
	k, err := keys.NewPayloadKeys(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// envelope builds a control-shard event sealed with c (nil: clear).
func envelope(t *testing.T, c event.PayloadCipher, id byte, body event.Body) []byte {
	t.Helper()
	raw, err := event.EncodeBody(body)
	if err != nil {
		t.Fatal(err)
	}
	e := event.Envelope{Version: event.FormatVersion, Type: body.EventType(), Shard: 1, ID: event.ID{id}}
	sealing := event.SealingNone
	if c != nil {
		sealing = event.SealingSystem
	}
	if err := event.Seal(c, &e, sealing, raw); err != nil {
		t.Fatal(err)
	}
	b, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func proposal(t *testing.T, evs ...[]byte) []byte {
	t.Helper()
	b, err := (&Proposal{Events: evs}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func apply(t *testing.T, a *Applier, s *kv.Mem, data []byte) (Result, error) {
	t.Helper()
	b := s.NewBatch()
	res, err := a.Apply(b, data)
	if err != nil {
		b.Close()
		return res, err
	}
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	return res, nil
}

func snapshot(t *testing.T, s *kv.Mem) []string {
	t.Helper()
	var out []string
	_ = kv.Scan(s, nil, nil, func(k, v []byte) error {
		out = append(out, string(k)+"="+string(v))
		return nil
	})
	return out
}

func tenant(id uint64, name string) *event.TenantCreated {
	return &event.TenantCreated{TenantID: id, Name: name, Org: name}
}

// TestApplyOutcomes: the apply path's contract, case by case — accepted
// events get dense sequences; a retried proposal is a Duplicate with the
// original sequence; a proposal whose second event fails validation
// leaves no trace at all; an unreadable envelope, an unknown type or a
// payload this replica cannot open halts instead of diverging.
func TestApplyOutcomes(t *testing.T) {
	keysA := payloadKeys(t, 1)
	s := kv.NewMem()
	a, err := NewApplier(1, KindControl, keysA)
	if err != nil {
		t.Fatal(err)
	}
	first := proposal(t, envelope(t, keysA, 1, tenant(1, "a")), envelope(t, keysA, 2, tenant(2, "b")))
	res, err := apply(t, a, s, first)
	if err != nil || res.Status != StatusAccepted || res.FirstSeq != 1 || res.Count != 2 {
		t.Fatalf("first proposal: %+v %v", res, err)
	}
	res, err = apply(t, a, s, first)
	if err != nil || res.Status != StatusDuplicate || res.FirstSeq != 1 {
		t.Fatalf("retried proposal: %+v %v", res, err)
	}
	before := snapshot(t, s)
	bad := proposal(t, envelope(t, keysA, 3, tenant(3, "c")), envelope(t, keysA, 4, tenant(4, "a")))
	res, err = apply(t, a, s, bad)
	if err != nil || res.Status != StatusRejected || res.Code != "AlreadyExists" {
		t.Fatalf("conflicting proposal: %+v %v", res, err)
	}
	if got := snapshot(t, s); len(got) != len(before) {
		t.Fatalf("rejected proposal left %d keys behind", len(got)-len(before))
	}
	if last, _ := LastSeq(s, 1); last != 2 {
		t.Fatalf("last seq %d after a rejection, want 2", last)
	}

	newer := envelope(t, keysA, 5, tenant(5, "d"))
	binary.BigEndian.PutUint16(newer, event.FormatVersion+1)
	unknown := envelope(t, nil, 6, tenant(6, "e"))
	other := payloadKeys(t, 2)
	for name, data := range map[string][]byte{
		"schema too new": proposal(t, newer),
		"unknown type":   proposal(t, retype(t, unknown, 77)),
		"wrong key":      proposal(t, envelope(t, other, 7, tenant(7, "f"))),
	} {
		_, err := apply(t, a, s, data)
		if !errors.Is(err, ErrHalted) {
			t.Errorf("%s: err = %v, want ErrHalted", name, err)
		}
	}
	if got := snapshot(t, s); len(got) != len(before) {
		t.Fatalf("halting proposals wrote %d keys", len(got)-len(before))
	}
}

func retype(t *testing.T, raw []byte, typ event.Type) []byte {
	t.Helper()
	e, err := event.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	e.Type = typ
	b, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSealedGuards: guards travel sealed and the apply path evaluates them.
func TestSealedGuards(t *testing.T) {
	keysA := payloadKeys(t, 1)
	raw := envelope(t, keysA, 1, tenant(1, "a"))
	first, err := event.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := event.SealGuards(keysA, &first, []byte{0x91, 0x81, 0xa1, 'k', 0x05}) // [{k: 5}]
	if err != nil {
		t.Fatal(err)
	}
	a, _ := NewApplier(1, KindControl, keysA)
	data, _ := (&Proposal{Events: [][]byte{raw}, SealedGuards: sealed}).Encode()
	res, err := apply(t, a, kv.NewMem(), data)
	// The control shard has no guard kind 5: the guard was opened and
	// evaluated (and refused), not skipped.
	if err != nil || res.Status != StatusRejected || res.Code != "Invalid" {
		t.Fatalf("sealed guard: %+v %v", res, err)
	}
	sealed[0] ^= 1
	data, _ = (&Proposal{Events: [][]byte{raw}, SealedGuards: sealed}).Encode()
	if res, _ := apply(t, a, kv.NewMem(), data); res.Status != StatusRejected {
		t.Fatalf("tampered guards: %+v", res)
	}
}
