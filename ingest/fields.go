package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/nightowl/nightowl"
)

// invalid is the error of a bad field: "alerts[2].status: must be firing
// or resolved".
func invalid(field, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if field != "" {
		msg = field + ": " + msg
	}
	return nightowl.Errorf(nightowl.EInvalid, "%s", msg)
}

// join names a field below prefix: join("alerts[2]", "labels") is
// "alerts[2].labels"; join("", "labels") is "labels".
func join(prefix, field string) string {
	switch {
	case prefix == "":
		return field
	case field == "":
		return prefix
	}
	return prefix + "." + field
}

// decode reads one JSON value from data into v, naming in its errors the
// field at fault below prefix. strict refuses fields v does not have.
func decode(data []byte, v any, prefix string, strict bool) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if strict {
		dec.DisallowUnknownFields()
	}
	err := dec.Decode(v)
	if err == nil {
		if _, err := dec.Token(); err != io.EOF {
			return invalid(prefix, "must be one JSON value, with nothing after it")
		}
		return nil
	}
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return invalid(join(prefix, te.Field), "must be %s, not %s", kind(te.Type.Kind().String()), te.Value)
	case errors.As(err, &se):
		return invalid(prefix, "not valid JSON at byte %d: %v", se.Offset, se)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return invalid(prefix, "not valid JSON: it ends too soon")
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, `json: unknown field "`); ok {
		return invalid(join(prefix, strings.TrimSuffix(f, `"`)), "unknown field")
	}
	if strings.Contains(msg, "Time.UnmarshalJSON") || strings.Contains(msg, "parsing time") {
		return invalid(prefix, "a time is not RFC 3339: %s", strings.TrimPrefix(msg, "json: "))
	}
	return invalid(prefix, "%s", strings.TrimPrefix(msg, "json: "))
}

func kind(k string) string {
	switch k {
	case "map", "struct":
		return "an object"
	case "slice":
		return "a list"
	case "string":
		return "a string"
	case "float64", "int", "int64":
		return "a number"
	case "bool":
		return "true or false"
	}
	return k
}

// labels checks and copies the labels of an alert at field.
func labels(field string, in map[string]string) (map[string]string, error) {
	if len(in) > MaxLabels {
		return nil, invalid(field, "at most %d labels, not %d", MaxLabels, len(in))
	}
	out := make(map[string]string, len(in)+1)
	for k, v := range in {
		switch {
		case k == "":
			return nil, invalid(field, "a label has no name")
		case len(k) > MaxLabelName:
			return nil, invalid(field, "label name %.32q… is longer than %d bytes", k, MaxLabelName)
		case !utf8.ValidString(k) || strings.ContainsFunc(k, isControl):
			return nil, invalid(field, "label name %q has control characters or invalid UTF-8", k)
		case len(v) > MaxLabelValue:
			return nil, invalid(join(field, k), "longer than %d bytes", MaxLabelValue)
		}
		out[k] = v
	}
	return out, nil
}

// key checks the key of an alert at field: present, bounded, printable.
func key(field, k string) error {
	switch {
	case k == "":
		return invalid(field, "required")
	case len(k) > MaxKey:
		return invalid(field, "longer than %d bytes", MaxKey)
	case !utf8.ValidString(k) || strings.ContainsFunc(k, isControl):
		return invalid(field, "has control characters or invalid UTF-8")
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// oneLine makes s one line of at most n bytes, cut at a rune: a title.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	return cut(s, n)
}

// cut shortens s to at most n bytes, at a rune, marking the cut.
func cut(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	i := n - len("…")
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// status reads a firing/resolved status at field.
func status(field, s string) (firing bool, err error) {
	switch s {
	case "firing":
		return true, nil
	case "resolved":
		return false, nil
	case "":
		return false, invalid(field, "required: firing or resolved")
	}
	return false, invalid(field, "must be firing or resolved, not %.32q", s)
}

// severityOf reads the severity label of Alertmanager and Grafana alerts:
// warning and info as such, anything else (critical, page, error, none at
// all) critical, since a tool that sent an alert meant it to be seen.
func severityOf(l map[string]string) Severity {
	switch strings.ToLower(l["severity"]) {
	case "warning", "warn":
		return Warning
	case "info", "informational", "none":
		return Info
	}
	return Critical
}

// alertList reads the alerts of a body at field: a list of at most
// MaxAlerts raw objects.
func alertList(field string, raw json.RawMessage) ([]json.RawMessage, error) {
	var list []json.RawMessage
	if len(raw) == 0 || string(raw) == "null" {
		return nil, invalid(field, "required: a list of alerts")
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, invalid(field, "must be a list of alerts")
	}
	if len(list) > MaxAlerts {
		return nil, invalid(field, "at most %d alerts in one request, not %d", MaxAlerts, len(list))
	}
	return list, nil
}
