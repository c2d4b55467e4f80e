package email

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"slices"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify/kit"
)

// subjectLimit caps the subject, in characters: a custom title template
// could render a whole page, and a header line must stay under 998 bytes.
const subjectLimit = 200

// Notifier sends messages to one list of recipients.
type Notifier struct {
	addr               string // host:port
	mode               string
	username, password string
	from               *mail.Address
	to                 []*mail.Address
	render             *kit.Renderer
	tls                *tls.Config
	hello              string
	now                func() time.Time
}

// permanentError is a failure that the same attempt would meet again:
// the server lacks what the config requires of it.
type permanentError struct{ msg string }

func (e *permanentError) Error() string { return e.msg }

// Notify sends m as one mail to every recipient. SMTP answers 4xx and
// broken connections are retried; 5xx answers are not.
func (n *Notifier) Notify(ctx context.Context, m *nightowl.Message) (bool, error) {
	retry, err := n.send(ctx, n.compose(m))
	if err == nil {
		return false, nil
	}
	if ctx.Err() != nil {
		// The cut connection's error says less than why it was cut.
		return true, fmt.Errorf("smtp %s: %w", n.addr, ctx.Err())
	}
	return retry, fmt.Errorf("smtp %s: %w", n.addr, err)
}

func (n *Notifier) send(ctx context.Context, msg []byte) (bool, error) {
	conn, err := n.dial(ctx)
	if err != nil {
		return true, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	// net/smtp knows no context: a deadline in the past unblocks whatever
	// it waits for once ctx ends, and by then ctx.Err says why.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	c, err := smtp.NewClient(conn, n.tls.ServerName)
	if err != nil {
		return classify("greeting", err)
	}
	defer c.Close()
	return n.transact(c, msg)
}

// transact runs one mail transaction on a greeted connection. When the
// server refuses a step, the session is still in order, and it is told
// goodbye rather than hung up on.
func (n *Notifier) transact(c *smtp.Client, msg []byte) (retry bool, err error) {
	defer func() {
		var te *textproto.Error
		var pe *permanentError
		if errors.As(err, &te) || errors.As(err, &pe) {
			c.Quit()
		}
	}()
	if err := c.Hello(n.hello); err != nil {
		return classify("EHLO", err)
	}
	if n.mode == modeSTARTTLS {
		// Sending in the clear because the server did not offer
		// STARTTLS is what a downgrade attack counts on.
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return false, &permanentError{`server does not offer STARTTLS (tls: "none" allows plain text)`}
		}
		if err := c.StartTLS(n.tls); err != nil {
			return classify("STARTTLS", err)
		}
	}
	if n.username != "" {
		ok, mechs := c.Extension("AUTH")
		if !ok {
			return false, &permanentError{"server does not offer AUTH, and a username is set"}
		}
		if err := c.Auth(&auth{username: n.username, password: n.password, mechs: strings.Fields(mechs), plainOK: n.mode == modeNone}); err != nil {
			return classify("AUTH", err)
		}
	}
	if err := c.Mail(n.from.Address); err != nil {
		return classify("MAIL FROM", err)
	}
	// A recipient refused for good does not keep the mail from the
	// others; one refused for now sends nobody anything yet, so that the
	// retry reaches everyone exactly once.
	var refused []string
	for _, to := range n.to {
		err := c.Rcpt(to.Address)
		if err == nil {
			continue
		}
		var te *textproto.Error
		if errors.As(err, &te) && te.Code >= 500 {
			refused = append(refused, fmt.Sprintf("%s: %d %s", to.Address, te.Code, te.Msg))
			continue
		}
		return classify("RCPT TO", err)
	}
	if len(refused) == len(n.to) {
		return false, &permanentError{"RCPT TO: every recipient refused: " + strings.Join(refused, "; ")}
	}
	w, err := c.Data()
	if err != nil {
		return classify("DATA", err)
	}
	if _, err := w.Write(msg); err != nil {
		return classify("DATA", err)
	}
	// Close reads the server's verdict on the message.
	if err := w.Close(); err != nil {
		return classify("DATA", err)
	}
	// The server has taken the mail; a failed goodbye changes nothing.
	c.Quit()
	if len(refused) > 0 {
		return false, fmt.Errorf("sent, but RCPT TO refused %s", strings.Join(refused, "; "))
	}
	return false, nil
}

func (n *Notifier) dial(ctx context.Context) (net.Conn, error) {
	d := &net.Dialer{}
	if n.mode == modeTLS {
		// net/smtp sees a *tls.Conn and treats the session as encrypted.
		return (&tls.Dialer{NetDialer: d, Config: n.tls}).DialContext(ctx, "tcp", n.addr)
	}
	return d.DialContext(ctx, "tcp", n.addr)
}

// classify turns an SMTP failure into the retry decision: 4xx is "not
// now", 5xx is "never", and anything else broke the connection.
func classify(step string, err error) (bool, error) {
	err = &stepError{step, err}
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code < 500, err
	}
	var pe *permanentError
	return !errors.As(err, &pe), err
}

// stepError is a failed SMTP step, with the server's answer as it gave it.
type stepError struct {
	step string
	err  error
}

func (e *stepError) Error() string {
	var te *textproto.Error
	if errors.As(e.err, &te) {
		// textproto quotes the text, which reads worse in a log.
		return fmt.Sprintf("%s: %d %s", e.step, te.Code, te.Msg)
	}
	return e.step + ": " + e.err.Error()
}

func (e *stepError) Unwrap() error { return e.err }

// auth is AUTH PLAIN, or LOGIN for servers that offer only that. Unlike
// smtp.PlainAuth it honours tls: "none" for a relay elsewhere than on
// localhost, and refuses plain text otherwise.
type auth struct {
	username, password string
	mechs              []string
	plainOK            bool
	step               int
}

func (a *auth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	if !server.TLS && !a.plainOK {
		return "", nil, &permanentError{"will not send credentials over an unencrypted connection"}
	}
	switch {
	case slices.Contains(a.mechs, "PLAIN"):
		return "PLAIN", []byte("\x00" + a.username + "\x00" + a.password), nil
	case slices.Contains(a.mechs, "LOGIN"):
		return "LOGIN", nil, nil
	}
	return "", nil, &permanentError{fmt.Sprintf("server offers neither AUTH PLAIN nor LOGIN (offers %s)", strings.Join(a.mechs, " "))}
}

// Next answers LOGIN's two prompts, username then password; PLAIN has
// nothing more to say.
func (a *auth) Next(_ []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	a.step++
	switch a.step {
	case 1:
		return []byte(a.username), nil
	case 2:
		return []byte(a.password), nil
	}
	return nil, errors.New("unexpected AUTH challenge")
}

// compose writes the mail: headers, then the text as quoted-printable
// UTF-8, which survives any relay whatever the text's line lengths and
// characters.
func (n *Notifier) compose(m *nightowl.Message) []byte {
	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("Date", n.now().Format(time.RFC1123Z))
	header("From", n.from.String())
	to := make([]string, len(n.to))
	for i, a := range n.to {
		to[i] = a.String()
	}
	header("To", strings.Join(to, ",\r\n "))
	// Encoded words are at most 75 characters; folding between them keeps
	// a subject in a script other than Latin under the line limit.
	header("Subject", strings.ReplaceAll(mime.QEncoding.Encode("utf-8", subject(n.render.Title(m))), "?= =?", "?=\r\n =?"))
	// A resend of this message carries the same id, so that a server or
	// client that saw it already can tell.
	header("Message-ID", n.msgID(m.IdempotencyKey+"."+m.Alert.ID))
	// Every message about the alert points at one thread root, which
	// is where threading clients hang firing, repeat, acknowledged and
	// resolved alike.
	thread := n.msgID("alert." + m.Alert.ID)
	if m.Kind != nightowl.MessageFiring {
		header("In-Reply-To", thread)
	}
	header("References", thread)
	// RFC 3834: keeps vacation responders from answering alerts.
	header("Auto-Submitted", "auto-generated")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	qp.Write([]byte(n.render.Text(m) + "\n"))
	qp.Close()
	return b.Bytes()
}

// subject is the title on one line, so that a template cannot add headers,
// cut to a length that every client shows whole.
func subject(title string) string {
	s := strings.Join(strings.Fields(title), " ")
	if r := []rune(s); len(r) > subjectLimit {
		s = string(r[:subjectLimit-1]) + "…"
	}
	return s
}

// msgID builds a message id in the sender's domain. Characters that a
// message id may not hold are written as =XX, so that distinct keys stay
// distinct.
func (n *Notifier) msgID(local string) string {
	var b strings.Builder
	b.WriteString("<nightowl.")
	for i := 0; i < len(local); i++ {
		c := local[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.' && i > 0 && i < len(local)-1 && local[i-1] != '.':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "=%02X", c)
		}
	}
	// The local part of an address may hold an @ of its own, quoted.
	domain := n.from.Address[strings.LastIndexByte(n.from.Address, '@')+1:]
	b.WriteString("@" + domain + ">")
	return b.String()
}
