package nightowl

import (
	"strings"
	"time"
)

// FormatDuration writes d as time.Duration.String does, without the zero
// units it keeps: 2h rather than 2h0m0s, 15m rather than 15m0s. What
// people read (config errors, alerts, events) says durations this way.
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
