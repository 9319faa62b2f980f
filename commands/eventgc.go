package commands

import (
	"context"
	"errors"
	"fmt"
	"time"

	annallog "github.com/annal-storage/annal/log"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/projections/audit"
	"github.com/annal-storage/annal/projections/control"
)

// Event GC of namespace shards (ADR-014, REQUIREMENTS ADR-009). A
// tenant's audit export is a GC consumer of that tenant's namespace
// shards: events are compacted only through what the export delivered
// (per source shard, audit.Exported), never past what the audit consumer
// recorded. A stalled export blocks only its tenant's GC. When it has
// stalled longer than the safety valve (default 24 h), GC proceeds to
// what the consumer recorded and an AuditGapAccepted records the events
// that went unexported; a tenant in backpressure mode instead has its
// writes throttled (ErrThrottled) until the export catches up.

// DefaultAuditValve is the safety valve of a stalled audit export.
const DefaultAuditValve = 24 * time.Hour

// ErrThrottled: the tenant's audit export stalled and the tenant chose
// backpressure; writes are refused for now (S3 503 SlowDown).
var ErrThrottled = errors.New("writes throttled: the tenant's audit export is stalled")

// EventGCParams are the inputs of one event GC decision.
type EventGCParams struct {
	NowNs   int64
	ValveNs int64
	// Backpressure: throttle the tenant instead of passing the export.
	Backpressure bool
	// LastSeq and CompactedThrough describe the namespace shard.
	LastSeq, CompactedThrough uint64
}

// EventGCStep is an event GC decision for one namespace shard.
type EventGCStep struct {
	// Through: compact events through this sequence (0: nothing to do).
	Through uint64
	// Audit events to propose first (gap, backpressure change).
	Audit []event.Body
}

// exportStalled reports whether the export has had records waiting for
// longer than the valve: the oldest unexported record is older than it.
func exportStalled(v kv.Reader, p EventGCParams) (bool, error) {
	e, err := audit.GetExport(v)
	if err != nil {
		return false, err
	}
	h, err := audit.GetHead(v)
	if err != nil || h.Seq <= e.Seq {
		return false, err
	}
	for seq := e.Seq + 1; seq <= h.Seq; seq++ { // first unexported record
		l, ok, err := audit.GetLink(v, seq)
		if err != nil {
			return false, err
		}
		if ok && l.WallNs != 0 {
			return p.NowNs-l.WallNs > p.ValveNs, nil
		}
	}
	return false, nil
}

// DecideEventGC decides how far a namespace shard's events may be
// compacted, from its tenant's audit shard view.
func DecideEventGC(v kv.Reader, shard uint64, p EventGCParams) (EventGCStep, error) {
	var step EventGCStep
	consumed, err := audit.Consumed(v, shard)
	if err != nil {
		return step, err
	}
	exported, err := audit.Exported(v, shard)
	if err != nil {
		return step, err
	}
	recorded := min(consumed, p.LastSeq)
	safe := min(exported, recorded)
	stalled, err := exportStalled(v, p)
	if err != nil {
		return step, err
	}
	bp, err := audit.GetBackpressure(v)
	if err != nil {
		return step, err
	}
	through := safe
	switch {
	case stalled && p.Backpressure:
		if !bp.Engaged {
			step.Audit = append(step.Audit, &event.AuditBackpressureEngaged{Reason: "audit export stalled past the safety valve", EngagedNs: p.NowNs})
		}
	case stalled:
		through = recorded
		gap, err := audit.LastGap(v, shard)
		if err != nil {
			return step, err
		}
		if from := max(exported, gap) + 1; recorded >= from {
			step.Audit = append(step.Audit, &event.AuditGapAccepted{SourceShard: shard, FromSeq: from, ToSeq: recorded,
				Reason: fmt.Sprintf("audit export stalled longer than %s: events compacted before export", time.Duration(p.ValveNs)), AcceptedNs: p.NowNs})
		}
	case bp.Engaged:
		step.Audit = append(step.Audit, &event.AuditBackpressureReleased{ReleasedNs: p.NowNs})
	}
	if through > p.CompactedThrough {
		step.Through = through
	}
	return step, nil
}

// EventGCReport counts what an event GC pass did.
type EventGCReport struct {
	Compacted uint64 `json:"events_compacted"`
	Gaps      int    `json:"gaps"`
	Throttled int    `json:"tenants_throttled"`
}

// CollectEvents runs one event GC pass over every live tenant's
// namespace shards. retain keeps that many newest events of each shard
// (recent history for forensic replay); valve is the default safety
// valve.
func (s *Service) CollectEvents(ctx context.Context, valve time.Duration, retain uint64) (EventGCReport, error) {
	var rep EventGCReport
	cv, err := s.read(ctx, ControlShard)
	if err != nil {
		return rep, err
	}
	ts, err := control.Tenants(cv)
	owners, ids, err2 := control.NamespaceShards(cv)
	cv.Close()
	if err = errors.Join(err, err2); err != nil {
		return rep, err
	}
	for _, t := range ts {
		if t.Shredded {
			continue
		}
		p := EventGCParams{ValveNs: valve.Nanoseconds(), Backpressure: t.Backpressure}
		if t.ValveSeconds > 0 {
			p.ValveNs = t.ValveSeconds * int64(time.Second)
		}
		for _, id := range ids {
			if o := owners[id]; o.TenantID == t.ID && !o.Purged {
				if err := s.collectShard(ctx, t.ID, id, p, retain, &rep); err != nil {
					return rep, fmt.Errorf("event gc, shard %d: %w", id, err)
				}
			}
		}
	}
	return rep, nil
}

func (s *Service) collectShard(ctx context.Context, tenant, shard uint64, p EventGCParams, retain uint64, rep *EventGCReport) error {
	if s.cfg.ShardInfo == nil {
		return nil
	}
	last, compacted, err := s.cfg.ShardInfo(shard)
	if err != nil {
		return err
	}
	p.LastSeq, p.CompactedThrough = last-min(last, retain), compacted
	p.NowNs = NowNs(s.env.Clock.Now())
	v, err := s.read(ctx, AuditShardOf(tenant))
	if err != nil {
		return err
	}
	step, err := DecideEventGC(v, shard, p)
	v.Close()
	if err != nil {
		return err
	}
	if len(step.Audit) > 0 {
		d := &Decision{Shard: AuditShardOf(tenant), Tenant: tenant, Actor: "system:event-gc"}
		for _, b := range step.Audit {
			d.Events = append(d.Events, Pending{Body: b})
			switch b.(type) {
			case *event.AuditGapAccepted:
				rep.Gaps++
			case *event.AuditBackpressureEngaged:
				rep.Throttled++
			}
		}
		if res, err := s.propose(ctx, d); err != nil || ResultError(res) != nil {
			return errors.Join(err, ResultError(res))
		}
	}
	if step.Through == 0 {
		return nil
	}
	if err := s.log.Ensure(ctx, shard, annallog.KindNamespace); err != nil {
		return err
	}
	b := &event.EventsCompacted{ThroughSeq: step.Through, CompactedNs: p.NowNs}
	res, err := s.propose(ctx, &Decision{Shard: shard, Tenant: tenant, Actor: "system:event-gc", Events: []Pending{{Body: b}}})
	if err == nil && res.Status == annallog.StatusAccepted {
		rep.Compacted += step.Through - p.CompactedThrough
	}
	return err
}

// throttled refuses writes of a tenant whose audit shard has backpressure
// engaged (local replica: a flag, not a barrier).
func (s *Service) throttled(tenant uint64) error {
	if tenant == 0 {
		return nil
	}
	v := s.log.LocalRead(AuditShardOf(tenant))
	defer v.Close()
	bp, err := audit.GetBackpressure(v)
	if err == nil && bp.Engaged {
		return fmt.Errorf("%w (tenant %d)", ErrThrottled, tenant)
	}
	return nil
}
