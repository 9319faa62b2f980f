package block

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/annal-storage/annal/chunks"
)

// inflight is the operation the crash interrupted.
type inflight struct {
	key     chunks.FragmentKey
	before  []byte // nil: absent before
	after   []byte // nil: a delete
	deleted bool
}

// outcome says what the interrupted operation may look like after
// recovery, given the step it stopped after.
type outcome int

const (
	mustBeBefore outcome = iota
	mustBeAfter
	eitherOutcome
)

func expectedOutcome(s step) outcome {
	switch s {
	case stepPutIntentWritten, stepPutDataWritten, stepPutDataSynced:
		return mustBeBefore // no commit record was sequenced yet
	case stepPutCommitted, stepPutBitmapPrimaryWritten, stepPutBitmapMirrorWritten,
		stepDeleteIntended, stepDeleteBitmapPrimaryWritten, stepDeleteBitmapMirrorWritten, stepDeleteCommitted:
		return mustBeAfter // the deciding record was durable
	}
	return eitherOutcome // a checkpoint may or may not have become durable
}

// crashWorkload runs a seeded mix of puts, replaces and deletes over 12
// keys on a device with a 16-block journal (so checkpoints happen every
// few operations) until the hook stops it after the nth time it reaches
// target. It returns the acknowledged model and the interrupted op.
func crashWorkload(t *testing.T, target step, nth int) (*memStorage, map[chunks.FragmentKey][]byte, inflight) {
	t.Helper()
	st, d := newMemDevice(t, memOptions{sizeBytes: 2 << 20, journalBlocks: 16})
	hits := 0
	d.cfg.hook = func(s step) error {
		if s == target {
			if hits++; hits == nth {
				return errCrash
			}
		}
		return nil
	}
	rng := rand.New(rand.NewPCG(uint64(target)*1000+uint64(nth), 7))
	model := map[chunks.FragmentKey][]byte{}
	for range 1000 {
		k := testKey(rng.IntN(12))
		op := inflight{key: k, before: model[k]}
		var err error
		if rng.IntN(3) == 0 {
			op.deleted = true
			err = d.DeleteFragment(k)
		} else {
			op.after = testData(rng.Uint64(), rng.IntN(40_000))
			err = d.PutFragment(k, op.after)
		}
		switch {
		case errors.Is(err, errCrash):
			d.abandon()
			return st, model, op
		case errors.Is(err, chunks.ErrDeviceFull):
			continue
		case err != nil:
			t.Fatalf("workload: %v", err)
		}
		if op.deleted {
			delete(model, k)
		} else {
			model[k] = op.after
		}
	}
	t.Fatalf("the workload never reached %s %d times", target, nth)
	return nil, nil, inflight{}
}

// verifyRecovered opens a crash image and checks: every acknowledged
// fragment reads back, the interrupted one is in an allowed state, the
// bitmap, free set and index agree (no leaked or doubly allocated
// extent), and the whole data region can still be allocated.
func verifyRecovered(t *testing.T, img *memStorage, model map[chunks.FragmentKey][]byte, op inflight, want outcome) *Device {
	t.Helper()
	d := openMem(t, img)
	got, err := d.GetFragment(op.key)
	if err != nil && !errors.Is(err, chunks.ErrFragmentNotFound) {
		t.Fatalf("interrupted key: %v", err)
	}
	isBefore := bytes.Equal(got, op.before) && (err == nil) == (op.before != nil)
	isAfter := !op.deleted && err == nil && bytes.Equal(got, op.after) || op.deleted && err != nil
	switch {
	case want == mustBeBefore && !isBefore, want == mustBeAfter && !isAfter, !isBefore && !isAfter:
		t.Fatalf("interrupted op on %s: found %d bytes (err %v); before=%t after=%t, want %d (recovery: %v)",
			keyString(op.key), len(got), err, isBefore, isAfter, want, d.Recovery())
	}
	expect := make(map[chunks.FragmentKey][]byte, len(model)+1)
	for k, v := range model {
		expect[k] = v
	}
	delete(expect, op.key)
	if err == nil {
		expect[op.key] = got
	}
	checkModel(t, d, expect)
	return d
}

// Goal: a crash right after each step of every write sequence (put,
// replace, delete, checkpoint) loses nothing acknowledged, resolves the
// interrupted operation as its step dictates, and leaks or double-books
// no extent. Method: the fault hook stops the device after the nth visit
// of a step; the medium then keeps all, none, or a torn random subset of
// the unsynced writes; the image is reopened and checked, then filled
// whole to prove every block came back.
func TestCrashAtEachStep(t *testing.T) {
	for target := stepPutIntentWritten; target <= stepCheckpointSynced; target++ {
		for _, nth := range []int{1, 4, 9} {
			t.Run(fmt.Sprintf("%s/visit%d", target, nth), func(t *testing.T) {
				st, model, op := crashWorkload(t, target, nth)
				for _, mode := range allCrashModes {
					for seed := range uint64(2) {
						img := st.crashImage(mode, rand.New(rand.NewPCG(seed, uint64(nth))))
						d := verifyRecovered(t, img, model, op, expectedOutcome(target))
						if mode == crashReordered { // checkModel already proved no leak; this also proves coalescing
							checkNoLeak(t, d)
						}
						mustClose(t, d)
						if mode == crashKeepAll || mode == crashDropAll {
							break
						}
					}
				}
			})
		}
	}
}

// Goal: the recovery steps themselves are visible: an uncommitted intent
// is rolled back, an uncommitted free rolled forward, a commit whose
// bitmap write was lost gets its bits set. Method: one operation on a
// fresh device, stopped at a chosen step, with every written byte kept.
func TestCrashRecoveryActions(t *testing.T) {
	keep := map[chunks.FragmentKey][]byte{testKey(1): testData(1, 9_000)}
	for _, tc := range []struct {
		target step
		op     func(d *Device) error
		check  func(r RecoveryReport) bool
	}{
		{stepPutDataWritten, func(d *Device) error { return d.PutFragment(testKey(2), testData(2, 20_000)) },
			func(r RecoveryReport) bool { return r.IntentsRolledBack == 1 }},
		{stepPutCommitted, func(d *Device) error { return d.PutFragment(testKey(2), testData(2, 20_000)) },
			func(r RecoveryReport) bool { return r.BitmapBlocksMarked == blocksFor(20_000) }},
		{stepDeleteIntended, func(d *Device) error { return d.DeleteFragment(testKey(1)) },
			func(r RecoveryReport) bool {
				return r.FreesRolledForward == 1 && r.BitmapBlocksReclaimed == blocksFor(9_000)
			}},
		{stepDeleteBitmapMirrorWritten, func(d *Device) error { return d.DeleteFragment(testKey(1)) },
			func(r RecoveryReport) bool { return r.FreesRolledForward == 1 && r.BitmapBlocksReclaimed == 0 }},
	} {
		t.Run(tc.target.String(), func(t *testing.T) {
			st, d := newMemDevice(t, memOptions{})
			for k, v := range keep {
				mustPut(t, d, k, v)
			}
			d.cfg.hook = func(s step) error {
				if s == tc.target {
					return errCrash
				}
				return nil
			}
			if err := tc.op(d); !errors.Is(err, errCrash) {
				t.Fatalf("op: %v, want the simulated crash", err)
			}
			d.abandon()
			d = openMem(t, st.image())
			if r := d.Recovery(); !tc.check(r) {
				t.Fatalf("recovery report: %v", r)
			}
			checkNoLeak(t, d)
		})
	}
}

// Goal: a crash during recovery itself (superblock repair, bitmap
// repair, the recovery checkpoint) is recovered by the next open.
// Method: build a crash image that needs repairs, open it with the hook
// armed at each open-time step, crash that open, reopen.
func TestCrashDuringRecovery(t *testing.T) {
	for _, target := range []step{stepOpenSuperblockRepaired, stepOpenBitmapRepaired,
		stepCheckpointBodyWritten, stepCheckpointHeaderWritten, stepCheckpointSynced} {
		t.Run(target.String(), func(t *testing.T) {
			st, model, op := crashWorkload(t, stepPutCommitted, 3)
			base := st.image()
			base.flip(200) // primary superblock: forces a superblock repair
			for _, mode := range allCrashModes {
				img := base.image()
				hook := func(s step) error {
					if s == target {
						return errCrash
					}
					return nil
				}
				if _, err := openStorage(img, "mem0", testClock(), config{hook: hook}); !errors.Is(err, errCrash) {
					t.Fatalf("open with hook: %v, want the simulated crash", err)
				}
				after := img.crashImage(mode, rand.New(rand.NewPCG(1, 2)))
				d := verifyRecovered(t, after, model, op, mustBeAfter)
				checkNoLeak(t, d)
				mustClose(t, d)
			}
		})
	}
}

// Goal: the same guarantees hold wherever power fails, not only at the
// named steps: between a write and its fsync, mid-checkpoint, mid-bitmap.
// Method: count the medium writes and syncs of a seeded workload, then
// rerun it once per index with the medium failing at that write or sync
// (so also between a write and the fsync meant to cover it), and
// recover each image with unsynced writes kept, dropped or torn.
func TestCrashAtEveryWrite(t *testing.T) {
	const ops = 40
	total := everyWriteWorkload(t, 0, ops).writes
	if total < 2*ops {
		t.Fatalf("only %d writes for %d operations", total, ops)
	}
	for k := 1; k <= total; k++ {
		run := everyWriteWorkload(t, k, ops)
		if !run.crashed {
			t.Fatalf("write %d of %d: the workload finished without crashing", k, total)
		}
		for _, mode := range allCrashModes {
			img := run.st.crashImage(mode, rand.New(rand.NewPCG(uint64(k), 3)))
			d := verifyRecovered(t, img, run.model, run.op, eitherOutcome)
			if k%16 == 0 {
				checkNoLeak(t, d)
			}
			mustClose(t, d)
		}
	}
}

type everyWriteRun struct {
	st      *memStorage
	model   map[chunks.FragmentKey][]byte
	op      inflight
	writes  int
	crashed bool
}

func everyWriteWorkload(t *testing.T, crashAt, ops int) everyWriteRun {
	t.Helper()
	st, d := newMemDevice(t, memOptions{sizeBytes: 1 << 20, journalBlocks: 16})
	st.armCrash(crashAt)
	rng := rand.New(rand.NewPCG(42, 42))
	run := everyWriteRun{st: st, model: map[chunks.FragmentKey][]byte{}}
	for range ops {
		k := testKey(rng.IntN(6))
		run.op = inflight{key: k, before: run.model[k]}
		var err error
		if rng.IntN(3) == 0 {
			run.op.deleted = true
			err = d.DeleteFragment(k)
		} else {
			run.op.after = testData(rng.Uint64(), rng.IntN(30_000))
			err = d.PutFragment(k, run.op.after)
		}
		if errors.Is(err, errCrash) {
			d.abandon()
			run.crashed = true
			return run
		}
		if err != nil {
			t.Fatalf("workload: %v", err)
		}
		if run.op.deleted {
			delete(run.model, k)
		} else {
			run.model[k] = run.op.after
		}
	}
	run.writes = st.writes
	mustClose(t, d)
	return run
}
