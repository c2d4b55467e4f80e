package admin

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/web/internal/kit"
)

// The guarded actions' pages: the configured actions, with a form to
// request each, and the requests, open and recent; and one request, with
// exactly what it will run, for approvers to read before they approve.
// Every form posts with the session's CSRF token and answers with a
// redirect and a flash message; a refused one shows its page again with
// why, under the status the error maps to. The service decides who may do
// what (no self-approval, runs by the requester or an approver); the pages
// only leave out the buttons that would be refused.

func (a *pages) runbookRoutes() []kit.Route {
	if a.actions == nil {
		return nil
	}
	f := func(pattern string, role nightowl.Role, h http.HandlerFunc) kit.Route {
		return kit.Route{Pattern: pattern, Role: role, Handler: h}
	}
	return []kit.Route{
		f("GET /admin/actions", viewer, a.adminActions),
		f("POST /admin/actions/{name}/request", responder, a.adminRequestAction),
		f("GET /admin/actions/requests/{id}", viewer, a.adminActionRequest),
		kit.WithStepUp(f("POST /admin/actions/requests/{id}/approve", responder, a.adminApproveAction)),
		f("POST /admin/actions/requests/{id}/deny", responder, a.adminDenyAction),
		kit.WithStepUp(kit.WithLong(f("POST /admin/actions/requests/{id}/run", responder, a.adminRunAction), kit.ActionWrite)),
	}
}

// recentRequests is how many requests the actions page lists besides the
// open ones.
const recentRequests = 20

func requestHref(id string) string { return "/admin/actions/requests/" + url.PathEscape(id) }

// actionRow is a configured action as the page shows it, with its request
// form.
type actionRow struct {
	Name, Description string
	FormID            string // request-NAME, the form's stable hook
	Run               []string
	HTTP              *planHTTP
	Params            []paramField
	Preflight         []string
	Approvals, Needs  int
	Confirm           string // the parameter to type again; empty for none
	ConfirmID         string
	Cooldown, Timeout string
	Reason            string // the form's reason, when it was refused
	Refused           bool   // the form was refused: its error is about this one
}

// paramField is a parameter and its field in the request form.
type paramField struct {
	// Pattern is shown beside the field, not set as its pattern
	// attribute: the service checks the value, and a refused form comes
	// back with why.
	Name, Pattern, Description string
	ID, HintID                 string
	Value                      string
}

// planHTTP is an HTTP request as pages show it: the names of its headers
// only, as their values carry credentials.
type planHTTP struct {
	Method, URL, Body string
	Headers           []string
}

func toPlanHTTP(h *nightowl.ActionHTTP) *planHTTP {
	if h == nil {
		return nil
	}
	p := &planHTTP{Method: h.Method, URL: h.URL, Body: h.Body}
	if p.Method == "" {
		p.Method = http.MethodPost
	}
	for k := range h.Headers {
		p.Headers = append(p.Headers, k)
	}
	slices.Sort(p.Headers)
	return p
}

// actionForm is what a refused request form was filled with.
type actionForm struct {
	Action string
	Params map[string]string
	Reason string
}

func toActionRow(v nightowl.ActionView, f *actionForm) actionRow {
	row := actionRow{Name: v.Name, Description: v.Description, FormID: "request-" + v.Name, Run: v.Run, HTTP: toPlanHTTP(v.HTTP),
		Preflight: v.Preflight, Approvals: v.Approvals, Needs: v.Needs, Confirm: v.Confirm, ConfirmID: "confirm-" + v.Name,
		Cooldown: durationText(v.Cooldown), Timeout: durationText(v.Timeout)}
	if f != nil && f.Action == v.Name {
		row.Reason, row.Refused = f.Reason, true
	}
	for _, p := range v.Params {
		field := paramField{Name: p.Name, Pattern: p.Pattern, Description: p.Description,
			ID: "p-" + v.Name + "-" + p.Name, HintID: "p-" + v.Name + "-" + p.Name + "-hint"}
		if row.Refused {
			field.Value = f.Params[p.Name]
		}
		row.Params = append(row.Params, field)
	}
	return row
}

// durationText is a duration as people write it in the config: 10m, not
// 10m0s; empty for none.
func durationText(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// requestRow is a request as the lists show it.
type requestRow struct {
	ID, Href, Action, Params, Reason string
	State                            nightowl.RequestState
	Automatic                        bool
	RequestedBy                      string
	Requested, Expires, Ended        *stamp
	Approvals                        string // "1 of 2"
	ExitCode                         string
	Error                            string
}

func toRequestRow(r nightowl.ActionRequest) requestRow {
	row := requestRow{ID: r.ID, Href: requestHref(r.ID), Action: r.Action, Params: paramsText(r.Params), Reason: r.Reason,
		State: r.State, Automatic: r.Automatic, RequestedBy: r.RequestedBy, Requested: at(r.RequestedAt),
		Expires: at(r.ExpiresAt), Ended: at(r.EndedAt), Approvals: fmt.Sprintf("%d of %d", len(r.Approvals), r.Needs),
		Error: r.Error}
	if r.ExitCode != nil {
		row.ExitCode = strconv.Itoa(*r.ExitCode)
	}
	return row
}

func paramsText(p map[string]string) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+p[k])
	}
	return strings.Join(parts, " ")
}

type actionsPage struct {
	Actions      []actionRow
	Open, Recent []requestRow
}

func (a *pages) showActions(w http.ResponseWriter, r *http.Request, status int, errText string, f *actionForm) {
	ctx := r.Context()
	list, err := a.actions.Actions(ctx)
	if err != nil {
		a.fail(w, r, "Actions", err)
		return
	}
	open, err := a.actions.ActionRequests(ctx, nightowl.ActionQuery{Open: true, Limit: 200})
	if err != nil {
		a.fail(w, r, "Actions", err)
		return
	}
	recent, err := a.actions.ActionRequests(ctx, nightowl.ActionQuery{Limit: recentRequests})
	if err != nil {
		a.fail(w, r, "Actions", err)
		return
	}
	var p actionsPage
	for _, v := range list {
		p.Actions = append(p.Actions, toActionRow(v, f))
	}
	for _, req := range open {
		p.Open = append(p.Open, toRequestRow(req))
	}
	for _, req := range recent {
		// The open ones are listed above.
		if req.State.Final() || req.State == nightowl.RequestRunning {
			p.Recent = append(p.Recent, toRequestRow(req))
		}
	}
	a.render(w, r, status, "admin_runbooks.html", &adminPage{Title: "Actions", Section: "actions", Error: errText, Data: p})
}

func (a *pages) adminActions(w http.ResponseWriter, r *http.Request) {
	a.showActions(w, r, http.StatusOK, "", nil)
}

// formParams reads a request form's parameters, the fields named
// param.NAME; the service refuses any the action does not declare.
func formParams(r *http.Request) map[string]string {
	r.ParseForm()
	params := map[string]string{}
	for k, vs := range r.PostForm {
		if name, ok := strings.CutPrefix(k, "param."); ok && len(vs) > 0 {
			params[name] = vs[0]
		}
	}
	return params
}

func (a *pages) adminRequestAction(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	f := actionForm{Action: name, Params: formParams(r), Reason: strings.TrimSpace(r.PostFormValue("reason"))}
	// The confirmation is not shown again: it is there to be typed.
	err := kit.CheckTexts(append([]kit.TextField{kit.Field("reason", f.Reason, kit.LinesText)}, kit.ParamTexts(f.Params)...)...)
	var req nightowl.ActionRequest
	if err == nil {
		req, err = a.actions.RequestAction(r.Context(), name, f.Params, f.Reason, r.PostFormValue("confirm"), kit.Actor(r))
	}
	if err != nil {
		a.showActions(w, r, kit.StatusOf(err), "Could not request "+name+": "+nightowl.ErrorMessage(err), &f)
		return
	}
	a.log.Info("action requested", "request", req.ID, "action", name, "by", kit.Actor(r))
	redirectToRequest(w, r, req.ID, "action-requested")
}

func redirectToRequest(w http.ResponseWriter, r *http.Request, id, key string) {
	to, _ := url.Parse(requestHref(id))
	to.RawQuery = url.Values{"done": {key}, "what": {id}}.Encode()
	http.Redirect(w, r, to.String(), http.StatusSeeOther)
}

// requestPage is one request: who asked and why, its approvals, exactly
// what it runs, the buttons the viewer may use, and how the run went.
type requestPage struct {
	Request   requestRow
	Run       []string
	HTTP      *planHTTP
	Preflight []string
	// PlanHash names the plan as it was requested, as the audit log does.
	PlanHash string
	// Seen is what the preflight judged when the request was made.
	Seen      []seenRow
	Approvals []approvalRow
	Needs     int
	Missing   int // approvals still needed
	DeniedBy  string
	RanBy     string
	Started   *stamp
	Duration  string
	Output    string
	Ran       bool // it has started: show the outcome
	// Mine is true for the requester's own request.
	Mine                        bool
	CanApprove, CanDeny, CanRun bool
	CSRF                        string
}

// seenRow is a check a preflight read, with the time of its result and
// how old it was then.
type seenRow struct {
	Check, Status, Age string
	Time               *stamp
}

type approvalRow struct {
	By   string
	Time *stamp
}

func (a *pages) showRequest(w http.ResponseWriter, r *http.Request, status int, errText string) {
	id := r.PathValue("id")
	req, plan, err := a.actions.ActionRequest(r.Context(), id)
	if err != nil {
		a.fail(w, r, "Request "+id, err)
		return
	}
	pr, _ := kit.PrincipalFrom(r.Context())
	me := kit.Actor(r)
	p := requestPage{Request: toRequestRow(req), Run: plan.Run, HTTP: toPlanHTTP(plan.HTTP), Needs: req.Needs,
		DeniedBy: req.DeniedBy, RanBy: req.RanBy, Started: at(req.StartedAt), Output: req.Output,
		Ran: !req.StartedAt.IsZero(), Mine: req.RequestedBy == me, CSRF: pr.CSRF,
		Preflight: plan.Preflight, PlanHash: req.PlanHash}
	for _, c := range req.Seen {
		p.Seen = append(p.Seen, seenRow{Check: c.Check, Status: string(c.Status), Time: at(c.At),
			Age: time.Duration(c.Age).Round(time.Second).String()})
	}
	approved := false
	for _, ap := range req.Approvals {
		p.Approvals = append(p.Approvals, approvalRow{By: ap.By, Time: at(ap.At)})
		approved = approved || ap.By == me
	}
	p.Missing = max(req.Needs-len(req.Approvals), 0)
	if !req.StartedAt.IsZero() && !req.EndedAt.IsZero() {
		p.Duration = millis(req.EndedAt.Sub(req.StartedAt))
	}
	if pr.Role.Allows(responder) && pr.User != "" {
		open := req.State == nightowl.RequestPending || req.State == nightowl.RequestApproved
		p.CanApprove = req.State == nightowl.RequestPending && !p.Mine && !approved
		p.CanDeny = open
		p.CanRun = req.State == nightowl.RequestApproved && (p.Mine || approved)
	}
	a.render(w, r, status, "admin_runbook_request.html",
		&adminPage{Title: "Request " + req.ID, Section: "actions", Error: errText, Data: p})
}

func (a *pages) adminActionRequest(w http.ResponseWriter, r *http.Request) {
	a.showRequest(w, r, http.StatusOK, "")
}

// refused shows the request again with why the form was refused; a
// request that is not there gets the error page.
func (a *pages) refused(w http.ResponseWriter, r *http.Request, what string, err error) {
	if nightowl.ErrorCode(err) == nightowl.ENotFound {
		a.fail(w, r, "Request "+r.PathValue("id"), err)
		return
	}
	a.showRequest(w, r, kit.StatusOf(err), "Could not "+what+" "+r.PathValue("id")+": "+nightowl.ErrorMessage(err))
}

func (a *pages) adminApproveAction(w http.ResponseWriter, r *http.Request) {
	if err := kit.MayApprove(r); err != nil {
		a.refused(w, r, "approve", err)
		return
	}
	req, err := a.actions.ApproveAction(r.Context(), r.PathValue("id"), kit.Actor(r))
	if err != nil {
		a.refused(w, r, "approve", err)
		return
	}
	redirectToRequest(w, r, req.ID, "action-approved")
}

func (a *pages) adminDenyAction(w http.ResponseWriter, r *http.Request) {
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	err := kit.CheckText("reason", reason, kit.LinesText)
	var req nightowl.ActionRequest
	if err == nil {
		req, err = a.actions.DenyAction(r.Context(), r.PathValue("id"), kit.Actor(r), reason)
	}
	if err != nil {
		a.refused(w, r, "deny", err)
		return
	}
	redirectToRequest(w, r, req.ID, "action-denied")
}

func (a *pages) adminRunAction(w http.ResponseWriter, r *http.Request) {
	// It answers when the run has ended; a run that failed is an outcome,
	// which the request's page shows, not an error.
	kit.LongWrite(w, kit.ActionWrite)
	req, err := a.actions.RunAction(r.Context(), r.PathValue("id"), kit.Actor(r))
	if err != nil {
		a.refused(w, r, "run", err)
		return
	}
	redirectToRequest(w, r, req.ID, "action-ran")
}
