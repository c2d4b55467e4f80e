package email

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"math/big"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify/kit"
	"github.com/nightowl/nightowl/notify/notifytest"
)

const (
	testUser     = "nightowl"
	testPassword = "s3cr3t-smtp-password"
)

// fixture is the message every receiver package tests with, so that the
// payloads can be compared side by side.
func fixture(kind nightowl.MessageKind) *nightowl.Message {
	return notifytest.AnaAt0131.Message(kind)
}

// certificate makes a self-signed certificate for 127.0.0.1 and the pool
// that trusts it.
func certificate(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "smtp test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// session is what the server saw of one connection.
type session struct {
	tls       bool     // encrypted when the mail was handed over
	verbs     []string // the commands, without their arguments
	authUser  string   // who logged in, "" for nobody
	authTLS   bool     // whether the credentials came over TLS
	authMech  string
	badLogins int
	from      string
	rcpt      []string
	data      []byte
}

// smtpServer is a small SMTP server on 127.0.0.1: EHLO, STARTTLS, AUTH
// PLAIN and LOGIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT, with answers that a
// test can override per command.
type smtpServer struct {
	t    *testing.T
	ln   net.Listener
	host string
	port int
	cert tls.Certificate
	// implicit: the listener speaks TLS from the first byte.
	implicit bool
	// starttls: EHLO offers STARTTLS before the session is encrypted.
	starttls bool
	// mechs are the AUTH mechanisms offered; AUTH is offered over plain
	// text only if plainAuth.
	mechs     []string
	plainAuth bool
	// replies override the answer to a verb ("MAIL", "DATA" for the
	// answer after the message) or to "RCPT <address>".
	replies map[string]string
	// silent: accept connections and never greet.
	silent bool

	mu       sync.Mutex
	sessions []*session
	wg       sync.WaitGroup
}

// newSMTPServer starts a server that offers STARTTLS and AUTH PLAIN and
// LOGIN, as changed by setup, which runs before the first connection.
func newSMTPServer(t *testing.T, implicit bool, setup func(*smtpServer)) *smtpServer {
	t.Helper()
	cert, _ := certificate(t)
	s := &smtpServer{t: t, cert: cert, implicit: implicit, starttls: true, mechs: []string{"PLAIN", "LOGIN"}, replies: map[string]string{}}
	if setup != nil {
		setup(s)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if implicit {
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}})
	}
	s.ln = ln
	addr := ln.Addr().(*net.TCPAddr)
	s.host, s.port = addr.IP.String(), addr.Port
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *smtpServer) serve() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer conn.Close()
			// Every session ends within the test that started it.
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			s.handle(conn)
		}()
	}
}

// last returns the most recent session, copied.
func (s *smtpServer) last() session {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.sessions) == 0 {
		s.t.Fatal("no SMTP session")
	}
	return *s.sessions[len(s.sessions)-1]
}

func (s *smtpServer) handle(conn net.Conn) {
	sess := &session{tls: s.implicit}
	s.mu.Lock()
	s.sessions = append(s.sessions, sess)
	s.mu.Unlock()
	// update changes the session under the lock the test reads it with.
	update := func(f func()) {
		s.mu.Lock()
		defer s.mu.Unlock()
		f()
	}
	tp := textproto.NewConn(conn)
	if s.silent {
		tp.ReadLine() // until the client gives up
		return
	}
	tp.PrintfLine("220 127.0.0.1 ESMTP test")
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		update(func() { sess.verbs = append(sess.verbs, verb) })
		if r, ok := s.replies[verb]; ok && verb != "DATA" {
			tp.PrintfLine("%s", r)
			continue
		}
		switch verb {
		case "EHLO":
			lines := []string{"127.0.0.1 greets " + arg, "8BITMIME"}
			if s.starttls && !sess.tls {
				lines = append(lines, "STARTTLS")
			}
			if len(s.mechs) > 0 && (sess.tls || s.plainAuth) {
				lines = append(lines, "AUTH "+strings.Join(s.mechs, " "))
			}
			for i, l := range lines {
				sep := "-"
				if i == len(lines)-1 {
					sep = " "
				}
				tp.PrintfLine("250%s%s", sep, l)
			}
		case "HELO", "NOOP":
			tp.PrintfLine("250 ok")
		case "STARTTLS":
			if !s.starttls || sess.tls {
				tp.PrintfLine("502 5.5.1 not now")
				continue
			}
			tp.PrintfLine("220 2.0.0 go ahead")
			tc := tls.Server(conn, &tls.Config{Certificates: []tls.Certificate{s.cert}})
			if err := tc.Handshake(); err != nil {
				return
			}
			conn, tp = tc, textproto.NewConn(tc)
			// RFC 3207: the client starts over, as from the greeting.
			update(func() { sess.tls, sess.authUser, sess.from, sess.rcpt = true, "", "", nil })
		case "AUTH":
			mech, initial, _ := strings.Cut(arg, " ")
			var user, pass string
			switch strings.ToUpper(mech) {
			case "PLAIN":
				if initial == "" {
					tp.PrintfLine("334 ")
					initial, _ = tp.ReadLine()
				}
				b, _ := base64.StdEncoding.DecodeString(initial)
				parts := strings.Split(string(b), "\x00")
				if len(parts) == 3 {
					user, pass = parts[1], parts[2]
				}
			case "LOGIN":
				tp.PrintfLine("334 %s", base64.StdEncoding.EncodeToString([]byte("Username:")))
				l, _ := tp.ReadLine()
				b, _ := base64.StdEncoding.DecodeString(l)
				user = string(b)
				tp.PrintfLine("334 %s", base64.StdEncoding.EncodeToString([]byte("Password:")))
				l, _ = tp.ReadLine()
				b, _ = base64.StdEncoding.DecodeString(l)
				pass = string(b)
			default:
				tp.PrintfLine("504 5.5.4 unknown mechanism")
				continue
			}
			if user != testUser || pass != testPassword {
				update(func() { sess.badLogins++ })
				tp.PrintfLine("535 5.7.8 authentication credentials invalid")
				continue
			}
			update(func() { sess.authUser, sess.authTLS, sess.authMech = user, sess.tls, strings.ToUpper(mech) })
			tp.PrintfLine("235 2.7.0 accepted")
		case "MAIL":
			if len(s.mechs) > 0 && sess.authUser == "" && (sess.tls || s.plainAuth) {
				tp.PrintfLine("530 5.7.0 authentication required")
				continue
			}
			from, _, _ := strings.Cut(strings.TrimPrefix(arg, "FROM:"), " ")
			update(func() { sess.from = from })
			tp.PrintfLine("250 2.1.0 ok")
		case "RCPT":
			to := strings.TrimPrefix(arg, "TO:")
			if r, ok := s.replies["RCPT "+to]; ok {
				tp.PrintfLine("%s", r)
				continue
			}
			update(func() { sess.rcpt = append(sess.rcpt, to) })
			tp.PrintfLine("250 2.1.5 ok")
		case "DATA":
			tp.PrintfLine("354 end with <CRLF>.<CRLF>")
			data, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			if r, ok := s.replies["DATA"]; ok {
				tp.PrintfLine("%s", r)
				continue
			}
			update(func() { sess.data = data })
			tp.PrintfLine("250 2.0.0 queued as 1")
		case "RSET":
			update(func() { sess.from, sess.rcpt = "", nil })
			tp.PrintfLine("250 ok")
		case "QUIT":
			tp.PrintfLine("221 2.0.0 bye")
			return
		default:
			tp.PrintfLine("502 5.5.2 unknown command")
		}
	}
}

// notifier builds the receiver against s, trusting its certificate.
func notifier(t *testing.T, s *smtpServer, c *Config, smtp kit.SMTP) *Notifier {
	t.Helper()
	if c.To == nil {
		c.To = []string{"ops@example.com"}
	}
	if errs := c.Validate(); len(errs) > 0 {
		t.Fatalf("Validate: %v", errs)
	}
	smtp.Host, smtp.Port = s.host, s.port
	if smtp.From == "" {
		smtp.From = "nightowl <nightowl@example.com>"
	}
	n, err := c.Notifier(kit.Deps{SMTP: &smtp})
	if err != nil {
		t.Fatalf("Notifier: %v", err)
	}
	nn := n.(*Notifier)
	pool := x509.NewCertPool()
	pool.AddCert(s.cert.Leaf)
	nn.tls.RootCAs = pool
	nn.hello = "nightowl.test"
	nn.now = func() time.Time { return time.Date(2026, 3, 18, 1, 29, 5, 0, time.UTC) }
	return nn
}

var login = kit.SMTP{Username: testUser, Password: testPassword}

func TestMessages(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cfg      Config
		msg      *nightowl.Message
		wantFrom string
		wantRcpt []string
	}{
		{"firing", Config{To: []string{"ops@example.com", "Ana Lopes <ana@example.com>"}}, fixture(nightowl.MessageFiring),
			"<nightowl@example.com>", []string{"<ops@example.com>", "<ana@example.com>"}},
		{"repeat", Config{}, fixture(nightowl.MessageRepeat), "<nightowl@example.com>", []string{"<ops@example.com>"}},
		{"acknowledged", Config{}, fixture(nightowl.MessageAcknowledged), "<nightowl@example.com>", []string{"<ops@example.com>"}},
		{"resolved", Config{}, fixture(nightowl.MessageResolved), "<nightowl@example.com>", []string{"<ops@example.com>"}},
		// A title outside ASCII is an RFC 2047 encoded word; one with a
		// line break stays one header.
		{"custom-template", Config{
			From:          "Nachtwächter <alerts@status.example.org>",
			TitleTemplate: "{{.Alert.Check}} — {{.Alert.Status}}\nBcc: attacker@example.net",
			TextTemplate:  `{{range .Alert.Failed}}{{.Name}}: {{.Message}}{{"\n"}}{{end}}Seit {{since .Alert.StartsAt}}.`,
		}, fixture(nightowl.MessageFiring), "<alerts@status.example.org>", []string{"<ops@example.com>"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSMTPServer(t, false, nil)
			n := notifier(t, s, &tc.cfg, login)
			retry, err := n.Notify(context.Background(), tc.msg)
			if err != nil || retry {
				t.Fatalf("Notify = %v, %v; want false, nil", retry, err)
			}
			got := s.last()
			if !got.tls || !got.authTLS || got.authUser != testUser || got.authMech != "PLAIN" {
				t.Errorf("tls %v, auth %q with %s over tls %v; want STARTTLS, then PLAIN as %s", got.tls, got.authUser, got.authMech, got.authTLS, testUser)
			}
			if !strings.HasPrefix(got.from, tc.wantFrom) {
				t.Errorf("MAIL FROM %s, want %s", got.from, tc.wantFrom)
			}
			if strings.Join(got.rcpt, " ") != strings.Join(tc.wantRcpt, " ") {
				t.Errorf("RCPT TO %v, want %v", got.rcpt, tc.wantRcpt)
			}
			if last := got.verbs[len(got.verbs)-1]; last != "QUIT" {
				t.Errorf("last command %s, want QUIT", last)
			}
			notifytest.Golden(t, tc.name, got.data)
		})
	}
}

// A resend is recognisably the same mail, and every mail about an alert
// names the same thread.
func TestIdentity(t *testing.T) {
	s := newSMTPServer(t, false, nil)
	n := notifier(t, s, &Config{}, login)
	headers := func(m *nightowl.Message) map[string]string {
		t.Helper()
		if _, err := n.Notify(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		h := map[string]string{}
		for _, l := range strings.Split(string(s.last().data), "\n") {
			if l == "" {
				break
			}
			k, v, _ := strings.Cut(l, ": ")
			h[k] = v
		}
		return h
	}
	first := headers(fixture(nightowl.MessageFiring))
	again := headers(fixture(nightowl.MessageFiring))
	other := fixture(nightowl.MessageResolved)
	other.IdempotencyKey = "n-57"
	resolved := headers(other)
	if first["Message-ID"] != again["Message-ID"] {
		t.Errorf("a resend has Message-ID %s, the first %s", again["Message-ID"], first["Message-ID"])
	}
	if first["Message-ID"] == resolved["Message-ID"] {
		t.Errorf("two messages share Message-ID %s", first["Message-ID"])
	}
	thread := "<nightowl.alert.a1b2c3d4e5f6@example.com>"
	if first["References"] != thread || resolved["References"] != thread || resolved["In-Reply-To"] != thread {
		t.Errorf("threading: firing References %q, resolved References %q In-Reply-To %q; want %s",
			first["References"], resolved["References"], resolved["In-Reply-To"], thread)
	}
}

func TestTransport(t *testing.T) {
	for _, tc := range []struct {
		name     string
		implicit bool
		setup    func(*smtpServer)
		smtp     kit.SMTP
		wantTLS  bool
		wantAuth string
	}{
		{name: "implicit tls", implicit: true, smtp: kit.SMTP{TLS: "tls", Username: testUser, Password: testPassword},
			wantTLS: true, wantAuth: "PLAIN"},
		{name: "implicit tls without auth", implicit: true, setup: func(s *smtpServer) { s.mechs = nil },
			smtp: kit.SMTP{TLS: "tls"}, wantTLS: true},
		{name: "login when plain is not offered", setup: func(s *smtpServer) { s.mechs = []string{"LOGIN"} },
			smtp: login, wantTLS: true, wantAuth: "LOGIN"},
		// Plain text only when the config says so, credentials included.
		{name: "plain relay", setup: func(s *smtpServer) { s.starttls, s.plainAuth = false, true },
			smtp: kit.SMTP{TLS: "none", Username: testUser, Password: testPassword}, wantAuth: "PLAIN"},
		{name: "plain relay offering starttls", setup: func(s *smtpServer) { s.mechs = nil },
			smtp: kit.SMTP{TLS: "none"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSMTPServer(t, tc.implicit, tc.setup)
			n := notifier(t, s, &Config{}, tc.smtp)
			if retry, err := n.Notify(context.Background(), fixture(nightowl.MessageFiring)); err != nil || retry {
				t.Fatalf("Notify = %v, %v; want false, nil", retry, err)
			}
			got := s.last()
			if got.tls != tc.wantTLS || got.authMech != tc.wantAuth || got.data == nil {
				t.Errorf("tls %v, auth %q, %d bytes; want tls %v, auth %q, the mail", got.tls, got.authMech, len(got.data), tc.wantTLS, tc.wantAuth)
			}
			if strings.Contains(strings.Join(got.verbs, " "), "STARTTLS") != (tc.smtp.TLS == "") {
				t.Errorf("commands %v", got.verbs)
			}
		})
	}
}

func TestFailures(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(*smtpServer)
		cfg   Config
		smtp  kit.SMTP
		// untrusted leaves the server's certificate out of the roots.
		untrusted bool
		ctx       time.Duration
		wantRetry bool
		wantErr   string
		// wantVerbs are the commands the server saw, when it matters
		// that the client stopped early.
		wantVerbs string
		// wantRcpt is who got the mail nonetheless.
		wantRcpt []string
	}{
		{name: "starttls not offered", setup: func(s *smtpServer) { s.starttls, s.plainAuth = false, true }, smtp: login,
			wantErr: `server does not offer STARTTLS (tls: "none" allows plain text)`, wantVerbs: "EHLO QUIT"},
		{name: "starttls not offered, no auth", setup: func(s *smtpServer) { s.starttls, s.mechs = false, nil },
			wantErr: `server does not offer STARTTLS`, wantVerbs: "EHLO QUIT"},
		{name: "untrusted certificate", untrusted: true, smtp: login, wantRetry: true,
			wantErr: "STARTTLS: tls: failed to verify certificate", wantVerbs: "EHLO STARTTLS"},
		{name: "wrong password", smtp: kit.SMTP{Username: testUser, Password: "not-" + testPassword},
			wantErr: "AUTH: 535 5.7.8 authentication credentials invalid"},
		{name: "auth not offered", setup: func(s *smtpServer) { s.mechs = nil }, smtp: login,
			wantErr: "server does not offer AUTH, and a username is set"},
		{name: "no usable mechanism", setup: func(s *smtpServer) { s.mechs = []string{"CRAM-MD5", "XOAUTH2"} }, smtp: login,
			wantErr: "server offers neither AUTH PLAIN nor LOGIN (offers CRAM-MD5 XOAUTH2)"},
		{name: "greylisted", setup: func(s *smtpServer) { s.replies["MAIL"] = "451 4.7.1 greylisted, try again later" }, smtp: login,
			wantRetry: true, wantErr: "MAIL FROM: 451 4.7.1 greylisted, try again later"},
		{name: "sender refused", setup: func(s *smtpServer) { s.replies["MAIL"] = "550 5.7.1 sender refused" }, smtp: login,
			wantErr: "MAIL FROM: 550 5.7.1 sender refused"},
		{name: "recipient unknown", setup: func(s *smtpServer) { s.replies["RCPT <ops@example.com>"] = "550 5.1.1 no such user" }, smtp: login,
			wantErr: "RCPT TO: every recipient refused: ops@example.com: 550 5.1.1 no such user"},
		{name: "one recipient unknown", cfg: Config{To: []string{"ops@example.com", "gone@example.com"}},
			setup: func(s *smtpServer) { s.replies["RCPT <gone@example.com>"] = "550 5.1.1 no such user" }, smtp: login,
			wantErr: "sent, but RCPT TO refused gone@example.com: 550 5.1.1 no such user", wantRcpt: []string{"<ops@example.com>"}},
		{name: "one recipient's mailbox busy", cfg: Config{To: []string{"ops@example.com", "busy@example.com"}},
			setup: func(s *smtpServer) { s.replies["RCPT <busy@example.com>"] = "452 4.2.2 mailbox full" }, smtp: login,
			wantRetry: true, wantErr: "RCPT TO: 452 4.2.2 mailbox full"},
		{name: "queue full", setup: func(s *smtpServer) { s.replies["DATA"] = "451 4.3.0 queue full" }, smtp: login,
			wantRetry: true, wantErr: "DATA: 451 4.3.0 queue full"},
		{name: "message refused", setup: func(s *smtpServer) { s.replies["DATA"] = "554 5.6.0 message refused" }, smtp: login,
			wantErr: "DATA: 554 5.6.0 message refused"},
		{name: "service unavailable", setup: func(s *smtpServer) { s.replies["EHLO"], s.replies["HELO"] = "421 4.3.2 down", "421 4.3.2 down" },
			smtp: login, wantRetry: true, wantErr: "EHLO: 421 4.3.2 down"},
		{name: "timeout", setup: func(s *smtpServer) { s.silent = true }, smtp: login, ctx: 200 * time.Millisecond,
			wantRetry: true, wantErr: "context deadline exceeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSMTPServer(t, false, tc.setup)
			n := notifier(t, s, &tc.cfg, tc.smtp)
			if tc.untrusted {
				n.tls.RootCAs = nil
			}
			ctx := context.Background()
			if tc.ctx > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.ctx)
				defer cancel()
			}
			retry, err := n.Notify(ctx, fixture(nightowl.MessageFiring))
			if err == nil {
				t.Fatal("Notify succeeded")
			}
			if retry != tc.wantRetry {
				t.Errorf("retry = %v, want %v (%v)", retry, tc.wantRetry, err)
			}
			want := "smtp " + net.JoinHostPort(s.host, strconv.Itoa(s.port)) + ": "
			if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q, want %q…%q", err, want, tc.wantErr)
			}
			if strings.Contains(err.Error(), testPassword) {
				t.Errorf("error %q contains the password", err)
			}
			got := s.last()
			// A refusal leaves the session in order: the client says
			// goodbye rather than hanging up.
			if !tc.wantRetry && got.verbs[len(got.verbs)-1] != "QUIT" {
				t.Errorf("the session ended with %v, want QUIT", got.verbs)
			}
			if tc.wantVerbs != "" && strings.Join(got.verbs, " ") != tc.wantVerbs {
				t.Errorf("the server saw %v, want %s", got.verbs, tc.wantVerbs)
			}
			if got.data == nil && tc.wantRcpt != nil || got.data != nil && strings.Join(got.rcpt, " ") != strings.Join(tc.wantRcpt, " ") {
				t.Errorf("delivered %d bytes to %v, want delivery to %v", len(got.data), got.rcpt, tc.wantRcpt)
			}
		})
	}
}

func TestConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	n, err := (&Config{To: []string{"ops@example.com"}}).Notifier(kit.Deps{SMTP: &kit.SMTP{
		Host: "127.0.0.1", Port: port, From: "nightowl@example.com", Username: testUser, Password: testPassword}})
	if err != nil {
		t.Fatal(err)
	}
	retry, err := n.Notify(context.Background(), fixture(nightowl.MessageFiring))
	if !retry || err == nil || !strings.Contains(err.Error(), "connect: ") || strings.Contains(err.Error(), testPassword) {
		t.Errorf("Notify = %v, %v; want a retried connection error", retry, err)
	}
}

func TestLongSubject(t *testing.T) {
	s := newSMTPServer(t, false, nil)
	n := notifier(t, s, &Config{TitleTemplate: "{{.Alert.Check}} " + strings.Repeat("夜", 300)}, login)
	if _, err := n.Notify(context.Background(), fixture(nightowl.MessageFiring)); err != nil {
		t.Fatal(err)
	}
	head, _, _ := strings.Cut(string(s.last().data), "\n\n")
	for _, l := range strings.Split(head, "\n") {
		if len(l) > 78 && !strings.HasPrefix(l, "Message-ID") {
			t.Errorf("header line of %d bytes: %.60s…", len(l), l)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want []nightowl.FieldError
	}{
		{"one address", Config{To: []string{"ops@example.com"}}, nil},
		{"names and a sender", Config{To: []string{"Ops <ops@example.com>", "ana@example.com"}, From: "nightowl <n@example.com>"}, nil},
		{"no recipients", Config{}, []nightowl.FieldError{{Key: "to", Message: "required"}}},
		{"bad recipient", Config{To: []string{"ops@example.com", "ops at example.com"}},
			[]nightowl.FieldError{{Key: "to[1]", Message: "not a valid address"}}},
		{"two in one", Config{To: []string{"a@example.com, b@example.com"}},
			[]nightowl.FieldError{{Key: "to[0]", Message: "not a valid address"}}},
		{"bad sender", Config{To: []string{"ops@example.com"}, From: "nightowl"},
			[]nightowl.FieldError{{Key: "from", Message: "not a valid address"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.cfg.Validate()
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("Validate = %v, want %v", got, tc.want)
			}
		})
	}
	valid := func() *Config { return &Config{To: []string{"ops@example.com"}} }
	notifytest.Validate(t, valid, notifytest.TemplateChanges(func(c *Config, title, text string) { c.TitleTemplate, c.TextTemplate = title, text }))
}

func TestNotifierConfig(t *testing.T) {
	to := &Config{To: []string{"ops@example.com"}}
	for _, tc := range []struct {
		name     string
		smtp     *kit.SMTP
		wantErr  string
		wantAddr string
	}{
		{"no smtp block", nil, "notify.smtp.host: required by email receivers", ""},
		{"default port", &kit.SMTP{Host: "smtp.example.com", From: "n@example.com"}, "", "smtp.example.com:587"},
		{"implicit tls port", &kit.SMTP{Host: "smtp.example.com", From: "n@example.com", TLS: "tls"}, "", "smtp.example.com:465"},
		{"bad tls mode", &kit.SMTP{Host: "smtp.example.com", From: "n@example.com", TLS: "ssl"},
			`notify.smtp.tls: must be "starttls", "tls" or "none"`, ""},
		{"no sender", &kit.SMTP{Host: "smtp.example.com"}, "notify.smtp.from: required when the receiver gives no from", ""},
		{"bad sender", &kit.SMTP{Host: "smtp.example.com", From: "nightowl"}, "notify.smtp.from: not a valid address", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := to.Notifier(kit.Deps{SMTP: tc.smtp})
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Errorf("Notifier error %v, want %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := n.(*Notifier).addr; got != tc.wantAddr {
				t.Errorf("addr %s, want %s", got, tc.wantAddr)
			}
		})
	}
}
