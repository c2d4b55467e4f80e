package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/web/internal/kit"
)

// Maintainer is what the maintenance endpoints need from the running
// server.
type Maintainer interface {
	MaintenanceList() []nightowl.MaintenanceView
	// StartMaintenance starts a window by hand; EndMaintenance ends one
	// (by ID or name) now.
	StartMaintenance(ctx context.Context, w nightowl.Window) (nightowl.Window, error)
	EndMaintenance(ctx context.Context, id, by string) (nightowl.Window, error)
}

func (a *api) listMaintenance(w http.ResponseWriter, r *http.Request) {
	list := a.maint.MaintenanceList()
	if list == nil {
		list = []nightowl.MaintenanceView{}
	}
	kit.WriteJSON(w, http.StatusOK, map[string]any{"maintenance": list})
}

// Duration reads a JSON duration as a number of seconds or a Go duration
// string ("2h").
type Duration time.Duration

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = Duration(v)
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	// Out of int64's range the conversion would wrap round to a
	// negative duration (or saturate, depending on the CPU).
	ns := f * float64(time.Second)
	if ns >= math.MaxInt64 || ns < math.MinInt64 {
		return fmt.Errorf("%s seconds is longer than a duration can be (about 292 years)", b)
	}
	*d = Duration(time.Duration(ns))
	return nil
}

// MaintenanceRequest is the body of POST /api/v1/maintenance.
type MaintenanceRequest struct {
	Name string `json:"name"`
	// Checks is a selector: "tier=web,site=math" (labels), "shop,cart"
	// (names), or {"labels": {...}, "names": [...]}.
	Checks json.RawMessage `json:"checks"`
	Expect []string        `json:"expect"`
	// For or End says when it ends; Start defaults to now.
	For    Duration  `json:"for"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Verify struct {
		Within     Duration   `json:"within"`
		AgainAfter []Duration `json:"again_after"`
	} `json:"verify"`
	Announce bool   `json:"announce"`
	Reason   string `json:"reason"`
}

func decodeBody(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		return nightowl.Errorf(nightowl.EInvalid, "read body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return nightowl.Errorf(nightowl.EInvalid, "body: %v", err)
	}
	// One value: a second one after it is a mistake, not something to
	// ignore.
	if _, err := dec.Token(); err != io.EOF {
		return nightowl.Errorf(nightowl.EInvalid, "body: more than one JSON value")
	}
	if ft, ok := v.(freeTexter); ok {
		return kit.CheckTexts(ft.freeText()...) // text.go
	}
	return nil
}

func (a *api) startMaintenance(w http.ResponseWriter, r *http.Request) {
	var req MaintenanceRequest
	if err := decodeBody(r, &req); err != nil {
		kit.WriteError(w, err)
		return
	}
	win := nightowl.Window{
		Name: req.Name, Expect: req.Expect, Start: req.Start, End: req.End,
		Announce: req.Announce, Reason: req.Reason, CreatedBy: kit.Actor(r),
		Verify: nightowl.Verify{Within: time.Duration(req.Verify.Within)},
	}
	for _, d := range req.Verify.AgainAfter {
		win.Verify.AgainAfter = append(win.Verify.AgainAfter, time.Duration(d))
	}
	var sel string
	switch c := bytes.TrimSpace(req.Checks); {
	case len(c) == 0:
	case c[0] == '"':
		if err := json.Unmarshal(c, &sel); err != nil {
			kit.WriteError(w, nightowl.Errorf(nightowl.EInvalid, "checks: %v", err))
			return
		}
		win.Checks = kit.ParseSelector(sel)
	default:
		dec := json.NewDecoder(bytes.NewReader(c))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&win.Checks); err != nil {
			kit.WriteError(w, nightowl.Errorf(nightowl.EInvalid, `checks must be "tier=web", "shop,cart" or {"labels": {...}, "names": [...]}: %v`, err))
			return
		}
	}
	if err := kit.CheckTexts(selectorTexts(win.Checks)...); err != nil { // text.go
		kit.WriteError(w, err)
		return
	}
	switch {
	case req.For > 0 && !req.End.IsZero():
		kit.WriteError(w, nightowl.Errorf(nightowl.EInvalid, "give for or end, not both"))
		return
	case req.For > 0:
		if win.Start.IsZero() {
			win.Start = a.clock.Now().UTC()
		}
		win.End = win.Start.Add(time.Duration(req.For))
		if win.End.Year() > 9999 {
			// Neither JSON nor the stores write a later time.
			kit.WriteError(w, nightowl.Errorf(nightowl.EInvalid, "the window would end after the year 9999"))
			return
		}
	case req.End.IsZero():
		kit.WriteError(w, nightowl.Errorf(nightowl.EInvalid, `say how long the window lasts: "for": "2h", or "end"`))
		return
	}
	started, err := a.maint.StartMaintenance(r.Context(), win)
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	kit.WriteJSON(w, http.StatusCreated, map[string]any{"maintenance": started})
}

func (a *api) endMaintenance(w http.ResponseWriter, r *http.Request) {
	ended, err := a.maint.EndMaintenance(r.Context(), r.PathValue("id"), kit.Actor(r))
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	kit.WriteJSON(w, http.StatusOK, map[string]any{"maintenance": ended})
}
