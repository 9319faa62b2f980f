package projections

import (
	"errors"
	"fmt"

	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	"github.com/vmihailenco/msgpack/v5"
)

// Projection folds one shard kind's events into state.
type Projection interface {
	// Validate checks the preconditions of one event body against the
	// state before its proposal. It returns a domain error (see Err*).
	Validate(r kv.Reader, env *event.Envelope, body event.Body) error
	// CheckGuard evaluates one proposal guard; ErrPreconditionFailed (or
	// another domain error) when it does not hold.
	CheckGuard(r kv.Reader, g event.Guard) error
	// Apply folds one validated event into state. It returns an error only
	// for storage failures; a broken invariant panics.
	Apply(w kv.Writer, env *event.Envelope, body event.Body) error
}

// Domain errors. Commands and gateways match them with errors.Is; gateways
// map each to a protocol error in one table.
var (
	ErrNotFound           = errors.New("not found")
	ErrAlreadyExists      = errors.New("already exists")
	ErrNotEmpty           = errors.New("not empty")
	ErrInvalid            = errors.New("invalid argument")
	ErrPreconditionFailed = errors.New("precondition failed")
	ErrNotDirectory       = errors.New("not a directory")
	ErrIsDirectory        = errors.New("is a directory")
	ErrParentNotDirectory = errors.New("a parent of the key is an object")
	ErrNamespaceSealed    = errors.New("namespace is being deleted")
	ErrNoSuchUpload       = errors.New("no such upload")
	ErrNoSuchVersion      = errors.New("no such version")
	ErrInvalidPart        = errors.New("invalid part")
	ErrInvalidPartOrder   = errors.New("invalid part order")
	ErrEntityTooSmall     = errors.New("part too small")
	ErrNotSymlink         = errors.New("not a symlink")
	ErrNoData             = errors.New("no such attribute")
	ErrLoop               = errors.New("would move a directory into itself")
	// ErrChunkCollecting: the chunk's fragments are being deleted by GC; a
	// writer waits until its record is purged and stores it afresh.
	ErrChunkCollecting = errors.New("chunk is being collected")
	// ErrNamespacePurged: the namespace belonged to a crypto-shredded
	// tenant; its shard admits nothing more.
	ErrNamespacePurged = errors.New("namespace purged by crypto-shred")
	// ErrUnderRetention: a retention hold forbids the change.
	ErrUnderRetention = errors.New("under retention hold")
	// ErrRetentionHoldRequired: compliance tags imply retention and no
	// hold exists, so the crypto-shred is refused (REQUIREMENTS Decision 10).
	ErrRetentionHoldRequired = errors.New("retention hold required")
	// ErrEpochRetiring: a chunk would be recorded under a system epoch
	// below the chunk shard's epoch floor, whose key is being retired; the
	// writer seals it again under the current epoch (ADR-015).
	ErrEpochRetiring = errors.New("chunk sealed under a retiring key epoch")
)

// Errorf wraps a domain error with context.
func Errorf(kind error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", kind, fmt.Sprintf(format, args...))
}

// Get decodes the record at key into v; found is false when absent.
func Get(r kv.Reader, key []byte, v any) (found bool, err error) {
	b, ok, err := r.Get(key)
	if err != nil || !ok {
		return false, err
	}
	if err := Decode(b, v); err != nil {
		return false, fmt.Errorf("record %x: %w", key, err)
	}
	return true, nil
}

// Decode decodes one record value.
func Decode(b []byte, v any) error {
	if err := msgpack.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode record: %w", err)
	}
	return nil
}

// Put encodes v and stores it at key.
func Put(w kv.Writer, key []byte, v any) error {
	b, err := msgpack.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode record %x: %w", key, err)
	}
	return w.Set(key, b)
}

// Must panics on a broken invariant: apply met a state the validated
// events cannot produce.
func Must(ok bool, format string, args ...any) {
	if !ok {
		panic(fmt.Sprintf("projection invariant violated: "+format, args...))
	}
}

// Key concatenates key parts.
func Key(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// U64 is a big-endian uint64 key part.
func U64(v uint64) []byte { return kv.AppendUint64(nil, v) }

// codes names every domain error for transport in apply results.
var codes = []struct {
	code string
	err  error
}{
	{"NotFound", ErrNotFound}, {"AlreadyExists", ErrAlreadyExists}, {"NotEmpty", ErrNotEmpty},
	{"Invalid", ErrInvalid}, {"PreconditionFailed", ErrPreconditionFailed},
	{"NotDirectory", ErrNotDirectory}, {"IsDirectory", ErrIsDirectory},
	{"ParentNotDirectory", ErrParentNotDirectory}, {"NamespaceSealed", ErrNamespaceSealed},
	{"NoSuchUpload", ErrNoSuchUpload}, {"NoSuchVersion", ErrNoSuchVersion},
	{"InvalidPart", ErrInvalidPart}, {"InvalidPartOrder", ErrInvalidPartOrder},
	{"EntityTooSmall", ErrEntityTooSmall}, {"NotSymlink", ErrNotSymlink},
	{"NoData", ErrNoData}, {"Loop", ErrLoop}, {"ChunkCollecting", ErrChunkCollecting},
	{"NamespacePurged", ErrNamespacePurged}, {"UnderRetention", ErrUnderRetention},
	{"RetentionHoldRequired", ErrRetentionHoldRequired}, {"EpochRetiring", ErrEpochRetiring},
}

// ErrorCode names the domain error err wraps ("" when it wraps none).
func ErrorCode(err error) string {
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return ""
}

// ErrorFromCode rebuilds a domain error from its code and text: it reads
// as the text and matches the coded sentinel with errors.Is.
func ErrorFromCode(code, reason string) error {
	for _, c := range codes {
		if c.code == code {
			return &codedError{kind: c.err, text: reason}
		}
	}
	return &codedError{kind: ErrPreconditionFailed, text: reason}
}

type codedError struct {
	kind error
	text string
}

func (e *codedError) Error() string { return e.text }
func (e *codedError) Unwrap() error { return e.kind }
