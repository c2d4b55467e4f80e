package oncall

import (
	"bytes"
	"strings"
	"time"
	"unicode/utf8"
)

// Event is one shift in a calendar.
type Event struct {
	// UID names the shift for good: a calendar that fetches the feed
	// again updates the event rather than adding another.
	UID                  string
	Summary, Description string
	From, To             time.Time
}

// RefreshInterval is how often a calendar is asked to fetch a feed again.
const RefreshInterval = "PT1H"

// Calendar writes events as an iCalendar document (RFC 5545): times in
// UTC, text escaped, lines folded at 75 octets, CRLF line ends.
func Calendar(name string, events []Event, now time.Time) []byte {
	var b bytes.Buffer
	line := func(s string) { fold(&b, s) }
	stamp := now.UTC().Format(icalTime)
	line("BEGIN:VCALENDAR")
	line("VERSION:2.0")
	line("PRODID:-//nightowl//on call//EN")
	line("CALSCALE:GREGORIAN")
	line("METHOD:PUBLISH")
	line("NAME:" + escapeText(name))
	line("X-WR-CALNAME:" + escapeText(name))
	line("REFRESH-INTERVAL;VALUE=DURATION:" + RefreshInterval)
	line("X-PUBLISHED-TTL:" + RefreshInterval)
	for _, e := range events {
		line("BEGIN:VEVENT")
		line("UID:" + escapeText(e.UID))
		line("DTSTAMP:" + stamp)
		line("DTSTART:" + e.From.UTC().Format(icalTime))
		line("DTEND:" + e.To.UTC().Format(icalTime))
		line("SUMMARY:" + escapeText(e.Summary))
		if e.Description != "" {
			line("DESCRIPTION:" + escapeText(e.Description))
		}
		line("TRANSP:OPAQUE")
		line("END:VEVENT")
	}
	line("END:VCALENDAR")
	return b.Bytes()
}

const icalTime = "20060102T150405Z"

// escapeText escapes a TEXT value (RFC 5545 3.3.11): backslash, semicolon,
// comma and line breaks; other control characters are dropped.
func escapeText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == ';':
			b.WriteString(`\;`)
		case r == ',':
			b.WriteString(`\,`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
		case r < 0x20 || r == 0x7f:
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// fold writes a content line, folded so that no line is longer than 75
// octets (RFC 5545 3.1), never inside a UTF-8 sequence.
func fold(b *bytes.Buffer, s string) {
	limit := 75
	for len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		b.WriteString(s[:cut])
		b.WriteString("\r\n ")
		s = s[cut:]
		// The space that begins a continuation line counts.
		limit = 74
	}
	b.WriteString(s)
	b.WriteString("\r\n")
}
