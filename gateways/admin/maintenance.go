package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/annal-storage/annal/commands"
)

// Maintenance is what a node offers for on-demand chunk lifecycle work
// (ADR-013). A node that implements it serves POST /v1/scrub and
// POST /v1/gc.
type Maintenance interface {
	// Scrub runs a scrub pass, calling progress with every update.
	Scrub(ctx context.Context, progress func(commands.ScrubProgress)) (commands.ScrubProgress, error)
	// CollectGarbage runs a GC pass (on the chunk shard's leader only).
	CollectGarbage(ctx context.Context) (commands.GCReport, error)
}

// ErrNotLeader: GC runs only on the node leading the chunk shard; the
// node's error wraps it and names the leader.
var ErrNotLeader = errors.New("this node does not lead the chunk shard")

// ScrubLine is one line of the POST /v1/scrub stream: the pass's counts
// so far; the last line has phase "done" and, if the pass stopped early,
// the error.
type ScrubLine struct {
	commands.ScrubProgress
	Error string `json:"error,omitempty"`
}

// scrubProgressInterval is how often the stream reports while a pass runs.
const scrubProgressInterval = 250 * time.Millisecond

// scrub streams a pass's progress as JSON lines (application/x-ndjson)
// and returns when the pass is done.
func (h *Handler) scrub(w http.ResponseWriter, r *http.Request, m Maintenance) {
	var mu sync.Mutex
	var latest commands.ScrubProgress
	type result struct {
		p   commands.ScrubProgress
		err error
	}
	done := make(chan result, 1)
	go func() {
		p, err := m.Scrub(r.Context(), func(p commands.ScrubProgress) {
			mu.Lock()
			latest = p
			mu.Unlock()
		})
		done <- result{p, err}
	}()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	t := time.NewTicker(scrubProgressInterval)
	defer t.Stop()
	var sent commands.ScrubProgress
	for {
		select {
		case res := <-done:
			line := ScrubLine{ScrubProgress: res.p}
			if res.err != nil {
				line.Error = res.err.Error()
			}
			_ = enc.Encode(line)
			return
		case <-t.C:
			mu.Lock()
			p := latest
			mu.Unlock()
			if p == sent {
				continue
			}
			sent = p
			_ = enc.Encode(ScrubLine{ScrubProgress: p})
			if flusher != nil {
				flusher.Flush()
			}
		}
	}
}

func (h *Handler) gc(w http.ResponseWriter, r *http.Request, m Maintenance) {
	rep, err := m.CollectGarbage(r.Context())
	if errors.Is(err, ErrNotLeader) {
		writeError(w, http.StatusConflict, err)
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}
