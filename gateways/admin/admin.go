// Package admin is the HTTP admin API: health, Prometheus metrics, and
// the authenticated operator endpoints that `annal admin` calls.
//
// Invariants: every /v1 endpoint requires the admin token (constant-time
// comparison); /healthz and /metrics carry no tenant content. Secrets are
// never logged.
//
// admin may import commands and projections; it must not import log/raft
// or chunks directly (the node hands it what it needs through small
// interfaces).
package admin

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/annal-storage/annal/commands"
	"github.com/annal-storage/annal/gateways/s3/sigv4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ShardStatus describes one shard replica on this node.
type ShardStatus struct {
	ID      uint64 `json:"id"`
	Kind    string `json:"kind"`
	Leader  uint64 `json:"leader"`
	LastSeq uint64 `json:"last_seq"`
	Halted  string `json:"halted,omitempty"`
}

// Status describes the node.
type Status struct {
	NodeID  uint64        `json:"node_id"`
	Version string        `json:"version"`
	Ready   bool          `json:"ready"`
	Shards  []ShardStatus `json:"shards"`
}

// Node is what the admin API needs from the running node.
type Node interface {
	Ready() bool
	Status() Status
	Service() *commands.Service
}

// Handler serves the admin API.
type Handler struct {
	node Node
	// token returns the admin token; empty until bootstrap has made it.
	token    func() string
	registry *prometheus.Registry
	log      *slog.Logger
	mux      *http.ServeMux
	verifier *sigv4.Verifier
}

// New returns the admin API handler.
func New(node Node, token func() string, registry *prometheus.Registry, log *slog.Logger) *Handler {
	h := &Handler{node: node, token: token, registry: registry, log: log, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /healthz", h.healthz)
	h.mux.Handle("GET /metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	h.mux.HandleFunc("GET /v1/status", h.auth(h.status))
	h.mux.HandleFunc("GET /v1/tenants", h.auth(h.listTenants))
	h.mux.HandleFunc("POST /v1/tenants", h.auth(h.createTenant))
	h.routesCompliance()
	h.routesKeys()
	if m, ok := node.(Maintenance); ok {
		h.mux.HandleFunc("POST /v1/scrub", h.auth(func(w http.ResponseWriter, r *http.Request) { h.scrub(w, r, m) }))
		h.mux.HandleFunc("POST /v1/gc", h.auth(func(w http.ResponseWriter, r *http.Request) { h.gc(w, r, m) }))
	}
	return h
}

func constantEqual(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *Handler) healthz(w http.ResponseWriter, _ *http.Request) {
	if !h.node.Ready() {
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

func (h *Handler) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		want := h.token()
		if !ok || want == "" || !constantEqual(got, want) {
			h.denied(r, "", "admin token")
			writeError(w, http.StatusUnauthorized, errors.New("missing or wrong admin token"))
			return
		}
		next(w, r)
	}
}

func (h *Handler) status(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, h.node.Status())
}

// TenantView is a tenant as the admin API shows it.
type TenantView struct {
	ID         uint64   `json:"id"`
	Name       string   `json:"name"`
	Org        string   `json:"org"`
	Project    string   `json:"project,omitempty"`
	Workload   string   `json:"workload,omitempty"`
	Compliance []string `json:"compliance,omitempty"`
}

func (h *Handler) listTenants(w http.ResponseWriter, r *http.Request) {
	ts, err := h.node.Service().Tenants(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	out := make([]TenantView, 0, len(ts))
	for _, t := range ts {
		out = append(out, TenantView{ID: t.ID, Name: t.Name, Org: t.Org, Project: t.Project, Workload: t.Workload, Compliance: t.Compliance})
	}
	writeJSON(w, http.StatusOK, out)
}

// CreateTenantRequest is the body of POST /v1/tenants.
type CreateTenantRequest struct {
	Name       string   `json:"name"`
	Org        string   `json:"org,omitempty"`
	Project    string   `json:"project,omitempty"`
	Workload   string   `json:"workload,omitempty"`
	Compliance []string `json:"compliance,omitempty"`
}

// CreateTenantResponse carries the new tenant's first credentials.
type CreateTenantResponse struct {
	Tenant          TenantView `json:"tenant"`
	AccessKeyID     string     `json:"access_key_id"`
	SecretAccessKey string     `json:"secret_access_key"`
}

func (h *Handler) createTenant(w http.ResponseWriter, r *http.Request) {
	var req CreateTenantRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil || req.Name == "" {
		writeError(w, http.StatusBadRequest, errors.New("body must be JSON with a name"))
		return
	}
	t, ak, err := h.node.Service().CreateTenant(r.Context(), "admin", commands.TenantSpec{
		Name: req.Name, Org: req.Org, Project: req.Project, Workload: req.Workload, Compliance: req.Compliance})
	if errors.Is(err, commands.ErrAlreadyExists) {
		writeError(w, http.StatusConflict, err)
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusCreated, CreateTenantResponse{
		Tenant:      TenantView{ID: t.ID, Name: t.Name, Org: t.Org, Project: t.Project, Workload: t.Workload, Compliance: t.Compliance},
		AccessKeyID: ak.ID, SecretAccessKey: ak.Secret})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}
