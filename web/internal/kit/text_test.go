package kit

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/nightowl/nightowl"
)

func TestCheckText(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		rule     TextRule
		want     string // in the error; "" for none
	}{
		{"plain", "Deploy of 4.2 — checkout", LineText, ""},
		{"emoji with joiner", "on call 🧑‍💻", LineText, ""},
		{"right-to-left text", "שלום עולם", LineText, ""},
		{"escape", "a\x1b[31m", LineText, "reason must not contain control characters (U+001B at character 2)"},
		{"newline in a line", "a\nb", LineText, "control characters (U+000A"},
		{"newline in a message", "a\r\nb\tc", LinesText, ""},
		{"DEL", "a\x7f", LinesText, "U+007F"},
		{"C1", "a\u0085", LinesText, "U+0085"},
		{"override", "a\u202eb", LinesText, "reorder text (U+202E"},
		{"isolate", "\u2067x", LinesText, "U+2067"},
		{"mark", "x\u200f", LineText, "U+200F"},
		{"not UTF-8", "a\xff", LineText, "not valid UTF-8"},
		{"zero width space in a name", "a\u200bb", ByText, "plain printable text (U+200B"},
		{"zero width space in a message", "a\u200bb", LinesText, ""},
		{"long name", strings.Repeat("x", 65), ByText, "65 characters long; at most 64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckText("reason", tc.in, tc.rule)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (nightowl.ErrorCode(err) != nightowl.EInvalid || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want invalid with %q", err, tc.want)
			}
		})
	}
}

// FuzzCheckText: whatever CheckText lets through holds no control
// character but the line breaks and tabs a rule allows, and no bidi control.
func FuzzCheckText(f *testing.F) {
	for _, s := range []string{"", "ok", "a\x1b[2J", "a\nb", "\u202e", "\xff", "🧑‍💻"} {
		f.Add(s, false, false)
	}
	f.Fuzz(func(t *testing.T, s string, lines, plain bool) {
		rule := TextRule{Max: 100, Lines: lines, Plain: plain}
		if CheckText("f", s, rule) != nil {
			return
		}
		if !utf8.ValidString(s) || utf8.RuneCountInString(s) > 100 {
			t.Fatalf("accepted %q", s)
		}
		for _, r := range s {
			if (unicode.Is(unicode.Cc, r) && !(lines && strings.ContainsRune("\n\r\t", r))) || bidiControl(r) || (plain && unicode.Is(unicode.Cf, r)) {
				t.Fatalf("accepted %q with %U", s, r)
			}
		}
	})
}
