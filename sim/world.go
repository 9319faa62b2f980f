package sim

import (
	"container/heap"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"math/rand/v2"

	"github.com/annal-storage/annal/keys"
)

// event is one scheduled happening of the simulated world. Events run in
// (time, sequence) order, one per step.
type simEvent struct {
	at  int64
	seq uint64
	fn  func()
}

type eventQueue []*simEvent

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(*simEvent)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return e
}

// tracer hashes a canonical text line per simulated happening and keeps
// the last few for failure reports.
type tracer struct {
	h    hash.Hash
	ring []string
	next int
	full bool
	buf  []byte
}

func newTracer(tail int) *tracer {
	return &tracer{h: sha256.New(), ring: make([]string, tail)}
}

func (t *tracer) add(line []byte) {
	t.h.Write(line)
	t.h.Write([]byte{'\n'})
	if len(t.ring) == 0 {
		return
	}
	t.ring[t.next] = string(line)
	t.next = (t.next + 1) % len(t.ring)
	if t.next == 0 {
		t.full = true
	}
}

// tail returns the kept lines, oldest first.
func (t *tracer) tail() []string {
	if !t.full {
		return append([]string(nil), t.ring[:t.next]...)
	}
	return append(append([]string(nil), t.ring[t.next:]...), t.ring[:t.next]...)
}

func (t *tracer) sum() string { return hex.EncodeToString(t.h.Sum(nil)) }

// phase is where a run is.
type phase uint8

const (
	phaseSafety   phase = iota // faults on, clients busy
	phaseLiveness              // faults healed, clients finish, cluster converges
	phaseFinal                 // final reads and checks
)

// world is the whole simulated cluster: nodes, network, clients, clock
// and the oracles' bookkeeping. Everything runs on one goroutine.
type world struct {
	cfg     Config
	rng     *rand.Rand
	now     int64 // simulated milliseconds since boot
	instant int64 // strictly increasing stamp for histories
	step    int
	seq     uint64
	queue   eventQueue
	tr      *tracer
	par     params
	phase   phase

	nodes   []*node
	net     *network
	clients []*client
	hist    *history
	boot    *bootstrap
	checks  *checks
	faults  *diskFaults
	disks   []*disk
	// versions are the version ids clients saw, per object; etags the
	// last ETags.
	versions map[string][]string
	etags    map[string][]string
	churned  int
	// payloads seals and opens event payloads (one cluster key).
	payloads *keys.PayloadKeys

	fail *Violation
}

// Violation is a broken oracle.
type Violation struct {
	Oracle string
	Detail string
	Step   int
	TimeMs int64
}

func (v *Violation) Error() string {
	return fmt.Sprintf("oracle %s violated at step %d (t=%dms): %s", v.Oracle, v.Step, v.TimeMs, v.Detail)
}

// Stats summarises a run.
type Stats struct {
	Steps        int
	SimulatedMs  int64
	Acked        int
	Failed       int
	Ambiguous    int
	Applies      int
	Crashes      int
	Partitions   int
	DiskFaults   int
	Messages     int
	Linearizable int // objects checked
	Inconclusive int // objects whose check ran out of budget
	ReadErrors   int
	// ScrubLost counts chunks scrub found with too few usable fragments
	// (reachable ones: unreachable devices count as missing).
	ScrubLost int
	// LaggingChunkRecords counts chunk reads whose record had not reached
	// the gateway's chunk-shard replica (see client.readChunk).
	LaggingChunkRecords int
}

// Result is the outcome of a run.
type Result struct {
	Config    Config
	Trace     string
	Violation *Violation
	// Tail holds the last trace lines before a violation.
	Tail  []string
	Stats Stats
}

// Summary is the one line `annal sim` prints on success.
func (r Result) Summary() string {
	return fmt.Sprintf("seed=%d steps=%d trace=%s", r.Config.Seed, r.Config.Steps, r.Trace)
}

// Run simulates one seed. An error means the configuration is unusable;
// a broken oracle is reported in Result.Violation.
func Run(cfg Config) (Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Result{}, err
	}
	w := newWorld(cfg)
	w.start()
	for w.step < cfg.Steps && w.fail == nil {
		w.runStep()
	}
	if w.fail == nil {
		w.heal()
		w.converge()
	}
	if w.fail == nil {
		w.finish()
	}
	return w.result(), nil
}

func newWorld(cfg Config) *world {
	w := &world{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x5eed)), tr: newTracer(cfg.TailLines)}
	w.par = drawParams(w.rng, cfg)
	root := make([]byte, 32)
	for i := range root {
		root[i] = byte(w.rng.Uint32())
	}
	pk, err := keys.NewPayloadKeys(root, nil)
	if err != nil {
		panic(err) // a 32-byte root is always valid
	}
	w.payloads = pk
	w.hist = newHistory()
	w.checks = newChecks(w)
	w.net = newNetwork(w)
	w.faults = newDiskFaults(w)
	return w
}

// at schedules fn after delay milliseconds.
func (w *world) at(delay int64, fn func()) {
	w.seq++
	heap.Push(&w.queue, &simEvent{at: w.now + max(delay, 0), seq: w.seq, fn: fn})
}

func (w *world) runStep() {
	if len(w.queue) == 0 {
		w.violate(OracleLiveness, "event queue ran dry")
		return
	}
	e := heap.Pop(&w.queue).(*simEvent)
	w.now = e.at
	w.step++
	e.fn()
	w.flush()
}

// flush sends every node's outgoing Raft messages.
func (w *world) flush() {
	for _, n := range w.nodes {
		n.flushOutbox()
	}
}

// stamp returns a fresh history instant.
func (w *world) stamp() int64 {
	w.instant++
	return w.instant
}

// tracef adds one line to the trace: step, time, then the formatted text.
func (w *world) tracef(format string, args ...any) {
	b := w.tr.buf[:0]
	b = fmt.Appendf(b, "%d %d ", w.step, w.now)
	b = fmt.Appendf(b, format, args...)
	w.tr.buf = b
	w.tr.add(b)
	if w.cfg.TraceTo != nil {
		fmt.Fprintf(w.cfg.TraceTo, "%s\n", b)
	}
}

// violate records the first broken oracle; the run stops after the step.
func (w *world) violate(oracle, format string, args ...any) {
	if w.fail != nil {
		return
	}
	w.fail = &Violation{Oracle: oracle, Detail: fmt.Sprintf(format, args...), Step: w.step, TimeMs: w.now}
	w.tracef("VIOLATION %s: %s", oracle, w.fail.Detail)
}

func (w *world) result() Result {
	r := Result{Config: w.cfg, Trace: w.tr.sum(), Violation: w.fail, Stats: w.hist.stats}
	r.Stats.Steps = w.step
	r.Stats.SimulatedMs = w.now
	r.Stats.Crashes = w.checks.crashes
	r.Stats.Partitions = w.checks.partitions
	r.Stats.DiskFaults = w.faults.injected
	r.Stats.Messages = w.net.sent
	r.Stats.Applies = w.checks.applies
	if w.fail != nil {
		r.Tail = w.tr.tail()
	}
	return r
}

// chance draws a biased coin.
func (w *world) chance(p float64) bool { return p > 0 && w.rng.Float64() < p }

// between draws uniformly from [lo, hi].
func (w *world) between(lo, hi int64) int64 {
	if hi <= lo {
		return lo
	}
	return lo + w.rng.Int64N(hi-lo+1)
}

// upNodes lists the ids of running nodes.
func (w *world) upNodes() []int {
	var out []int
	for _, n := range w.nodes {
		if n.up {
			out = append(out, n.id)
		}
	}
	return out
}
