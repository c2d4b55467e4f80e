package actions

import (
	"net/url"
	"strings"
	"testing"

	"github.com/nightowl/nightowl"
)

// FuzzFillURL: whatever a value holds, it stays one path segment that is
// not "." or "..", and one query value, or is refused.
func FuzzFillURL(f *testing.F) {
	for _, s := range []string{"a", "..", ".", "", "a/b", "x&y=z", "%2e%2e", "?#", "a b", "é/../"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		out, err := fillURL("http://h/a/{{p}}/b?q={{p}}", map[string]string{"p": v})
		if err != nil {
			if nightowl.ErrorCode(err) != nightowl.EInvalid {
				t.Fatalf("%q: %v", v, err)
			}
			return
		}
		u, err := url.Parse(out)
		if err != nil {
			t.Fatalf("%q filled %q, which does not parse: %v", v, out, err)
		}
		segs := strings.Split(u.EscapedPath(), "/")
		if len(segs) != 4 || segs[1] != "a" || segs[3] != "b" || segs[2] == "." || segs[2] == ".." {
			t.Fatalf("%q filled the path %q", v, u.EscapedPath())
		}
		if seg, err := url.PathUnescape(segs[2]); err != nil || seg != v {
			t.Fatalf("%q became the segment %q (%v)", v, seg, err)
		}
		if q := u.Query(); len(q) != 1 || len(q["q"]) != 1 || q.Get("q") != v || u.Fragment != "" {
			t.Fatalf("%q filled the query %q", v, u.RawQuery)
		}
	})
}
