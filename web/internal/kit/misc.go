package kit

import (
	"strings"
	"unicode/utf8"

	"github.com/nightowl/nightowl"
)

// Truncate cuts s to at most n bytes, at the start of a character.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// ComponentID makes a stable ID of a component's name.
func ComponentID(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return b.String()
}

// DayClass names how bad a day of uptime u (in percent, -1 for no runs)
// was, for the colour of its bar: none, ok, minor, partial or major.
func DayClass(u float64) string {
	switch {
	case u < 0:
		return "none"
	case u >= 99.9:
		return "ok"
	case u >= 99:
		return "minor"
	case u >= 95:
		return "partial"
	}
	return "major"
}

// ParseSelector reads a selector as nightowl maint start --checks takes it:
// comma-separated label=value pairs and check names.
func ParseSelector(s string) nightowl.Selector {
	var sel nightowl.Selector
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if k, v, ok := strings.Cut(part, "="); ok {
			if sel.Labels == nil {
				sel.Labels = map[string]string{}
			}
			sel.Labels[strings.TrimSpace(k)] = strings.TrimSpace(v)
		} else {
			sel.Names = append(sel.Names, part)
		}
	}
	return sel
}
