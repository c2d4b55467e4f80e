package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/checkstore"
)

// Reads of states, results, rollups and events see what has been written
// by any node, not what is still queued here: up to FlushInterval behind
// SaveResult and SaveState. Pings and heartbeats are read together with what
// this node has queued: a job's wrapper, or a person testing one with curl,
// expects to see its ping at once. Names sort as bytes (COLLATE "C"), as in
// the sqlite store, whatever the database's collation.

// checksTimeFrom reads a nullable timestamptz: NULL is the zero time.
func checksTimeFrom(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// checksLimit turns "no limit" (limit <= 0) into a NULL LIMIT.
func checksLimit(limit int) *int64 {
	if limit <= 0 {
		return nil
	}
	l := int64(limit)
	return &l
}

// States returns the current state of every check, by name.
func (s *Store) States(ctx context.Context) ([]nightowl.State, error) {
	rows, err := s.pool.Query(ctx, `SELECT c.name, s.status, s.since, s.pending, s.streak,
		s.last_run, s.cause, s.runs, s.failures
		FROM states s JOIN checks c ON c.id = s.check_id ORDER BY c.name COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("read states: %w", err)
	}
	defer rows.Close()
	var out []nightowl.State
	for rows.Next() {
		var st nightowl.State
		var since, lastRun *time.Time
		var streak int32
		if err := rows.Scan(&st.Check, &st.Status, &since, &st.Pending, &streak,
			&lastRun, &st.Cause, &st.Runs, &st.Fails); err != nil {
			return nil, fmt.Errorf("read states: %w", err)
		}
		st.Since, st.LastRun, st.Streak = checksTimeFrom(since), checksTimeFrom(lastRun), int(streak)
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read states: %w", err)
	}
	return out, nil
}

// Results returns up to limit of the check's recent results, newest first;
// limit <= 0 means all that are kept, never more than ResultsPerCheck even
// while two nodes' writes leave a few more.
func (s *Store) Results(ctx context.Context, check string, limit int) ([]nightowl.Result, error) {
	if limit <= 0 || limit > s.opts.ResultsPerCheck {
		limit = s.opts.ResultsPerCheck
	}
	rows, err := s.pool.Query(ctx, `SELECT due, start, ok, duration_ns, status, error, facts, assertions
		FROM results WHERE check_id = (SELECT id FROM checks WHERE name = $1)
		ORDER BY id DESC LIMIT $2`, check, limit)
	if err != nil {
		return nil, fmt.Errorf("read results of %s: %w", check, err)
	}
	defer rows.Close()
	var out []nightowl.Result
	for rows.Next() {
		r := nightowl.Result{Check: check}
		var due, start *time.Time
		var dur int64
		var facts, assertions []byte
		if err := rows.Scan(&due, &start, &r.OK, &dur, &r.Status, &r.Error, &facts, &assertions); err != nil {
			return nil, fmt.Errorf("read results of %s: %w", check, err)
		}
		r.Due, r.Start = checksTimeFrom(due), checksTimeFrom(start)
		r.Duration = nightowl.Seconds(dur)
		if err := checkstore.DecodeResult(&r, facts, assertions); err != nil {
			return nil, fmt.Errorf("read results of %s: %w", check, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read results of %s: %w", check, err)
	}
	return out, nil
}

// Events returns up to limit events of a check, or of every check when check
// is "", newest first; limit <= 0 means all.
func (s *Store) Events(ctx context.Context, check string, limit int) ([]nightowl.Event, error) {
	query := `SELECT e.id, c.name, e.time, e.kind, e.from_status, e.to_status, e.cause
		FROM events e JOIN checks c ON c.id = e.check_id`
	args := []any{checksLimit(limit)}
	if check != "" {
		query += ` WHERE e.check_id = (SELECT id FROM checks WHERE name = $2)`
		args = append(args, check)
	}
	query += ` ORDER BY e.time DESC, e.id DESC LIMIT $1`
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	defer rows.Close()
	var out []nightowl.Event
	for rows.Next() {
		var e nightowl.Event
		if err := rows.Scan(&e.ID, &e.Check, &e.Time, &e.Kind, &e.From, &e.To, &e.Cause); err != nil {
			return nil, fmt.Errorf("read events: %w", err)
		}
		e.Time = e.Time.UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return out, nil
}

// Rollups returns the check's rollups of period p, oldest first, from the
// one that contains since.
func (s *Store) Rollups(ctx context.Context, check string, p nightowl.Period, since time.Time) ([]nightowl.Rollup, error) {
	period, err := checkstore.PeriodSecs(p)
	if err != nil {
		return nil, err
	}
	from := since.Truncate(time.Duration(period) * time.Second)
	rows, err := s.pool.Query(ctx, `SELECT start, runs, failures, max_ns, hist FROM rollups
		WHERE check_id = (SELECT id FROM checks WHERE name = $1) AND period = $2 AND start >= $3
		ORDER BY start`, check, period, from)
	if err != nil {
		return nil, fmt.Errorf("read rollups of %s: %w", check, err)
	}
	defer rows.Close()
	var out []nightowl.Rollup
	for rows.Next() {
		var start time.Time
		var runs, failures, top int64
		var blob []byte
		if err := rows.Scan(&start, &runs, &failures, &top, &blob); err != nil {
			return nil, fmt.Errorf("read rollups of %s: %w", check, err)
		}
		out = append(out, checkstore.Rollup(check, p, start, runs, failures, top, blob))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read rollups of %s: %w", check, err)
	}
	return out, nil
}

// Pings returns up to limit of the check's recent pings, newest first,
// including those this node has not written yet; limit <= 0, or above
// PingsPerCheck, means all that are kept.
func (s *Store) Pings(ctx context.Context, check string, limit int) ([]nightowl.Ping, error) {
	if limit <= 0 || limit > s.opts.PingsPerCheck {
		limit = s.opts.PingsPerCheck
	}
	// Held from the look at memory to the end of the read, so that a
	// commit cannot move pings from the one to the other in between.
	s.commitMu.RLock()
	defer s.commitMu.RUnlock()
	out := s.q.Pings(check, limit)
	if len(out) == limit {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT time, kind, exit_code, rid, duration_ns, method,
		COALESCE(body, ''::bytea), truncated, user_agent, remote
		FROM pings WHERE check_id = (SELECT id FROM checks WHERE name = $1)
		ORDER BY id DESC LIMIT $2`, check, limit-len(out))
	if err != nil {
		return nil, fmt.Errorf("read pings of %s: %w", check, err)
	}
	defer rows.Close()
	for rows.Next() {
		p := nightowl.Ping{Check: check}
		var code *int32
		var dur *int64
		var body []byte
		if err := rows.Scan(&p.Time, &p.Kind, &code, &p.RID, &dur, &p.Method,
			&body, &p.Truncated, &p.UserAgent, &p.Remote); err != nil {
			return nil, fmt.Errorf("read pings of %s: %w", check, err)
		}
		p.Time, p.Body = p.Time.UTC(), string(body)
		p.ExitCode, p.Duration = checksIntFrom(code), checksDurationFrom(dur)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read pings of %s: %w", check, err)
	}
	return out, nil
}

func checksIntFrom(p *int32) *int {
	if p == nil {
		return nil
	}
	v := int(*p)
	return &v
}

func checksDurationFrom(p *int64) *nightowl.Seconds {
	if p == nil {
		return nil
	}
	v := nightowl.Seconds(*p)
	return &v
}

// Heartbeats returns the state of every heartbeat check, by name: what is
// stored, updated with what this node has queued.
func (s *Store) Heartbeats(ctx context.Context) ([]nightowl.Heartbeat, error) {
	// Memory first, then the database, and memory wins: see WithQueued.
	mem := s.q.Heartbeats()
	rows, err := s.pool.Query(ctx, `SELECT c.name, COALESCE(h.token, ''), h.last_ping, h.last_success,
		h.started, h.last_duration_ns, h.exit_code, h.failed, h.since
		FROM heartbeats h JOIN checks c ON c.id = h.check_id ORDER BY c.name COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("read heartbeats: %w", err)
	}
	defer rows.Close()
	var out []nightowl.Heartbeat
	for rows.Next() {
		var h nightowl.Heartbeat
		var lastPing, lastSuccess, since *time.Time
		var dur *int64
		var code *int32
		var started *string
		if err := rows.Scan(&h.Check, &h.Token, &lastPing, &lastSuccess, &started, &dur, &code,
			&h.Failed, &since); err != nil {
			return nil, fmt.Errorf("read heartbeats: %w", err)
		}
		if q, ok := mem[h.Check]; ok {
			out = append(out, q)
			delete(mem, h.Check)
			continue
		}
		h.LastPing, h.LastSuccess, h.Since = checksTimeFrom(lastPing), checksTimeFrom(lastSuccess), checksTimeFrom(since)
		h.LastDuration, h.ExitCode = checksDurationFrom(dur), checksIntFrom(code)
		if started != nil {
			if h.Started, err = checkstore.DecodeStarted(*started); err != nil {
				return nil, fmt.Errorf("read heartbeats: started runs of %s: %w", h.Check, err)
			}
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read heartbeats: %w", err)
	}
	return checkstore.WithQueued(out, mem), nil
}
