package s3err

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Field is an extra element of an error body, after Message, such as
// StringToSign for SignatureDoesNotMatch or ServerTime for
// RequestTimeTooSkewed. Name must be a valid XML element name.
type Field struct {
	Name  string
	Value string
}

// Error is an S3 error on its way to the client. The gateway passes it up
// wrapped or bare; the writer finds it with errors.As.
type Error struct {
	Code Code
	// Message is the client-visible text; empty means DefaultMessage(Code).
	Message string
	// Resource is the bucket or object the request named; empty means the
	// request path.
	Resource   string
	BucketName string
	Key        string
	// Extra elements rendered after Message, in order.
	Extra []Field
	// RetryAfter, when positive, is sent as a Retry-After header (whole
	// seconds, rounded up) with SlowDown and ServiceUnavailable.
	RetryAfter time.Duration
	// Err is the internal cause. It is never rendered to the client.
	Err error
}

// New returns an *Error for code with message; an empty message means the
// default.
func New(code Code, message string) *Error {
	return &Error{Code: code, Message: message}
}

// Newf returns an *Error for code with a formatted message.
func Newf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error for code whose internal cause is err. The
// message is the default unless message is non-empty; err's text is not
// shown to the client.
func Wrap(code Code, err error, message string) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// Error implements error. It includes the cause for logs.
func (e *Error) Error() string {
	msg := e.ClientMessage()
	if e.Err != nil {
		return fmt.Sprintf("s3 %s: %s: %v", e.Code, msg, e.Err)
	}
	return fmt.Sprintf("s3 %s: %s", e.Code, msg)
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same code, so callers
// can write errors.Is(err, s3err.New(s3err.NoSuchKey, "")).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Status is the HTTP status for e's code.
func (e *Error) Status() int { return Status(e.Code) }

// ClientMessage is the text rendered in <Message>.
func (e *Error) ClientMessage() string {
	if e.Message != "" {
		return e.Message
	}
	return DefaultMessage(e.Code)
}

// With returns a copy of e with an extra field appended.
func (e *Error) With(name, value string) *Error {
	c := *e
	c.Extra = append(append([]Field(nil), e.Extra...), Field{Name: name, Value: value})
	return &c
}

// WithResource returns a copy of e naming the bucket and key concerned.
// Resource becomes "/bucket/key" (or "/bucket") when bucket is not empty.
func (e *Error) WithResource(bucket, key string) *Error {
	c := *e
	c.BucketName, c.Key = bucket, key
	if bucket != "" {
		c.Resource = "/" + bucket
		if key != "" {
			c.Resource += "/" + key
		}
	}
	return &c
}

// As returns the *Error in err's chain, or an InternalError wrapping err
// when there is none. It returns nil for a nil err.
func As(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Wrap(InternalError, err, "")
}

// CodeOf returns the code of the *Error in err's chain, or "" if none.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// retryAfterSeconds renders d as whole seconds, rounded up, at least 1.
func retryAfterSeconds(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}
