package main

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// cell makes text from the server safe to print in a terminal: reasons,
// names and messages that people typed may hold escape sequences (which
// recolour, retitle or rewrite the terminal) or characters that reorder
// text. Control characters (C0, DEL, C1), bidi controls and bytes that are
// not UTF-8 are shown escaped, as \x1b or \u202e; tabs and newlines too, so
// that a cell stays one cell of its table.
func cell(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case escaped(r) && r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case escaped(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func needsEscape(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for _, r := range s {
		if escaped(r) {
			return true
		}
	}
	return false
}

// escaped reports whether cell shows r escaped: C0, DEL, C1, and the bidi
// embeddings, overrides, isolates and marks.
func escaped(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r <= 0x9f) ||
		(r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) ||
		r == 0x200e || r == 0x200f || r == 0x061c
}
