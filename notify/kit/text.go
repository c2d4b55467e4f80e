package kit

import (
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/nightowl/nightowl"
)

// Truncate cuts s to at most limit characters (runes, not bytes), an
// ellipsis marking the cut: receivers' limits are counted in characters.
func Truncate(s string, limit int) string {
	if limit <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	r := []rune(s)
	return string(r[:limit-1]) + "…"
}

// SmallPrint is the line a chat message ends with: which alert (for
// nightowl ack), how bad, and where ("alert ID · critical · site=math
// tier=web").
func SmallPrint(m *nightowl.Message) string {
	parts := []string{"alert " + m.Alert.ID}
	if m.Alert.Severity != "" {
		parts = append(parts, string(m.Alert.Severity))
	}
	var labels []string
	for _, k := range slices.Sorted(maps.Keys(m.Alert.Labels)) {
		labels = append(labels, k+"="+m.Alert.Labels[k])
	}
	if len(labels) > 0 {
		parts = append(parts, strings.Join(labels, " "))
	}
	return strings.Join(parts, " · ")
}
