package event

// Control shard events: tenants, access keys, namespaces, settings.
// Codes 1–99.

// TenantCreated records a new tenant and its place in the org hierarchy.
type TenantCreated struct {
	TenantID      uint64   `msgpack:"t"`
	Name          string   `msgpack:"n"`
	Org           string   `msgpack:"o"`
	Project       string   `msgpack:"p,omitempty"`
	Workload      string   `msgpack:"w,omitempty"`
	Compliance    []string `msgpack:"c,omitempty"`
	DedupIsolated bool     `msgpack:"d,omitempty"`
	CreatedNs     int64    `msgpack:"at"`
}

// AccessKeyIssued records S3-style credentials for a tenant principal.
type AccessKeyIssued struct {
	TenantID    uint64 `msgpack:"t"`
	AccessKeyID string `msgpack:"a"`
	Secret      string `msgpack:"s"`
	CreatedNs   int64  `msgpack:"at"`
}

// AccessKeyRevoked records that credentials no longer authenticate.
type AccessKeyRevoked struct {
	AccessKeyID string `msgpack:"a"`
}

// NamespaceCreated records a tenant namespace (S3 bucket) and the shard
// that holds it. Names are scoped per tenant.
type NamespaceCreated struct {
	TenantID  uint64 `msgpack:"t"`
	Name      string `msgpack:"n"`
	ShardID   uint64 `msgpack:"s"`
	CreatedNs int64  `msgpack:"at"`
}

// NamespaceDeleted records that a namespace is gone; its shard is sealed.
type NamespaceDeleted struct {
	TenantID uint64 `msgpack:"t"`
	Name     string `msgpack:"n"`
	ShardID  uint64 `msgpack:"s"`
}

// SettingChanged records a cluster setting change with old and new values.
type SettingChanged struct {
	Name string `msgpack:"n"`
	Old  string `msgpack:"o"`
	New  string `msgpack:"v"`
}

// ClusterFormatVersionRaised records that every node reads the new event
// format, so writers may start emitting it.
type ClusterFormatVersionRaised struct {
	From uint16 `msgpack:"f"`
	To   uint16 `msgpack:"t"`
}

const (
	TypeTenantCreated              Type = 1
	TypeAccessKeyIssued            Type = 2
	TypeAccessKeyRevoked           Type = 3
	TypeNamespaceCreated           Type = 4
	TypeNamespaceDeleted           Type = 5
	TypeSettingChanged             Type = 6
	TypeClusterFormatVersionRaised Type = 7
)

func (TenantCreated) EventType() Type              { return TypeTenantCreated }
func (AccessKeyIssued) EventType() Type            { return TypeAccessKeyIssued }
func (AccessKeyRevoked) EventType() Type           { return TypeAccessKeyRevoked }
func (NamespaceCreated) EventType() Type           { return TypeNamespaceCreated }
func (NamespaceDeleted) EventType() Type           { return TypeNamespaceDeleted }
func (SettingChanged) EventType() Type             { return TypeSettingChanged }
func (ClusterFormatVersionRaised) EventType() Type { return TypeClusterFormatVersionRaised }

func init() {
	register(TypeTenantCreated, "TenantCreated", func() Body { return &TenantCreated{} })
	register(TypeAccessKeyIssued, "AccessKeyIssued", func() Body { return &AccessKeyIssued{} })
	register(TypeAccessKeyRevoked, "AccessKeyRevoked", func() Body { return &AccessKeyRevoked{} })
	register(TypeNamespaceCreated, "NamespaceCreated", func() Body { return &NamespaceCreated{} })
	register(TypeNamespaceDeleted, "NamespaceDeleted", func() Body { return &NamespaceDeleted{} })
	register(TypeSettingChanged, "SettingChanged", func() Body { return &SettingChanged{} })
	register(TypeClusterFormatVersionRaised, "ClusterFormatVersionRaised", func() Body { return &ClusterFormatVersionRaised{} })
}
