package event

// Compliance events (ADR-014): compliance tags, retention holds and the
// crypto-shred of a tenant on the control shard (codes 8–19), the purge
// of a shredded tenant's namespace shards (codes 160–169), retention of
// held chunks on the chunk shard (codes 207–209), and the audit shards
// (codes 400–499).

// ComplianceTagsSet replaces the compliance tags of a tenant (Namespace
// empty) or of one of its namespaces.
type ComplianceTagsSet struct {
	TenantID  uint64   `msgpack:"t"`
	Namespace string   `msgpack:"n,omitempty"`
	Tags      []string `msgpack:"g,omitempty"`
	SetNs     int64    `msgpack:"at"`
}

// Hold scopes.
const (
	HoldScopeTenant    = "tenant"
	HoldScopeNamespace = "namespace"
	HoldScopeObject    = "object"
)

// RetentionHoldPlaced records a retention hold: while it is active the
// data it covers is never physically collected. An object hold names its
// key by a keyed hash (KeyHash) and carries the key itself sealed under
// the tenant's payload key (SealedKey), so a crypto-shred leaves no name.
// ExpiresNs 0 holds until released; FloorNs is the compliance floor below
// which the hold can be neither shortened nor released.
type RetentionHoldPlaced struct {
	HoldID    string `msgpack:"i"`
	TenantID  uint64 `msgpack:"t"`
	Scope     string `msgpack:"s"`
	Namespace string `msgpack:"n,omitempty"`
	KeyHash   []byte `msgpack:"k,omitempty"`
	SealedKey []byte `msgpack:"sk,omitempty"`
	Reason    string `msgpack:"r,omitempty"`
	Source    string `msgpack:"o"`
	PlacedNs  int64  `msgpack:"at"`
	ExpiresNs int64  `msgpack:"e,omitempty"`
	FloorNs   int64  `msgpack:"f,omitempty"`
}

// RetentionHoldExtended moves a hold's end later (never earlier).
type RetentionHoldExtended struct {
	HoldID     string `msgpack:"i"`
	ExpiresNs  int64  `msgpack:"e"`
	Reason     string `msgpack:"r,omitempty"`
	ExtendedNs int64  `msgpack:"at"`
}

// RetentionHoldReleased ends a hold before its expiry (never before its
// compliance floor).
type RetentionHoldReleased struct {
	HoldID     string `msgpack:"i"`
	Reason     string `msgpack:"r,omitempty"`
	ReleasedNs int64  `msgpack:"at"`
}

// RetentionHoldExpired records that a hold reached its end.
type RetentionHoldExpired struct {
	HoldID    string `msgpack:"i"`
	ExpiredNs int64  `msgpack:"at"`
}

// TenantShredded releases a crypto-shredded tenant's names on the control
// shard: its namespaces are deleted (their shards marked purged), its
// access keys revoked, the tenant marked shredded. RetentionTokens names
// the chunk retentions (ChunksRetained) that keep its held bytes, per
// hold id, so releasing a hold later releases its chunks.
type TenantShredded struct {
	TenantID        uint64          `msgpack:"t"`
	Forced          bool            `msgpack:"f,omitempty"`
	Reason          string          `msgpack:"r,omitempty"`
	RetentionTokens []HoldRetention `msgpack:"h,omitempty"`
	ShreddedNs      int64           `msgpack:"at"`
}

// HoldRetention links a hold to the opaque token of the chunk retention
// made for it at a shred.
type HoldRetention struct {
	HoldID string   `msgpack:"i"`
	Token  [16]byte `msgpack:"k"`
}

// TenantAuditPolicySet sets how a tenant's stalled audit export is
// handled: by default event GC proceeds after the safety valve and an
// audit gap is recorded; with Backpressure the tenant's writes are
// throttled instead.
type TenantAuditPolicySet struct {
	TenantID     uint64 `msgpack:"t"`
	Backpressure bool   `msgpack:"b,omitempty"`
	ValveSeconds int64  `msgpack:"v,omitempty"`
}

// NamespaceShredStarted freezes a namespace shard of a tenant being
// shredded: the apply path refuses every later event but the purge,
// before opening its payload. It carries no tenant content and is sealed
// under the system key.
type NamespaceShredStarted struct {
	StartedNs int64 `msgpack:"at"`
}

// NamespacePurged deletes a frozen namespace shard's projection (names,
// inodes, versions, segments, chunk reference counts) and marks the shard
// purged. System-sealed, like NamespaceShredStarted.
type NamespacePurged struct {
	PurgedNs int64 `msgpack:"at"`
}

// EventsCompacted records event GC on a namespace shard: events through
// ThroughSeq are folded into the shard's base state and removed from the
// event store. Event GC waits for the tenant's audit export (or its
// safety valve), so the export holds what the store no longer does.
type EventsCompacted struct {
	ThroughSeq  uint64 `msgpack:"q"`
	CompactedNs int64  `msgpack:"at"`
}

// ChunksRetained marks chunks as retained under an opaque token (one per
// hold that covered a shredded tenant): GC never condemns a retained
// chunk. The token says nothing about the tenant.
type ChunksRetained struct {
	Token      [16]byte  `msgpack:"k"`
	Chunks     []ChunkID `msgpack:"c"`
	RetainedNs int64     `msgpack:"at"`
}

// ChunkRetentionReleased drops a token from the chunks it retained (the
// hold ended); a chunk with no token left is GC-eligible again.
type ChunkRetentionReleased struct {
	Token      [16]byte  `msgpack:"k"`
	Chunks     []ChunkID `msgpack:"c"`
	ReleasedNs int64     `msgpack:"at"`
}

// Audit record categories.
const (
	AuditCategoryMutation = "mutation"
	AuditCategorySecurity = "security"
	AuditCategoryAdmin    = "admin"
	AuditCategoryGC       = "gc"
)

// Audit outcomes.
const (
	AuditOutcomeSuccess = "success"
	AuditOutcomeDenied  = "denied"
	AuditOutcomeFailure = "failure"
)

// AuditRecorded is one audit record. Records derived from a source
// shard's events (mutations) name that event (SourceShard, SourceSeq); the
// audit projection requires them in source order, so no event is
// recorded twice or skipped. Target is a system-visible description
// (never tenant content); SealedTarget is tenant content (object keys,
// bucket names) sealed under the tenant's payload key; KeyHash is the
// event header's keyed hash of the object key.
type AuditRecorded struct {
	// TenantID is the tenant the record concerns (0: none). In the system
	// audit shard exports replace it by an opaque hash.
	TenantID     uint64 `msgpack:"tn,omitempty"`
	Category     string `msgpack:"c"`
	Op           string `msgpack:"o"`
	Actor        string `msgpack:"a,omitempty"`
	Outcome      string `msgpack:"r"`
	Code         string `msgpack:"e,omitempty"`
	Target       string `msgpack:"t,omitempty"`
	SealedTarget []byte `msgpack:"st,omitempty"`
	KeyHash      []byte `msgpack:"k,omitempty"`
	SourceShard  uint64 `msgpack:"ss,omitempty"`
	SourceSeq    uint64 `msgpack:"sq,omitempty"`
	WallNs       int64  `msgpack:"w"`
	Details      []Pair `msgpack:"d,omitempty"`
}

// AuditSourceConsumed records that the audit consumer has read a source
// shard through ThroughSeq (events that produce no record included).
type AuditSourceConsumed struct {
	SourceShard uint64 `msgpack:"s"`
	ThroughSeq  uint64 `msgpack:"q"`
}

// AuditExportWatermarkAdvanced records that the tenant's audit export has
// delivered every record through Seq.
type AuditExportWatermarkAdvanced struct {
	Seq        uint64 `msgpack:"q"`
	AdvancedNs int64  `msgpack:"at"`
}

// AuditGapAccepted records that event GC of a data shard proceeded past
// what the audit export had delivered (the safety valve): source events
// FromSeq..ToSeq are gone before export.
type AuditGapAccepted struct {
	SourceShard uint64 `msgpack:"s"`
	FromSeq     uint64 `msgpack:"f"`
	ToSeq       uint64 `msgpack:"t"`
	Reason      string `msgpack:"r"`
	AcceptedNs  int64  `msgpack:"at"`
}

// AuditBackpressureEngaged records that the tenant's writes are throttled
// because its export stalled (opt-in backpressure mode).
type AuditBackpressureEngaged struct {
	Reason    string `msgpack:"r"`
	EngagedNs int64  `msgpack:"at"`
}

// AuditBackpressureReleased records that the export caught up and the
// tenant's writes flow again.
type AuditBackpressureReleased struct {
	ReleasedNs int64 `msgpack:"at"`
}

const (
	TypeComplianceTagsSet     Type = 8
	TypeRetentionHoldPlaced   Type = 9
	TypeRetentionHoldExtended Type = 10
	TypeRetentionHoldReleased Type = 11
	TypeRetentionHoldExpired  Type = 12
	TypeTenantShredded        Type = 13
	TypeTenantAuditPolicySet  Type = 14

	TypeNamespaceShredStarted Type = 160
	TypeNamespacePurged       Type = 161
	TypeEventsCompacted       Type = 162

	TypeChunksRetained         Type = 207
	TypeChunkRetentionReleased Type = 208

	TypeAuditRecorded                Type = 400
	TypeAuditSourceConsumed          Type = 401
	TypeAuditExportWatermarkAdvanced Type = 402
	TypeAuditGapAccepted             Type = 403
	TypeAuditBackpressureEngaged     Type = 404
	TypeAuditBackpressureReleased    Type = 405
)

func (ComplianceTagsSet) EventType() Type            { return TypeComplianceTagsSet }
func (RetentionHoldPlaced) EventType() Type          { return TypeRetentionHoldPlaced }
func (RetentionHoldExtended) EventType() Type        { return TypeRetentionHoldExtended }
func (RetentionHoldReleased) EventType() Type        { return TypeRetentionHoldReleased }
func (RetentionHoldExpired) EventType() Type         { return TypeRetentionHoldExpired }
func (TenantShredded) EventType() Type               { return TypeTenantShredded }
func (TenantAuditPolicySet) EventType() Type         { return TypeTenantAuditPolicySet }
func (NamespaceShredStarted) EventType() Type        { return TypeNamespaceShredStarted }
func (NamespacePurged) EventType() Type              { return TypeNamespacePurged }
func (EventsCompacted) EventType() Type              { return TypeEventsCompacted }
func (ChunksRetained) EventType() Type               { return TypeChunksRetained }
func (ChunkRetentionReleased) EventType() Type       { return TypeChunkRetentionReleased }
func (AuditRecorded) EventType() Type                { return TypeAuditRecorded }
func (AuditSourceConsumed) EventType() Type          { return TypeAuditSourceConsumed }
func (AuditExportWatermarkAdvanced) EventType() Type { return TypeAuditExportWatermarkAdvanced }
func (AuditGapAccepted) EventType() Type             { return TypeAuditGapAccepted }
func (AuditBackpressureEngaged) EventType() Type     { return TypeAuditBackpressureEngaged }
func (AuditBackpressureReleased) EventType() Type    { return TypeAuditBackpressureReleased }

// SystemSealed reports event types that are sealed under the system key
// even on tenant shards: they carry no tenant content and must be
// readable after the tenant's key is destroyed.
func SystemSealed(t Type) bool {
	return t == TypeNamespaceShredStarted || t == TypeNamespacePurged
}

func init() {
	register(TypeComplianceTagsSet, "ComplianceTagsSet", func() Body { return &ComplianceTagsSet{} })
	register(TypeRetentionHoldPlaced, "RetentionHoldPlaced", func() Body { return &RetentionHoldPlaced{} })
	register(TypeRetentionHoldExtended, "RetentionHoldExtended", func() Body { return &RetentionHoldExtended{} })
	register(TypeRetentionHoldReleased, "RetentionHoldReleased", func() Body { return &RetentionHoldReleased{} })
	register(TypeRetentionHoldExpired, "RetentionHoldExpired", func() Body { return &RetentionHoldExpired{} })
	register(TypeTenantShredded, "TenantShredded", func() Body { return &TenantShredded{} })
	register(TypeTenantAuditPolicySet, "TenantAuditPolicySet", func() Body { return &TenantAuditPolicySet{} })
	register(TypeNamespaceShredStarted, "NamespaceShredStarted", func() Body { return &NamespaceShredStarted{} })
	register(TypeNamespacePurged, "NamespacePurged", func() Body { return &NamespacePurged{} })
	register(TypeEventsCompacted, "EventsCompacted", func() Body { return &EventsCompacted{} })
	register(TypeChunksRetained, "ChunksRetained", func() Body { return &ChunksRetained{} })
	register(TypeChunkRetentionReleased, "ChunkRetentionReleased", func() Body { return &ChunkRetentionReleased{} })
	register(TypeAuditRecorded, "AuditRecorded", func() Body { return &AuditRecorded{} })
	register(TypeAuditSourceConsumed, "AuditSourceConsumed", func() Body { return &AuditSourceConsumed{} })
	register(TypeAuditExportWatermarkAdvanced, "AuditExportWatermarkAdvanced", func() Body { return &AuditExportWatermarkAdvanced{} })
	register(TypeAuditGapAccepted, "AuditGapAccepted", func() Body { return &AuditGapAccepted{} })
	register(TypeAuditBackpressureEngaged, "AuditBackpressureEngaged", func() Body { return &AuditBackpressureEngaged{} })
	register(TypeAuditBackpressureReleased, "AuditBackpressureReleased", func() Body { return &AuditBackpressureReleased{} })
}
