package event

// Key shard events: system master-key epochs (the keys shard) and tenant
// KEKs of the internal provider (the KEK shard). Key material in them is
// sealed under the cluster's key-wrapping key, inside a payload that is
// itself sealed. Codes 300–399.

// SystemEpochCreated records a new system master-key epoch, which becomes
// the epoch new chunks are sealed under.
type SystemEpochCreated struct {
	Epoch     uint32 `msgpack:"e"`
	SealedKey []byte `msgpack:"k"`
	CreatedNs int64  `msgpack:"at"`
}

// SystemEpochRetired records that no chunk is sealed under an epoch any
// more; its key is dropped.
type SystemEpochRetired struct {
	Epoch     uint32 `msgpack:"e"`
	RetiredNs int64  `msgpack:"at"`
}

// TenantKekCreated records a tenant's key-encryption key (internal
// provider) and its payload key wrapped by that KEK.
type TenantKekCreated struct {
	TenantID          uint64 `msgpack:"t"`
	KekEpoch          uint32 `msgpack:"e"`
	SealedKek         []byte `msgpack:"k"`
	WrappedPayloadKey []byte `msgpack:"p"`
	CreatedNs         int64  `msgpack:"at"`
}

// TenantKekRotated records a new KEK epoch for a tenant; the payload key
// is re-wrapped under it.
type TenantKekRotated struct {
	TenantID          uint64 `msgpack:"t"`
	KekEpoch          uint32 `msgpack:"e"`
	SealedKek         []byte `msgpack:"k"`
	WrappedPayloadKey []byte `msgpack:"p"`
	RotatedNs         int64  `msgpack:"at"`
}

// TenantKekDestroyed records a crypto-shred: the tenant's KEK is gone and
// nothing it wrapped can be opened again.
type TenantKekDestroyed struct {
	TenantID    uint64 `msgpack:"t"`
	Reason      string `msgpack:"r,omitempty"`
	Forced      bool   `msgpack:"f,omitempty"`
	DestroyedNs int64  `msgpack:"at"`
}

// TenantKekTTLSet records a tenant's KEK cache TTL (5–300 s).
type TenantKekTTLSet struct {
	TenantID   uint64 `msgpack:"t"`
	TTLSeconds uint32 `msgpack:"s"`
}

const (
	TypeSystemEpochCreated Type = 300
	TypeSystemEpochRetired Type = 301
	TypeTenantKekCreated   Type = 310
	TypeTenantKekRotated   Type = 311
	TypeTenantKekDestroyed Type = 312
	TypeTenantKekTTLSet    Type = 313
)

func (SystemEpochCreated) EventType() Type { return TypeSystemEpochCreated }
func (SystemEpochRetired) EventType() Type { return TypeSystemEpochRetired }
func (TenantKekCreated) EventType() Type   { return TypeTenantKekCreated }
func (TenantKekRotated) EventType() Type   { return TypeTenantKekRotated }
func (TenantKekDestroyed) EventType() Type { return TypeTenantKekDestroyed }
func (TenantKekTTLSet) EventType() Type    { return TypeTenantKekTTLSet }

func init() {
	register(TypeSystemEpochCreated, "SystemEpochCreated", func() Body { return &SystemEpochCreated{} })
	register(TypeSystemEpochRetired, "SystemEpochRetired", func() Body { return &SystemEpochRetired{} })
	register(TypeTenantKekCreated, "TenantKekCreated", func() Body { return &TenantKekCreated{} })
	register(TypeTenantKekRotated, "TenantKekRotated", func() Body { return &TenantKekRotated{} })
	register(TypeTenantKekDestroyed, "TenantKekDestroyed", func() Body { return &TenantKekDestroyed{} })
	register(TypeTenantKekTTLSet, "TenantKekTTLSet", func() Body { return &TenantKekTTLSet{} })
}
