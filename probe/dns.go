package probe

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr/types"
	"github.com/miekg/dns"

	"github.com/nightowl/nightowl"
)

// DNS is the dns block of a check.
type DNS struct {
	Name string `yaml:"name"`
	Type string `yaml:"type"` // A by default
	// Resolver is host:port; the system's first nameserver when empty.
	Resolver string `yaml:"resolver"`
	Protocol string `yaml:"protocol"` // udp (default) or tcp
}

var dnsFacts = types.Map{
	"answers":  types.Array(types.String),
	"rcode":    types.String,
	"duration": types.Float,
}

var dnsTypes = []string{"A", "AAAA", "CAA", "CNAME", "MX", "NS", "PTR", "SOA", "SRV", "TXT"}

// Validate checks the block.
func (d *DNS) Validate() []FieldError {
	var errs []FieldError
	if d.Name == "" {
		errs = append(errs, FieldError{Key: "name", Message: "required"})
	}
	d.Type = strings.ToUpper(d.Type)
	if i := sort.SearchStrings(dnsTypes, d.Type); i == len(dnsTypes) || dnsTypes[i] != d.Type {
		errs = append(errs, FieldError{Key: "type", Message: "must be one of " + strings.Join(dnsTypes, ", ")})
	}
	if d.Resolver != "" {
		errs = append(errs, validAddr("resolver", d.Resolver)...)
	}
	if d.Protocol != "udp" && d.Protocol != "tcp" {
		errs = append(errs, FieldError{Key: "protocol", Message: `must be "udp" or "tcp"`})
	}
	return errs
}

// Prober resolves the default resolver and the query type once.
func (d *DNS) Prober(env Env) (nightowl.Prober, error) {
	qtype, ok := dns.StringToType[strings.ToUpper(d.Type)]
	if !ok && d.Type == "" {
		qtype, ok = dns.TypeA, true
	}
	if !ok {
		return nil, fmt.Errorf("type: unknown record type %q", d.Type)
	}
	proto := d.Protocol
	if proto == "" {
		proto = "udp"
	}
	resolver := d.Resolver
	if resolver == "" {
		resolver = env.Clients.orNew().systemResolver()
	}
	return &dnsProber{name: dns.Fqdn(d.Name), qtype: qtype, resolver: resolver, proto: proto}, nil
}

type dnsProber struct {
	name     string // fully qualified
	qtype    uint16
	resolver string
	proto    string
}

func (p *dnsProber) Probe(ctx context.Context) (r nightowl.Result) {
	start := time.Now()
	r.Facts = nightowl.Facts{"answers": nil, "rcode": nil}

	m := new(dns.Msg)
	m.SetQuestion(p.name, p.qtype)
	// 1232 bytes avoids IP fragmentation (the DNS flag day 2020 value).
	m.SetEdns0(1232, false)
	resp, err := p.exchange(ctx, m, p.proto)
	if err == nil && resp.Truncated && p.proto == "udp" {
		// As a stub resolver would: the full answer only fits over TCP.
		resp, err = p.exchange(ctx, m, "tcp")
	}
	if err != nil {
		if dialPhase(err) {
			return finish(r, start, connectError(ctx, p.resolver, err, start))
		}
		return finish(r, start, "query "+host(p.name)+" "+dns.TypeToString[p.qtype]+" via "+p.resolver+": "+reason(ctx, err, start))
	}
	r.Facts["rcode"] = rcodeText(resp.Rcode)
	answers := make([]any, 0, len(resp.Answer))
	for _, rr := range resp.Answer {
		if rr.Header().Rrtype != p.qtype {
			// A CNAME chain in front of the records asked for.
			continue
		}
		answers = append(answers, answerText(rr))
	}
	r.Facts["answers"] = answers
	return finish(r, start, "")
}

// exchange sends m over a fresh connection that is closed when ctx ends.
func (p *dnsProber) exchange(ctx context.Context, m *dns.Msg, proto string) (*dns.Msg, error) {
	// miekg/dns caps every read and write at 2s unless told otherwise; the
	// check's own timeout, on ctx, is the limit that counts.
	c := &dns.Client{Net: proto, Timeout: time.Hour}
	conn, err := c.DialContext(ctx, p.resolver)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	defer closeOnCancel(ctx, conn)()
	resp, _, err := c.ExchangeWithConnContext(ctx, m, conn)
	return resp, err
}

func rcodeText(rcode int) string {
	if s, ok := dns.RcodeToString[rcode]; ok {
		return s
	}
	return strconv.Itoa(rcode)
}

// answerText formats one record as the answers fact shows it: the data
// without the owner, TTL and class, and names without the trailing dot.
func answerText(rr dns.RR) string {
	switch v := rr.(type) {
	case *dns.A:
		return v.A.String()
	case *dns.AAAA:
		return v.AAAA.String()
	case *dns.CNAME:
		return host(v.Target)
	case *dns.NS:
		return host(v.Ns)
	case *dns.PTR:
		return host(v.Ptr)
	case *dns.MX:
		return strconv.Itoa(int(v.Preference)) + " " + host(v.Mx)
	case *dns.TXT:
		// Long TXT values (SPF, DKIM) are split into 255-byte strings that
		// mean one value together.
		return strings.Join(v.Txt, "")
	case *dns.SRV:
		return fmt.Sprintf("%d %d %d %s", v.Priority, v.Weight, v.Port, host(v.Target))
	case *dns.SOA:
		return fmt.Sprintf("%s %s %d", host(v.Ns), host(v.Mbox), v.Serial)
	case *dns.CAA:
		return fmt.Sprintf("%d %s %s", v.Flag, v.Tag, v.Value)
	}
	// Other types: the presentation format after the header.
	s := rr.String()
	return strings.TrimPrefix(s, rr.Header().String())
}

// host drops the trailing dot of a fully qualified name, except for the root.
func host(name string) string {
	if len(name) > 1 {
		return strings.TrimSuffix(name, ".")
	}
	return name
}
