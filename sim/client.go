package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/annal-storage/annal/commands"
	annallog "github.com/annal-storage/annal/log"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/hlc"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/projections/control"
)

// client is one simulated gateway client. It cannot block, so each
// operation is a chain of callbacks over two primitives that do what the
// Service does against the real log: a linearizable read (ReadIndex at
// the shard leader) and a proposal, retried with the same bytes after an
// ambiguous failure until the log gives a definite answer.
type client struct {
	w   *world
	id  int
	rng *rand.Rand
	env commands.Env
	p   commands.Principal

	busy bool
	// maintenance: this client runs GC and scrub, not the workload.
	maintenance bool
	req         uint64
	wait        *waiting
	hints       map[uint64]int // shard → believed leader
	gateway     int
	opsDone     int
	// skewMs is this client's clock error; it jumps now and then,
	// backwards too (the HLC must stay monotonic).
	skewMs int64
	// patience is how many timed-out attempts of one proposal the client
	// retries before giving up with an ambiguous outcome (0: never gives
	// up), as the Service's backoff does.
	patience int
}

var (
	errUnavailable = errors.New("shard unavailable")
	errAmbiguous   = errors.New("outcome unknown")
)

// keyHashSecret keys the hash of object keys in event headers.
var keyHashSecret = []byte("sim key-hash secret")

func newClient(w *world, id int) *client {
	seed := w.rng.Uint64()
	var rs [32]byte
	for i := range rs {
		rs[i] = byte(seed >> (8 * (i % 8)))
	}
	rs[31] = byte(id)
	c := &client{w: w, id: id, rng: rand.New(rand.NewPCG(seed, uint64(id))), hints: map[uint64]int{}}
	clock := hlc.New(func() int64 { return simEpochMs + w.now + c.skewMs }, uint16(100+id))
	c.env = commands.Env{Clock: clock, Rand: commands.NewRand(rs), Payloads: w.payloads}
	c.gateway = id % len(w.nodes)
	if c.rng.IntN(2) == 0 {
		c.patience = 1 + c.rng.IntN(4)
	}
	return c
}

// simEpochMs is the wall time the simulated clock starts at.
const simEpochMs = 1_767_225_600_000 // 2026-01-01T00:00:00Z

type waitKind uint8

const (
	waitRead waitKind = iota
	waitPropose
)

// waiting is the client's one outstanding request.
type waiting struct {
	kind      waitKind
	req       uint64
	shard     uint64
	data      []byte
	target    int
	attempts  int
	timeouts  int
	ambiguous bool
	rebuild   func() []byte
	onView    func(*shardView, error)
	// onResult gets the log's answer and the bytes it answered for.
	onResult func(annallog.Result, []byte, error)
}

const (
	maxReadAttempts = 40
	backoffMinMs    = 5
	backoffMaxMs    = 40
)

// read asks the shard leader for a linearizable view.
func (c *client) read(shard uint64, k func(*shardView, error)) {
	c.send(&waiting{kind: waitRead, shard: shard, target: c.leaderOf(shard), onView: k})
}

// propose submits proposal bytes and reports the log's definite answer,
// or errAmbiguous when the client ran out of patience.
func (c *client) propose(shard uint64, data []byte, rebuild func() []byte, k func(annallog.Result, []byte, error)) {
	c.send(&waiting{kind: waitPropose, shard: shard, data: data, rebuild: rebuild, target: c.leaderOf(shard), onResult: k})
}

func (c *client) leaderOf(shard uint64) int {
	if h, ok := c.hints[shard]; ok && h >= 0 {
		return h
	}
	return c.rng.IntN(len(c.w.nodes))
}

func (c *client) send(wt *waiting) {
	c.req++
	wt.req = c.req
	wt.attempts++
	c.wait = wt
	n := c.w.nodes[wt.target]
	req, shard, data, id := wt.req, wt.shard, wt.data, c.id
	if wt.kind == waitRead {
		c.w.net.send("read", -1, -1, func() {
			if n.up {
				n.handleRead(id, req, shard)
			}
		})
	} else {
		c.w.net.send("propose", -1, -1, func() {
			if n.up {
				n.handlePropose(id, req, shard, data)
			}
		})
	}
	c.w.at(c.w.par.requestTimeoutMs, func() {
		if c.wait == wt && wt.req == req {
			c.timedOut(wt)
		}
	})
}

// timedOut retries elsewhere; a proposal that timed out may still
// commit, so it is ambiguous until a definite answer.
func (c *client) timedOut(wt *waiting) {
	c.w.tracef("client c%d timeout req %d s%d at n%d", c.id, wt.req, wt.shard, wt.target)
	delete(c.hints, wt.shard)
	if wt.kind == waitPropose {
		wt.ambiguous = true
		wt.timeouts++
		if c.patience > 0 && wt.timeouts > c.patience {
			c.wait = nil
			c.w.tracef("client c%d gives up req %d s%d: outcome unknown", c.id, wt.req, wt.shard)
			wt.onResult(annallog.Result{}, wt.data, errAmbiguous)
			return
		}
		if c.w.cfg.Bugs&BugRetryFreshIDs != 0 && wt.rebuild != nil {
			wt.data = wt.rebuild()
		}
	}
	wt.target = c.rng.IntN(len(c.w.nodes))
	c.retry(wt, c.w.between(backoffMinMs, backoffMaxMs))
}

func (c *client) retry(wt *waiting, delay int64) {
	if wt.kind == waitRead && wt.attempts >= maxReadAttempts {
		c.wait = nil
		wt.onView(nil, fmt.Errorf("%w: shard %d", errUnavailable, wt.shard))
		return
	}
	c.req++ // a late reply to the previous attempt is now stale
	c.wait = wt
	wt.req = c.req
	c.w.at(delay, func() {
		if c.wait == wt {
			c.send(wt)
		}
	})
}

// onReply handles a node's answer to the outstanding request.
func (c *client) onReply(rep reply) {
	wt := c.wait
	if wt == nil || rep.req != wt.req {
		return
	}
	switch {
	case rep.notLeader:
		delay := int64(0)
		switch {
		case rep.hint < 0:
			wt.target = c.rng.IntN(len(c.w.nodes))
			delay = c.w.between(backoffMinMs, backoffMaxMs)
		case rep.hint == wt.target:
			delay = c.w.between(backoffMinMs, backoffMaxMs)
		default:
			wt.target = rep.hint
			c.hints[wt.shard] = rep.hint
		}
		c.retry(wt, delay)
	case rep.view != nil:
		c.wait = nil
		c.hints[wt.shard] = wt.target
		wt.onView(rep.view, nil)
	case rep.result != nil:
		c.wait = nil
		c.hints[wt.shard] = wt.target
		wt.onResult(*rep.result, wt.data, nil)
	}
}

// decideFn decides on a linearizable view; a nil decision means there is
// nothing to propose.
type decideFn func(v kv.Reader) (*commands.Decision, error)

// outcome is how one run of decide-and-propose ended.
type outcome struct {
	d    *commands.Decision
	data []byte
	res  annallog.Result
	err  error
}

const maxDecideAttempts = 16

// run does what Service.run does: read a linearizable view, decide,
// propose, and decide again while proposals are rejected.
func (c *client) run(shard uint64, decide decideFn, k func(outcome)) {
	c.runBuilt(shard, decide, nil, k)
}

// runBuilt is run with a hook that sees each proposal once it is built
// (event ids are drawn then).
func (c *client) runBuilt(shard uint64, decide decideFn, built func(*commands.Decision, []byte), k func(outcome)) {
	attempt := 0
	var loop func()
	loop = func() {
		attempt++
		if attempt > maxDecideAttempts {
			k(outcome{err: commands.ErrConflict})
			return
		}
		c.read(shard, func(v *shardView, err error) {
			if err != nil {
				k(outcome{err: err})
				return
			}
			d, err := decide(v)
			if err != nil || d == nil {
				k(outcome{d: d, err: err})
				return
			}
			c.submitBuilt(d, built, func(o outcome) {
				if o.err == nil && o.res.Status == annallog.StatusRejected {
					loop()
					return
				}
				k(o)
			})
		})
	}
	loop()
}

// submit builds a decision into a proposal and proposes it.
func (c *client) submit(d *commands.Decision, k func(outcome)) { c.submitBuilt(d, nil, k) }

func (c *client) submitBuilt(d *commands.Decision, built func(*commands.Decision, []byte), k func(outcome)) {
	build := func() []byte {
		p, err := commands.Build(c.env, keyHashSecret, d)
		if err != nil {
			panic(fmt.Sprintf("sim: build proposal: %v", err)) // bodies are plain structs
		}
		data, err := p.Encode()
		if err != nil {
			panic(fmt.Sprintf("sim: encode proposal: %v", err))
		}
		return data
	}
	data := build()
	if built != nil {
		built(d, data)
	}
	c.propose(d.Shard, data, build, func(res annallog.Result, data []byte, err error) {
		o := outcome{d: d, data: data, res: res, err: err}
		if err == nil && res.Status != annallog.StatusRejected {
			o.err = commands.ResultError(res)
			if o.err == nil {
				c.w.checks.ack(d.Shard, data, fmt.Sprintf("client %d %s", c.id, d.Events[0].Body.EventType()))
			}
		}
		k(o)
	})
}

// localNode is the gateway node this client reads local replicas from
// (its own node, or another running one).
func (c *client) localNode() (*node, error) {
	if n := c.w.nodes[c.gateway]; n.up {
		return n, nil
	}
	up := c.w.upNodes()
	if len(up) == 0 {
		return nil, fmt.Errorf("%w: no node is up", errUnavailable)
	}
	c.gateway = up[c.rng.IntN(len(up))]
	return c.w.nodes[c.gateway], nil
}

// localRead is the gateway's replica of a shard, without a barrier (the
// Service's LocalRead).
func (c *client) localRead(shard uint64) (kv.Reader, error) {
	n, err := c.localNode()
	if err != nil {
		return nil, err
	}
	return annallog.ProjectionReader(n.store.NewSnapshot(), shard), nil
}

// bucketShard routes a bucket to its namespace shard like the Service:
// the local control replica first, a linearizable read when it does not
// know the bucket yet.
func (c *client) bucketShard(bucket string, k func(uint64, error)) {
	if v, err := c.localRead(commands.ControlShard); err == nil {
		if ns, err := control.NamespaceByName(v, c.p.Tenant, bucket); err == nil {
			k(ns.ShardID, nil)
			return
		}
	}
	c.read(commands.ControlShard, func(v *shardView, err error) {
		if err != nil {
			k(0, err)
			return
		}
		ns, err := control.NamespaceByName(v, c.p.Tenant, bucket)
		if errors.Is(err, commands.ErrNotFound) {
			err = fmt.Errorf("%w: %q", commands.ErrNoSuchBucket, bucket)
		}
		k(ns.ShardID, err)
	})
}

// runPersist is run that keeps retrying until it succeeds (bootstrap
// must get through whatever the faults do).
func (c *client) runPersist(shard uint64, decide decideFn, k func(outcome)) {
	c.run(shard, decide, func(o outcome) {
		if o.err != nil && c.w.phase != phaseFinal {
			c.w.tracef("client c%d bootstrap retry: %v", c.id, o.err)
			c.w.at(c.w.between(backoffMinMs, backoffMaxMs), func() { c.runPersist(shard, decide, k) })
			return
		}
		k(o)
	})
}

// firstEventID is the id of a proposal's first event.
func firstEventID(data []byte) event.ID {
	p, err := annallog.DecodeProposal(data)
	if err != nil || len(p.Events) == 0 {
		return event.ID{}
	}
	env, err := event.Decode(p.Events[0])
	if err != nil {
		return event.ID{}
	}
	return env.ID
}
