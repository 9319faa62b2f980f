package commands

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/projections/audit"
	"github.com/annal-storage/annal/projections/control"
)

// Auditing (ADR-014). Mutations are recorded by an audit consumer, not on
// the request path: every accepted event is already durable in its
// shard's event store, so the consumer (ConsumeAudit, run by the node
// leading each audit shard) turns source events into AuditRecorded
// records in source order, together with AuditSourceConsumed marks, and
// the audit projection refuses a source event recorded twice. An
// acknowledged mutation therefore always gets its record, after a crash
// too, and an S3 PUT waits for no second Raft round trip. Decisions that
// leave no event (authentication failures, denials, refused shreds) are
// recorded directly: queued (RecordSecurity) and proposed by FlushAudit,
// or proposed at once where the order matters (a forced shred).

// auditActor proposes the consumer's records.
const auditActor = "system:audit"

// consumerBatch bounds the source events one consumer proposal records.
const consumerBatch = 256

// auditSource is one shard an audit shard records events of; tenant
// filters events by their envelope's tenant (0: all).
type auditSource struct {
	shard  uint64
	tenant uint64
}

// auditSources lists what an audit shard consumes: the system shard
// records the control, keys and KEK shards; a tenant's records that
// tenant's control and KEK events and every event of its namespace
// shards that are not purged.
func auditSources(v kv.Reader, tenant uint64) ([]auditSource, error) {
	if tenant == 0 {
		return []auditSource{{ControlShard, 0}, {KeysShard, 0}, {KekShard, 0}}, nil
	}
	out := []auditSource{{ControlShard, tenant}, {KekShard, tenant}}
	owners, ids, err := control.NamespaceShards(v)
	for _, id := range ids {
		if o := owners[id]; o.TenantID == tenant && !o.Purged {
			out = append(out, auditSource{id, 0})
		}
	}
	return out, err
}

// auditShardFor is the audit shard of a tenant (0: the system's).
func auditShardFor(tenant uint64) uint64 {
	if tenant == 0 {
		return SystemAuditShard
	}
	return AuditShardOf(tenant)
}

// ConsumeAudit records every source event of one audit shard (tenant 0:
// the system's) not yet recorded, in batches; it returns how many records
// it proposed. Run it on the node leading that audit shard; a racing
// consumer elsewhere only makes proposals that the projection refuses.
func (s *Service) ConsumeAudit(ctx context.Context, tenant uint64) (int, error) {
	if s.cfg.Events == nil {
		return 0, nil
	}
	shard := auditShardFor(tenant)
	if err := s.ensureAudit(ctx, shard); err != nil {
		return 0, err
	}
	cv := s.log.LocalRead(ControlShard)
	sources, err := auditSources(cv, tenant)
	cv.Close()
	if err != nil {
		return 0, err
	}
	total := 0
	for _, src := range sources {
		for {
			n, more, err := s.consumeSource(ctx, tenant, shard, src)
			total += n
			if err != nil {
				return total, fmt.Errorf("audit consumer, shard %d: %w", src.shard, err)
			}
			if !more {
				break
			}
		}
	}
	return total, nil
}

// consumeSource records one batch of a source shard's events.
func (s *Service) consumeSource(ctx context.Context, tenant, shard uint64, src auditSource) (int, bool, error) {
	v, err := s.read(ctx, shard)
	if err != nil {
		return 0, false, err
	}
	from, err := audit.Consumed(v, src.shard)
	v.Close()
	if err != nil {
		return 0, false, err
	}
	d := &Decision{Shard: shard, Tenant: tenant, Actor: auditActor}
	var last uint64
	read := 0
	err = s.cfg.Events(src.shard, from+1, func(seq uint64, raw []byte) (bool, error) {
		env, err := event.Decode(raw)
		if err != nil {
			return false, err
		}
		last, read = seq, read+1
		if src.tenant == 0 || env.Tenant == src.tenant {
			d.Events = append(d.Events, s.derivedRecord(&env, src.shard, tenant))
		}
		return read < consumerBatch, nil
	})
	if err != nil || read == 0 {
		return 0, false, err
	}
	d.Events = append(d.Events, Pending{Body: &event.AuditSourceConsumed{SourceShard: src.shard, ThroughSeq: last}})
	res, err := s.propose(ctx, d)
	if err == nil {
		err = ResultError(res)
	}
	if errors.Is(err, ErrAlreadyExists) || errors.Is(err, ErrPreconditionFailed) {
		return 0, false, nil // another consumer recorded them first
	}
	return len(d.Events) - 1, read == consumerBatch, err
}

// derivedRecord builds the record of one source event. For a tenant's
// audit shard the event's target (object key, bucket name, file name) is
// read from its tenant-sealed payload and sealed again, under the
// tenant's key, into the record; the system shard records no tenant
// content.
func (s *Service) derivedRecord(env *event.Envelope, src, tenant uint64) Pending {
	id := s.env.EventID()
	rec := &event.AuditRecorded{TenantID: env.Tenant, Category: categoryOf(src), Op: env.Type.String(), Actor: env.Actor,
		Outcome: event.AuditOutcomeSuccess, KeyHash: env.Header.KeyHash, SourceShard: src, SourceSeq: env.Seq,
		WallNs: env.HLC.WallMs * 1_000_000, Target: fmt.Sprintf("shard %d seq %d", src, env.Seq)}
	if tenant != 0 {
		target, err := s.eventTarget(env)
		switch {
		case err != nil:
			rec.Details = append(rec.Details, event.Pair{K: "target", V: "unavailable: " + err.Error()})
		case target != "":
			rec.SealedTarget, err = s.sealTarget(tenant, id, target)
			if err != nil {
				rec.Details = append(rec.Details, event.Pair{K: "target", V: "unsealable: " + err.Error()})
			}
		}
	}
	return Pending{Body: rec, ID: id}
}

func categoryOf(src uint64) string {
	if src == ControlShard || src == KekShard || src == KeysShard {
		return event.AuditCategoryAdmin
	}
	return event.AuditCategoryMutation
}

// eventTarget opens a source event and names what it touched.
func (s *Service) eventTarget(env *event.Envelope) (string, error) {
	payload, err := event.Open(s.env.Payloads, env)
	if err != nil {
		return "", err
	}
	body, err := event.DecodeBody(env.Type, payload)
	if err != nil {
		return "", err
	}
	return targetOf(body), nil
}

// targetOf names the object, bucket or file an event touched.
func targetOf(body event.Body) string {
	switch b := body.(type) {
	case *event.ObjectPut:
		return b.Key + " version " + b.VersionID
	case *event.ObjectDeleted:
		return b.Key + " " + b.VersionID + b.MarkerVersionID
	case *event.ObjectTagsSet:
		return b.Key
	case *event.MultipartStarted:
		return b.Key + " upload " + b.UploadID
	case *event.MultipartCompleted:
		return "upload " + b.UploadID + " version " + b.VersionID
	case *event.NamespaceOpened:
		return "bucket " + b.Name
	case *event.NamespaceCreated:
		return "bucket " + b.Name
	case *event.NamespaceDeleted:
		return "bucket " + b.Name
	case *event.TenantCreated:
		return "tenant " + b.Name
	case *event.FileCreated:
		return fmt.Sprintf("file %q in directory %d", b.Name, b.Parent)
	case *event.DirectoryCreated:
		return fmt.Sprintf("directory %q in directory %d", b.Name, b.Parent)
	case *event.EntryUnlinked:
		return fmt.Sprintf("%q in directory %d", b.Name, b.Parent)
	case *event.EntryRenamed:
		return fmt.Sprintf("%q in %d to %q in %d", b.SourceName, b.SourceParent, b.TargetName, b.TargetParent)
	case *event.FileWritten:
		return fmt.Sprintf("inode %d", b.Ino)
	case *event.RetentionHoldPlaced:
		return "hold " + b.HoldID + " (" + b.Scope + " " + b.Namespace + ")"
	}
	return ""
}

func targetAAD(tenant uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte("annal-audit-target-v1/"), tenant)
}

// sealTarget seals a record's target under the tenant's payload key.
func (s *Service) sealTarget(tenant uint64, id event.ID, target string) ([]byte, error) {
	if s.env.Payloads == nil {
		return []byte(target), nil
	}
	return s.env.Payloads.SealPayload(false, tenant, id, targetAAD(tenant), []byte(target))
}

// openTarget opens a record's target; after a shred it stays sealed.
func (s *Service) openTarget(tenant uint64, id event.ID, sealed []byte) (string, error) {
	if s.env.Payloads == nil {
		return string(sealed), nil
	}
	b, err := s.env.Payloads.OpenPayload(false, tenant, id, targetAAD(tenant), sealed)
	return string(b), err
}

// securityQueue holds direct records until FlushAudit proposes them.
type securityQueue struct {
	mu      sync.Mutex
	pending []event.AuditRecorded
	dropped uint64
}

// maxQueuedRecords bounds the queue: a flood of failed logins cannot
// exhaust memory; the drop count is recorded with the next flush.
const maxQueuedRecords = 10000

// RecordSecurity queues a record of a security decision that leaves no
// event (an authentication failure, an access denial, a refused shred).
// It never blocks; FlushAudit proposes the queue.
func (s *Service) RecordSecurity(rec event.AuditRecorded) {
	if rec.WallNs == 0 {
		rec.WallNs = NowNs(s.env.Clock.Now())
	}
	if rec.Category == "" {
		rec.Category = event.AuditCategorySecurity
	}
	q := &s.security
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.pending) >= maxQueuedRecords {
		q.dropped++
		return
	}
	q.pending = append(q.pending, rec)
}

// FlushAudit proposes the queued security records to the system audit
// shard and, for records naming a tenant, to that tenant's.
func (s *Service) FlushAudit(ctx context.Context) error {
	q := &s.security
	q.mu.Lock()
	recs, dropped := q.pending, q.dropped
	q.pending, q.dropped = nil, 0
	q.mu.Unlock()
	if dropped > 0 {
		recs = append(recs, event.AuditRecorded{Category: event.AuditCategorySecurity, Op: "AuditRecordsDropped",
			Outcome: event.AuditOutcomeFailure, WallNs: NowNs(s.env.Clock.Now()), Details: []event.Pair{{K: "count", V: fmt.Sprint(dropped)}}})
	}
	for len(recs) > 0 {
		n := min(len(recs), consumerBatch)
		if err := s.recordNow(ctx, recs[:n]...); err != nil {
			return err
		}
		recs = recs[n:]
	}
	return nil
}

// recordNow proposes records at once: to the system audit shard, and to
// each named tenant's audit shard.
func (s *Service) recordNow(ctx context.Context, recs ...event.AuditRecorded) error {
	byShard := map[uint64][]event.AuditRecorded{}
	var order []uint64
	add := func(shard uint64, r event.AuditRecorded) {
		if _, ok := byShard[shard]; !ok {
			order = append(order, shard)
		}
		byShard[shard] = append(byShard[shard], r)
	}
	for _, r := range recs {
		add(SystemAuditShard, r)
		if r.TenantID != 0 {
			add(AuditShardOf(r.TenantID), r)
		}
	}
	for _, shard := range order {
		if err := s.ensureAudit(ctx, shard); err != nil {
			return err
		}
		tenant := uint64(0)
		if shard != SystemAuditShard {
			tenant = shard - TenantAuditShardBase
		}
		d := &Decision{Shard: shard, Tenant: tenant, Actor: auditActor}
		for _, r := range byShard[shard] {
			r := r
			d.Events = append(d.Events, Pending{Body: &r})
		}
		res, err := s.propose(ctx, d)
		if err == nil {
			err = ResultError(res)
		}
		if err != nil {
			return fmt.Errorf("audit shard %d: %w", shard, err)
		}
	}
	return nil
}

// AuditLine is one record of an audit export (a JSON line).
type AuditLine struct {
	Seq         uint64       `json:"seq"`
	HLC         string       `json:"hlc"`
	Wall        string       `json:"wall,omitempty"`
	WallNs      int64        `json:"wall_ns,omitempty"`
	Tenant      uint64       `json:"tenant,omitempty"`
	TenantHash  string       `json:"tenant_hash,omitempty"`
	Category    string       `json:"category"`
	Op          string       `json:"op"`
	Actor       string       `json:"actor,omitempty"`
	Outcome     string       `json:"outcome,omitempty"`
	Code        string       `json:"code,omitempty"`
	Target      string       `json:"target,omitempty"`
	KeyHash     string       `json:"key_hash,omitempty"`
	SourceShard uint64       `json:"source_shard,omitempty"`
	SourceSeq   uint64       `json:"source_seq,omitempty"`
	Details     []event.Pair `json:"details,omitempty"`
	PrevHash    string       `json:"prev_hash"`
	Hash        string       `json:"hash"`
}

// TenantHash is the opaque stand-in for a tenant id in the cluster
// admin's view (I-A3): an HMAC under a cluster secret.
func (s *Service) TenantHash(tenant uint64) string {
	if tenant == 0 {
		return ""
	}
	m := hmac.New(sha256.New, s.cfg.KeyHashSecret)
	fmt.Fprintf(m, "annal-tenant-hash-v1/%d", tenant)
	return hex.EncodeToString(m.Sum(nil)[:8])
}

// ExportAudit calls fn with every event of an audit shard (tenant 0: the
// system's) from seq from on, as export lines: a tenant's records with
// their targets opened, the system's with tenant ids replaced by opaque
// hashes. It returns the last sequence exported.
func (s *Service) ExportAudit(ctx context.Context, tenant, from uint64, fn func(AuditLine) error) (uint64, error) {
	if s.cfg.Events == nil {
		return 0, errors.New("audit export needs the node's event store")
	}
	shard := auditShardFor(tenant)
	if err := s.ensureAudit(ctx, shard); err != nil {
		return 0, err
	}
	v := s.log.LocalRead(shard)
	defer v.Close()
	var last uint64
	err := s.cfg.Events(shard, max(from, 1), func(seq uint64, raw []byte) (bool, error) {
		line, err := s.exportLine(v, tenant, seq, raw)
		if err != nil {
			return false, err
		}
		if err := fn(line); err != nil {
			return false, err
		}
		last = seq
		return true, nil
	})
	return last, err
}

func (s *Service) exportLine(v kv.Reader, tenant, seq uint64, raw []byte) (AuditLine, error) {
	env, err := event.Decode(raw)
	if err != nil {
		return AuditLine{}, err
	}
	line := AuditLine{Seq: seq, HLC: fmt.Sprintf("%d.%d@%d", env.HLC.WallMs, env.HLC.Logical, env.HLC.Node), Category: "audit", Op: env.Type.String()}
	if l, ok, err := audit.GetLink(v, seq); err == nil && ok {
		line.PrevHash, line.Hash = hex.EncodeToString(l.Prev[:]), hex.EncodeToString(l.Hash[:])
	}
	payload, err := event.Open(s.env.Payloads, &env)
	if err != nil {
		return line, err
	}
	body, err := event.DecodeBody(env.Type, payload)
	if err != nil {
		return line, err
	}
	rec, ok := body.(*event.AuditRecorded)
	if !ok {
		b, _ := json.Marshal(body)
		line.Details = []event.Pair{{K: "event", V: string(b)}}
		return line, nil
	}
	line.Category, line.Op, line.Actor, line.Outcome, line.Code = rec.Category, rec.Op, rec.Actor, rec.Outcome, rec.Code
	line.Target, line.SourceShard, line.SourceSeq, line.Details = rec.Target, rec.SourceShard, rec.SourceSeq, rec.Details
	line.WallNs, line.KeyHash = rec.WallNs, hex.EncodeToString(rec.KeyHash)
	if rec.WallNs != 0 {
		line.Wall = time.Unix(0, rec.WallNs).UTC().Format(time.RFC3339Nano)
	}
	if tenant == 0 {
		line.TenantHash = s.TenantHash(rec.TenantID)
	} else {
		line.Tenant = rec.TenantID
	}
	if tenant != 0 && len(rec.SealedTarget) > 0 {
		if t, err := s.openTarget(tenant, env.ID, rec.SealedTarget); err == nil {
			line.Target = t
		} else {
			line.Target += " (target sealed: tenant key unavailable)"
		}
	}
	return line, nil
}

// AdvanceAuditExport moves an audit shard's export watermark to seq (the
// exporter delivered every record through it). A watermark at or past
// seq already is not an error.
func (s *Service) AdvanceAuditExport(ctx context.Context, tenant, seq uint64) error {
	shard := auditShardFor(tenant)
	_, _, err := s.run(ctx, shard, func(v kv.Reader) (*Decision, error) {
		e, err := audit.GetExport(v)
		if err != nil || seq <= e.Seq {
			return nil, err
		}
		if rec, err := recordsBetween(v, e.Seq, seq); err != nil || !rec {
			return nil, err // only watermarks passed: advancing would feed itself
		}
		b := &event.AuditExportWatermarkAdvanced{Seq: seq, AdvancedNs: NowNs(s.env.Clock.Now())}
		return &Decision{Shard: shard, Tenant: tenant, Actor: auditActor, Events: []Pending{{Body: b}}}, nil
	})
	return err
}

// recordsBetween reports whether any audit record lies in (from, to].
func recordsBetween(v kv.Reader, from, to uint64) (bool, error) {
	for seq := from + 1; seq <= to; seq++ {
		l, ok, err := audit.GetLink(v, seq)
		if err != nil {
			return false, err
		}
		if ok && l.WallNs != 0 {
			return true, nil
		}
	}
	return false, nil
}
