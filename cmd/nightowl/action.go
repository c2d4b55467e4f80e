package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
)

// maxActionRun is how long `action run` waits for the server: the longest
// timeout an action may have, and a margin for the preflight and the answer.
const maxActionRun = time.Hour + 2*time.Minute

// requestBody is the answer of the endpoints that change a request.
type requestBody struct {
	Request nightowl.ActionRequest `json:"request"`
}

func actionList(e *env, fs *flag.FlagSet) runner {
	asJSON := fs.Bool("json", false, "print the server's JSON")
	return func(ctx context.Context, args []string) int {
		if rest, err := parse(fs, args); err != nil || len(rest) > 0 {
			if err == nil {
				fmt.Fprintf(e.stderr, "nightowl action list: unexpected %q\n", rest[0])
			}
			return exitBadConfig
		}
		var body struct {
			Actions []nightowl.ActionView `json:"actions"`
		}
		raw, err := apiGet(ctx, e, "/api/v1/actions", &body)
		if err != nil {
			fmt.Fprintln(e.stderr, "nightowl action list:", err)
			return exitNotUp
		}
		if *asJSON {
			e.stdout.Write(raw)
			return exitOK
		}
		if len(body.Actions) == 0 {
			fmt.Fprintln(e.stdout, "no actions are configured")
			return exitOK
		}
		tw := newTable(e.stdout, "NAME", "APPROVALS", "PARAMS", "RUNS")
		for _, a := range body.Actions {
			var params []string
			for _, p := range a.Params {
				params = append(params, p.Name)
			}
			tw.row(a.Name, a.Needs, orDash(strings.Join(params, ",")), summary(&a.Action))
		}
		tw.flush()

		// What waits for someone: a pending request is every responder's to
		// see.
		var open struct {
			Requests []nightowl.ActionRequest `json:"requests"`
		}
		if _, err := apiGet(ctx, e, "/api/v1/action-requests?state=open", &open); err != nil {
			fmt.Fprintln(e.stderr, "nightowl action list: open requests:", err)
			return exitNotUp
		}
		if len(open.Requests) == 0 {
			return exitOK
		}
		fmt.Fprintln(e.stdout, "\nopen requests:")
		tw = newTable(e.stdout, "ID", "ACTION", "STATE", "APPROVALS", "BY", "EXPIRES", "REASON")
		for _, r := range open.Requests {
			tw.row(r.ID, r.Action, r.State, fmt.Sprintf("%d/%d", len(r.Approvals), r.Needs),
				r.RequestedBy, r.ExpiresAt.Local().Format("15:04"), r.Reason)
		}
		tw.flush()
		return exitOK
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// summary is what an action does, in one line, with its parameters
// unfilled.
func summary(a *nightowl.Action) string {
	if a.HTTP != nil {
		return a.HTTP.Method + " " + a.HTTP.URL
	}
	return argvString(a.Run)
}

// plainArg is an argument that reads the same quoted or not.
var plainArg = regexp.MustCompile(`^[A-Za-z0-9_./:=@%+,{}-]+$`)

// argvString shows an argv as one line, quoting the arguments that hold
// spaces or anything else that could make two of one. It is for reading:
// the argv is run as it is, never by a shell.
func argvString(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		if plainArg.MatchString(a) {
			parts[i] = a
		} else {
			parts[i] = strconv.Quote(a)
		}
	}
	return strings.Join(parts, " ")
}

// paramFlag collects repeated --param NAME=VALUE.
type paramFlag map[string]string

func (p paramFlag) String() string { return "" }

func (p paramFlag) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return fmt.Errorf("%q is not NAME=VALUE", s)
	}
	if _, dup := p[name]; dup {
		return fmt.Errorf("%s given twice", name)
	}
	p[name] = value
	return nil
}

func actionRequest(e *env, fs *flag.FlagSet) runner {
	params := paramFlag{}
	fs.Var(params, "param", "a parameter, NAME=VALUE; repeat for each")
	reason := fs.String("reason", "", "why, for the approvers and the audit log (required)")
	confirm := fs.String("confirm", "", "the value of the parameter the action asks you to confirm, typed again")
	asJSON := fs.Bool("json", false, "print the server's JSON")
	return func(ctx context.Context, args []string) int {
		rest, err := parse(fs, args)
		if err != nil {
			return exitBadConfig
		}
		if len(rest) != 1 {
			fmt.Fprintln(e.stderr, "nightowl action request: name one action (nightowl action list shows them), as in\n  nightowl action request pause-replication --param replica=db2 --reason \"restore a table\"")
			return exitBadConfig
		}
		if strings.TrimSpace(*reason) == "" {
			fmt.Fprintln(e.stderr, "nightowl action request: --reason is required: the approvers and the audit log need to know why")
			return exitBadConfig
		}
		name := rest[0]
		in := map[string]any{"params": map[string]string(params), "reason": *reason, "confirm": *confirm}
		var body requestBody
		raw, err := apiDo(ctx, e, "POST", "/api/v1/actions/"+url.PathEscape(name)+"/requests", in, &body)
		if err != nil {
			fmt.Fprintf(e.stderr, "nightowl action request %s: %v\n", name, err)
			return exitNotUp
		}
		if *asJSON {
			e.stdout.Write(raw)
			return exitOK
		}
		r := body.Request
		fmt.Fprintf(e.stdout, "request %s made for %s (%s)\n", cell(r.ID), cell(r.Action), r.State)
		printNext(e.stdout, &r)
		return exitOK
	}
}

// printNext says what a request waits for, and the command that does it.
func printNext(w io.Writer, r *nightowl.ActionRequest) {
	switch r.State {
	case nightowl.RequestPending:
		missing := r.Needs - len(r.Approvals)
		fmt.Fprintf(w, "it needs %s by someone other than the requester, before %s:\n  nightowl action approve %s\n",
			plural(missing, "more approval", "more approvals"), r.ExpiresAt.Local().Format("2006-01-02 15:04 MST"), cell(r.ID))
		fmt.Fprintf(w, "see exactly what it runs with: nightowl action show %s\n", cell(r.ID))
	case nightowl.RequestApproved:
		fmt.Fprintf(w, "it may run now, until %s:\n  nightowl action run %s\n", r.ExpiresAt.Local().Format("2006-01-02 15:04 MST"), cell(r.ID))
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func actionApprove(e *env, fs *flag.FlagSet) runner {
	asJSON := fs.Bool("json", false, "print the server's JSON")
	return func(ctx context.Context, args []string) int {
		ids, err := parse(fs, args)
		if err != nil {
			return exitBadConfig
		}
		if len(ids) != 1 {
			fmt.Fprintln(e.stderr, "nightowl action approve: name one request (nightowl action list shows the open ones)")
			return exitBadConfig
		}
		var body requestBody
		raw, err := apiDo(ctx, e, "POST", "/api/v1/action-requests/"+url.PathEscape(ids[0])+"/approve", nil, &body)
		if err != nil {
			fmt.Fprintf(e.stderr, "nightowl action approve %s: %v\n", ids[0], err)
			return exitNotUp
		}
		if *asJSON {
			e.stdout.Write(raw)
			return exitOK
		}
		r := body.Request
		fmt.Fprintf(e.stdout, "request %s for %s approved (%d of %d approvals; %s)\n", cell(r.ID), cell(r.Action), len(r.Approvals), r.Needs, r.State)
		printNext(e.stdout, &r)
		return exitOK
	}
}

func actionDeny(e *env, fs *flag.FlagSet) runner {
	reason := fs.String("reason", "", "why, for the requester and the audit log")
	asJSON := fs.Bool("json", false, "print the server's JSON")
	return func(ctx context.Context, args []string) int {
		ids, err := parse(fs, args)
		if err != nil {
			return exitBadConfig
		}
		if len(ids) != 1 {
			fmt.Fprintln(e.stderr, "nightowl action deny: name one request (nightowl action list shows the open ones)")
			return exitBadConfig
		}
		var body requestBody
		raw, err := apiDo(ctx, e, "POST", "/api/v1/action-requests/"+url.PathEscape(ids[0])+"/deny", map[string]string{"reason": *reason}, &body)
		if err != nil {
			fmt.Fprintf(e.stderr, "nightowl action deny %s: %v\n", ids[0], err)
			return exitNotUp
		}
		if *asJSON {
			e.stdout.Write(raw)
			return exitOK
		}
		fmt.Fprintf(e.stdout, "request %s for %s denied; it can no longer run\n", cell(body.Request.ID), cell(body.Request.Action))
		return exitOK
	}
}

func actionRun(e *env, fs *flag.FlagSet) runner {
	asJSON := fs.Bool("json", false, "print the server's JSON")
	return func(ctx context.Context, args []string) int {
		ids, err := parse(fs, args)
		if err != nil {
			return exitBadConfig
		}
		if len(ids) != 1 {
			fmt.Fprintln(e.stderr, "nightowl action run: name one approved request (nightowl action list shows the open ones)")
			return exitBadConfig
		}
		// The server answers when the run is over, which may be as long as
		// the action's timeout.
		ctx, cancel := context.WithTimeout(ctx, maxActionRun)
		defer cancel()
		var body requestBody
		raw, err := apiDo(ctx, e, "POST", "/api/v1/action-requests/"+url.PathEscape(ids[0])+"/run", nil, &body)
		if err != nil {
			fmt.Fprintf(e.stderr, "nightowl action run %s: %v\n", ids[0], err)
			return exitNotUp
		}
		r := body.Request
		code := exitOK
		if r.State != nightowl.RequestSucceeded {
			code = exitNotUp
		}
		if *asJSON {
			e.stdout.Write(raw)
			return code
		}
		printOutcome(e.stdout, &r)
		return code
	}
}

// printOutcome prints how a run went: its state, exit code (or HTTP
// status), duration, error and output.
func printOutcome(w io.Writer, r *nightowl.ActionRequest) {
	fmt.Fprintf(w, "request %s for %s %s", cell(r.ID), cell(r.Action), cell(string(r.State)))
	if r.ExitCode != nil {
		fmt.Fprintf(w, ": exit code %d", *r.ExitCode)
	}
	if !r.StartedAt.IsZero() && !r.EndedAt.IsZero() {
		fmt.Fprintf(w, " in %s", r.EndedAt.Sub(r.StartedAt).Round(time.Millisecond))
	}
	fmt.Fprintln(w)
	if r.Error != "" {
		fmt.Fprintf(w, "error: %s\n", text(r.Error))
	}
	if r.Output != "" {
		fmt.Fprintln(w, "output:")
		out := text(r.Output)
		if !strings.HasSuffix(out, "\n") {
			out += "\n"
		}
		fmt.Fprint(w, out)
	}
}

func actionShow(e *env, fs *flag.FlagSet) runner {
	asJSON := fs.Bool("json", false, "print the server's JSON")
	return func(ctx context.Context, args []string) int {
		ids, err := parse(fs, args)
		if err != nil {
			return exitBadConfig
		}
		if len(ids) != 1 {
			fmt.Fprintln(e.stderr, "nightowl action show: name one request (nightowl action list shows the open ones)")
			return exitBadConfig
		}
		var body struct {
			Request nightowl.ActionRequest `json:"request"`
			Plan    nightowl.ActionPlan    `json:"plan"`
		}
		raw, err := apiGet(ctx, e, "/api/v1/action-requests/"+url.PathEscape(ids[0]), &body)
		if err != nil {
			fmt.Fprintf(e.stderr, "nightowl action show %s: %v\n", ids[0], err)
			return exitNotUp
		}
		if *asJSON {
			e.stdout.Write(raw)
			return exitOK
		}
		printRequest(e.stdout, &body.Request, &body.Plan)
		return exitOK
	}
}

// printJudged shows the preflight of a request's plan, what it judged when
// the request was made (each check's status and how old its result was),
// and the plan's hash, which the audit log names.
func printJudged(w io.Writer, r *nightowl.ActionRequest, p *nightowl.ActionPlan) {
	if len(p.Preflight) > 0 {
		fmt.Fprintln(w, "\npreflight (must hold again when it runs):")
		for _, x := range p.Preflight {
			fmt.Fprintf(w, "  %s\n", cell(x))
		}
	}
	if len(r.Seen) > 0 {
		fmt.Fprintln(w, "\njudged when requested:")
		for _, c := range r.Seen {
			if c.At.IsZero() {
				fmt.Fprintf(w, "  %s: %s, no result\n", cell(c.Check), c.Status)
				continue
			}
			fmt.Fprintf(w, "  %s: %s, result of %s, %s old then\n", cell(c.Check), c.Status,
				c.At.Local().Format("15:04:05"), time.Duration(c.Age).Round(time.Second))
		}
	}
	if r.PlanHash != "" {
		fmt.Fprintf(w, "\nplan sha256 %s, as requested\n", cell(r.PlanHash))
	}
}

// printRequest shows a request and exactly what it runs.
func printRequest(w io.Writer, r *nightowl.ActionRequest, p *nightowl.ActionPlan) {
	const at = "2006-01-02 15:04:05 MST"
	tw := newTable(w)
	tw.row("request", r.ID)
	tw.row("action", r.Action)
	tw.row("state", r.State)
	by := r.RequestedBy
	if r.Automatic {
		by += " (automatic: on_down)"
	}
	tw.row("requested", "by "+by+" at "+r.RequestedAt.Local().Format(at))
	tw.row("reason", r.Reason)
	if len(r.Params) > 0 {
		names := make([]string, 0, len(r.Params))
		for k := range r.Params {
			names = append(names, k)
		}
		sort.Strings(names)
		for i, k := range names {
			label := ""
			if i == 0 {
				label = "params"
			}
			tw.row(label, k+" = "+strconv.Quote(r.Params[k]))
		}
	}
	var approvals []string
	for _, a := range r.Approvals {
		approvals = append(approvals, a.By+" at "+a.At.Local().Format("15:04"))
	}
	tw.row("approvals", fmt.Sprintf("%d of %d%s", len(r.Approvals), r.Needs, listSuffix(approvals)))
	if r.DeniedBy != "" {
		tw.row("denied", "by "+r.DeniedBy)
	}
	if !r.State.Final() && r.State != nightowl.RequestRunning {
		tw.row("expires", r.ExpiresAt.Local().Format(at))
	}
	if r.RanBy != "" {
		tw.row("ran", "by "+r.RanBy+" at "+r.StartedAt.Local().Format(at))
	}
	tw.flush()

	switch {
	case p.HTTP != nil:
		fmt.Fprintln(w, "\nsends:")
		fmt.Fprintf(w, "  %s %s\n", cell(p.HTTP.Method), cell(p.HTTP.URL))
		names := make([]string, 0, len(p.HTTP.Headers))
		for k := range p.HTTP.Headers {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			fmt.Fprintf(w, "  %s: %s\n", cell(k), cell(p.HTTP.Headers[k]))
		}
		if p.HTTP.Body != "" {
			fmt.Fprintf(w, "\n  %s\n", strings.ReplaceAll(text(p.HTTP.Body), "\n", "\n  "))
		}
	case len(p.Run) > 0:
		fmt.Fprintln(w, "\nruns (each argument as it is, never through a shell):")
		fmt.Fprintf(w, "  %s\n", argvString(p.Run))
	}
	printJudged(w, r, p)
	if r.State.Final() && r.State != nightowl.RequestDenied && r.State != nightowl.RequestExpired {
		fmt.Fprintln(w)
		printOutcome(w, r)
	}
}

func listSuffix(items []string) string {
	if len(items) == 0 {
		return ""
	}
	return ": " + strings.Join(items, ", ")
}
