package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode/utf8"
)

// table prints rows of cells in aligned columns, every cell made safe for
// a terminal by cell: what it shows came from the server, and much of it
// from people (reasons, names, titles) or from monitored sites (errors).
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, header ...any) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	if len(header) > 0 {
		t.row(header...)
	}
	return t
}

// row adds a row. A painted cell keeps its colour codes, which are
// nightowl's own; every other cell is printed as fmt.Sprint prints it,
// through cell.
func (t *table) row(cells ...any) {
	for i, c := range cells {
		if i > 0 {
			io.WriteString(t.tw, "\t")
		}
		if p, ok := c.(painted); ok {
			io.WriteString(t.tw, string(p))
			continue
		}
		io.WriteString(t.tw, cell(fmt.Sprint(c)))
	}
	io.WriteString(t.tw, "\n")
}

func (t *table) flush() { t.tw.Flush() }

// painted is a cell that paint coloured.
type painted string

// cell makes text from the server safe to print in a terminal: reasons,
// names and messages that people typed may hold escape sequences (which
// recolour, retitle or rewrite the terminal) or characters that reorder
// text. Tabs and line breaks become spaces, so that a cell stays one cell
// of its table; every other control character (C0, DEL, C1), the bidi
// controls and bytes that are not UTF-8 are shown escaped, as \x1b or
// \u202e.
func cell(s string) string { return escapeText(s, false) }

// text is cell for text printed on lines of its own (a command's output,
// an HTTP response body, a request body): line breaks and tabs stay, a
// carriage return before a line break is dropped, and everything else
// cell escapes is escaped the same way.
func text(s string) string { return escapeText(s, true) }

func escapeText(s string, lines bool) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case s[i] == '\r' && strings.HasPrefix(s[i:], "\r\n"):
			if lines {
				b.WriteByte('\n')
			} else {
				b.WriteByte(' ')
			}
			n = 2
		case lines && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case r == '\n' || r == '\t' || (r == '\r' && !lines):
			b.WriteByte(' ')
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
