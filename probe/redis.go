package probe

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr/types"

	"github.com/nightowl/nightowl"
)

// Redis is the redis block of a check: PING, then INFO, from which the
// persistence and replication facts are taken.
type Redis struct {
	Addr string `yaml:"addr"`
	// Username is an ACL user (Redis 6 and later); without it a password
	// authenticates the default user.
	Username string `yaml:"username"`
	Password string `yaml:"password" secret:"true"`
	DB       int    `yaml:"db"`
	TLS      bool   `yaml:"tls"`
	// CAFile is a PEM bundle of extra roots to trust, relative to the config.
	CAFile             string `yaml:"ca_file" path:"true"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
	// ServerName is the name the certificate must carry when it differs
	// from the host of addr (an IP address, say).
	ServerName string `yaml:"server_name"`
}

func newRedis() Spec { return &Redis{} }

var redisFacts = types.Map{
	"role":               types.String,
	"info":               types.Map{types.Extra: types.Any},
	"bgsave_running_for": types.Float,
	"last_save_age":      types.Float,
	"master_link_up":     types.Bool,
	"duration":           types.Float,
}

// redisDefaults is empty: the probe fails unless the server answers PING
// and INFO, and that is the whole default test.
var redisDefaults []Default

// Validate checks the block.
func (s *Redis) Validate() []FieldError {
	errs := validAddr("addr", s.Addr)
	if s.DB < 0 {
		errs = append(errs, FieldError{Key: "db", Message: "must be 0 or more"})
	}
	if s.Username != "" && s.Password == "" {
		errs = append(errs, FieldError{Key: "password", Message: "required with username"})
	}
	if !s.TLS {
		for _, k := range []struct {
			key string
			set bool
		}{{"ca_file", s.CAFile != ""}, {"insecure_skip_verify", s.InsecureSkipVerify}, {"server_name", s.ServerName != ""}} {
			if k.set {
				errs = append(errs, FieldError{Key: k.key, Message: "needs tls: true"})
			}
		}
	}
	return errs
}

// redisIdle is how many connections a check keeps between runs. Runs of one
// check rarely overlap, so one would do; the second covers a manual run
// that coincides with a scheduled one.
const redisIdle = 2

// Prober prepares the TLS configuration and the AUTH command; connections
// are made on the first run and kept for the next ones.
func (s *Redis) Prober(env Env) (nightowl.Prober, error) {
	p := &redisProber{addr: s.Addr, db: s.DB, user: s.Username, idle: make(chan *respConn, redisIdle)}
	switch {
	case s.Username != "":
		p.auth = []string{"AUTH", s.Username, s.Password}
	case s.Password != "":
		p.auth = []string{"AUTH", s.Password}
	}
	if s.TLS {
		host, _, err := net.SplitHostPort(s.Addr)
		if err != nil {
			return nil, fmt.Errorf("addr: %w", err)
		}
		p.tls = &tls.Config{ServerName: cmp.Or(s.ServerName, host), InsecureSkipVerify: s.InsecureSkipVerify}
		if s.CAFile != "" && !s.InsecureSkipVerify {
			_, pool, err := env.Clients.orNew().readCAFile(s.CAFile)
			if err != nil {
				return nil, err
			}
			p.tls.RootCAs = pool
		}
	}
	return p, nil
}

type redisProber struct {
	addr string
	db   int
	user string
	// auth is the AUTH command with the password; it never goes into an
	// error message.
	auth []string
	tls  *tls.Config // nil for plain TCP
	idle chan *respConn
}

// Close closes the idle connections.
func (p *redisProber) Close() error {
	for {
		select {
		case c := <-p.idle:
			c.Close()
		default:
			return nil
		}
	}
}

// redisStep is an error with the step that failed ("ping", "auth as app").
type redisStep struct {
	step string
	err  error
}

func (e *redisStep) Error() string { return e.step + ": " + e.err.Error() }
func (e *redisStep) Unwrap() error { return e.err }

func (p *redisProber) Probe(ctx context.Context) (r nightowl.Result) {
	start := time.Now()
	r.Facts = nightowl.Facts{"role": nil, "info": nil, "bgsave_running_for": nil, "last_save_age": nil, "master_link_up": nil}

	text, err := p.info(ctx)
	if err != nil {
		return finish(r, start, p.describe(ctx, err, start))
	}
	info := parseRedisInfo(text)
	r.Facts["info"] = info
	redisFactsFromInfo(r.Facts, info, time.Now())
	return finish(r, start, "")
}

// info runs PING and INFO on a pooled connection. A pooled connection that
// the server closed while it was idle (a restart, its timeout setting) fails
// at once; the run then tries a new one rather than report a failure of a
// server that is fine.
func (p *redisProber) info(ctx context.Context) (string, error) {
	var c *respConn
	select {
	case c = <-p.idle:
	default:
	}
	if c != nil {
		text, err := p.query(ctx, c)
		if err == nil || !redisStale(ctx, err) {
			return text, err
		}
	}
	c, err := p.dial(ctx)
	if err != nil {
		return "", err
	}
	return p.query(ctx, c)
}

// redisStale reports whether err is what an idle connection that the server
// closed gives, as opposed to a server that answered with an error or too
// slowly.
func redisStale(ctx context.Context, err error) bool {
	var re respError
	return ctx.Err() == nil && !errors.As(err, &re) && !errors.Is(err, errNotRedis) && !timedOut(ctx, err)
}

// query runs the probe's commands on c, and returns c to the pool if it is
// still good afterwards.
func (p *redisProber) query(ctx context.Context, c *respConn) (text string, err error) {
	stop := closeOnCancel(ctx, c)
	defer func() {
		var re respError
		if stop() && (err == nil || errors.As(err, &re)) {
			select {
			case p.idle <- c:
				return
			default:
			}
		}
		c.Close()
	}()
	redisDeadline(ctx, c.conn)
	v, err := c.do("PING")
	if err != nil {
		return "", &redisStep{"ping", err}
	}
	if v != "PONG" {
		return "", &redisStep{"ping", fmt.Errorf("unexpected reply %v", v)}
	}
	text, err = p.infoText(c)
	if err != nil {
		return "", &redisStep{"info", err}
	}
	return text, nil
}

// infoText asks for every section. INFO everything adds the sections of
// modules to INFO all; servers that do not know it (old versions, some
// compatible servers) answer with an error or nothing, and get INFO all.
func (p *redisProber) infoText(c *respConn) (string, error) {
	v, err := c.do("INFO", "everything")
	var re respError
	if errors.As(err, &re) || err == nil && v == "" {
		v, err = c.do("INFO", "all")
	}
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("unexpected reply %T", v)
	}
	return s, nil
}

// redisDeadline applies ctx's deadline to a connection, or clears the
// deadline of an earlier run when ctx has none.
func redisDeadline(ctx context.Context, c net.Conn) {
	dl, _ := ctx.Deadline()
	c.SetDeadline(dl)
}

// dial connects, authenticates and selects the database.
func (p *redisProber) dial(ctx context.Context) (*respConn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, &redisStep{"connect " + p.addr, err}
	}
	stop := closeOnCancel(ctx, conn)
	defer stop()
	redisDeadline(ctx, conn)
	if p.tls != nil {
		tc := tls.Client(conn, p.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, &redisStep{"tls handshake with " + p.addr, err}
		}
		conn = tc
	}
	c := newRespConn(conn)
	if p.auth != nil {
		if _, err := c.do(p.auth...); err != nil {
			c.Close()
			step := "auth"
			if p.user != "" {
				step = "auth as " + p.user
			}
			return nil, &redisStep{step, err}
		}
	}
	if p.db != 0 {
		if _, err := c.do("SELECT", strconv.Itoa(p.db)); err != nil {
			c.Close()
			return nil, &redisStep{"select db " + strconv.Itoa(p.db), err}
		}
	}
	return c, nil
}

// describe turns an error of info into the result's error text.
func (p *redisProber) describe(ctx context.Context, err error, start time.Time) string {
	var step *redisStep
	var dnsErr *net.DNSError
	if !errors.As(err, &step) || errors.As(err, &dnsErr) {
		return reason(ctx, err, start)
	}
	var re respError
	if errors.As(err, &re) {
		// The server's own words ("WRONGPASS invalid username-password
		// pair", "NOAUTH Authentication required."), which never repeat
		// the password that was sent.
		return step.step + ": " + string(re)
	}
	if errors.Is(err, errNotRedis) {
		return step.step + ": " + step.err.Error()
	}
	return step.step + ": " + reason(ctx, step.err, start)
}

// redisStringFields look like numbers now and then ("00000000") but are
// identifiers, and stay strings so that their type does not change between
// runs.
var redisStringFields = map[string]bool{
	"run_id": true, "master_replid": true, "master_replid2": true,
	"redis_git_sha1": true, "redis_build_id": true, "redis_version": true,
}

// parseRedisInfo turns INFO's "name:value" lines into a map. Numbers become
// int or float64; values made of name=value pairs (db0:keys=1,expires=0,
// slave0:ip=…,port=…, cmdstat_get:calls=…) become maps of their own;
// everything else stays a string.
func parseRedisInfo(text string) map[string]any {
	info := make(map[string]any, 256)
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" || line[0] == '#' {
			continue
		}
		name, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		if redisStringFields[name] {
			info[name] = val
			continue
		}
		if m, ok := redisPairs(val); ok {
			info[name] = m
			continue
		}
		info[name] = redisScalar(val)
	}
	return info
}

// redisPairs parses "keys=1,expires=0,avg_ttl=0".
func redisPairs(val string) (map[string]any, bool) {
	if !strings.Contains(val, "=") {
		return nil, false
	}
	m := map[string]any{}
	for part := range strings.SplitSeq(val, ",") {
		k, v, ok := strings.Cut(part, "=")
		if !ok || !redisPairName(k) {
			return nil, false
		}
		m[k] = redisScalar(v)
	}
	return m, true
}

func redisPairName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// redisScalar reads INFO's integers ("12", "-1") and fixed-point numbers
// ("1.23") as numbers. Anything else, "1.02M" or "7.0.15" or "inf", is text.
func redisScalar(v string) any {
	digits, dots := 0, 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && i > 0 && i < len(v)-1:
			dots++
		case c == '-' && i == 0:
		default:
			return v
		}
	}
	if digits == 0 || dots > 1 {
		return v
	}
	if dots == 0 {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return v
	}
	return f
}

// redisFactsFromInfo derives the facts that the classic failures are
// asserted on. A field that the server does not report leaves its fact nil.
// Ages are measured on the server's clock when it reports one, so that a
// monitor whose clock is off does not see a save as older than it is.
func redisFactsFromInfo(f nightowl.Facts, info map[string]any, now time.Time) {
	role, _ := info["role"].(string)
	if role != "" {
		f["role"] = role
	}
	if busy, ok := info["rdb_bgsave_in_progress"].(int); ok {
		running := 0.0
		if secs, ok := info["rdb_current_bgsave_time_sec"].(int); busy == 1 && ok && secs > 0 {
			running = float64(secs)
		}
		f["bgsave_running_for"] = running
	}
	if last, ok := info["rdb_last_save_time"].(int); ok {
		nowSec := float64(now.UnixNano()) / 1e9
		if usec, ok := info["server_time_usec"].(int); ok {
			nowSec = float64(usec) / 1e6
		}
		f["last_save_age"] = max(0, nowSec-float64(last))
	}
	if role == "slave" || role == "replica" {
		status, _ := info["master_link_status"].(string)
		f["master_link_up"] = status == "up"
	}
}
