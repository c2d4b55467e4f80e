package nightowl

import (
	"errors"
	"fmt"
	"time"
)

// Error codes shared by the API, the CLI and the packages that raise them.
// web/ maps each to an HTTP status in one table.
const (
	EInvalid      = "invalid"
	ENotFound     = "not_found"
	EConflict     = "conflict"
	EForbidden    = "forbidden"
	EUnauthorized = "unauthorized"
	// ERateLimited refuses a request that came too often, such as a
	// sign-in after many failures; try again later.
	ERateLimited = "rate_limited"
	// EUnsupported refuses a body of a kind the server does not take,
	// such as multipart/form-data.
	EUnsupported = "unsupported_media_type"
	EInternal    = "internal"
	// EStepUp refuses a dangerous request from a session whose last
	// second factor is older than access.step_up: give one again.
	EStepUp = "step_up_required"
	// EFactorPending refuses any request but the second factor's (or
	// enrolling one) from a session that still waits for it.
	EFactorPending = "second_factor_required"
)

// FieldError is one problem with a key of a config block (a check type's
// block, a receiver's), reported under the key it concerns relative to the
// block ("url"); "" for the block itself.
type FieldError struct {
	Key     string
	Message string
}

// Error is a domain error with a code that callers can act on and a message
// that is safe to show to the person who made the request.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with the given code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EInternal for
// any other error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the message of the first *Error in err's chain, and a
// generic text for other errors so that internals never leak to clients.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// ErrPasswordChanged is wrapped by the error of a change of a password
// that was made, when what should follow it (starting a new session,
// recording it in the audit log) failed: the person must not be told that
// their password is unchanged.
var ErrPasswordChanged = errors.New("the password was changed")

// limited is an ERateLimited error that says when to try again.
type limited struct {
	err   *Error
	after time.Duration
}

func (e *limited) Error() string { return e.err.Error() }
func (e *limited) Unwrap() error { return e.err }

// RateLimited returns an ERateLimited error with the message, which may
// be tried again after the given time: the API sends it as Retry-After.
func RateLimited(after time.Duration, format string, args ...any) error {
	return &limited{err: Errorf(ERateLimited, format, args...), after: after}
}

// RetryAfter returns how long an error made by RateLimited asks to wait;
// false for any other error.
func RetryAfter(err error) (time.Duration, bool) {
	var e *limited
	if errors.As(err, &e) {
		return e.after, true
	}
	return 0, false
}
