package commands

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/annal-storage/annal/chunks"
	"github.com/annal-storage/annal/keys"
	annallog "github.com/annal-storage/annal/log"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/hlc"
	"github.com/annal-storage/annal/log/kv"
)

// memLog is a single-replica log over an in-memory store: proposals apply
// immediately through the real log.Applier. It stands in for dragonboat
// where a test exercises commands and projections, not replication.
type memLog struct {
	mu       sync.Mutex
	store    *kv.Mem
	appliers map[uint64]*annallog.Applier
	payloads event.PayloadCipher
}

func newMemLog(payloads event.PayloadCipher) *memLog {
	m := &memLog{store: kv.NewMem(), appliers: map[uint64]*annallog.Applier{}, payloads: payloads}
	m.ensure(ControlShard, annallog.KindControl)
	m.ensure(FirstChunkShard, annallog.KindChunk)
	return m
}

func (m *memLog) ensure(shard uint64, kind annallog.Kind) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.appliers[shard]; !ok {
		a, err := annallog.NewApplier(shard, kind, m.payloads)
		if err != nil {
			panic(err)
		}
		m.appliers[shard] = a
	}
}

func (m *memLog) Ensure(_ context.Context, shard uint64, kind annallog.Kind) error {
	m.ensure(shard, kind)
	return nil
}

func (m *memLog) Propose(_ context.Context, shard uint64, p annallog.Proposal) (annallog.Result, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.appliers[shard]
	if !ok {
		return annallog.Result{}, fmt.Errorf("shard %d not started", shard)
	}
	data, err := p.Encode()
	if err != nil {
		return annallog.Result{}, err
	}
	b := m.store.NewBatch()
	res, err := a.Apply(b, data)
	if err != nil {
		b.Close()
		return res, err
	}
	return res, b.Commit(false)
}

func (m *memLog) Read(_ context.Context, shard uint64) (annallog.View, error) {
	return m.LocalRead(shard), nil
}

func (m *memLog) LocalRead(shard uint64) annallog.View {
	return annallog.SnapshotView(m.store, shard)
}

// memDevice is an in-memory chunks.Device.
type memDevice struct {
	id    string
	mu    sync.Mutex
	frags map[chunks.FragmentKey][]byte
	// down makes reads fail as a failed device does.
	down bool
}

func (d *memDevice) ID() string { return d.id }
func (d *memDevice) PutFragment(k chunks.FragmentKey, b []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.frags[k] = append([]byte(nil), b...)
	return nil
}
func (d *memDevice) GetFragment(k chunks.FragmentKey) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.down {
		return nil, chunks.ErrDeviceFailed
	}
	b, ok := d.frags[k]
	if !ok {
		return nil, chunks.ErrFragmentNotFound
	}
	return append([]byte(nil), b...), nil
}
func (d *memDevice) DeleteFragment(k chunks.FragmentKey) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.frags, k)
	return nil
}
func (d *memDevice) ListFragments(fn func(chunks.FragmentInfo) error) error {
	d.mu.Lock()
	keys := make([]chunks.FragmentKey, 0, len(d.frags))
	for k := range d.frags {
		keys = append(keys, k)
	}
	d.mu.Unlock()
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].Chunk != keys[j].Chunk {
			return string(keys[i].Chunk[:]) < string(keys[j].Chunk[:])
		}
		return keys[i].Index < keys[j].Index
	})
	for _, k := range keys {
		if err := fn(chunks.FragmentInfo{Key: k}); err != nil {
			return err
		}
	}
	return nil
}
func (d *memDevice) Stat() (chunks.DeviceStat, error) { return chunks.DeviceStat{}, nil }
func (d *memDevice) Close() error                     { return nil }

var testWrapKey = []byte("0123456789abcdef0123456789abcdef")

type fixedKeys struct{}

func (fixedKeys) Current() (uint32, []byte)  { return 1, make([]byte, 32) }
func (fixedKeys) Key(uint32) ([]byte, error) { return make([]byte, 32), nil }

// testService returns a Service on a memLog with tiny inline and chunk
// sizes, so small test bodies exercise segments, staging and dedup.
func testService(t testing.TB, seed byte) (*Service, *memLog, Principal) {
	t.Helper()
	var devs []chunks.Device
	for i := range 6 {
		devs = append(devs, &memDevice{id: fmt.Sprintf("dev%d", i), frags: map[chunks.FragmentKey][]byte{}})
	}
	store, err := chunks.NewStore(devs)
	if err != nil {
		t.Fatal(err)
	}
	w, err := chunks.NewWriter(chunks.WriterConfig{Store: store, Profile: chunks.DefaultProfile(), Keys: fixedKeys{}})
	if err != nil {
		t.Fatal(err)
	}
	// Every payload in these tests is sealed, tenant payloads under keys
	// unwrapped through the internal KEK provider, so the apply path and
	// replay run on sealed events.
	internal := NewInternalKeys(testWrapKey)
	tenantKeys := keys.NewTenantKeys(internal, func() time.Time { return time.Unix(0, 0) }, func() float64 { return 0 })
	payloads, err := keys.NewPayloadKeys(testWrapKey, tenantKeys)
	if err != nil {
		t.Fatal(err)
	}
	ml := newMemLog(payloads)
	internal.SetReader(ml.LocalRead)
	ms := int64(1_700_000_000_000)
	clock := hlc.New(func() int64 { ms++; return ms }, 1)
	svc := NewService(Config{Log: ml, Env: Env{Clock: clock, Rand: NewRand([32]byte{seed}), Payloads: payloads},
		KeyHashSecret: []byte("k"), KeyWrapKey: testWrapKey, InlineThresholdBytes: 16,
		Data: &Data{Writer: w, Profile: chunks.DefaultProfile(), Chunker: chunks.FixedChunkerParams(8), InFlight: 2, Window: 3}})
	ctx := context.Background()
	tn, _, err := svc.CreateTenant(ctx, "test", TenantSpec{Name: "t"})
	if err != nil {
		t.Fatal(err)
	}
	return svc, ml, Principal{Tenant: tn.ID, AccessKey: "ak"}
}
