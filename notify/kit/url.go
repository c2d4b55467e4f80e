package kit

import (
	"net/url"

	"github.com/nightowl/nightowl"
)

// CheckURL says what is wrong with a receiver URL, or "". The message
// never quotes the URL: receiver URLs often carry their secret in the
// path or the query.
func CheckURL(raw string) string {
	if raw == "" {
		return "required"
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "not a valid URL"
	case u.Scheme != "http" && u.Scheme != "https":
		return `scheme must be "http" or "https"`
	case u.Host == "":
		return "has no host"
	}
	return ""
}

// ValidateURL is CheckURL's finding as the error of a config block's key,
// or nothing, for a Validate to append.
func ValidateURL(key, raw string) []nightowl.FieldError {
	if msg := CheckURL(raw); msg != "" {
		return []nightowl.FieldError{{Key: key, Message: msg}}
	}
	return nil
}
