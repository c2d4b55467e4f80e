package kit

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/nightowl/nightowl"
)

// errorStatus maps domain error codes to HTTP statuses: the one table.
var errorStatus = map[string]int{
	nightowl.EInvalid:      http.StatusBadRequest,
	nightowl.ENotFound:     http.StatusNotFound,
	nightowl.EConflict:     http.StatusConflict,
	nightowl.EForbidden:    http.StatusForbidden,
	nightowl.EUnauthorized: http.StatusUnauthorized,
	nightowl.ERateLimited:  http.StatusTooManyRequests,
	nightowl.EUnsupported:  http.StatusUnsupportedMediaType,
	nightowl.EInternal:     http.StatusInternalServerError,
	// Both are refusals that the right second factor lifts.
	nightowl.EStepUp:        http.StatusForbidden,
	nightowl.EFactorPending: http.StatusForbidden,
}

// StatusOf is the HTTP status err's code maps to; 500 for an error
// without a known code.
func StatusOf(err error) int {
	if s, ok := errorStatus[nightowl.ErrorCode(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// ErrorBody is the API's error shape: {"error": {"code", "message"}}, with
// details when there are several problems (a config's errors, one a line).
type ErrorBody struct {
	Error struct {
		Code    string   `json:"code"`
		Message string   `json:"message"`
		Details []string `json:"details,omitempty"`
	} `json:"error"`
}

// DetailedError is an error made of several problems, such as a config with
// many mistakes; the API lists them under details.
type DetailedError interface {
	error
	Details() []string
}

// WriteError answers with err in the API's error shape, under the status
// its code maps to.
func WriteError(w http.ResponseWriter, err error) {
	var body ErrorBody
	body.Error.Code = nightowl.ErrorCode(err)
	body.Error.Message = nightowl.ErrorMessage(err)
	var d DetailedError
	if errors.As(err, &d) {
		body.Error.Details = d.Details()
	}
	SetRetryAfter(w, err)
	WriteJSON(w, StatusOf(err), body)
}

// WriteJSON answers with v, not to be cached.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	WriteJSONBody(w, status, v)
}

// WriteJSONBody writes v, indented, after the headers the caller set.
func WriteJSONBody(w http.ResponseWriter, status int, v any) {
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// SetRetryAfter tells a client refused by a rate limit when to try again,
// as the error says (nightowl.RateLimited), in whole seconds, at least 1.
func SetRetryAfter(w http.ResponseWriter, err error) {
	if after, ok := nightowl.RetryAfter(err); ok {
		secs := int64((after + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	}
}
