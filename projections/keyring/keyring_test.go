package keyring

import (
	"errors"
	"testing"

	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	p "github.com/annal-storage/annal/projections"
)

// step validates then applies one event, as the apply path does.
func step(t *testing.T, m *kv.Mem, b event.Body) error {
	t.Helper()
	if err := (Projection{}).Validate(m, nil, b); err != nil {
		return err
	}
	w := m.NewBatch()
	if err := (Projection{}).Apply(w, nil, b); err != nil {
		t.Fatal(err)
	}
	return w.Commit(false)
}

// TestEpochsAndTenantKeys walks the key shards' state machine, including
// every refusal: epochs are dense, the current epoch cannot retire, a
// tenant has one KEK, rotation steps its epoch by one, TTLs stay in
// [5, 300] s, and nothing happens to a destroyed KEK.
func TestEpochsAndTenantKeys(t *testing.T) {
	m := kv.NewMem()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	refused := func(err error, kind error) {
		t.Helper()
		if !errors.Is(err, kind) {
			t.Fatalf("err = %v, want %v", err, kind)
		}
	}
	refused(step(t, m, &event.SystemEpochCreated{Epoch: 2, SealedKey: []byte{1}}), p.ErrPreconditionFailed)
	must(step(t, m, &event.SystemEpochCreated{Epoch: 1, SealedKey: []byte{1}}))
	must(step(t, m, &event.SystemEpochCreated{Epoch: 2, SealedKey: []byte{2}}))
	refused(step(t, m, &event.SystemEpochRetired{Epoch: 2}), p.ErrPreconditionFailed)
	must(step(t, m, &event.SystemEpochRetired{Epoch: 1}))
	refused(step(t, m, &event.SystemEpochRetired{Epoch: 1}), p.ErrPreconditionFailed)
	if cur, _ := CurrentEpoch(m); cur != 2 {
		t.Fatalf("current epoch %d", cur)
	}
	if ep, _, _ := GetEpoch(m, 1); !ep.Retired || ep.SealedKey != nil {
		t.Fatalf("retired epoch keeps its key: %+v", ep)
	}

	must(step(t, m, &event.TenantKekCreated{TenantID: 5, KekEpoch: 1, SealedKek: []byte{1}, WrappedPayloadKey: []byte{2}}))
	refused(step(t, m, &event.TenantKekCreated{TenantID: 5, KekEpoch: 1}), p.ErrAlreadyExists)
	refused(step(t, m, &event.TenantKekRotated{TenantID: 5, KekEpoch: 3}), p.ErrPreconditionFailed)
	must(step(t, m, &event.TenantKekRotated{TenantID: 5, KekEpoch: 2, SealedKek: []byte{3}, WrappedPayloadKey: []byte{4}}))
	refused(step(t, m, &event.TenantKekTTLSet{TenantID: 5, TTLSeconds: 4}), p.ErrInvalid)
	refused(step(t, m, &event.TenantKekTTLSet{TenantID: 5, TTLSeconds: 301}), p.ErrInvalid)
	must(step(t, m, &event.TenantKekTTLSet{TenantID: 5, TTLSeconds: 30}))
	must(step(t, m, &event.TenantKekDestroyed{TenantID: 5, Reason: "shred"}))
	tk, _, _ := GetTenantKey(m, 5)
	if !tk.Destroyed || tk.SealedKek != nil || tk.WrappedPayloadKey != nil || tk.TTL() != 30 {
		t.Fatalf("destroyed key record: %+v", tk)
	}
	refused(step(t, m, &event.TenantKekDestroyed{TenantID: 5}), p.ErrNotFound)
	refused(step(t, m, &event.TenantKekRotated{TenantID: 5, KekEpoch: 3}), p.ErrNotFound)
}
