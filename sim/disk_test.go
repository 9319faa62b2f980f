package sim

import (
	"bytes"
	"errors"
	"testing"

	"github.com/annal-storage/annal/chunks"
)

func testDisk(t *testing.T, seed uint64) (*world, *disk) {
	t.Helper()
	cfg, err := Config{Seed: seed, Steps: 1, Nodes: 1}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(cfg)
	n := newNode(w, 0)
	w.nodes = []*node{n}
	d := newDisk(w, n, "d0")
	n.devices = []*disk{d}
	w.disks = []*disk{d}
	return w, d
}

func fragment(fill byte, n int) []byte { return bytes.Repeat([]byte{fill}, n) }

// TestDiskPowerCutAtomic: a put cut at either stage leaves the fragment
// as it was or as written, never torn, and the device consistent after
// recovery; the bytes that reach the medium never include plaintext.
func TestDiskPowerCutAtomic(t *testing.T) {
	key := chunks.FragmentKey{Index: 1}
	old, fresh := fragment('a', 5000), fragment('b', 6000)
	sawOld, sawNew := false, false
	for seed := uint64(1); seed <= 60; seed++ {
		w, d := testDisk(t, seed)
		if err := d.PutFragment(key, old); err != nil {
			t.Fatal(err)
		}
		d.cutStage = 1 + int(seed%2)
		if err := d.PutFragment(key, fresh); !errors.Is(err, chunks.ErrDeviceFailed) {
			t.Fatalf("seed %d: put under a power cut: %v", seed, err)
		}
		if d.node.up {
			t.Fatalf("seed %d: the power cut did not take the node down", seed)
		}
		d.node.restart()
		got, err := d.GetFragment(key)
		switch {
		case err != nil:
			t.Fatalf("seed %d: fragment unreadable after the cut: %v", seed, err)
		case bytes.Equal(got, old):
			sawOld = true
		case bytes.Equal(got, fresh):
			sawNew = true
		default:
			t.Fatalf("seed %d: fragment is neither old nor new (%d bytes)", seed, len(got))
		}
		if w.fail != nil {
			t.Fatal(w.fail)
		}
	}
	if !sawOld || !sawNew {
		t.Fatalf("cuts kept only one outcome (old %v, new %v): stage 2 should sometimes land", sawOld, sawNew)
	}
}

// TestDiskFaults: bit flips are caught by the checksum, deletes and
// wipes survive recovery, and workload plaintext on a device is seen.
func TestDiskFaults(t *testing.T) {
	w, d := testDisk(t, 9)
	a, b := chunks.FragmentKey{Index: 1}, chunks.FragmentKey{Index: 2}
	for _, k := range []chunks.FragmentKey{a, b} {
		if err := d.PutFragment(k, fragment(byte('x'+k.Index), 3000)); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := d.flipKey(a); !ok {
		t.Fatal("no bit flipped")
	}
	if _, err := d.GetFragment(a); !errors.Is(err, errChecksum) {
		t.Fatalf("flipped fragment read: %v", err)
	}
	if err := d.DeleteFragment(b); err != nil {
		t.Fatal(err)
	}
	d.powerLoss()
	d.recover()
	if _, err := d.GetFragment(b); !errors.Is(err, chunks.ErrFragmentNotFound) {
		t.Fatalf("deleted fragment after recovery: %v", err)
	}
	d.wipe()
	if _, err := d.GetFragment(a); !errors.Is(err, chunks.ErrFragmentNotFound) {
		t.Fatalf("fragment after device loss: %v", err)
	}
	if err := d.PutFragment(a, append(fragment('z', 100), plaintextMarker...)); err != nil {
		t.Fatal(err)
	}
	if w.fail == nil || w.fail.Oracle != OraclePlaintext {
		t.Fatalf("plaintext on the device not reported: %v", w.fail)
	}
}
