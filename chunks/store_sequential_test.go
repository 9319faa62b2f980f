package chunks

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
)

// orderDevice is an in-memory device that appends every operation it
// serves to a shared journal, to observe the order a Store issues them.
type orderDevice struct {
	id      string
	frags   map[FragmentKey][]byte
	journal *[]string
}

func (d *orderDevice) ID() string { return d.id }
func (d *orderDevice) PutFragment(k FragmentKey, b []byte) error {
	*d.journal = append(*d.journal, fmt.Sprintf("put %s/%d", d.id, k.Index))
	d.frags[k] = bytes.Clone(b)
	return nil
}
func (d *orderDevice) GetFragment(k FragmentKey) ([]byte, error) {
	*d.journal = append(*d.journal, fmt.Sprintf("get %s/%d", d.id, k.Index))
	b, ok := d.frags[k]
	if !ok {
		return nil, ErrFragmentNotFound
	}
	return bytes.Clone(b), nil
}
func (d *orderDevice) DeleteFragment(k FragmentKey) error           { delete(d.frags, k); return nil }
func (d *orderDevice) ListFragments(func(FragmentInfo) error) error { return nil }
func (d *orderDevice) Stat() (DeviceStat, error)                    { return DeviceStat{}, nil }
func (d *orderDevice) Close() error                                 { return nil }

// TestSequentialStoreOrder: a Sequential store issues one operation's
// fragment I/O in index order on the caller's goroutine (the journal is
// unsynchronised, so the race detector would flag anything else), and
// reads and repairs work as in a parallel store.
func TestSequentialStoreOrder(t *testing.T) {
	var journal []string
	var devices []Device
	for i := range 6 {
		devices = append(devices, &orderDevice{id: fmt.Sprintf("dev%d", i), frags: map[FragmentKey][]byte{}, journal: &journal})
	}
	s, err := NewStoreWithOptions(devices, StoreOptions{Sequential: true})
	if err != nil {
		t.Fatal(err)
	}
	id := IDSHA256([]byte("sequential"))
	sealed := bytes.Repeat([]byte("sealed envelope "), 100)
	p, err := s.Put(EC(4, 2), id, sealed)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i, d := range p.Devices {
		want = append(want, fmt.Sprintf("put %s/%d", d, i))
	}
	if !slices.Equal(journal, want) {
		t.Fatalf("put order %v, want %v", journal, want)
	}
	delete(devices[slices.Index(s.ids, p.Devices[1])].(*orderDevice).frags, FragmentKey{Chunk: id, Index: 1})
	got, report, err := s.Get(id, p)
	if err != nil || !bytes.Equal(got, sealed) || !slices.Equal(report.Missing, []int{1}) {
		t.Fatalf("degraded get = %v, %+v, equal %v", err, report, bytes.Equal(got, sealed))
	}
	if _, repaired, err := s.Repair(id, p); err != nil || !slices.Equal(repaired, []int{1}) {
		t.Fatalf("repair = %v, %v", repaired, err)
	}
}
