package commands

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"

	annallog "github.com/annal-storage/annal/log"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/projections"
	"github.com/annal-storage/annal/projections/control"
	"github.com/vmihailenco/msgpack/v5"
)

// Domain errors, re-exported for gateways.
var (
	ErrNotFound           = projections.ErrNotFound
	ErrAlreadyExists      = projections.ErrAlreadyExists
	ErrNotEmpty           = projections.ErrNotEmpty
	ErrInvalid            = projections.ErrInvalid
	ErrPreconditionFailed = projections.ErrPreconditionFailed
	ErrNotDirectory       = projections.ErrNotDirectory
	ErrIsDirectory        = projections.ErrIsDirectory
	ErrParentNotDirectory = projections.ErrParentNotDirectory
	ErrNoSuchUpload       = projections.ErrNoSuchUpload
	ErrNoSuchVersion      = projections.ErrNoSuchVersion
	ErrInvalidPart        = projections.ErrInvalidPart
	ErrInvalidPartOrder   = projections.ErrInvalidPartOrder
	ErrEntityTooSmall     = projections.ErrEntityTooSmall
	ErrNoData             = projections.ErrNoData
	ErrLoop               = projections.ErrLoop
	// ErrNamespaceSealed: the bucket is being deleted.
	ErrNamespaceSealed = projections.ErrNamespaceSealed
	// ErrNoSuchBucket: the caller's tenant has no namespace of that name.
	ErrNoSuchBucket = errors.New("no such bucket")
	// ErrAccessDenied: the principal may not do this.
	ErrAccessDenied = errors.New("access denied")
	// ErrConflict: the proposal kept losing races; the caller may retry.
	ErrConflict = errors.New("conflicting concurrent update")
	// ErrUnavailable: a shard cannot serve now (no leader, timeouts); the
	// caller may retry later. ErrAmbiguous: a write may or may not have
	// happened. Both are retriable (S3 503).
	ErrUnavailable = annallog.ErrUnavailable
	ErrAmbiguous   = annallog.ErrAmbiguous
	// ErrCrossDevice: the operation would span namespaces (EXDEV).
	ErrCrossDevice = errors.New("cross-namespace operation")
)

// Log is what commands need from the replicated log (log/raft.Host in
// production).
type Log interface {
	// Ensure starts this node's replica of a shard if needed and waits
	// until the shard can take requests.
	Ensure(ctx context.Context, shard uint64, kind annallog.Kind) error
	// Propose submits a proposal and waits until it is applied here.
	Propose(ctx context.Context, shard uint64, p annallog.Proposal) (annallog.Result, error)
	// Read returns a linearizable view of a shard's projection.
	Read(ctx context.Context, shard uint64) (annallog.View, error)
	// LocalRead returns this replica's current view without a barrier.
	LocalRead(shard uint64) annallog.View
}

// Pending is one event a decision wants to append.
type Pending struct {
	Body event.Body
	// Key, when set, is hashed into the header's KeyHash.
	Key    string
	Header event.Header
	// ID, when set, is the event's id; otherwise Build draws one. Decide
	// functions set it when the outcome depends on it (a created inode's
	// number derives from the id of the event that creates it).
	ID event.ID
}

// Decision is the output of a decide function: guards and events for one
// shard.
type Decision struct {
	Shard  uint64
	Tenant uint64
	Actor  string
	Guards []event.Guard
	Events []Pending
}

// ControlShard is the shard id of the control shard.
const ControlShard uint64 = 1

// maxAttempts bounds re-decisions after rejected proposals.
const maxAttempts = 16

// Config configures a Service.
type Config struct {
	Log Log
	Env Env
	// KeyHashSecret keys the hash of object keys in event headers.
	KeyHashSecret []byte
	// KeyWrapKey seals key material (master keys, tenant KEKs) in the key
	// shards.
	KeyWrapKey []byte
	// InlineThresholdBytes: data of at most this many bytes rides in the
	// event (default 4096).
	InlineThresholdBytes int
	// Data stores and reads chunked content; nil limits objects to inline
	// sizes.
	Data *Data
	// Backoff waits before retrying an unavailable shard; it returns an
	// error when the caller should give up.
	Backoff func(ctx context.Context, attempt int) error
	Logger  *slog.Logger
	// TenantKeyCheck, when set, is asked before a tenant's namespaces are
	// served: it fails once the tenant's KEK is destroyed or cannot be
	// confirmed after the KEK cache TTL (ADR-014).
	TenantKeyCheck func(ctx context.Context, tenant uint64) error
	// InvalidateTenant drops this node's cached key of a tenant (the
	// local end of a shred's broadcast).
	InvalidateTenant func(tenant uint64)
	// ShardInfo returns a shard's last sequence and event GC point on
	// this node (event GC); nil disables event GC.
	ShardInfo func(shard uint64) (last, compacted uint64, err error)
	// Events reads a shard's stored events on this node (the audit
	// consumer and export); nil disables them.
	Events EventReader
}

// EventReader calls fn with the stored events of a shard from seq on, in
// order, until fn returns false (log.ReadEvents on the node's store).
type EventReader func(shard, from uint64, fn func(seq uint64, raw []byte) (bool, error)) error

// Service runs commands against the log.
type Service struct {
	cfg Config
	log Log
	env Env

	security securityQueue
}

// NewService returns a Service.
func NewService(cfg Config) *Service {
	if cfg.InlineThresholdBytes == 0 {
		cfg.InlineThresholdBytes = 4096
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Backoff == nil {
		cfg.Backoff = func(ctx context.Context, attempt int) error {
			if attempt >= 3 {
				return errors.New("giving up")
			}
			return ctx.Err()
		}
	}
	return &Service{cfg: cfg, log: cfg.Log, env: cfg.Env}
}

// Env returns the service's environment.
func (s *Service) Env() Env { return s.cfg.Env }

// Build turns a decision into a proposal: ids, timestamps, key hashes and
// payloads. Exported for the simulator, which proposes through its own
// log.
func Build(env Env, keyHashSecret []byte, d *Decision) (annallog.Proposal, error) {
	p := annallog.Proposal{}
	sealing := SealingFor(d.Shard)
	if env.Payloads == nil {
		sealing = event.SealingNone
	}
	var first *event.Envelope
	for _, pe := range d.Events {
		body, err := event.EncodeBody(pe.Body)
		if err != nil {
			return p, err
		}
		id := pe.ID
		if id == (event.ID{}) {
			id = env.EventID()
		}
		e := event.Envelope{Version: event.FormatVersion, Type: pe.Body.EventType(), Shard: d.Shard,
			HLC: env.Clock.Now(), Tenant: d.Tenant, Actor: d.Actor, ID: id, Header: pe.Header}
		if pe.Key != "" {
			e.Header.KeyHash = KeyHash(keyHashSecret, d.Shard, pe.Key)
		}
		s := sealing
		if s != event.SealingNone && event.SystemSealed(e.Type) {
			s = event.SealingSystem // no tenant content; must open after a shred
		}
		if err := event.Seal(env.Payloads, &e, s, body); err != nil {
			return p, err
		}
		raw, err := e.Encode()
		if err != nil {
			return p, err
		}
		p.Events = append(p.Events, raw)
		if first == nil {
			first = &e
		}
	}
	return p, sealGuards(env, &p, d.Guards, first)
}

func sealGuards(env Env, p *annallog.Proposal, guards []event.Guard, first *event.Envelope) error {
	if len(guards) == 0 {
		return nil
	}
	if first == nil || first.Sealing == event.SealingNone {
		p.Guards = guards
		return nil
	}
	raw, err := msgpack.Marshal(guards)
	if err != nil {
		return fmt.Errorf("encode guards: %w", err)
	}
	p.SealedGuards, err = event.SealGuards(env.Payloads, first, raw)
	return err
}

// SealingFor says how a shard's payloads are sealed: namespace shards are
// tenant content (tenant key); system shards use the system key, and so
// do audit shards, whose records must outlive a crypto-shred (their
// tenant content is sealed inside the record, ADR-014).
func SealingFor(shard uint64) event.Sealing {
	if IsAuditShard(shard) {
		return event.SealingSystem
	}
	if shard >= control.FirstNamespaceShard {
		return event.SealingTenant
	}
	return event.SealingSystem
}

// KeyHash is the keyed hash of an object key that event headers carry in
// place of the name.
func KeyHash(secret []byte, shard uint64, key string) []byte {
	m := hmac.New(sha256.New, secret)
	fmt.Fprintf(m, "%d/", shard)
	m.Write([]byte(key))
	return m.Sum(nil)[:16]
}

// ResultError turns a non-accepted result into the domain error.
func ResultError(res annallog.Result) error {
	switch res.Status {
	case annallog.StatusAccepted, annallog.StatusDuplicate:
		return nil
	case annallog.StatusRejected:
		return projections.ErrorFromCode(res.Code, res.Reason)
	}
	return fmt.Errorf("%w: %s", annallog.ErrHalted, res.Reason)
}

// run reads a linearizable view of shard, decides, proposes, and decides
// again while proposals are rejected because the state moved.
func (s *Service) run(ctx context.Context, shard uint64, decide func(v kv.Reader) (*Decision, error)) (*Decision, annallog.Result, error) {
	var lastErr error
	for attempt := 0; attempt < maxAttempts; attempt++ {
		d, err := s.decideOn(ctx, shard, decide)
		if err != nil || d == nil {
			return d, annallog.Result{}, err
		}
		res, err := s.propose(ctx, d)
		if err != nil {
			return d, res, err
		}
		if res.Status != annallog.StatusRejected {
			return d, res, ResultError(res)
		}
		lastErr = ResultError(res)
	}
	return nil, annallog.Result{}, fmt.Errorf("%w: %v", ErrConflict, lastErr)
}

func (s *Service) decideOn(ctx context.Context, shard uint64, decide func(v kv.Reader) (*Decision, error)) (*Decision, error) {
	v, err := s.read(ctx, shard)
	if err != nil {
		return nil, err
	}
	defer v.Close()
	d, err := decide(v)
	if err != nil || d == nil {
		return d, err
	}
	return d, s.checkHolds(v, d)
}

// read returns a linearizable view of a shard, retrying (with the
// configured backoff) while the shard is unavailable.
func (s *Service) read(ctx context.Context, shard uint64) (annallog.View, error) {
	for attempt := 0; ; attempt++ {
		v, err := s.log.Read(ctx, shard)
		if err == nil {
			return v, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		if berr := s.cfg.Backoff(ctx, attempt); berr != nil {
			return nil, err
		}
	}
}

// propose submits a decision; after an ambiguous failure it resubmits the
// same bytes, which the apply path deduplicates by event id.
func (s *Service) propose(ctx context.Context, d *Decision) (annallog.Result, error) {
	p, err := Build(s.env, s.cfg.KeyHashSecret, d)
	if err != nil {
		return annallog.Result{}, err
	}
	for attempt := 0; ; attempt++ {
		res, err := s.log.Propose(ctx, d.Shard, p)
		if err == nil {
			return res, nil
		}
		if berr := s.cfg.Backoff(ctx, attempt); berr != nil {
			return res, err
		}
	}
}
