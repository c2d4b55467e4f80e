package notifytest

import (
	"context"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify/kit"
)

// Request is what a test server saw.
type Request struct {
	Method, Path, Query string
	Header              http.Header
	Body                []byte
}

// Answer is how a test server replies.
type Answer struct {
	Status int
	Header map[string]string
	Body   string
	// Hang: reply nothing until the client gives up.
	Hang bool
}

// Serve starts a server that records every request and replies to each
// with a.
func Serve(t testing.TB, a Answer) (*httptest.Server, <-chan Request) {
	t.Helper()
	seen := make(chan Request, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen <- Request{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Clone(), b}
		if a.Hang {
			<-r.Context().Done()
			return
		}
		for k, v := range a.Header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(a.Status)
		io.WriteString(w, a.Body)
	}))
	t.Cleanup(srv.Close)
	return srv, seen
}

// Receiver is what Run needs to know of an HTTP receiver: how to set one
// up against a test server, and what every request it makes must look
// like. P is the receiver's *Config.
type Receiver[P kit.Spec] struct {
	// Config returns a valid configuration sending to the server at url.
	Config func(url string) P
	// Deps are the notifier's; Client is the test server's when nil.
	Deps kit.Deps
	// Message returns the message every case starts from.
	Message func() *nightowl.Message
	// Answer is the reply to the cases that give none.
	Answer Answer
	// Path and Query are where every request goes, by POST, unless the
	// case says otherwise.
	Path, Query string
	// Header holds the headers every request carries; "" for none.
	Header map[string]string
	// Request, when set, checks what else the receiver must send.
	Request func(t *testing.T, m *nightowl.Message, r Request)
	// Golden compares a body with the golden file a case names.
	Golden func(t testing.TB, name string, body []byte)
	// Secrets are what no error may show.
	Secrets []string
}

// Case is one message sent to a test server, and what must come of it.
type Case[P kit.Spec] struct {
	Name string
	// Config and Msg change the receiver's configuration and the message.
	Config func(P)
	Msg    func(*nightowl.Message)
	// Answer is the server's reply; the receiver's usual one when zero.
	Answer Answer
	// Refused: the server is gone before the send.
	Refused bool
	// Timeout is the send's deadline; 0 for none.
	Timeout time.Duration
	// Path and Query, when Path is set, are where the request goes
	// instead of the receiver's.
	Path, Query string
	// Header holds more headers the request carries, or other values of
	// the receiver's; "" for none.
	Header map[string]string
	// Golden names the golden file the body must equal; "" for none.
	Golden string
	Want   Want
}

// Kinds are the cases of the five kinds of message, firing, repeat,
// acknowledged, resolved and update, on the timeline tl, each compared
// with the golden file of its name.
func Kinds[P kit.Spec](tl Timeline) []Case[P] {
	var cs []Case[P]
	for _, kind := range []nightowl.MessageKind{nightowl.MessageFiring, nightowl.MessageRepeat,
		nightowl.MessageAcknowledged, nightowl.MessageResolved, nightowl.MessageUpdate} {
		cs = append(cs, Case[P]{Name: string(kind), Msg: tl.As(kind), Golden: string(kind)})
	}
	return cs
}

// Unreachable are the failures every HTTP receiver meets alike, each tried
// again later: a server that never answers, cut off by the send's own
// deadline, and one that is gone.
func Unreachable[P kit.Spec]() []Case[P] {
	return []Case[P]{
		{Name: "timeout", Answer: Answer{Hang: true}, Timeout: 100 * time.Millisecond,
			Want: Want{Retry: true, Err: "context deadline exceeded"}},
		{Name: "connection refused", Refused: true, Want: Want{Retry: true, Err: "connection refused"}},
	}
}

// Run sends each case's message through the receiver r describes to a
// server of its own and checks the outcome, the request the server saw,
// and its body against the case's golden file.
func Run[P kit.Spec](t *testing.T, r Receiver[P], cases []Case[P]) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			answer := tc.Answer
			if answer.Status == 0 && !answer.Hang {
				answer = r.Answer
			}
			srv, seen := Serve(t, answer)
			if tc.Refused {
				srv.Close()
			}
			c := r.Config(srv.URL)
			if tc.Config != nil {
				tc.Config(c)
			}
			deps := r.Deps
			if deps.Client == nil {
				deps.Client = srv.Client()
			}
			n := Notifier(t, c, deps)
			m := r.Message()
			if tc.Msg != nil {
				tc.Msg(m)
			}
			ctx := context.Background()
			if tc.Timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.Timeout)
				defer cancel()
			}
			retry, err := n.Notify(ctx, m)
			tc.Want.Check(t, retry, err, r.Secrets...)
			if tc.Refused {
				return
			}

			var req Request
			select {
			case req = <-seen:
			default:
				t.Fatal("the server got no request")
			}
			if n := len(seen); n > 0 {
				t.Errorf("the server got %d requests more than one", n)
			}
			path, query := r.Path, r.Query
			if tc.Path != "" {
				path, query = tc.Path, tc.Query
			}
			if req.Method != http.MethodPost || req.Path != path || req.Query != query {
				t.Errorf("request = %s %s?%s, want POST %s?%s", req.Method, req.Path, req.Query, path, query)
			}
			header := maps.Clone(r.Header)
			if header == nil {
				header = map[string]string{}
			}
			maps.Copy(header, tc.Header)
			for k, want := range header {
				if v := req.Header.Get(k); v != want {
					t.Errorf("header %s = %q, want %q", k, v, want)
				}
			}
			if r.Request != nil {
				r.Request(t, m, req)
			}
			if tc.Golden != "" {
				r.Golden(t, tc.Golden, req.Body)
			}
		})
	}
}
