package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/web"
)

func cmdStatus(e *env, fs *flag.FlagSet) runner {
	asJSON := fs.Bool("json", false, "print the server's JSON")
	return func(ctx context.Context, args []string) int {
		if _, err := parse(fs, args); err != nil {
			return exitBadConfig
		}
		var body struct {
			Checks []web.CheckJSON `json:"checks"`
		}
		raw, err := apiGet(ctx, e, "/api/v1/checks", &body)
		if err != nil {
			fmt.Fprintln(e.stderr, "nightowl:", err)
			return exitBadConfig
		}
		code := exitOK
		for _, c := range body.Checks {
			if c.Status != nightowl.StatusUp && c.Status != nightowl.StatusPaused {
				code = exitNotUp
			}
		}
		if *asJSON {
			e.stdout.Write(raw)
			return code
		}
		tw := newTable(e.stdout, "STATUS", "CHECK", "TYPE", "SINCE", "DETAIL")
		now := time.Now()
		for _, c := range body.Checks {
			detail := ""
			if c.Status != nightowl.StatusUp {
				detail = c.Cause
			}
			tw.row(paint(e, c.Status), c.Name, c.Type, ago(now, c.Since), detail)
		}
		tw.flush()
		base := strings.TrimRight(e.getenv("NIGHTOWL_URL"), "/")
		if base == "" {
			base = defaultURL
		}
		first := true
		for _, c := range body.Checks {
			if c.PingURL == "" {
				continue
			}
			if first {
				fmt.Fprintln(e.stdout, "\nHeartbeat ping URLs:")
				first = false
			}
			u := c.PingURL
			if strings.HasPrefix(u, "/") {
				u = base + u
			}
			fmt.Fprintf(e.stdout, "  %s  %s\n", cell(c.Name), cell(u))
		}
		printOpenAlerts(ctx, e, now)
		return code
	}
}

// printOpenAlerts lists the open alerts with the IDs nightowl ack takes.
// A server that cannot say is no reason to fail status.
func printOpenAlerts(ctx context.Context, e *env, now time.Time) {
	var body struct {
		Alerts []nightowl.Alert `json:"alerts"`
	}
	if _, err := apiGet(ctx, e, "/api/v1/alerts?state=open", &body); err != nil || len(body.Alerts) == 0 {
		return
	}
	fmt.Fprintln(e.stdout, "\nOpen alerts (nightowl ack ID):")
	tw := newTable(e.stdout, "  ID", "CHECK", "STATE", "SINCE", "ACKNOWLEDGED BY")
	for _, a := range body.Alerts {
		tw.row("  "+cell(a.ID), a.Check, a.State, ago(now, a.StartsAt), a.AckedBy)
	}
	tw.flush()
}

const defaultURL = "http://127.0.0.1:8080"

func ago(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t).Round(time.Second)
	if d < 0 {
		d = 0
	}
	return d.String() + " ago"
}

// apiGet fetches a path of the server's API into out and returns the raw
// body. Errors carry the API's own message.
func apiGet(ctx context.Context, e *env, path string, out any) ([]byte, error) {
	return apiDo(ctx, e, http.MethodGet, path, nil, out)
}

// apiDo sends a request with an optional JSON body to the server's API and
// decodes the answer into out.
func apiDo(ctx context.Context, e *env, method, path string, in, out any) ([]byte, error) {
	base := strings.TrimRight(e.getenv("NIGHTOWL_URL"), "/")
	if base == "" {
		base = defaultURL
	}
	if _, ok := ctx.Deadline(); !ok {
		// A caller that waits for longer work (action run) sets its own.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, body)
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok := e.getenv("NIGHTOWL_TOKEN"); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reach nightowl at %s: %w", base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("read answer from %s: %w", base, err)
	}
	if resp.StatusCode/100 != 2 {
		var eb struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(raw, &eb) == nil && eb.Error.Message != "" {
			// The message may quote what people or monitored sites wrote.
			return nil, fmt.Errorf("%s: %s", cell(eb.Error.Code), cell(eb.Error.Message))
		}
		return nil, fmt.Errorf("%s answered %s", base, resp.Status)
	}
	return raw, json.Unmarshal(raw, out)
}
