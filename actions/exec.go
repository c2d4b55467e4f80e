package actions

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
)

// fill replaces each {{param}} in s with the parameter's value. Values have
// matched their patterns, and an argv element is one argument however it
// reads: nothing a value holds can become a second command.
func fill(s string, params map[string]string) string {
	// In one pass: a value is never read again for placeholders.
	return placeholder.ReplaceAllStringFunc(s, func(m string) string {
		if v, ok := params[m[2:len(m)-2]]; ok {
			return v
		}
		return m
	})
}

var placeholder = regexp.MustCompile(`\{\{[a-z][a-z0-9_]*\}\}`)

// PlanOf fills in an action's parameters.
func PlanOf(a *nightowl.Action, params map[string]string) (nightowl.ActionPlan, error) {
	if a.HTTP != nil {
		h := &nightowl.ActionHTTP{URL: fill(a.HTTP.URL, params), Method: a.HTTP.Method, Body: fill(a.HTTP.Body, params)}
		if h.Method == "" {
			h.Method = http.MethodPost
		}
		if len(a.HTTP.Headers) > 0 {
			h.Headers = make(map[string]string, len(a.HTTP.Headers))
			for k, v := range a.HTTP.Headers {
				h.Headers[k] = fill(v, params)
			}
		}
		return nightowl.ActionPlan{HTTP: h}, nil
	}
	argv := make([]string, len(a.Run))
	for i, s := range a.Run {
		argv[i] = fill(s, params)
	}
	return nightowl.ActionPlan{Run: argv}, nil
}

// Snapshot is the plan a request keeps and its approvers see: PlanOf with
// the action's preflight, and the values of HTTP headers hidden, since
// they carry credentials (expanded from ${VAR} or _file secrets). A
// credential rotated in the config therefore leaves a plan the same.
func Snapshot(a *nightowl.Action, params map[string]string) (nightowl.ActionPlan, error) {
	p, err := PlanOf(a, params)
	if err != nil {
		return p, err
	}
	p.HTTP = HideHeaders(p.HTTP)
	p.Preflight = slices.Clone(a.Preflight)
	return p, nil
}

// HideHeaders hides the values of an HTTP request's headers.
func HideHeaders(h *nightowl.ActionHTTP) *nightowl.ActionHTTP {
	if h == nil || len(h.Headers) == 0 {
		return h
	}
	c := *h
	c.Headers = make(map[string]string, len(h.Headers))
	for k := range h.Headers {
		c.Headers[k] = "(hidden)"
	}
	return &c
}

// PlanHash is the SHA-256 of a plan's JSON (whose map keys are sorted), in
// hex: the name of a snapshot in the audit log.
func PlanHash(p nightowl.ActionPlan) string {
	data, err := json.Marshal(p)
	if err != nil {
		panic(err) // a plan is strings only
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func describe(a *nightowl.Action, params map[string]string) string {
	p, err := PlanOf(a, params)
	if err != nil {
		return fmt.Sprintf("%s: %v", a.Name, err)
	}
	if p.HTTP != nil {
		return fmt.Sprintf("%s: %s %s", a.Name, p.HTTP.Method, p.HTTP.URL)
	}
	return fmt.Sprintf("%s: %q", a.Name, p.Run)
}

// Outcome is how a run ended.
type Outcome struct {
	OK bool
	// Code is the exit code or HTTP status; nil when there was none (the
	// command could not start, the request got no answer).
	Code   *int
	Output string
	Err    string
}

// Executor runs plans.
type Executor interface {
	Execute(ctx context.Context, p nightowl.ActionPlan) Outcome
}

// MaxOutput bounds the output kept of a run.
const MaxOutput = 64 << 10

// Exec runs commands and sends requests for real.
type Exec struct {
	Client *http.Client // http.DefaultClient when nil
}

// limited keeps the first MaxOutput bytes written to it.
type limited struct {
	buf       bytes.Buffer
	truncated bool
}

func (l *limited) Write(p []byte) (int, error) {
	if room := MaxOutput - l.buf.Len(); room < len(p) {
		l.buf.Write(p[:max(room, 0)])
		l.truncated = true
		return len(p), nil
	}
	return l.buf.Write(p)
}

func (l *limited) String() string {
	if l.truncated {
		return l.buf.String() + "\n[output cut at 64 KiB]"
	}
	return l.buf.String()
}

// Execute implements Executor.
func (e Exec) Execute(ctx context.Context, p nightowl.ActionPlan) Outcome {
	if p.HTTP != nil {
		return e.request(ctx, p.HTTP)
	}
	if len(p.Run) == 0 {
		return Outcome{Err: "nothing to run"}
	}
	var out limited
	cmd := exec.CommandContext(ctx, p.Run[0], p.Run[1:]...)
	cmd.Stdout, cmd.Stderr = &out, &out
	// A command that leaves children holding its output must not hold
	// the run past its timeout.
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	o := Outcome{Output: out.String()}
	if cmd.ProcessState != nil {
		code := cmd.ProcessState.ExitCode()
		if code >= 0 {
			o.Code = &code
		}
	}
	switch {
	case ctx.Err() != nil:
		o.Err = "timed out"
	case err != nil:
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			o.Err = err.Error()
		}
	}
	o.OK = err == nil && ctx.Err() == nil
	return o
}

func (e Exec) request(ctx context.Context, h *nightowl.ActionHTTP) Outcome {
	c := e.Client
	if c == nil {
		c = http.DefaultClient
	}
	var body io.Reader
	if h.Body != "" {
		body = strings.NewReader(h.Body)
	}
	req, err := http.NewRequestWithContext(ctx, h.Method, h.URL, body)
	if err != nil {
		return Outcome{Err: "build the request: " + err.Error()}
	}
	req.Header.Set("User-Agent", "nightowl")
	for k, v := range h.Headers {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return Outcome{Err: "timed out"}
		}
		return Outcome{Err: err.Error()}
	}
	defer resp.Body.Close()
	var out limited
	io.Copy(&out, io.LimitReader(resp.Body, MaxOutput+1))
	code := resp.StatusCode
	return Outcome{OK: code/100 == 2, Code: &code, Output: out.String()}
}
