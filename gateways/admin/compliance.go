package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/annal-storage/annal/commands"
	"github.com/annal-storage/annal/gateways/s3/sigv4"
	"github.com/annal-storage/annal/keys"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/projections/control"
)

// Compliance endpoints (ADR-014): tenants (show, KEK TTL, tags, shred),
// retention holds and the audit export. Cluster admins authenticate with
// the admin token; tenant admins sign with one of their tenant's access
// keys (SigV4) and see only their tenant.

// caller is an authenticated admin API caller.
type caller struct {
	admin  bool
	tenant uint64
	actor  string
}

func (h *Handler) routesCompliance() {
	v, err := sigv4.New(sigv4.Config{Now: time.Now, Credentials: sigv4.CredentialsFunc(func(ctx context.Context, id string) (string, any, error) {
		secret, p, err := h.node.Service().Credentials(ctx, id)
		if errors.Is(err, commands.ErrNotFound) {
			return "", nil, fmt.Errorf("%w: %v", sigv4.ErrUnknownAccessKey, err)
		}
		return secret, p, err
	})})
	if err != nil {
		panic(fmt.Sprintf("admin: sigv4 verifier: %v", err)) // static configuration
	}
	h.verifier = v
	for pattern, fn := range map[string]func(http.ResponseWriter, *http.Request, caller){
		"GET /v1/tenants/{name}":             h.showTenant,
		"POST /v1/tenants/{name}/ttl":        h.setTTL,
		"POST /v1/tenants/{name}/tags":       h.setTags,
		"POST /v1/tenants/{name}/shred":      h.shred,
		"GET /v1/holds":                      h.listHolds,
		"POST /v1/holds":                     h.placeHold,
		"POST /v1/holds/{id}/extend":         h.extendHold,
		"POST /v1/holds/{id}/release":        h.releaseHold,
		"GET /v1/audit/export":               h.exportAudit,
		"POST /v1/tenants/{name}/audit-mode": h.auditMode,
	} {
		h.mux.HandleFunc(pattern, h.authAny(fn))
	}
}

// authAny accepts the admin token or a tenant's SigV4 signature; a
// failure is audited.
func (h *Handler) authAny(next func(http.ResponseWriter, *http.Request, caller)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			if want := h.token(); want != "" && constantEqual(got, want) {
				next(w, r, caller{admin: true, actor: "admin"})
				return
			}
			h.denied(r, "", "admin token")
			writeError(w, http.StatusUnauthorized, errors.New("wrong admin token"))
			return
		}
		res, err := h.verifier.Verify(r)
		if err != nil {
			h.denied(r, "", err.Error())
			writeError(w, http.StatusUnauthorized, fmt.Errorf("authentication: %w", err))
			return
		}
		p, _ := res.Principal.(commands.Principal)
		r.Body = res.Body
		next(w, r, caller{tenant: p.Tenant, actor: p.AccessKey})
	}
}

// denied queues the audit record of a refused admin API call.
func (h *Handler) denied(r *http.Request, actor, why string) {
	h.node.Service().RecordSecurity(event.AuditRecorded{Category: event.AuditCategorySecurity, Op: "AdminAPI " + r.Method + " " + r.URL.Path,
		Actor: actor, Outcome: event.AuditOutcomeDenied, Code: "AuthenticationFailed", Details: []event.Pair{{K: "reason", V: why}}})
}

// tenantOf resolves a tenant name the caller may act on: the cluster
// admin any, a tenant admin only its own (others look absent).
func (h *Handler) tenantOf(w http.ResponseWriter, r *http.Request, c caller, name string) (control.Tenant, bool) {
	t, err := h.node.Service().TenantByName(r.Context(), name)
	if err == nil && !c.admin && t.ID != c.tenant {
		h.node.Service().RecordSecurity(event.AuditRecorded{TenantID: c.tenant, Op: "AdminAPI " + r.Method + " " + r.URL.Path,
			Actor: c.actor, Outcome: event.AuditOutcomeDenied, Code: "TenantAccessDenied"})
		err = fmt.Errorf("%w: tenant %q", commands.ErrNotFound, name)
	}
	if err != nil {
		writeDomainError(w, err)
		return t, false
	}
	return t, true
}

// writeDomainError maps a domain error to a status.
func writeDomainError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, commands.ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, commands.ErrAlreadyExists):
		code = http.StatusConflict
	case errors.Is(err, commands.ErrRetentionHoldRequired), errors.Is(err, commands.ErrUnderRetention), errors.Is(err, commands.ErrPreconditionFailed):
		code = http.StatusPreconditionFailed
	case errors.Is(err, commands.ErrInvalid):
		code = http.StatusBadRequest
	case errors.Is(err, commands.ErrUnavailable), errors.Is(err, keys.ErrKekUnavailable):
		code = http.StatusServiceUnavailable
	}
	writeError(w, code, err)
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(v); err != nil && !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, fmt.Errorf("body: %w", err))
		return false
	}
	return true
}

// TenantDetail is GET /v1/tenants/{name}.
type TenantDetail struct {
	TenantView
	Shredded     bool       `json:"shredded,omitempty"`
	ShreddedAt   string     `json:"shredded_at,omitempty"`
	KekTTL       uint32     `json:"kek_ttl_seconds"`
	KekDestroyed bool       `json:"kek_destroyed,omitempty"`
	Buckets      []string   `json:"buckets"`
	Holds        []HoldView `json:"holds"`
	Backpressure bool       `json:"audit_backpressure,omitempty"`
}

func (h *Handler) showTenant(w http.ResponseWriter, r *http.Request, c caller) {
	t, ok := h.tenantOf(w, r, c, r.PathValue("name"))
	if !ok {
		return
	}
	svc := h.node.Service()
	d := TenantDetail{TenantView: tenantView(t), Shredded: t.Shredded, Backpressure: t.Backpressure, Buckets: []string{}}
	if t.Shredded {
		d.ShreddedAt = time.Unix(0, t.ShreddedNs).UTC().Format(time.RFC3339)
	}
	if tk, err := svc.TenantKeyInfo(r.Context(), t.ID); err == nil {
		d.KekTTL, d.KekDestroyed = tk.TTL(), tk.Destroyed
	}
	if !t.Shredded {
		bs, err := svc.ListBuckets(r.Context(), commands.Principal{Tenant: t.ID})
		if err != nil {
			writeDomainError(w, err)
			return
		}
		for _, b := range bs {
			d.Buckets = append(d.Buckets, b.Name)
		}
	}
	hs, err := svc.Holds(r.Context(), t.ID)
	if err != nil {
		writeDomainError(w, err)
		return
	}
	d.Holds = h.holdViews(hs, c)
	writeJSON(w, http.StatusOK, d)
}

func tenantView(t control.Tenant) TenantView {
	return TenantView{ID: t.ID, Name: t.Name, Org: t.Org, Project: t.Project, Workload: t.Workload, Compliance: t.Compliance}
}

// TTLRequest is the body of POST /v1/tenants/{name}/ttl.
type TTLRequest struct {
	Seconds uint32 `json:"seconds"`
}

func (h *Handler) setTTL(w http.ResponseWriter, r *http.Request, c caller) {
	var req TTLRequest
	t, ok := h.tenantOf(w, r, c, r.PathValue("name"))
	if !ok || !decodeBody(w, r, &req) {
		return
	}
	if err := h.node.Service().SetKekTTL(r.Context(), c.actor, t.ID, req.Seconds); err != nil {
		writeDomainError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"tenant": t.Name, "kek_ttl_seconds": req.Seconds})
}

// TagsRequest is the body of POST /v1/tenants/{name}/tags: the tenant's
// tags, or a bucket's when Bucket is set.
type TagsRequest struct {
	Bucket string   `json:"bucket,omitempty"`
	Tags   []string `json:"tags"`
}

func (h *Handler) setTags(w http.ResponseWriter, r *http.Request, c caller) {
	var req TagsRequest
	t, ok := h.tenantOf(w, r, c, r.PathValue("name"))
	if !ok || !decodeBody(w, r, &req) {
		return
	}
	if err := h.node.Service().SetComplianceTags(r.Context(), c.actor, t.ID, req.Bucket, req.Tags); err != nil {
		writeDomainError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, req)
}

// ShredRequest is the body of POST /v1/tenants/{name}/shred.
type ShredRequest struct {
	Force  bool   `json:"force,omitempty"`
	Reason string `json:"reason,omitempty"`
}

func (h *Handler) shred(w http.ResponseWriter, r *http.Request, c caller) {
	var req ShredRequest
	t, ok := h.tenantOf(w, r, c, r.PathValue("name"))
	if !ok || !decodeBody(w, r, &req) {
		return
	}
	rep, err := h.node.Service().ShredTenant(r.Context(), c.actor, t.Name, commands.ShredOptions{Force: req.Force, Reason: req.Reason})
	if err != nil {
		writeDomainError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// AuditModeRequest is the body of POST /v1/tenants/{name}/audit-mode.
type AuditModeRequest struct {
	Backpressure bool  `json:"backpressure"`
	ValveSeconds int64 `json:"valve_seconds,omitempty"`
}

func (h *Handler) auditMode(w http.ResponseWriter, r *http.Request, c caller) {
	var req AuditModeRequest
	t, ok := h.tenantOf(w, r, c, r.PathValue("name"))
	if !ok || !decodeBody(w, r, &req) {
		return
	}
	if err := h.node.Service().SetAuditPolicy(r.Context(), c.actor, t.ID, req.Backpressure, req.ValveSeconds); err != nil {
		writeDomainError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, req)
}

// HoldView is a hold as the admin API shows it. Object keys are tenant
// content: only the tenant's own admin sees them.
type HoldView struct {
	ID        string `json:"id"`
	Tenant    uint64 `json:"tenant"`
	Scope     string `json:"scope"`
	Bucket    string `json:"bucket,omitempty"`
	Key       string `json:"key,omitempty"`
	KeyHash   string `json:"key_hash,omitempty"`
	Reason    string `json:"reason,omitempty"`
	Source    string `json:"source"`
	State     string `json:"state"`
	Placed    string `json:"placed"`
	Expires   string `json:"expires,omitempty"`
	Floor     string `json:"compliance_floor,omitempty"`
	Ended     string `json:"ended,omitempty"`
	Retention bool   `json:"retains_shredded_chunks,omitempty"`
}

func rfc(ns int64) string {
	if ns == 0 {
		return ""
	}
	return time.Unix(0, ns).UTC().Format(time.RFC3339)
}

func (h *Handler) holdViews(hs []control.Hold, c caller) []HoldView {
	out := []HoldView{}
	for _, x := range hs {
		v := HoldView{ID: x.ID, Tenant: x.TenantID, Scope: x.Scope, Bucket: x.Namespace, Reason: x.Reason, Source: x.Source,
			State: x.State, Placed: rfc(x.PlacedNs), Expires: rfc(x.ExpiresNs), Floor: rfc(x.FloorNs), Ended: rfc(x.EndedNs),
			Retention: x.Token != [16]byte{}}
		if x.Scope == event.HoldScopeObject {
			v.KeyHash = fmt.Sprintf("%x", x.KeyHash)
			if !c.admin {
				v.Key, _ = h.node.Service().HoldKey(x)
			}
		}
		out = append(out, v)
	}
	return out
}

func (h *Handler) listHolds(w http.ResponseWriter, r *http.Request, c caller) {
	tenant := c.tenant
	if name := r.URL.Query().Get("tenant"); name != "" {
		t, ok := h.tenantOf(w, r, c, name)
		if !ok {
			return
		}
		tenant = t.ID
	}
	hs, err := h.node.Service().Holds(r.Context(), tenant)
	if err != nil {
		writeDomainError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, h.holdViews(hs, c))
}

// HoldRequest is the body of POST /v1/holds. Duration is "30d", "6y" or
// a Go duration; empty holds until released.
type HoldRequest struct {
	Tenant   string `json:"tenant"`
	Scope    string `json:"scope"`
	Bucket   string `json:"bucket,omitempty"`
	Key      string `json:"key,omitempty"`
	Reason   string `json:"reason"`
	Duration string `json:"duration,omitempty"`
}

// ParseHoldDuration reads "30d", "6y" or a Go duration.
func ParseHoldDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.Atoi(s[:len(s)-1]); err == nil && n > 0 {
		switch s[len(s)-1] {
		case 'd':
			return time.Duration(n) * 24 * time.Hour, nil
		case 'y':
			return time.Duration(n) * 365 * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("duration %q: want 30d, 6y or a Go duration", s)
	}
	return d, nil
}

func (h *Handler) placeHold(w http.ResponseWriter, r *http.Request, c caller) {
	var req HoldRequest
	if !decodeBody(w, r, &req) {
		return
	}
	t, ok := h.tenantOf(w, r, c, req.Tenant)
	if !ok {
		return
	}
	d, err := ParseHoldDuration(req.Duration)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	hold, err := h.node.Service().PlaceHold(r.Context(), c.actor, commands.HoldSpec{Tenant: t.ID, Scope: req.Scope,
		Bucket: req.Bucket, Key: req.Key, Reason: req.Reason, DurationNs: d.Nanoseconds()})
	if err != nil {
		writeDomainError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, h.holdViews([]control.Hold{hold}, c)[0])
}

// HoldChangeRequest is the body of extend and release: Until (RFC 3339)
// or Duration (from now) for extend.
type HoldChangeRequest struct {
	Until    string `json:"until,omitempty"`
	Duration string `json:"duration,omitempty"`
	Reason   string `json:"reason"`
}

// holdOf returns a hold the caller may change.
func (h *Handler) holdOf(w http.ResponseWriter, r *http.Request, c caller) (control.Hold, bool) {
	hold, err := h.node.Service().Hold(r.Context(), r.PathValue("id"))
	if err == nil && !c.admin && hold.TenantID != c.tenant {
		err = fmt.Errorf("%w: hold %s", commands.ErrNotFound, r.PathValue("id"))
	}
	if err != nil {
		writeDomainError(w, err)
		return hold, false
	}
	return hold, true
}

func (h *Handler) extendHold(w http.ResponseWriter, r *http.Request, c caller) {
	var req HoldChangeRequest
	hold, ok := h.holdOf(w, r, c)
	if !ok || !decodeBody(w, r, &req) {
		return
	}
	until, err := time.Parse(time.RFC3339, req.Until)
	if req.Until == "" {
		var d time.Duration
		d, err = ParseHoldDuration(req.Duration)
		until = time.Now().Add(d)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	got, err := h.node.Service().ExtendHold(r.Context(), c.actor, hold.ID, until.UnixNano(), req.Reason)
	if err != nil {
		writeDomainError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, h.holdViews([]control.Hold{got}, c)[0])
}

func (h *Handler) releaseHold(w http.ResponseWriter, r *http.Request, c caller) {
	var req HoldChangeRequest
	hold, ok := h.holdOf(w, r, c)
	if !ok || !decodeBody(w, r, &req) {
		return
	}
	got, err := h.node.Service().ReleaseHold(r.Context(), c.actor, hold.ID, req.Reason)
	if err != nil {
		writeDomainError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, h.holdViews([]control.Hold{got}, c)[0])
}

// exportPoll is how often a follow export looks for new records.
const exportPoll = 500 * time.Millisecond

// exportAudit streams audit lines (application/x-ndjson): a tenant admin
// gets its tenant's shard, the cluster admin the system shard (tenant ids
// as opaque hashes). since=SEQ starts there; follow=1 keeps streaming.
// Every batch written advances the shard's export watermark.
func (h *Handler) exportAudit(w http.ResponseWriter, r *http.Request, c caller) {
	tenant := c.tenant
	if name := r.URL.Query().Get("tenant"); name != "" {
		if c.admin {
			// A shredded tenant has no admin left; its audit (targets
			// sealed for ever) is the cluster admin's to export.
			t, err := h.node.Service().TenantByName(r.Context(), name)
			if err != nil || !t.Shredded {
				writeError(w, http.StatusForbidden, errors.New("the cluster admin exports the system audit (tenant ids anonymised) and shredded tenants' audits; a live tenant's audit needs its credentials"))
				return
			}
			tenant = t.ID
		}
		if !c.admin {
			if _, ok := h.tenantOf(w, r, c, name); !ok {
				return
			}
		}
	}
	from, sinceNs, err := parseSince(r.URL.Query().Get("since"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	follow := r.URL.Query().Get("follow") != ""
	svc := h.node.Service()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	for {
		last, err := svc.ExportAudit(r.Context(), tenant, from, func(l commands.AuditLine) error {
			if l.WallNs < sinceNs && sinceNs > 0 {
				return nil // before --since TIME
			}
			return enc.Encode(l)
		})
		if err != nil {
			_ = enc.Encode(map[string]string{"error": err.Error()})
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
		if last >= from && last > 0 {
			// A time-filtered export skipped records: it does not count
			// as delivering them.
			if sinceNs == 0 {
				if err := svc.AdvanceAuditExport(r.Context(), tenant, last); err != nil {
					h.log.Warn("advance audit export watermark", "err", err)
				}
			}
			from = last + 1
		}
		if !follow {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-time.After(exportPoll):
		}
	}
}

// parseSince reads since= as a record sequence or an RFC 3339 time.
func parseSince(s string) (uint64, int64, error) {
	if s == "" {
		return 1, 0, nil
	}
	if seq, err := strconv.ParseUint(s, 10, 64); err == nil {
		return seq, 0, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, 0, fmt.Errorf("since %q: want a sequence number or an RFC 3339 time", s)
	}
	return 1, t.UnixNano(), nil
}
