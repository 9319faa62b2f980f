package admin

import (
	"context"
	"net/http"

	"github.com/annal-storage/annal/commands"
)

// Key rotation (ADR-015): GET /v1/keys shows the system epochs, the
// current one, the chunk shard's epoch floor and how many chunks each
// epoch still seals; POST /v1/keys/rotate starts a new epoch; POST
// /v1/keys/reencrypt runs a re-encryption pass on this node and streams
// its progress as JSON lines until it is done.

// KeyRotation is what a node offers for key rotation. A node that
// implements it serves POST /v1/keys/rotate and /v1/keys/reencrypt.
type KeyRotation interface {
	// RotateKeys starts a new system epoch and wakes re-encryption.
	RotateKeys(ctx context.Context) (uint32, error)
	// Reencrypt runs a re-encryption pass, calling progress with every
	// update.
	Reencrypt(ctx context.Context, progress func(commands.ReencryptProgress)) (commands.ReencryptProgress, error)
}

// RotateResponse is the answer of POST /v1/keys/rotate.
type RotateResponse struct {
	Epoch uint32 `json:"epoch"`
}

// ReencryptLine is one line of the POST /v1/keys/reencrypt stream: the
// pass's counts so far; the last has phase "done" and, if the pass stopped
// early, the error.
type ReencryptLine struct {
	commands.ReencryptProgress
	Error string `json:"error,omitempty"`
}

// Finished implements PassLine.
func (l ReencryptLine) Finished() (bool, string) { return l.Phase == "done", l.Error }

func (h *Handler) routesKeys() {
	h.mux.HandleFunc("GET /v1/keys", h.auth(h.keyStatus))
	if k, ok := h.node.(KeyRotation); ok {
		h.mux.HandleFunc("POST /v1/keys/rotate", h.auth(func(w http.ResponseWriter, r *http.Request) { h.rotateKeys(w, r, k) }))
		h.mux.HandleFunc("POST /v1/keys/reencrypt", h.auth(func(w http.ResponseWriter, r *http.Request) { h.reencrypt(w, r, k) }))
	}
}

func (h *Handler) keyStatus(w http.ResponseWriter, r *http.Request) {
	st, err := h.node.Service().KeyStatus(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (h *Handler) rotateKeys(w http.ResponseWriter, r *http.Request, k KeyRotation) {
	epoch, err := k.RotateKeys(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	h.log.Info("system key rotated", "epoch", epoch)
	writeJSON(w, http.StatusOK, RotateResponse{Epoch: epoch})
}

// reencrypt streams a re-encryption pass's progress (see streamPass).
func (h *Handler) reencrypt(w http.ResponseWriter, r *http.Request, k KeyRotation) {
	streamPass(w, r.Context(), k.Reencrypt, func(p commands.ReencryptProgress, err error) PassLine {
		return ReencryptLine{ReencryptProgress: p, Error: errorText(err)}
	})
}
