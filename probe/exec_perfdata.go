package probe

import (
	"strconv"
	"strings"
)

// parsePluginOutput splits a plugin's output as the monitoring-plugins
// development guidelines lay it out:
//
//	TEXT OUTPUT | OPTIONAL PERFDATA
//	LONG TEXT LINE 1
//	LONG TEXT LINE N | PERFDATA LINE 2
//	PERFDATA LINE N
//
// The first "|" of the first line starts its performance data; on the later
// lines the first "|" ends the long text, and everything after it is
// performance data. output is the text lines, trimmed; perf maps each label
// to its value (see parsePerfValue). perf is empty, not nil, when the
// plugin gave none, so that perfdata["x"] is nil rather than an error.
func parsePluginOutput(s string) (output string, perf map[string]any) {
	perf = map[string]any{}
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	text, data, _ := strings.Cut(lines[0], "|")
	texts := []string{strings.TrimRight(text, " \t")}
	parsePerfdata(data, perf)
	inPerf := false
	for _, line := range lines[1:] {
		if inPerf {
			parsePerfdata(line, perf)
			continue
		}
		if text, data, ok := strings.Cut(line, "|"); ok {
			inPerf = true
			line = text
			parsePerfdata(data, perf)
		}
		texts = append(texts, strings.TrimRight(line, " \t"))
	}
	return strings.TrimSpace(strings.Join(texts, "\n")), perf
}

// parsePerfdata adds the space-separated 'label'=value[UOM];warn;crit;min;max
// items of s to perf. Labels may be quoted with single quotes, which lets
// them hold spaces; inside the quotes, two quotes in a row stand for one.
// Items that do not parse are skipped, as Nagios does, and the first of two
// items with one label wins.
func parsePerfdata(s string, perf map[string]any) {
	i := 0
	for i < len(s) {
		if perfSpace(s[i]) {
			i++
			continue
		}
		var label string
		if s[i] == '\'' {
			var b strings.Builder
			j, closed := i+1, false
			for j < len(s) {
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					closed = true
					j++
					break
				}
				b.WriteByte(s[j])
				j++
			}
			if !closed || j >= len(s) || s[j] != '=' {
				i = perfNextSpace(s, i+1)
				continue
			}
			label, i = b.String(), j+1
		} else {
			j := i
			for j < len(s) && s[j] != '=' && !perfSpace(s[j]) {
				j++
			}
			if j >= len(s) || s[j] != '=' {
				i = j
				continue
			}
			label, i = s[i:j], j+1
		}
		j := perfNextSpace(s, i)
		data := s[i:j]
		i = j
		if label == "" {
			continue
		}
		if _, dup := perf[label]; dup {
			continue
		}
		if v, ok := parsePerfValue(data); ok {
			perf[label] = v
		}
	}
}

func perfSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func perfNextSpace(s string, i int) int {
	for i < len(s) && !perfSpace(s[i]) {
		i++
	}
	return i
}

// parsePerfValue parses value[UOM];warn;crit;min;max, where every field
// after the value may be empty or missing. The result has every key, so
// that an assertion can read any of them:
//
//	value, min, max    float64, nil when empty (value "U": undetermined)
//	uom                "s", "%", "B", "KB", "c", …; "" for a plain number
//	warn, crit         float64 when the threshold is a plain number ("80"),
//	                   nil when empty or a range ("10:20", "@5:10", "~:5")
//	warn_range,        the threshold as written, nil when empty, so that
//	crit_range         ranges are not lost
//
// Values are as the plugin wrote them, without converting units.
func parsePerfValue(data string) (map[string]any, bool) {
	fields := strings.Split(data, ";")
	m := map[string]any{
		"value": nil, "uom": "", "warn": nil, "crit": nil, "min": nil, "max": nil,
		"warn_range": nil, "crit_range": nil,
	}
	if v := fields[0]; v != "U" {
		n := perfNumberPrefix(v)
		if n == 0 {
			return nil, false
		}
		f, err := strconv.ParseFloat(v[:n], 64)
		if err != nil {
			return nil, false
		}
		m["value"], m["uom"] = f, v[n:]
	}
	field := func(i int) string {
		if i < len(fields) {
			return strings.TrimSpace(fields[i])
		}
		return ""
	}
	for i, k := range []string{"warn", "crit"} {
		if raw := field(i + 1); raw != "" {
			m[k+"_range"] = raw
			m[k] = perfNumber(raw)
		}
	}
	m["min"] = perfNumber(field(3))
	m["max"] = perfNumber(field(4))
	return m, true
}

// perfNumber is s as a float64 when all of s is a number, otherwise nil.
func perfNumber(s string) any {
	if s == "" || perfNumberPrefix(s) != len(s) {
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil
	}
	return f
}

// perfNumberPrefix is the length of the decimal number that s starts with:
// an optional sign, digits with an optional fraction, an optional exponent.
// It leaves out what ParseFloat would also take but plugins do not mean as
// numbers ("Inf", "0x1p3"), so that the rest is the unit.
func perfNumberPrefix(s string) int {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return 0
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '-' || s[j] == '+') {
			j++
		}
		k := j
		for k < len(s) && s[k] >= '0' && s[k] <= '9' {
			k++
		}
		if k > j {
			i = k
		}
	}
	return i
}
