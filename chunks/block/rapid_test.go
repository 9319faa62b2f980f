package block

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/annal-storage/annal/chunks"
	"pgregory.net/rapid"
)

// Goal: across random sequences of puts, replaces, deletes, clean
// reopens, crashes between operations and crashes inside an operation,
// the device behaves like a map. Method: a rapid state machine against a
// map model on a small device (1 MiB, 16-block journal, so device-full,
// checkpoints and reuse all happen); after every action the invariants
// (no leak, no overlap, bitmap = index, disk copies = memory) hold.
func TestRapidModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		m := &rapidMachine{model: map[chunks.FragmentKey][]byte{}}
		m.st, m.d = newMemDevice(rt, memOptions{sizeBytes: 1 << 20, journalBlocks: 16})
		rt.Repeat(map[string]func(*rapid.T){
			"put":        m.put,
			"delete":     m.delete,
			"get":        m.get,
			"reopen":     m.reopen,
			"crash":      m.crash,
			"crashMidOp": m.crashMidOp,
			"":           m.check,
		})
	})
}

type rapidMachine struct {
	st    *memStorage
	d     *Device
	model map[chunks.FragmentKey][]byte
}

func (m *rapidMachine) drawKey(t *rapid.T) chunks.FragmentKey {
	return testKey(rapid.IntRange(0, 15).Draw(t, "key"))
}

func (m *rapidMachine) drawData(t *rapid.T) []byte {
	size := rapid.IntRange(0, 48_000).Draw(t, "size")
	return testData(rapid.Uint64().Draw(t, "seed"), size)
}

func (m *rapidMachine) put(t *rapid.T) {
	k, data := m.drawKey(t), m.drawData(t)
	err := m.d.PutFragment(k, data)
	if errors.Is(err, chunks.ErrDeviceFull) {
		m.d.mu.Lock()
		largest, fragments := m.d.free.largest(), len(m.d.index)
		m.d.mu.Unlock()
		if largest >= blocksFor(len(data)) && uint64(fragments) < m.d.geo.maxFragments {
			t.Fatalf("device full with a %d-block free extent for %d blocks", largest, blocksFor(len(data)))
		}
		return
	}
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	m.model[k] = data
}

func (m *rapidMachine) delete(t *rapid.T) {
	k := m.drawKey(t)
	if err := m.d.DeleteFragment(k); err != nil {
		t.Fatalf("delete: %v", err)
	}
	delete(m.model, k)
}

func (m *rapidMachine) get(t *rapid.T) {
	k := m.drawKey(t)
	got, err := m.d.GetFragment(k)
	want, ok := m.model[k]
	switch {
	case !ok && !errors.Is(err, chunks.ErrFragmentNotFound):
		t.Fatalf("get absent key: %v", err)
	case ok && err != nil:
		t.Fatalf("get: %v", err)
	case ok && !bytes.Equal(got, want):
		t.Fatalf("get returned %d bytes, model has %d", len(got), len(want))
	}
}

func (m *rapidMachine) reopen(t *rapid.T) {
	mustClose(t, m.d)
	m.d = openMem(t, m.st)
}

func (m *rapidMachine) crash(t *rapid.T) {
	mode := rapid.SampledFrom(allCrashModes).Draw(t, "mode")
	m.d.abandon()
	m.st = m.st.crashImage(mode, rand.New(rand.NewPCG(rapid.Uint64().Draw(t, "crashSeed"), 0)))
	m.d = openMem(t, m.st)
}

// crashMidOp stops a put or delete after one of its steps, cuts power
// and checks that the key ends up as the step dictates.
func (m *rapidMachine) crashMidOp(t *rapid.T) {
	k := m.drawKey(t)
	op := inflight{key: k, before: m.model[k], deleted: rapid.Bool().Draw(t, "delete")}
	target := rapid.IntRange(int(stepPutIntentWritten), int(stepPutBitmapMirrorWritten)).Draw(t, "step")
	if op.deleted {
		target = rapid.IntRange(int(stepDeleteIntended), int(stepDeleteCommitted)).Draw(t, "step")
	}
	m.d.cfg.hook = func(s step) error {
		if s == step(target) {
			return errCrash
		}
		return nil
	}
	var err error
	if op.deleted {
		err = m.d.DeleteFragment(k)
	} else {
		op.after = m.drawData(t)
		err = m.d.PutFragment(k, op.after)
	}
	m.d.cfg.hook = nil
	switch {
	case errors.Is(err, errCrash):
		m.resolveCrash(t, op, expectedOutcome(step(target)))
	case errors.Is(err, chunks.ErrDeviceFull):
	case err != nil:
		t.Fatalf("op: %v", err)
	case op.deleted:
		delete(m.model, k) // deleting an absent key reaches no step
	default:
		t.Fatalf("put finished without reaching %s", step(target))
	}
}

func (m *rapidMachine) resolveCrash(t *rapid.T, op inflight, want outcome) {
	m.d.abandon()
	mode := rapid.SampledFrom(allCrashModes).Draw(t, "mode")
	m.st = m.st.crashImage(mode, rand.New(rand.NewPCG(rapid.Uint64().Draw(t, "crashSeed"), 1)))
	m.d = openMem(t, m.st)
	got, err := m.d.GetFragment(op.key)
	present := err == nil
	if err != nil && !errors.Is(err, chunks.ErrFragmentNotFound) {
		t.Fatalf("interrupted key: %v", err)
	}
	isBefore := present == (op.before != nil) && bytes.Equal(got, op.before)
	isAfter := op.deleted && !present || !op.deleted && present && bytes.Equal(got, op.after)
	if (want == mustBeBefore && !isBefore) || (want == mustBeAfter && !isAfter) || (!isBefore && !isAfter) {
		t.Fatalf("interrupted op: present=%t before=%t after=%t want=%d", present, isBefore, isAfter, want)
	}
	delete(m.model, op.key)
	if present {
		m.model[op.key] = got
	}
}

func (m *rapidMachine) check(t *rapid.T) {
	if err := m.d.checkInvariants(); err != nil {
		t.Fatal(err)
	}
	var want int64
	for _, v := range m.model {
		want += int64(blocksFor(len(v))) * blockSize
	}
	if st, err := m.d.Stat(); err != nil || st.UsedBytes != want {
		t.Fatalf("stat %+v %v, model uses %d bytes", st, err, want)
	}
	if len(m.d.index) != len(m.model) {
		t.Fatalf("device holds %d fragments, model %d", len(m.d.index), len(m.model))
	}
}

// TestRapidModelFullCheck closes each rapid run with a read of every key.
func TestRapidModelFullCheck(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		m := &rapidMachine{model: map[chunks.FragmentKey][]byte{}}
		m.st, m.d = newMemDevice(rt, memOptions{sizeBytes: 1 << 20, journalBlocks: 16})
		for range rapid.IntRange(1, 40).Draw(rt, "ops") {
			switch rapid.IntRange(0, 9).Draw(rt, "action") {
			case 0:
				m.crash(rt)
			case 1:
				m.reopen(rt)
			case 2, 3:
				m.delete(rt)
			default:
				m.put(rt)
			}
		}
		checkModel(rt, m.d, m.model)
		mustClose(rt, m.d)
	})
}
