package sim

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// opState is what a client knows of an operation.
type opState uint8

const (
	// opPending: invoked, no definite answer (ambiguous at the end).
	opPending opState = iota
	// opOK: answered; its output is known.
	opOK
	// opFailed: definitely had no effect; left out of the check.
	opFailed
)

// op is one operation on one object in a client's history.
type op struct {
	obj    string
	client int
	call   int64
	ret    int64
	in     any
	out    any
	state  opState
}

func (o *op) ambiguous() bool { return o.state == opPending }

func (o *op) String() string {
	ret := "∞"
	if o.ret != math.MaxInt64 {
		ret = fmt.Sprint(o.ret)
	}
	s := fmt.Sprintf("c%d [%d,%s] %#v", o.client, o.call, ret, o.in)
	switch o.state {
	case opOK:
		s += fmt.Sprintf(" → %#v", o.out)
	case opPending:
		s += " → ambiguous"
	}
	return s
}

// history is every client operation of a run, per object.
type history struct {
	ops   []*op
	stats Stats
}

func newHistory() *history { return &history{} }

// begin records an invocation.
func (h *history) begin(w *world, obj string, client int, in any) *op {
	o := &op{obj: obj, client: client, call: w.stamp(), ret: math.MaxInt64, in: in}
	h.ops = append(h.ops, o)
	return o
}

// ok records a definite answer.
func (h *history) ok(w *world, o *op, out any) {
	if o.state != opPending {
		return
	}
	o.state, o.out, o.ret = opOK, out, w.stamp()
	h.stats.Acked++
}

// failed records that the operation definitely had no effect.
func (h *history) failed(o *op) {
	if o.state != opPending {
		return
	}
	o.state = opFailed
	h.stats.Failed++
}

// objects groups the checkable operations by object, objects in order.
func (h *history) objects() ([]string, map[string][]*op) {
	by := map[string][]*op{}
	h.stats.Ambiguous = 0
	for _, o := range h.ops {
		if o.state == opPending {
			h.stats.Ambiguous++
		}
		if o.state != opFailed {
			by[o.obj] = append(by[o.obj], o)
		}
	}
	names := make([]string, 0, len(by))
	for k := range by {
		names = append(names, k)
	}
	slices.Sort(names)
	return names, by
}

// model is a sequential specification of one kind of object.
type model interface {
	init() any
	// step applies op to state: false when the op cannot happen in that
	// state (its output disagrees, or an acknowledged op's precondition
	// fails).
	step(state any, o *op) (bool, any)
	key(state any) string
}

// linEntry is a call or return in the checker's event list.
type linEntry struct {
	o          *op
	id         int
	call       bool
	match      *linEntry
	prev, next *linEntry
}

// linearizable checks one object's history against a model with the
// Wing–Gong search and memoisation of (linearized set, state) (as
// porcupine does). Ambiguous operations return at infinity, so they may
// take effect at any point after their call or never (after every
// observation). done is false when the search ran out of budget.
func linearizable(m model, ops []*op, budget int) (ok, done bool, stuck string) {
	head := buildEntries(ops)
	linearized := make([]uint64, (len(ops)+63)/64)
	cache := map[string]bool{}
	type frame struct {
		e     *linEntry
		state any
	}
	var calls []frame
	state := m.init()
	best, bestStuck := -1, ""
	e := head.next
	for steps := 0; head.next != nil; steps++ {
		if steps > budget {
			return true, false, ""
		}
		if e.call {
			if okStep, next := m.step(state, e.o); okStep {
				setBit(linearized, e.id, true)
				k := cacheKey(linearized, m.key(next))
				if !cache[k] {
					cache[k] = true
					calls = append(calls, frame{e, state})
					state = next
					lift(e)
					e = head.next
					continue
				}
				setBit(linearized, e.id, false)
			}
			e = e.next
			continue
		}
		if len(calls) > best {
			best, bestStuck = len(calls), fmt.Sprintf("after %d linearized ops in state %q, nothing explains %v", len(calls), m.key(state), e.o)
		}
		if len(calls) == 0 {
			return false, true, bestStuck
		}
		top := calls[len(calls)-1]
		calls = calls[:len(calls)-1]
		e, state = top.e, top.state
		setBit(linearized, e.id, false)
		unlift(e)
		e = e.next
	}
	return true, true, ""
}

func buildEntries(ops []*op) *linEntry {
	var es []*linEntry
	for i, o := range ops {
		c := &linEntry{o: o, id: i, call: true}
		r := &linEntry{o: o, id: i}
		c.match = r
		es = append(es, c, r)
	}
	slices.SortStableFunc(es, func(a, b *linEntry) int {
		ta, tb := a.o.call, b.o.call
		if !a.call {
			ta = a.o.ret
		}
		if !b.call {
			tb = b.o.ret
		}
		switch {
		case ta < tb:
			return -1
		case ta > tb:
			return 1
		}
		return 0
	})
	head := &linEntry{}
	prev := head
	for _, x := range es {
		prev.next, x.prev = x, prev
		prev = x
	}
	return head
}

func lift(e *linEntry) {
	e.prev.next = e.next
	if e.next != nil {
		e.next.prev = e.prev
	}
	r := e.match
	r.prev.next = r.next
	if r.next != nil {
		r.next.prev = r.prev
	}
}

func unlift(e *linEntry) {
	r := e.match
	r.prev.next = r
	if r.next != nil {
		r.next.prev = r
	}
	e.prev.next = e
	if e.next != nil {
		e.next.prev = e
	}
}

func setBit(b []uint64, i int, v bool) {
	if v {
		b[i/64] |= 1 << (i % 64)
	} else {
		b[i/64] &^= 1 << (i % 64)
	}
}

func cacheKey(bits []uint64, state string) string {
	var sb strings.Builder
	for _, x := range bits {
		fmt.Fprintf(&sb, "%x.", x)
	}
	sb.WriteString(state)
	return sb.String()
}

// linearizabilityBudget bounds the search per object.
const linearizabilityBudget = 2_000_000

// checkHistories runs the linearizability oracle on every object.
func (w *world) checkHistories() {
	names, by := w.hist.objects()
	for _, name := range names {
		m := modelFor(name)
		if m == nil {
			continue
		}
		ok, done, stuck := linearizable(m, by[name], linearizabilityBudget)
		w.hist.stats.Linearizable++
		if !done {
			w.hist.stats.Inconclusive++
			w.tracef("linearizability of %s inconclusive (%d ops)", name, len(by[name]))
			continue
		}
		if !ok {
			w.violate(OracleLinearizable, "%s (%d ops): %s", name, len(by[name]), stuck)
			return
		}
	}
}

// modelFor picks an object's model by its name's prefix.
func modelFor(obj string) model {
	switch {
	case strings.HasPrefix(obj, "s3:"):
		return s3Model{}
	case strings.HasPrefix(obj, "posix:"):
		return posixModel{}
	}
	return nil
}
