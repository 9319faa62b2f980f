package control

import (
	"errors"
	"testing"

	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	p "github.com/annal-storage/annal/projections"
)

// Goal: hold rules at the control projection: lengthen only, never
// release below the compliance floor, expire only at the end; a shredded
// tenant's names are released and nothing new can be placed on it.
// Method: validate-then-apply each event as the apply path does.

func step(t *testing.T, w kv.Writer, b event.Body) error {
	t.Helper()
	if err := (Projection{}).Validate(w, nil, b); err != nil {
		return err
	}
	if err := (Projection{}).Apply(w, nil, b); err != nil {
		t.Fatal(err)
	}
	return nil
}

func TestHoldRules(t *testing.T) {
	w := kv.NewMem().NewBatch()
	defer w.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(step(t, w, &event.TenantCreated{TenantID: 1, Name: "med", Org: "med", Compliance: []string{"HIPAA"}}))
	must(step(t, w, &event.NamespaceCreated{TenantID: 1, Name: "scans", ShardID: 1000}))
	must(step(t, w, &event.AccessKeyIssued{TenantID: 1, AccessKeyID: "AK1", Secret: "s"}))
	must(step(t, w, &event.RetentionHoldPlaced{HoldID: "h1", TenantID: 1, Scope: event.HoldScopeTenant, Source: "HIPAA",
		PlacedNs: 10, ExpiresNs: 1000, FloorNs: 1000}))
	if err := step(t, w, &event.RetentionHoldExtended{HoldID: "h1", ExpiresNs: 500}); !errors.Is(err, p.ErrUnderRetention) {
		t.Fatalf("shorten: %v", err)
	}
	must(step(t, w, &event.RetentionHoldExtended{HoldID: "h1", ExpiresNs: 2000}))
	if err := step(t, w, &event.RetentionHoldReleased{HoldID: "h1", ReleasedNs: 999}); !errors.Is(err, p.ErrUnderRetention) {
		t.Fatalf("release below floor: %v", err)
	}
	if err := step(t, w, &event.RetentionHoldExpired{HoldID: "h1", ExpiredNs: 1999}); !errors.Is(err, p.ErrPreconditionFailed) {
		t.Fatalf("early expiry: %v", err)
	}
	must(step(t, w, &event.RetentionHoldExpired{HoldID: "h1", ExpiredNs: 2000}))
	if h, _ := GetHold(w, "h1"); h.State != HoldExpired || h.ActiveAt(1500) {
		t.Fatalf("hold after expiry: %+v", h)
	}
	must(step(t, w, &event.RetentionHoldPlaced{HoldID: "h2", TenantID: 1, Scope: event.HoldScopeNamespace, Namespace: "scans", Source: "manual", PlacedNs: 20}))
	must(step(t, w, &event.TenantShredded{TenantID: 1, RetentionTokens: []event.HoldRetention{{HoldID: "h2", Token: [16]byte{5}}}, ShreddedNs: 30}))
	if _, err := NamespaceByName(w, 1, "scans"); !errors.Is(err, p.ErrNotFound) {
		t.Fatalf("namespace after shred: %v", err)
	}
	if ak, _ := AccessKeyByID(w, "AK1"); !ak.Revoked {
		t.Fatal("access key not revoked")
	}
	owners, _, _ := NamespaceShards(w)
	if o := owners[1000]; !o.Purged || o.Name != "" {
		t.Fatalf("shard owner %+v", o)
	}
	if h, _ := GetHold(w, "h2"); h.Token != [16]byte{5} || !h.ActiveAt(40) {
		t.Fatalf("hold keeps its token and stays active: %+v", h)
	}
	if err := step(t, w, &event.RetentionHoldPlaced{HoldID: "h3", TenantID: 1, Scope: event.HoldScopeTenant, Source: "manual"}); !errors.Is(err, p.ErrNotFound) {
		t.Fatalf("hold on a shredded tenant: %v", err)
	}
}
