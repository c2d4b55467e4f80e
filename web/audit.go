package web

import (
	"context"
	"net/http"
	"time"

	"github.com/nightowl/nightowl"
)

// AuditLog is what GET /api/v1/audit reads; sqlite.Store implements it.
type AuditLog interface {
	AuditEntries(ctx context.Context, q nightowl.AuditQuery) ([]nightowl.AuditEntry, error)
}

// listAudit serves GET /api/v1/audit: the newest entries first, selected by
// ?action= (a prefix: "action." for every action entry), ?actor=, ?since=
// (RFC 3339) and ?limit= (default 100, at most 1000).
func (a *api) listAudit(log AuditLog) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := r.URL.Query()
		q := nightowl.AuditQuery{Action: v.Get("action"), Actor: v.Get("actor")}
		if s := v.Get("since"); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				writeError(w, nightowl.Errorf(nightowl.EInvalid, "since must be a time such as 2026-01-02T15:04:05Z, not %q", s))
				return
			}
			q.Since = t
		}
		var err error
		if q.Limit, err = limitParam(r, 100); err != nil {
			writeError(w, err)
			return
		}
		entries, err := log.AuditEntries(r.Context(), q)
		if err != nil {
			a.log.Error("read the audit log", "err", err)
			writeError(w, err)
			return
		}
		if entries == nil {
			entries = []nightowl.AuditEntry{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"entries": entries})
	}
}
