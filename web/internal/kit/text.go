package kit

import (
	"fmt"
	"maps"
	"slices"
	"unicode"
	"unicode/utf8"

	"github.com/nightowl/nightowl"
)

// Free text that people type (reasons, names, titles, messages) ends up in
// terminals (nightowl audit list), mail, chat and the audit log. It is
// refused at the API when it holds what a terminal or an editor would act
// on rather than show: control characters (C0, DEL, C1) and the Unicode
// controls that reorder text (bidi overrides, isolates and marks). Checked
// where a request is decoded, so that nothing is half-applied.

// TextRule says what one free-text field may hold.
type TextRule struct {
	// Max is the most runes the field may hold; no limit when zero.
	Max int
	// Lines allows newlines and tabs: messages and reasons written in a
	// text area.
	Lines bool
	// Plain refuses every Unicode format character (zero-width spaces and
	// joiners among them), for short names shown as who did something.
	Plain bool
}

// Rules for the kinds of free text the API takes. How long a title or a
// message may be is the services' to say; the characters are checked here.
var (
	LineText  = TextRule{}            // names, titles: one line
	LinesText = TextRule{Lines: true} // messages, reasons
	// ByText is the name given on an acknowledgement link's page, which
	// strangers holding a link may fill in.
	ByText = TextRule{Max: 64, Plain: true}
)

// TextField is one free-text field of a request, named as the client
// knows it.
type TextField struct {
	Name  string
	Value string
	Rule  TextRule
}

// Field is the field name, as the client knows it, holding value, which
// must keep to rule.
func Field(name, value string, rule TextRule) TextField {
	return TextField{Name: name, Value: value, Rule: rule}
}

// CheckTexts returns the first field's error, if any.
func CheckTexts(fields ...TextField) error {
	for _, f := range fields {
		if err := CheckText(f.Name, f.Value, f.Rule); err != nil {
			return err
		}
	}
	return nil
}

// ParamTexts are an action's parameters as free text, in the order of
// their names: their patterns are the operator's to write, and one that
// lets anything through must not let an approver be shown a command that
// reads otherwise than it runs. Line breaks may be meant (a message in a
// body), and the pattern says whether they are.
func ParamTexts(params map[string]string) []TextField {
	var out []TextField
	for _, k := range slices.Sorted(maps.Keys(params)) {
		out = append(out, Field("params."+k, params[k], LinesText))
	}
	return out
}

// bidiControl reports whether r reorders the text around it: the
// embeddings and overrides U+202A–U+202E, the isolates U+2066–U+2069 and
// the marks U+200E, U+200F and U+061C.
func bidiControl(r rune) bool {
	return (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) || r == 0x200E || r == 0x200F || r == 0x061C
}

// CheckText returns an EInvalid error naming field when s breaks rule.
func CheckText(field, s string, rule TextRule) error {
	if !utf8.ValidString(s) {
		return nightowl.Errorf(nightowl.EInvalid, "%s is not valid UTF-8 text", field)
	}
	if n := utf8.RuneCountInString(s); rule.Max > 0 && n > rule.Max {
		return nightowl.Errorf(nightowl.EInvalid, "%s is %d characters long; at most %d are allowed", field, n, rule.Max)
	}
	pos := 0
	for _, r := range s {
		pos++
		switch {
		case rule.Lines && (r == '\n' || r == '\t' || r == '\r'):
		case unicode.Is(unicode.Cc, r):
			return nightowl.Errorf(nightowl.EInvalid, "%s must not contain control characters (%s at character %d)", field, runeName(r), pos)
		case bidiControl(r):
			return nightowl.Errorf(nightowl.EInvalid, "%s must not contain characters that reorder text (%s at character %d)", field, runeName(r), pos)
		case rule.Plain && unicode.Is(unicode.Cf, r):
			return nightowl.Errorf(nightowl.EInvalid, "%s must be plain printable text (%s at character %d)", field, runeName(r), pos)
		}
	}
	return nil
}

func runeName(r rune) string { return fmt.Sprintf("U+%04X", r) }
