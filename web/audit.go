package web

import (
	"context"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/web/internal/kit"
)

// AuditLog is what GET /api/v1/audit and /api/v1/audit/head read; the
// stores implement it.
type AuditLog interface {
	AuditEntries(ctx context.Context, q nightowl.AuditQuery) ([]nightowl.AuditEntry, error)
	AuditHead(ctx context.Context) (nightowl.AuditHead, error)
	AuditCheckpoints(ctx context.Context, limit int) ([]nightowl.AuditCheckpoint, error)
}

// CheckpointJSON is a signed checkpoint as GET /api/v1/audit/head shows it:
// the hash in hex, as nightowl audit verify --expect-head takes it, and the
// signature in hex, as the server logs it.
type CheckpointJSON struct {
	Seq   int64     `json:"seq"`
	Hash  string    `json:"hash"`
	Time  time.Time `json:"time"`
	KeyID string    `json:"key_id"`
	Sig   string    `json:"sig"`
}

// auditHead serves GET /api/v1/audit/head: the head of the log as the
// store has it now, and the newest signed checkpoint (null before the
// first), for a collector outside nightowl to keep.
func (a *api) auditHead(log AuditLog) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		head, err := log.AuditHead(r.Context())
		if err != nil {
			a.log.Error("read the audit log's head", "err", err)
			kit.WriteError(w, err)
			return
		}
		cps, err := log.AuditCheckpoints(r.Context(), 1)
		if err != nil {
			a.log.Error("read the audit checkpoints", "err", err)
			kit.WriteError(w, err)
			return
		}
		var cp *CheckpointJSON
		if len(cps) > 0 {
			c := cps[0]
			cp = &CheckpointJSON{Seq: c.Seq, Hash: hex.EncodeToString(c.Hash), Time: c.Time, KeyID: c.KeyID, Sig: hex.EncodeToString(c.Sig)}
		}
		kit.WriteJSON(w, http.StatusOK, map[string]any{
			"head":       map[string]any{"seq": head.Seq, "hash": hex.EncodeToString(head.Hash)},
			"checkpoint": cp,
		})
	}
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
				kit.WriteError(w, nightowl.Errorf(nightowl.EInvalid, "since must be a time such as 2026-01-02T15:04:05Z, not %q", s))
				return
			}
			q.Since = t
		}
		var err error
		if q.Limit, err = limitParam(r, 100); err != nil {
			kit.WriteError(w, err)
			return
		}
		entries, err := log.AuditEntries(r.Context(), q)
		if err != nil {
			a.log.Error("read the audit log", "err", err)
			kit.WriteError(w, err)
			return
		}
		if entries == nil {
			entries = []nightowl.AuditEntry{}
		}
		kit.WriteJSON(w, http.StatusOK, map[string]any{"entries": entries})
	}
}
