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
	"net/url"
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

// PlanOf fills in an action's parameters. In an HTTP action each value is
// escaped for where it lands (see fillURL and fillBody); a value that
// cannot land there safely is refused.
func PlanOf(a *nightowl.Action, params map[string]string) (nightowl.ActionPlan, error) {
	if a.HTTP != nil {
		u, err := fillURL(a.HTTP.URL, params)
		if err != nil {
			return nightowl.ActionPlan{}, err
		}
		h := &nightowl.ActionHTTP{URL: u, Method: a.HTTP.Method}
		if h.Method == "" {
			h.Method = http.MethodPost
		}
		if len(a.HTTP.Headers) > 0 {
			h.Headers = make(map[string]string, len(a.HTTP.Headers))
			for k, v := range a.HTTP.Headers {
				if h.Headers[k], err = fillEscaped(v, params, headerValue); err != nil {
					return nightowl.ActionPlan{}, err
				}
			}
		}
		if h.Body, err = fillBody(a.HTTP.Body, a.HTTP.Headers, params); err != nil {
			return nightowl.ActionPlan{}, err
		}
		return nightowl.ActionPlan{HTTP: h}, nil
	}
	argv := make([]string, len(a.Run))
	for i, s := range a.Run {
		argv[i] = fill(s, params)
	}
	return nightowl.ActionPlan{Run: argv}, nil
}

// fillEscaped replaces each {{param}} in s with the parameter's value as
// esc escapes it for its place, which esc is told as the text of s before
// it.
func fillEscaped(s string, params map[string]string, esc func(before, name, v string) (string, error)) (string, error) {
	var b strings.Builder
	last := 0
	for _, m := range placeholder.FindAllStringIndex(s, -1) {
		name := s[m[0]+2 : m[1]-2]
		v, ok := params[name]
		if !ok {
			continue
		}
		b.WriteString(s[last:m[0]])
		e, err := esc(s[:m[0]], name, v)
		if err != nil {
			return "", err
		}
		b.WriteString(e)
		last = m[1]
	}
	b.WriteString(s[last:])
	return b.String(), nil
}

// fillURL fills in a URL template, escaping each value for its place: in
// the path, as a path segment (url.PathEscape: a value cannot add a
// segment, a query or a fragment), and a segment that a value makes ".",
// ".." or empty is refused, since it would reach another path; in the
// query or the fragment, as a query component (url.QueryEscape). In the
// scheme and host, values are path-escaped too.
func fillURL(tmpl string, params map[string]string) (string, error) {
	out, err := fillEscaped(tmpl, params, func(before, name, v string) (string, error) {
		if strings.ContainsAny(before, "?#") {
			return url.QueryEscape(v), nil
		}
		return url.PathEscape(v), nil
	})
	if err != nil {
		return "", err
	}
	// Check the segments that a value is part of, in the path only.
	tpath, _, _ := strings.Cut(tmpl, "?")
	tpath, _, _ = strings.Cut(tpath, "#")
	tsegs := pathSegments(tpath)
	opath, _, _ := strings.Cut(out, "?")
	opath, _, _ = strings.Cut(opath, "#")
	osegs := pathSegments(opath)
	if len(tsegs) != len(osegs) {
		return "", nightowl.Errorf(nightowl.EInvalid, "a parameter changes the path of %s", tmpl)
	}
	for i, ts := range tsegs {
		if !placeholder.MatchString(ts) {
			continue
		}
		if s := osegs[i]; s == "" || s == "." || s == ".." {
			return "", nightowl.Errorf(nightowl.EInvalid, "a parameter makes the path segment %s %q, which would reach another path", ts, s)
		}
	}
	return out, nil
}

// headerValue refuses a value that would end a header line.
func headerValue(_, name, v string) (string, error) {
	if strings.ContainsAny(v, "\r\n\x00") {
		return "", nightowl.Errorf(nightowl.EInvalid, "parameter %s: %q cannot go in a header", name, v)
	}
	return v, nil
}

// pathSegments splits the path of a URL (after its scheme and host, when
// it has them) at its slashes.
func pathSegments(u string) []string {
	if _, rest, ok := strings.Cut(u, "://"); ok {
		_, path, found := strings.Cut(rest, "/")
		if !found {
			return nil
		}
		u = path
	}
	return strings.Split(u, "/")
}

// fillBody fills in a request body. In a JSON body (its Content-Type says
// json, or it starts with { or [), a value inside a string is escaped as
// JSON string text, and one outside a string must be a JSON number, true,
// false or null; in a form body (application/x-www-form-urlencoded) a
// value is escaped as a query component; any other body takes the value as
// it is, its pattern being the only guard.
func fillBody(tmpl string, headers map[string]string, params map[string]string) (string, error) {
	ctype := ""
	for k, v := range headers {
		if strings.EqualFold(k, "Content-Type") {
			ctype = strings.ToLower(v)
		}
	}
	trimmed := strings.TrimSpace(tmpl)
	switch {
	case strings.Contains(ctype, "json") || strings.HasPrefix(trimmed, "{") || strings.HasPrefix(trimmed, "["):
		return fillEscaped(tmpl, params, func(before, name, v string) (string, error) {
			if inJSONString(before) {
				b, _ := json.Marshal(v)
				return string(b[1 : len(b)-1]), nil
			}
			if !jsonScalar(v) {
				return "", nightowl.Errorf(nightowl.EInvalid,
					"parameter %s: %q is not a JSON number, true, false or null, as its place outside a string in the body needs", name, v)
			}
			return v, nil
		})
	case strings.HasPrefix(ctype, "application/x-www-form-urlencoded"):
		return fillEscaped(tmpl, params, func(_, _, v string) (string, error) { return url.QueryEscape(v), nil })
	}
	return fill(tmpl, params), nil
}

// inJSONString reports whether the end of a JSON text is inside a string.
func inJSONString(s string) bool {
	in := false
	for i := 0; i < len(s); i++ {
		switch {
		case in && s[i] == '\\':
			i++
		case s[i] == '"':
			in = !in
		}
	}
	return in
}

func jsonScalar(v string) bool {
	return v == "true" || v == "false" || v == "null" || jsonNumber.MatchString(v)
}

var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

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
