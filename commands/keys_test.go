package commands

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/annal-storage/annal/chunks"
	annallog "github.com/annal-storage/annal/log"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/projections/chunkstate"
	"github.com/annal-storage/annal/projections/keyring"
)

// Key rotation and re-encryption through the Service on a memLog
// (ADR-015): the chunk writer takes its master keys from the keys shard
// (InternalKeys), the read cache is off so every read reconstructs from
// fragments, and the store is sequential so a hook sees every fragment
// write and delete in order.

// stepDevice is a memDevice that calls step before every fragment write
// and delete; a non-nil error from step fails the operation as a device
// error would.
type stepDevice struct {
	*memDevice
	mu   *sync.Mutex
	step *func(op string, k chunks.FragmentKey, dev string) error
}

func (d stepDevice) hook(op string, k chunks.FragmentKey) error {
	d.mu.Lock()
	step := *d.step
	d.mu.Unlock()
	if step == nil {
		return nil
	}
	return step(op, k, d.id)
}

func (d stepDevice) PutFragment(k chunks.FragmentKey, b []byte) error {
	if err := d.hook("put", k); err != nil {
		return err
	}
	return d.memDevice.PutFragment(k, b)
}

func (d stepDevice) DeleteFragment(k chunks.FragmentKey) error {
	if err := d.hook("delete", k); err != nil {
		return err
	}
	return d.memDevice.DeleteFragment(k)
}

type keysFixture struct {
	*gcFixture
	keys   *InternalKeys
	raw    []*memDevice
	stepMu sync.Mutex
	step   func(op string, k chunks.FragmentKey, dev string) error
}

// newKeysFixture is the GC fixture with a keys shard (epoch 1), a
// sequential store of step devices and a writer on the shard's keys.
func newKeysFixture(t *testing.T) *keysFixture {
	t.Helper()
	f := &keysFixture{gcFixture: newGCFixture(t)}
	if err := f.svc.EnsureSystemEpoch(context.Background()); err != nil {
		t.Fatal(err)
	}
	var devs []chunks.Device
	for i := range 6 {
		raw := &memDevice{id: fmt.Sprintf("dev%d", i), frags: map[chunks.FragmentKey][]byte{}}
		f.raw = append(f.raw, raw)
		devs = append(devs, stepDevice{memDevice: raw, mu: &f.stepMu, step: &f.step})
	}
	store, err := chunks.NewStoreWithOptions(devs, chunks.StoreOptions{Sequential: true})
	if err != nil {
		t.Fatal(err)
	}
	f.keys = NewInternalKeys(testWrapKey)
	f.keys.SetReader(f.log.LocalRead)
	w, err := chunks.NewWriter(chunks.WriterConfig{Store: store, Profile: chunks.DefaultProfile(), Keys: f.keys})
	if err != nil {
		t.Fatal(err)
	}
	f.svc.cfg.Data.Writer, f.svc.cfg.Data.CacheBytes, f.store, f.devs = w, -1, store, f.raw
	return f
}

func (f *keysFixture) setStep(step func(op string, k chunks.FragmentKey, dev string) error) {
	f.stepMu.Lock()
	defer f.stepMu.Unlock()
	f.step = step
}

func (f *keysFixture) rotate(t *testing.T) uint32 {
	t.Helper()
	e, err := f.svc.RotateSystemEpoch(context.Background(), "test")
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (f *keysFixture) reencrypt(t *testing.T, opts ReencryptOptions) ReencryptProgress {
	t.Helper()
	opts.AllLocal = true
	got, err := f.svc.Reencrypt(context.Background(), opts)
	if err != nil {
		t.Fatalf("reencrypt: %v", err)
	}
	return got
}

func (f *keysFixture) records(t *testing.T) map[event.ChunkID]chunkstate.Record {
	t.Helper()
	v := f.log.LocalRead(FirstChunkShard)
	defer v.Close()
	out := map[event.ChunkID]chunkstate.Record{}
	if err := chunkstate.Scan(v, event.ChunkID{}, func(id event.ChunkID, rec chunkstate.Record) (bool, error) {
		out[id] = rec
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// fragmentsMatchRecords checks that the devices hold exactly the fragments
// the records place, each of the record's envelope: no old fragment left.
func (f *keysFixture) fragmentsMatchRecords(t *testing.T) {
	t.Helper()
	recs := f.records(t)
	want := 0
	for id, rec := range recs {
		for i, dev := range rec.Placement.Devices {
			want++
			raw := f.raw[slices.IndexFunc(f.raw, func(d *memDevice) bool { return d.id == dev })]
			b, err := raw.GetFragment(chunks.FragmentKey{Chunk: chunks.ChunkID(id), Index: uint8(i)})
			if err != nil {
				t.Fatalf("chunk %s fragment %d on %s: %v", id, i, dev, err)
			}
			if h, _, err := chunks.DecodeFragment(b); err != nil || h.Envelope.Epoch != rec.Epoch {
				t.Fatalf("chunk %s fragment %d: envelope %v err %v, record epoch %d", id, i, h.Envelope, err, rec.Epoch)
			}
		}
	}
	got := 0
	for _, d := range f.raw {
		got += len(d.frags)
	}
	if got != want {
		t.Fatalf("devices hold %d fragments, records place %d", got, want)
	}
}

func epochOf(t *testing.T, f *keysFixture, e uint32) keyring.Epoch {
	t.Helper()
	v := f.log.LocalRead(KeysShard)
	defer v.Close()
	ep, ok, err := keyring.GetEpoch(v, e)
	if err != nil || !ok {
		t.Fatalf("epoch %d: %v %v", e, ok, err)
	}
	return ep
}

// Goal: the whole story on the command side. Method: write
// objects under epoch 1 (with duplicate chunks), rotate, write more under
// epoch 2, check the status counts, re-encrypt, then: every record is on
// epoch 2 with only its new fragments on the devices, every object reads
// back, epoch 1 is retired and its key no longer served, the status says
// so, and a second pass finds nothing to do.
func TestReencryptMovesEveryChunkForward(t *testing.T) {
	f := newKeysFixture(t)
	bodies := map[string][]byte{}
	for i := range 5 {
		bodies[fmt.Sprint("old", i)] = []byte(fmt.Sprintf("object %d: 0123456789abcdefghij-%d", i, i%2))
	}
	for k, b := range bodies {
		f.put(t, k, b)
	}
	if e := f.rotate(t); e != 2 {
		t.Fatalf("rotated to epoch %d", e)
	}
	bodies["new"] = []byte("written after the rotation, sealed under epoch two")
	f.put(t, "new", bodies["new"])
	st, err := f.svc.KeyStatus(context.Background())
	if err != nil || st.Current != 2 || len(st.Epochs) != 2 || st.Epochs[0].Chunks == 0 || st.Epochs[1].Chunks == 0 {
		t.Fatalf("status before: %+v %v", st, err)
	}
	oldChunks, newChunks := st.Epochs[0].Chunks, st.Epochs[1].Chunks

	var lines []ReencryptProgress
	got := f.reencrypt(t, ReencryptOptions{Progress: func(p ReencryptProgress) { lines = append(lines, p) }})
	if got.Resealed != oldChunks || got.Failed != 0 || got.Remaining != 0 || !slices.Equal(got.Retired, []uint32{1}) || got.Phase != "done" {
		t.Fatalf("pass: %+v, want %d resealed and epoch 1 retired", got, oldChunks)
	}
	if len(lines) < int(oldChunks) || lines[0].Total != oldChunks || lines[len(lines)-1].Phase != "done" {
		t.Fatalf("progress lines: %d, last %+v", len(lines), lines[len(lines)-1])
	}
	for id, rec := range f.records(t) {
		if rec.Epoch != 2 {
			t.Fatalf("chunk %s still under epoch %d", id, rec.Epoch)
		}
	}
	f.fragmentsMatchRecords(t)
	for k, b := range bodies {
		if got := f.get(t, k); !bytes.Equal(got, b) {
			t.Fatalf("%s reads %q", k, got)
		}
	}
	if ep := epochOf(t, f, 1); !ep.Retired || ep.SealedKey != nil || ep.RetiredNs == 0 {
		t.Fatalf("epoch 1 after the pass: %+v", ep)
	}
	if _, err := f.keys.Key(1); err == nil {
		t.Fatal("InternalKeys still serves the retired epoch")
	}
	st, _ = f.svc.KeyStatus(context.Background())
	if st.Floor != 2 || !st.Epochs[0].Retired || st.Epochs[0].Chunks != 0 || st.Epochs[1].Chunks != oldChunks+newChunks {
		t.Fatalf("status after: %+v", st)
	}
	if again := f.reencrypt(t, ReencryptOptions{}); again.Total != 0 || again.Resealed != 0 || len(again.Retired) != 0 {
		t.Fatalf("second pass: %+v", again)
	}
	if need, err := f.svc.ReencryptNeeded(context.Background()); need || err != nil {
		t.Fatalf("ReencryptNeeded after the pass: %v %v", need, err)
	}
}

// Goal: InternalKeys stops serving a retired epoch although it cached the
// key. Method: read under epoch 1 (cached), retire it, ask again.
func TestInternalKeysDropRetiredEpoch(t *testing.T) {
	f := newKeysFixture(t)
	if _, err := f.keys.Key(1); err != nil {
		t.Fatal(err)
	}
	f.rotate(t)
	if got := f.reencrypt(t, ReencryptOptions{}); !slices.Equal(got.Retired, []uint32{1}) {
		t.Fatalf("pass: %+v", got)
	}
	if _, err := f.keys.Key(1); err == nil {
		t.Fatal("cached key of a retired epoch still served")
	}
	if e, key := f.keys.Current(); e != 2 || len(key) != 32 {
		t.Fatalf("current %d, %d-byte key", e, len(key))
	}
}

// resealSteps runs one re-encryption of a single-chunk object and calls
// at with a label before every step: each new fragment written, the
// ChunkResealed proposal, each old fragment deleted.
func resealSteps(t *testing.T, f *keysFixture, at func(step string) error) {
	t.Helper()
	n := 0
	f.setStep(func(op string, k chunks.FragmentKey, dev string) error {
		n++
		return at(fmt.Sprintf("%d: %s fragment %d on %s", n, op, k.Index, dev))
	})
	f.log.arm(func(shard uint64, p annallog.Proposal) bool {
		return shard == FirstChunkShard && hasType(t, p, event.TypeChunkResealed)
	},
		func() {
			n++
			if err := at(fmt.Sprintf("%d: before ChunkResealed", n)); err != nil {
				t.Fatalf("hook at the proposal: %v", err)
			}
		})
	defer f.setStep(nil)
	if _, err := f.svc.Reencrypt(context.Background(), ReencryptOptions{AllLocal: true}); err != nil {
		t.Fatalf("reencrypt: %v", err)
	}
}

func hasType(t *testing.T, p annallog.Proposal, typ event.Type) bool {
	t.Helper()
	for _, raw := range p.Events {
		env, err := event.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		if env.Type == typ {
			return true
		}
	}
	return false
}

// Goal: a read during re-encryption always returns the right bytes, and a
// writer may deduplicate against the chunk being resealed. Method: one
// 8-byte chunk (inline threshold 16, so 17 bytes of one repeated 8-byte
// chunk plus a tail); before every step of its rewrite (6 fragment
// writes, the proposal, 6 deletes) read the object back and, at the
// proposal, store the same content under another key.
func TestReadsDuringReseal(t *testing.T) {
	f := newKeysFixture(t)
	body := []byte("abcdefghabcdefghabcdefgh")
	f.put(t, "k", body)
	f.rotate(t)
	var steps []string
	resealSteps(t, f, func(step string) error {
		steps = append(steps, step)
		if got := f.get(t, "k"); !bytes.Equal(got, body) {
			t.Fatalf("at step %s: read %q", step, got)
		}
		if bytes.Contains([]byte(step), []byte("ChunkResealed")) {
			f.put(t, "dup", body)
		}
		return nil
	})
	if len(steps) != 13 {
		t.Fatalf("steps %v, want 6 writes, the proposal, 6 deletes", steps)
	}
	for _, k := range []string{"k", "dup"} {
		if got := f.get(t, k); !bytes.Equal(got, body) {
			t.Fatalf("%s after the pass: %q", k, got)
		}
	}
	f.fragmentsMatchRecords(t)
}

// Goal: a re-encryption that stops at any step (a crash, an I/O error)
// loses nothing: the object reads right, and the next pass completes.
// Method: for each device operation of one chunk's rewrite (6 fragment
// writes, then, after the proposal, 6 deletes) fail that operation and
// every one after it; and stop after all writes but before the proposal
// (Reseal without recording). Then read, re-encrypt again, read, and
// check that no record is left on epoch 1.
func TestResealInterruptedAtEveryStep(t *testing.T) {
	for stop := 0; stop <= 12; stop++ {
		t.Run(fmt.Sprint("step", stop), func(t *testing.T) {
			f := newKeysFixture(t)
			body := []byte("abcdefghabcdefghabcdefgh")
			f.put(t, "k", body)
			f.rotate(t)
			if stop == 0 { // every fragment written, nothing recorded
				for id, rec := range f.records(t) {
					ref := chunks.ChunkRef{ID: chunks.ChunkID(id), Epoch: 1, SealedBytes: int(rec.SealedBytes), Placement: placementOf(rec.Placement)}
					if _, _, err := f.svc.cfg.Data.Writer.Reseal(ref, 2); err != nil {
						t.Fatal(err)
					}
				}
			} else {
				n := 0
				f.setStep(func(string, chunks.FragmentKey, string) error {
					if n++; n >= stop {
						return errCrash
					}
					return nil
				})
				_, _ = f.svc.Reencrypt(context.Background(), ReencryptOptions{AllLocal: true})
				f.setStep(nil)
			}
			if got := f.get(t, "k"); !bytes.Equal(got, body) {
				t.Fatalf("after stopping at step %d: read %q", stop, got)
			}
			f.reencrypt(t, ReencryptOptions{})
			if got := f.get(t, "k"); !bytes.Equal(got, body) {
				t.Fatalf("after the next pass: read %q", got)
			}
			for id, rec := range f.records(t) {
				if rec.Epoch != 2 {
					t.Fatalf("chunk %s on epoch %d after the second pass", id, rec.Epoch)
				}
			}
		})
	}
}

var errCrash = errors.New("injected: the process stopped here")

// frozenChunkLog serves a frozen snapshot of the chunk shard to local reads,
// as a replica that has not applied the latest events does.
type frozenChunkLog struct {
	*hookLog
	frozen annallog.View
}

type keptView struct{ annallog.View }

func (keptView) Close() error { return nil }

func (l *frozenChunkLog) LocalRead(shard uint64) annallog.View {
	if shard == FirstChunkShard && l.frozen != nil {
		return keptView{l.frozen}
	}
	return l.hookLog.LocalRead(shard)
}

// Goal: a reader holding a record from before a reseal, whose fragments
// are deleted by the time it reads them, still returns the right bytes
// (it re-reads the record). Method: freeze the local chunk-shard replica
// before the pass; read after it.
func TestStaleRecordReadAfterReseal(t *testing.T) {
	f := newKeysFixture(t)
	body := []byte("abcdefghabcdefghabcdefgh")
	f.put(t, "k", body)
	f.rotate(t)
	lag := &frozenChunkLog{hookLog: f.log, frozen: f.log.LocalRead(FirstChunkShard)}
	defer lag.frozen.Close()
	f.reencrypt(t, ReencryptOptions{})
	f.svc.log, f.svc.cfg.Log = lag, lag
	if got := f.get(t, "k"); !bytes.Equal(got, body) {
		t.Fatalf("stale reader got %q", got)
	}
}

// Goal: a writer that sealed chunks under epoch 1 before a rotation, and
// records them after a re-encryption pass closed epoch 1, seals them
// again and succeeds while the old key is still there (retire grace); if
// the key is retired already, the write fails retriably and references
// nothing. Method: run rotate + re-encrypt in a hook before the writer's
// ChunksStored.
func TestWriterStraddlingRotation(t *testing.T) {
	for _, grace := range []int64{1 << 62, 0} {
		t.Run(fmt.Sprint("grace", grace), func(t *testing.T) {
			f := newKeysFixture(t)
			f.log.arm(func(shard uint64, p annallog.Proposal) bool {
				return shard == FirstChunkShard && hasType(t, p, event.TypeChunksStored)
			}, func() {
				f.rotate(t)
				f.reencrypt(t, ReencryptOptions{RetireGraceNs: grace})
			})
			body := []byte("sealed before, recorded after the rotation")
			_, err := f.svc.PutObject(context.Background(), f.p, PutInput{Bucket: "b", Key: "k", Body: bytes.NewReader(body)})
			if grace == 0 {
				if !errors.Is(err, ErrConflict) {
					t.Fatalf("write after its epoch was retired: %v, want ErrConflict", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := f.get(t, "k"); !bytes.Equal(got, body) {
				t.Fatalf("read %q", got)
			}
			for id, rec := range f.records(t) {
				if rec.Epoch != 2 {
					t.Fatalf("chunk %s recorded under epoch %d", id, rec.Epoch)
				}
			}
			if got := f.reencrypt(t, ReencryptOptions{}); !slices.Equal(got.Retired, []uint32{1}) {
				t.Fatalf("retire after the grace: %+v", got)
			}
		})
	}
}

// Goal: GC collecting a chunk while it is resealed wins cleanly: the
// reseal is not recorded, nothing panics, and the epoch still retires.
// Method: delete the only object, then collect and purge the chunk in a
// hook before ChunkResealed.
func TestResealRacesCollection(t *testing.T) {
	f := newKeysFixture(t)
	f.put(t, "k", []byte("abcdefghabcdefghabcdefgh"))
	f.del(t, "k")
	f.rotate(t)
	f.log.arm(func(shard uint64, p annallog.Proposal) bool {
		return shard == FirstChunkShard && hasType(t, p, event.TypeChunkResealed)
	}, func() {
		f.gc(t)
		f.gc(t)
	})
	got := f.reencrypt(t, ReencryptOptions{})
	if got.Resealed != 0 || got.Skipped == 0 || !slices.Equal(got.Retired, []uint32{1}) {
		t.Fatalf("pass: %+v", got)
	}
	if recs := f.records(t); len(recs) != 0 {
		t.Fatalf("records left: %v", recs)
	}
}

// Goal: scrub finds a chunk whose fragments hold another envelope than
// its record names (writers straddling a rotation), and seals it again
// rather than repair it under the wrong record. Method: replace an
// epoch-1 chunk's fragments with epoch-2 fragments of the same content.
func TestScrubResealsForeignEnvelope(t *testing.T) {
	f := newKeysFixture(t)
	body := []byte("abcdefghabcdefghabcdefgh")
	f.put(t, "k", body)
	f.rotate(t)
	master, err := f.keys.Key(2)
	if err != nil {
		t.Fatal(err)
	}
	for id, rec := range f.records(t) {
		plain := body[:8]
		cid := chunks.ChunkID(id)
		sealed := chunks.Seal(nil, master, 2, cid, chunks.ConvergentNonce(2, cid), plain)
		if err := f.store.PutAt(cid, placementOf(rec.Placement), sealed); err != nil {
			t.Fatal(err)
		}
	}
	got, err := f.svc.Scrub(context.Background(), ScrubOptions{AllLocal: true})
	if err != nil || got.Resealed != 1 || got.Lost != 0 {
		t.Fatalf("scrub: %+v %v", got, err)
	}
	for id, rec := range f.records(t) {
		if rec.Epoch != 2 {
			t.Fatalf("chunk %s record on epoch %d", id, rec.Epoch)
		}
	}
	f.fragmentsMatchRecords(t)
	if got := f.get(t, "k"); !bytes.Equal(got, body) {
		t.Fatalf("read %q", got)
	}
}
