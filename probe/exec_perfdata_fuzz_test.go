package probe

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// FuzzParsePluginOutput: whatever a plugin prints, the text keeps no
// performance data, every value has every key, and every item written back
// in the canonical form parses to what was parsed.
func FuzzParsePluginOutput(f *testing.F) {
	for _, s := range []string{
		"", "OK", "DISK OK - free space: / 3326 MB (56%); | /=2643MB;5948;5958;0;5968",
		"PING OK | rta=0.08ms;100.000;500.000;0; pl=0%;20;60;0\nlong text | 'in use'=3;;;0;10\nload1=0.5",
		"x | 'it''s'=1e3s;10:20;@5:10;-1;U a=U;;; b=-.5e-3KB c=1.5.5 d=1e",
		"a|b|c\r\nd|e=1", "|0=0e0. 1=1.. 2=2e+", "| ''=1 '=2 'unclosed=3 ==4 =5", "t | a=\t b=1;~:5;;abc;2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, perf := parsePluginOutput(s)
		if strings.Contains(out, "|") {
			t.Fatalf("%q: text %q holds performance data", s, out)
		}
		if perf == nil {
			t.Fatalf("%q: nil perfdata", s)
		}
		for label, v := range perf {
			m, ok := v.(map[string]any)
			if label == "" || !ok || len(m) != 8 {
				t.Fatalf("%q: %q = %#v", s, label, v)
			}
			again := map[string]any{}
			item := perfItem(label, m)
			parsePerfdata(item, again)
			if !reflect.DeepEqual(again[label], v) || len(again) != 1 {
				t.Fatalf("%q: %q = %v, written back as %q, parses to %v", s, label, v, item, again)
			}
		}
	})
}

// perfItem writes a parsed item back: the label quoted, the value with an
// exponent (so that a unit such as "." or "e" cannot be read as part of
// it) followed by its unit, the thresholds as written.
func perfItem(label string, m map[string]any) string {
	num := func(v any) string {
		if v == nil {
			return ""
		}
		return strconv.FormatFloat(v.(float64), 'e', -1, 64)
	}
	str := func(v any) string {
		if v == nil {
			return ""
		}
		return v.(string)
	}
	value := "U"
	if m["value"] != nil {
		value = num(m["value"]) + m["uom"].(string)
	}
	return "'" + strings.ReplaceAll(label, "'", "''") + "'=" + value + ";" + str(m["warn_range"]) + ";" + str(m["crit_range"]) + ";" + num(m["min"]) + ";" + num(m["max"])
}
