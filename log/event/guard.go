package event

// GuardKind names a precondition that the apply path re-checks against
// the shard's state at apply time (optimistic concurrency).
type GuardKind uint8

const (
	// GuardObjectAbsent: no current object version at Key
	// (S3 If-None-Match: *).
	GuardObjectAbsent GuardKind = 1
	// GuardObjectETag: the current version at Key has ETag Value
	// (S3 If-Match).
	GuardObjectETag GuardKind = 2
	// GuardObjectVersion: the current version at Key has id Value, or
	// there is none when Value is empty (read-modify-write of one key).
	GuardObjectVersion GuardKind = 3
)

// Guard is one precondition of a proposal. A guard that fails at apply
// rejects the whole proposal with a typed conflict and leaves no event.
type Guard struct {
	Kind  GuardKind `msgpack:"k"`
	Key   string    `msgpack:"p,omitempty"`
	Value string    `msgpack:"v,omitempty"`
}
