package probe

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/nightowl/nightowl"
)

// testZone is what the in-process DNS server knows.
var testZone = []string{
	"a.test. 60 IN A 192.0.2.1",
	"a.test. 60 IN A 192.0.2.2",
	"a.test. 60 IN AAAA 2001:db8::1",
	"a.test. 60 IN MX 10 mail.a.test.",
	`a.test. 60 IN TXT "v=spf1 " "include:_spf.a.test -all"`,
	"www.a.test. 60 IN CNAME a.test.",
}

// serveDNS starts a DNS server for testZone on UDP and TCP on one random
// port of 127.0.0.1. Over UDP, big.a.test answers truncated, as a server
// does when the answer does not fit in a datagram.
func serveDNS(t *testing.T) string {
	t.Helper()
	zone := map[string][]dns.RR{}
	for _, s := range testZone {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		zone[rr.Header().Name] = append(zone[rr.Header().Name], rr)
	}
	for i := range 40 {
		rr, _ := dns.NewRR("big.a.test. 60 IN TXT " + `"` + strings.Repeat("x", 200) + `"`)
		rr.(*dns.TXT).Txt[0] += string(rune('a' + i%26))
		zone["big.a.test."] = append(zone["big.a.test."], rr)
	}
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		q := req.Question[0]
		rrs, ok := zone[q.Name]
		if !ok {
			m.Rcode = dns.RcodeNameError
		}
		for _, rr := range rrs {
			if t := rr.Header().Rrtype; t == q.Qtype || t == dns.TypeCNAME {
				m.Answer = append(m.Answer, rr)
			}
			if cname, ok := rr.(*dns.CNAME); ok && q.Qtype != dns.TypeCNAME {
				for _, rr := range zone[cname.Target] {
					if rr.Header().Rrtype == q.Qtype {
						m.Answer = append(m.Answer, rr)
					}
				}
			}
		}
		if _, udp := w.RemoteAddr().(*net.UDPAddr); udp && q.Name == "big.a.test." {
			m.Answer = nil
			m.Truncated = true
		}
		w.WriteMsg(m)
	})

	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		pc.Close()
		t.Skipf("no TCP port matching the UDP one: %v", err)
	}
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: handler}, {Listener: l, Handler: handler}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ActivateAndServe()
		<-started
		t.Cleanup(func() { srv.Shutdown() })
	}
	return pc.LocalAddr().String()
}

func TestDNS(t *testing.T) {
	resolver := serveDNS(t)
	// A UDP socket that never answers.
	mute, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()

	tests := []struct {
		name     string
		spec     DNS
		resolver string
		timeout  time.Duration
		wantOK   bool
		wantErr  string
		want     nightowl.Facts
	}{
		{
			name:   "A",
			spec:   DNS{Name: "a.test", Type: "A"},
			wantOK: true,
			want:   nightowl.Facts{"rcode": "NOERROR", "answers": []any{"192.0.2.1", "192.0.2.2"}},
		},
		{
			name:   "AAAA",
			spec:   DNS{Name: "a.test.", Type: "AAAA"},
			wantOK: true,
			want:   nightowl.Facts{"rcode": "NOERROR", "answers": []any{"2001:db8::1"}},
		},
		{
			name:   "MX",
			spec:   DNS{Name: "a.test", Type: "MX"},
			wantOK: true,
			want:   nightowl.Facts{"rcode": "NOERROR", "answers": []any{"10 mail.a.test"}},
		},
		{
			name:   "TXT strings are joined",
			spec:   DNS{Name: "a.test", Type: "TXT"},
			wantOK: true,
			want:   nightowl.Facts{"rcode": "NOERROR", "answers": []any{"v=spf1 include:_spf.a.test -all"}},
		},
		{
			name:   "CNAME",
			spec:   DNS{Name: "www.a.test", Type: "CNAME"},
			wantOK: true,
			want:   nightowl.Facts{"rcode": "NOERROR", "answers": []any{"a.test"}},
		},
		{
			name:   "A through a CNAME lists only addresses",
			spec:   DNS{Name: "www.a.test", Type: "A"},
			wantOK: true,
			want:   nightowl.Facts{"rcode": "NOERROR", "answers": []any{"192.0.2.1", "192.0.2.2"}},
		},
		{
			name:   "NXDOMAIN is an answer",
			spec:   DNS{Name: "missing.a.test", Type: "A"},
			wantOK: true,
			want:   nightowl.Facts{"rcode": "NXDOMAIN", "answers": []any{}},
		},
		{
			name:   "lower-case type",
			spec:   DNS{Name: "a.test", Type: "aaaa"},
			wantOK: true,
			want:   nightowl.Facts{"answers": []any{"2001:db8::1"}},
		},
		{
			name:   "over tcp",
			spec:   DNS{Name: "a.test", Type: "MX", Protocol: "tcp"},
			wantOK: true,
			want:   nightowl.Facts{"rcode": "NOERROR", "answers": []any{"10 mail.a.test"}},
		},
		{
			name:   "truncated udp answer is retried over tcp",
			spec:   DNS{Name: "big.a.test", Type: "TXT"},
			wantOK: true,
			want:   nightowl.Facts{"rcode": "NOERROR"},
		},
		{
			name:     "resolver does not answer",
			spec:     DNS{Name: "a.test", Type: "A"},
			resolver: mute.LocalAddr().String(),
			timeout:  300 * time.Millisecond,
			wantErr:  "query a.test A via " + mute.LocalAddr().String() + ": timed out after 300ms",
			want:     nightowl.Facts{"rcode": nil, "answers": nil},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := tt.spec
			spec.Resolver = resolver
			if tt.resolver != "" {
				spec.Resolver = tt.resolver
			}
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 5 * time.Second
			}
			r := runProbe(t, nil, &spec, timeout)
			checkError(t, r, tt.wantOK, tt.wantErr)
			checkFacts(t, r.Facts, tt.want)
			if tt.spec.Name == "big.a.test" {
				if n := len(r.Facts["answers"].([]any)); n != 40 {
					t.Errorf("%d answers, want 40", n)
				}
			}
		})
	}
}

func TestDNSTCPRefused(t *testing.T) {
	addr := closedAddr(t)
	r := runProbe(t, nil, &DNS{Name: "a.test", Type: "A", Protocol: "tcp", Resolver: addr}, 5*time.Second)
	checkError(t, r, false, "connect "+addr+": connection refused")
	checkFacts(t, r.Facts, nightowl.Facts{"rcode": nil, "answers": nil})
}

func TestDNSAnswerText(t *testing.T) {
	tests := []struct {
		rr   string
		want string
	}{
		{"x. IN A 192.0.2.7", "192.0.2.7"},
		{"x. IN AAAA 2001:db8::7", "2001:db8::7"},
		{"x. IN CNAME y.example.", "y.example"},
		{"x. IN NS ns1.example.", "ns1.example"},
		{"7.2.0.192.in-addr.arpa. IN PTR host.example.", "host.example"},
		{"x. IN MX 5 mx.example.", "5 mx.example"},
		{`x. IN TXT "a" "b c"`, "ab c"},
		{"_sip._tcp.x. IN SRV 10 60 5060 sip.example.", "10 60 5060 sip.example"},
		{"x. IN SOA ns1.example. hostmaster.example. 2024010101 7200 3600 1209600 300", "ns1.example hostmaster.example 2024010101"},
		{`x. IN CAA 0 issue "letsencrypt.org"`, "0 issue letsencrypt.org"},
		{"x. IN MX 0 .", "0 ."},
	}
	for _, tt := range tests {
		t.Run(tt.rr, func(t *testing.T) {
			rr, err := dns.NewRR(tt.rr)
			if err != nil {
				t.Fatal(err)
			}
			if got := answerText(rr); got != tt.want {
				t.Errorf("answerText = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDNSProberErrors(t *testing.T) {
	_, err := (&DNS{Name: "a.test", Type: "BOGUS", Resolver: "127.0.0.1:53"}).Prober(Env{})
	if want := `type: unknown record type "BOGUS"`; err == nil || err.Error() != want {
		t.Errorf("Prober() error = %v, want %q", err, want)
	}
	p, err := (&DNS{Name: "a.test"}).Prober(Env{})
	if err != nil {
		t.Fatal(err)
	}
	dp := p.(*dnsProber)
	if dp.qtype != dns.TypeA || dp.proto != "udp" {
		t.Errorf("defaults: type %d, protocol %q; want A over udp", dp.qtype, dp.proto)
	}
	if _, port, err := net.SplitHostPort(dp.resolver); err != nil || port == "" {
		t.Errorf("system resolver = %q, want host:port", dp.resolver)
	}
}
