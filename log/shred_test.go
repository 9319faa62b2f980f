package log

import (
	"testing"

	"github.com/annal-storage/annal/keys"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/projections"
)

// nsEnvelope builds a namespace-shard event (shard 1000, tenant 7): tenant
// sealed with c, or system sealed for the shred events.
func nsEnvelope(t *testing.T, c event.PayloadCipher, id byte, body event.Body) []byte {
	t.Helper()
	raw, err := event.EncodeBody(body)
	if err != nil {
		t.Fatal(err)
	}
	e := event.Envelope{Version: event.FormatVersion, Type: body.EventType(), Shard: 1000, Tenant: 7, ID: event.ID{id}}
	sealing := event.SealingTenant
	if event.SystemSealed(body.EventType()) {
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

// destroyedKeys opens system payloads but no tenant payload: the
// tenant's KEK is gone.
type destroyedKeys struct{ *keys.PayloadKeys }

func (d destroyedKeys) OpenPayload(system bool, tenant uint64, id [16]byte, aad, sealed []byte) ([]byte, error) {
	if !system {
		return nil, keys.ErrKekDestroyed
	}
	return d.PayloadKeys.OpenPayload(system, tenant, id, aad, sealed)
}

// TestShredFreezesShard: after NamespaceShredStarted a namespace shard
// admits only the purge, and after NamespacePurged nothing; both
// rejections happen before any payload is opened, so a replica whose
// tenant key is destroyed rejects exactly as one that still has it.
// The purge leaves only a nameless meta record.
func TestShredFreezesShard(t *testing.T) {
	c := payloadKeys(t, 1)
	for _, cipher := range []event.PayloadCipher{c, destroyedKeys{c}} {
		s := kv.NewMem()
		a, err := NewApplier(1000, KindNamespace, c)
		if err != nil {
			t.Fatal(err)
		}
		steps := []struct {
			body event.Body
			want Status
		}{
			{&event.NamespaceOpened{Name: "secret-bucket", CreatedNs: 1}, StatusAccepted},
			{&event.NamespaceShredStarted{StartedNs: 2}, StatusAccepted},
			{&event.VersioningConfigured{Status: "Enabled"}, StatusRejected},
			{&event.NamespacePurged{PurgedNs: 3}, StatusAccepted},
			{&event.VersioningConfigured{Status: "Enabled"}, StatusRejected},
			{&event.NamespacePurged{PurgedNs: 4}, StatusRejected},
		}
		for i, st := range steps {
			if i >= 2 {
				a.Keys = cipher // from here on this replica may lack the tenant key
			}
			res, err := apply(t, a, s, proposal(t, nsEnvelope(t, c, byte(i+1), st.body)))
			if err != nil {
				t.Fatalf("step %d (%s): %v", i, st.body.EventType(), err)
			}
			if res.Status != st.want {
				t.Fatalf("step %d (%s): status %d (%s), want %d", i, st.body.EventType(), res.Status, res.Reason, st.want)
			}
			if st.want == StatusRejected && i != 5 && res.Code != projections.ErrorCode(projections.ErrNamespacePurged) {
				t.Fatalf("step %d: code %q", i, res.Code)
			}
		}
		if st, _ := ShredState(s, 1000); st != ShredPurged {
			t.Fatalf("shred state %d", st)
		}
		n := 0
		_ = kv.Scan(ProjectionReader(s, 1000), nil, nil, func(k, _ []byte) error {
			n++
			if string(k) != "m" {
				t.Errorf("purged projection kept %q", k)
			}
			return nil
		})
		if n != 1 {
			t.Fatalf("%d projection keys after purge", n)
		}
	}
}
