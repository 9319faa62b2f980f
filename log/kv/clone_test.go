package kv

import "testing"

// TestMemClone: a clone holds the contents at the time of cloning and
// is independent of the original afterwards, in both directions.
func TestMemClone(t *testing.T) {
	m := NewMem()
	b := m.NewBatch()
	for _, k := range []string{"a", "b", "c"} {
		if err := b.Set([]byte(k), []byte("v"+k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	c := m.Clone()
	b = m.NewBatch()
	_ = b.Delete([]byte("a"))
	_ = b.Set([]byte("d"), []byte("vd"))
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	b = c.NewBatch()
	_ = b.Set([]byte("b"), []byte("changed"))
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "va", "b": "changed", "c": "vc"}
	got := map[string]string{}
	if err := Scan(c, nil, nil, func(k, v []byte) error { got[string(k)] = string(v); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("clone holds %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("clone holds %v, want %v", got, want)
		}
	}
	if v, ok, _ := m.Get([]byte("b")); !ok || string(v) != "vb" {
		t.Fatalf("original b = %q %v after writing the clone", v, ok)
	}
	if _, ok, _ := m.Get([]byte("a")); ok {
		t.Fatal("original still has a")
	}
}
