package web

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/clocktest"
)

// tokenPinger takes every ping, and knows a token when known says so.
type tokenPinger struct {
	known bool
	pings []nightowl.Ping
	token string
}

func (p *tokenPinger) Ping(token string, ping nightowl.Ping) (nightowl.Ping, error) {
	p.token = token
	p.pings = append(p.pings, ping)
	return ping, nil
}

func (p *tokenPinger) CheckFor(string) (string, bool) { return "c", p.known }

// countingReader counts what the handler read of a body.
type countingReader struct {
	r *bytes.Reader
	n int
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += n
	return n, err
}

// FuzzPing: whatever the method, path, query and body of a ping, the
// answer is 200 with exactly one ping whose token, kind and exit code are
// what the path says and whose body is what was sent (cut at
// MaxPingBody), or a refusal with no ping; an unknown token's body is not
// read.
func FuzzPing(f *testing.F) {
	for _, s := range []struct{ method, path, query, body string }{
		{"GET", "/ping/" + pingToken, "", ""},
		{"POST", "/ping/" + pingToken + "/start", "rid=" + strings.Repeat("r", 64), "starting"},
		{"POST", "/ping/" + pingToken + "/fail", "rid=a%2Fb&rid=c", "disk full\n"},
		{"HEAD", "/ping/" + pingToken + "/log", "rid=%zz", ""},
		{"GET", "/ping/" + pingToken + "/255", "", ""},
		{"GET", "/ping/" + pingToken + "/256", "", ""},
		{"GET", "/ping/" + pingToken + "/00000000000000000001", "", ""},
		{"GET", "/ping/" + pingToken + "/-1", "", ""},
		{"GET", "/" + pingToken + "/0", "rid=" + strings.Repeat("r", 65), ""},
		{"PUT", "/ping/x", "", "x"},
		{"GET", "/ping/", "", ""},
		{"POST", "/ping/x/y/z", "rid=+", "body"},
	} {
		f.Add(s.method, s.path, s.query, []byte(s.body), true)
	}
	f.Fuzz(func(t *testing.T, method, path, query string, body []byte, known bool) {
		p := &tokenPinger{known: known}
		cr := &countingReader{r: bytes.NewReader(body)}
		r := &http.Request{
			Method: method, URL: &url.URL{Path: path, RawQuery: query}, Header: http.Header{},
			Body: http.NoBody, ContentLength: int64(len(body)), RemoteAddr: "192.0.2.1:1234",
		}
		if len(body) > 0 {
			r.Body = struct {
				*countingReader
				closer
			}{cr, closer{}}
		}
		w := httptest.NewRecorder()
		PingHandler(p, clocktest.New(pingT0)).ServeHTTP(w, r)

		if (w.Code == http.StatusOK) != (len(p.pings) == 1) || len(p.pings) > 1 {
			t.Fatalf("%s %s?%s: %d with %d pings", method, path, query, w.Code, len(p.pings))
		}
		if method == http.MethodHead && w.Body.Len() > 0 || method != http.MethodHead && w.Body.Len() == 0 {
			t.Fatalf("%s: answer %q", method, w.Body)
		}
		switch w.Code {
		case http.StatusOK:
		case http.StatusMethodNotAllowed:
			if method == "GET" || method == "HEAD" || method == "POST" {
				t.Fatalf("%s refused", method)
			}
			return
		case http.StatusNotFound, http.StatusBadRequest:
			if !known && cr.n > 0 {
				t.Fatalf("read %d bytes of a ping for an unknown token", cr.n)
			}
			return
		default:
			t.Fatalf("%s %s?%s: %d %q", method, path, query, w.Code, w.Body)
		}
		ping := p.pings[0]
		rest, ok := strings.CutPrefix(path, "/ping/")
		if !ok {
			rest = strings.TrimPrefix(path, "/")
		}
		token, suffix, _ := strings.Cut(rest, "/")
		if p.token != token || token == "" || !known {
			t.Fatalf("%s: ping for %q (known %v)", path, p.token, known)
		}
		wantKind, wantExit := map[string]nightowl.PingKind{"": nightowl.PingSuccess, "start": nightowl.PingStart, "fail": nightowl.PingFail, "log": nightowl.PingLog}[suffix], -1
		if wantKind == "" {
			n, err := strconv.ParseUint(suffix, 10, 8)
			if err != nil || strings.Trim(suffix, "0123456789") != "" {
				t.Fatalf("%s: suffix %q taken", path, suffix)
			}
			wantKind, wantExit = nightowl.PingFail, int(n)
			if n == 0 {
				wantKind = nightowl.PingSuccess
			}
		}
		if ping.Kind != wantKind || (wantExit < 0) != (ping.ExitCode == nil) || ping.ExitCode != nil && *ping.ExitCode != wantExit {
			t.Fatalf("%s: %s exit %v, want %s %d", path, ping.Kind, ping.ExitCode, wantKind, wantExit)
		}
		keep := min(len(body), nightowl.MaxPingBody)
		if ping.Body != string(body[:keep]) || ping.Truncated != (len(body) > keep) {
			t.Fatalf("kept %d bytes of %d (truncated %v)", len(ping.Body), len(body), ping.Truncated)
		}
		if len(ping.RID) > maxRID || !strings.Contains(query, "rid=") && ping.RID != "" {
			t.Fatalf("query %q: rid %q", query, ping.RID)
		}
		if !ping.Time.Equal(pingT0) || ping.Method != method {
			t.Fatalf("%+v", ping)
		}
	})
}

type closer struct{}

func (closer) Close() error { return nil }
