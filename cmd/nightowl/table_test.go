package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/nightowl/nightowl/app"
)

func TestCellEscapes(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "ana (link)", "ana (link)"},
		{"unicode kept", "Zoë 🦉 — 東京", "Zoë 🦉 — 東京"},
		{"escape sequence", "ok\x1b[2J\x1b]0;pwned\x07", `ok\x1b[2J\x1b]0;pwned\x07`},
		{"line breaks and tabs become spaces", "one\ntwo\r\nthree\rfour\tfive", "one two three four five"},
		{"NUL and DEL", "a\x00b\x7fc", `a\x00b\x7fc`},
		{"C1", "a\u0085b\u009bc", `a\x85b\x9bc`},
		{"bidi override", "invoice\u202efdp.exe", `invoice\u202efdp.exe`},
		{"bidi isolates and marks", "\u2066a\u2069\u200e\u200f\u061c", `\u2066a\u2069\u200e\u200f\u061c`},
		{"not UTF-8", "a\xffb", `a\xffb`},
		{"backslashes kept", `C:\temp`, `C:\temp`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := cell(tc.in); got != tc.want {
				t.Errorf("cell(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestTableEscapesEveryCell: no cell can put a control character on the
// terminal or split the table, whatever type it is; painted cells keep
// their colours.
func TestTableEscapesEveryCell(t *testing.T) {
	var buf bytes.Buffer
	tw := newTable(&buf, "A", "B", "C")
	tw.row("x\x1b[31m", painted("\x1b[0;32mup\x1b[0m"), "y\tz\u202e")
	tw.row(42, "\x9b1m", "")
	tw.flush()
	out := buf.String()
	if want := "\x1b[0;32mup\x1b[0m"; strings.Count(out, "\x1b") != 2 || !strings.Contains(out, want) {
		t.Errorf("escapes other than the painted cell's:\n%q", out)
	}
	for _, want := range []string{`x\x1b[31m`, `y z\u202e`, `\x9b1m`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\n"); n != 3 {
		t.Errorf("%d lines, want 3:\n%s", n, out)
	}
}

// TestAuditListEscapes: an entry written with an escape sequence in it (by
// an older server, or straight into the database) is listed escaped.
func TestAuditListEscapes(t *testing.T) {
	ctx := context.Background()
	cfg := writeFile(t, t.TempDir(), "nightowl.yaml", "")
	st, err := app.OpenStorage(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Access("mallory\x1b]0;owned\x07\u202e").AddUser(ctx, "ana", "viewer", "correct horse battery staple"); err != nil {
		t.Fatal(err)
	}
	st.Close()
	code, out, errOut := runCmd(t, nil, "audit", "list", "-c", cfg)
	if code != 0 || strings.ContainsAny(out, "\x1b\x07\u202e") || !strings.Contains(out, `mallory\x1b]0;owned\x07\u202e`) {
		t.Fatalf("audit list: exit %d: %q %s", code, out, errOut)
	}
}
