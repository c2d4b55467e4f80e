package assert

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/nightowl/nightowl"
)

// FuzzAssertion: any expression either fails to compile with a one-line
// message and a column inside it, or compiles to an assertion that, on any
// facts (the JSON body as parsed, any status and body), gives the same
// verdict every time and explains every failure.
func FuzzAssertion(f *testing.F) {
	for _, s := range []struct{ src, json string }{
		{"status == 200", `{}`},
		{`json.state == "ok"`, `{"state": "degraded"}`},
		{`json.items[0].lag < 5 and status < 400`, `{"items": [{"lag": 7}]}`},
		{`not (body contains "read-only mode")`, `null`},
		{`len(json) > 2 || json.a.b.c`, `[1, 2]`},
		{`body matches "^(a+)+$"`, `1e308`},
		{`duration < 2 and cert_days_left > 7`, `"x"`},
		{`json.a ?? 1 == 1`, `{"a": null}`},
		{"status ==", ""},
		{"\n", ""},
	} {
		f.Add(s.src, []byte(s.json), 503, "body")
	}
	f.Fuzz(func(t *testing.T, src string, jsonBody []byte, status int, body string) {
		if len(src) > 1000 {
			return // config values are lines, not programs
		}
		var c Compiler // one per input: a shared one would keep every program
		a, err := c.Compile("http", httpEnv, "a", src, "")
		if err != nil {
			ce, ok := err.(*CompileError)
			if !ok || ce.Message == "" || strings.Contains(ce.Message, "\n") || ce.Column < 1 {
				t.Fatalf("%q: %#v", src, err)
			}
			return
		}
		var j any
		if json.Unmarshal(jsonBody, &j) != nil {
			j = string(jsonBody)
		}
		facts := nightowl.Facts{"status": status, "body": body, "headers": map[string]string{"x": body}, "json": j, "duration": 0.5, "cert_days_left": nil}
		got := a.Eval(facts)
		if got.OK != (got.Message == "") {
			t.Fatalf("%q: OK %v with message %q", src, got.OK, got.Message)
		}
		if again := a.Eval(facts); !reflect.DeepEqual(got, again) {
			t.Fatalf("%q: %+v, then %+v", src, got, again)
		}
	})
}
