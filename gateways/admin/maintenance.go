package admin

import (
	"context"
	"errors"
	"net/http"

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

// Finished implements PassLine.
func (l ScrubLine) Finished() (bool, string) { return l.Phase == "done", l.Error }

// scrub streams a scrub pass's progress (see streamPass).
func (h *Handler) scrub(w http.ResponseWriter, r *http.Request, m Maintenance) {
	streamPass(w, r.Context(), m.Scrub, func(p commands.ScrubProgress, err error) PassLine {
		return ScrubLine{ScrubProgress: p, Error: errorText(err)}
	})
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
