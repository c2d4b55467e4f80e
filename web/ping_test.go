package web

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/heartbeat"
	"github.com/nightowl/nightowl/internal/clocktest"
	"github.com/nightowl/nightowl/probe"
)

// fakePinger records pings; its func decides the answer.
type fakePinger struct {
	fn    func(token string, p nightowl.Ping) (nightowl.Ping, error)
	mu    sync.Mutex
	got   []nightowl.Ping
	token []string
}

func (f *fakePinger) Ping(token string, p nightowl.Ping) (nightowl.Ping, error) {
	f.mu.Lock()
	f.got = append(f.got, p)
	f.token = append(f.token, token)
	f.mu.Unlock()
	if f.fn != nil {
		return f.fn(token, p)
	}
	return p, nil
}

func (f *fakePinger) last(t *testing.T) (string, nightowl.Ping) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.got) == 0 {
		t.Fatal("no ping reached the pinger")
	}
	return f.token[len(f.token)-1], f.got[len(f.got)-1]
}

func (f *fakePinger) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.got)
}

const pingToken = "Zm9vYmFyYmF6cXV4MDEyMw"

var pingT0 = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)

func newPingServer(t *testing.T, f *fakePinger) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/ping/", PingHandler(f, clocktest.New(pingT0)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestPingRoutes(t *testing.T) {
	f := &fakePinger{fn: func(token string, p nightowl.Ping) (nightowl.Ping, error) {
		if token != pingToken {
			return p, nightowl.Errorf(nightowl.ENotFound, "no heartbeat check has this token")
		}
		return p, nil
	}}
	srv := newPingServer(t, f)
	type want struct {
		kind nightowl.PingKind
		exit int // -1: none
	}
	routes := []struct {
		suffix string
		want   want
	}{
		{"", want{nightowl.PingSuccess, -1}},
		{"/", want{nightowl.PingSuccess, -1}},
		{"/start", want{nightowl.PingStart, -1}},
		{"/fail", want{nightowl.PingFail, -1}},
		{"/log", want{nightowl.PingLog, -1}},
		{"/0", want{nightowl.PingSuccess, 0}},
		{"/1", want{nightowl.PingFail, 1}},
		{"/255", want{nightowl.PingFail, 255}},
		{"/007", want{nightowl.PingFail, 7}},
	}
	for _, method := range []string{"GET", "HEAD", "POST"} {
		for _, rt := range routes {
			t.Run(method+" "+rt.suffix, func(t *testing.T) {
				req, _ := http.NewRequest(method, srv.URL+"/ping/"+pingToken+rt.suffix, nil)
				req.Header.Set("User-Agent", "curl/8.5.0")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				wantBody := "OK"
				if method == "HEAD" {
					wantBody = ""
				}
				if resp.StatusCode != 200 || string(body) != wantBody {
					t.Fatalf("answer %d %q, want 200 %q", resp.StatusCode, body, wantBody)
				}
				if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
					t.Errorf("Content-Type = %q", ct)
				}
				if o := resp.Header.Get("Access-Control-Allow-Origin"); o != "*" {
					t.Errorf("Access-Control-Allow-Origin = %q", o)
				}
				token, p := f.last(t)
				if token != pingToken || p.Kind != rt.want.kind || p.Method != method ||
					p.UserAgent != "curl/8.5.0" || !strings.HasPrefix(p.Remote, "127.0.0.1:") ||
					!p.Time.Equal(pingT0) || p.RID != "" || p.Body != "" || p.Truncated {
					t.Errorf("ping = %+v (token %q)", p, token)
				}
				switch {
				case rt.want.exit < 0 && p.ExitCode != nil:
					t.Errorf("exit code %d, want none", *p.ExitCode)
				case rt.want.exit >= 0 && (p.ExitCode == nil || *p.ExitCode != rt.want.exit):
					t.Errorf("exit code %v, want %d", p.ExitCode, rt.want.exit)
				}
			})
		}
	}
}

func TestPingRefusals(t *testing.T) {
	f := &fakePinger{fn: func(token string, p nightowl.Ping) (nightowl.Ping, error) {
		switch token {
		case pingToken:
			return p, nil
		case "invalid-ping-token-000":
			return p, nightowl.Errorf(nightowl.EInvalid, "a start ping carries no exit code")
		case "broken-store-token-000":
			return p, io.ErrUnexpectedEOF
		}
		return p, nightowl.Errorf(nightowl.ENotFound, "no heartbeat check has this token")
	}}
	srv := newPingServer(t, f)
	cases := []struct {
		name, method, path string
		status             int
		body               string
		reaches            bool // whether the pinger is asked
	}{
		{"unknown token", "GET", "/ping/no-such-token-000000", 404, "not found", true},
		{"unknown token with exit code", "POST", "/ping/no-such-token-000000/0", 404, "not found", true},
		{"no token", "GET", "/ping/", 404, "not found", false},
		{"unknown suffix", "GET", "/ping/" + pingToken + "/restart", 404, "not found", false},
		{"suffix with a trailing slash", "GET", "/ping/" + pingToken + "/start/", 404, "not found", false},
		{"negative exit code", "GET", "/ping/" + pingToken + "/-1", 404, "not found", false},
		{"exit code 256", "GET", "/ping/" + pingToken + "/256", 400, "invalid url format: exit code must be 0 to 255", false},
		{"huge exit code", "GET", "/ping/" + pingToken + "/99999999999999999999", 400, "invalid url format: exit code must be 0 to 255", false},
		{"rid too long", "GET", "/ping/" + pingToken + "?rid=" + strings.Repeat("r", 65), 400, "invalid rid: at most 64 characters", false},
		{"rid badly escaped", "GET", "/ping/" + pingToken + "?rid=%zz", 400, "invalid rid: bad escape", false},
		{"PUT", "PUT", "/ping/" + pingToken, 405, "method not allowed", false},
		{"DELETE", "DELETE", "/ping/" + pingToken, 405, "method not allowed", false},
		{"invalid for the tracker", "GET", "/ping/invalid-ping-token-000", 400, "a start ping carries no exit code", true},
		{"internal error", "GET", "/ping/broken-store-token-000", 500, "internal error", true},
		{"HEAD unknown token has no body", "HEAD", "/ping/no-such-token-000000", 404, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := f.count()
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || string(body) != tc.body {
				t.Errorf("answer %d %q, want %d %q", resp.StatusCode, body, tc.status, tc.body)
			}
			if tc.status == 405 && resp.Header.Get("Allow") != "GET, HEAD, POST" {
				t.Errorf("Allow = %q", resp.Header.Get("Allow"))
			}
			if reached := f.count() > before; reached != tc.reaches {
				t.Errorf("pinger asked: %v, want %v", reached, tc.reaches)
			}
		})
	}
}

func TestPingRIDAndBody(t *testing.T) {
	f := &fakePinger{}
	srv := newPingServer(t, f)
	cases := []struct {
		name, method, query string
		body                []byte
		wantRID, wantBody   string
		truncated           bool
	}{
		{"rid on a start", "GET", "?rid=7f9c", nil, "7f9c", "", false},
		{"escaped rid among other parameters", "GET", "?x=1&rid=host%2F42+a&y", nil, "host/42 a", "", false},
		{"rid of 64 characters", "HEAD", "?rid=" + strings.Repeat("r", 64), nil, strings.Repeat("r", 64), "", false},
		{"body kept", "POST", "", []byte("backed up 42 files\n"), "", "backed up 42 files\n", false},
		{"body of exactly the limit", "POST", "", bytes.Repeat([]byte("a"), nightowl.MaxPingBody),
			"", strings.Repeat("a", nightowl.MaxPingBody), false},
		{"body of 150 KB truncated", "POST", "?rid=r1", bytes.Repeat([]byte("0123456789"), 15_000),
			"r1", strings.Repeat("0123456789", nightowl.MaxPingBody/10), true},
		{"10 MB upload still answered", "POST", "", bytes.Repeat([]byte("x"), 10<<20),
			"", strings.Repeat("x", nightowl.MaxPingBody), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != nil {
				body = bytes.NewReader(tc.body)
			}
			req, _ := http.NewRequest(tc.method, srv.URL+"/ping/"+pingToken+"/start"+tc.query, body)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			answer, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("answer %d %q", resp.StatusCode, answer)
			}
			_, p := f.last(t)
			if p.RID != tc.wantRID || p.Body != tc.wantBody || p.Truncated != tc.truncated {
				t.Errorf("ping rid %q, body of %d bytes, truncated %v; want %q, %d bytes, %v",
					p.RID, len(p.Body), p.Truncated, tc.wantRID, len(tc.wantBody), tc.truncated)
			}
		})
	}
}

// TestPingHandlerMountedBehindStripPrefix: the handler also serves paths
// from which the /ping prefix has been removed.
func TestPingHandlerMountedBehindStripPrefix(t *testing.T) {
	f := &fakePinger{}
	h := http.StripPrefix("/ping", PingHandler(f, nil))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/ping/"+pingToken+"/fail", nil))
	token, p := f.last(t)
	if w.Code != 200 || token != pingToken || p.Kind != nightowl.PingFail {
		t.Errorf("answer %d, token %q, ping %+v", w.Code, token, p)
	}
}

// pingerFunc is a Pinger that records nothing, for benchmarks.
type pingerFunc func(token string, p nightowl.Ping) (nightowl.Ping, error)

func (f pingerFunc) Ping(token string, p nightowl.Ping) (nightowl.Ping, error) { return f(token, p) }

func BenchmarkPingHandler(b *testing.B) {
	h := PingHandler(pingerFunc(func(_ string, p nightowl.Ping) (nightowl.Ping, error) { return p, nil }), nil)
	req := httptest.NewRequest("GET", "/ping/"+pingToken+"/0?rid=abc", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
	}
}

// discardStore is a Store that keeps nothing, for the loopback benchmark.
type discardStore struct{ nightowl.Store }

func (discardStore) SavePing(nightowl.Ping)           {}
func (discardStore) SaveHeartbeat(nightowl.Heartbeat) {}

// BenchmarkPingLoopback measures pings over HTTP on loopback against a real
// tracker with 10,000 checks; client and server share the machine's cores.
func BenchmarkPingLoopback(b *testing.B) {
	const n = 10_000
	tr, err := heartbeat.New(heartbeat.Options{Store: discardStore{},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Report: func(string, time.Time, nightowl.Facts) {}})
	if err != nil {
		b.Fatal(err)
	}
	checks := make([]heartbeat.Check, n)
	for i := range checks {
		spec := &probe.Heartbeat{Period: time.Hour}
		spec.Validate()
		checks[i] = heartbeat.Check{Name: fmt.Sprint("job-", i), Spec: spec}
	}
	if err := tr.SetChecks(checks, nil); err != nil {
		b.Fatal(err)
	}
	urls := make([]string, n)
	srv := httptest.NewServer(PingHandler(tr, nil))
	defer srv.Close()
	for i, c := range checks {
		tok, _ := tr.Token(c.Name)
		urls[i] = srv.URL + "/ping/" + tok
	}
	tr.Start(context.Background())
	defer tr.Stop()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	var seq atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seq.Add(1)) * 997
		for pb.Next() {
			i++
			resp, err := client.Get(urls[i%n])
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pings/s")
}

// TestPingUnknownTokenReadsNoBody: a ping to a token nobody has is refused
// from its headers, before a byte of the body it announces has come, so a
// stranger cannot hold the handler by sending a body slowly.
func TestPingUnknownTokenReadsNoBody(t *testing.T) {
	tr, err := heartbeat.New(heartbeat.Options{Store: discardStore{},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Report: func(string, time.Time, nightowl.Facts) {}})
	if err != nil {
		t.Fatal(err)
	}
	spec := &probe.Heartbeat{Period: time.Hour}
	spec.Validate()
	if err := tr.SetChecks([]heartbeat.Check{{Name: "job", Spec: spec}}, nil); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(PingHandler(tr, nil))
	defer srv.Close()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /ping/no-such-token HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nfirst bytes")
	// The guard against a hang: without the lookup first, the handler
	// waits for the rest of the body, which never comes.
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer before the body: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown token: %d, want 404", resp.StatusCode)
	}
}
