package wire

import (
	"encoding/hex"
	"reflect"
	"testing"

	"github.com/miekg/dns"
)

// FuzzUnpackQuery: UnpackQuery reads what Unpack reads, and refuses what
// has fewer records than its header counts.
func FuzzUnpackQuery(f *testing.F) {
	for _, q := range []struct {
		name string
		edns bool
	}{{"www.example.org.", false}, {"WWW.Example.ORG.", true}, {"x.example.com.", true}} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, dns.TypeA)
		if q.edns {
			m.SetEdns0(1232, true)
		}
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)-3])
		if q.edns {
			// With one COOKIE option (the fast path keeps it apart).
			m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "2464c4abcf10c957"}}
			if b, err = m.Pack(); err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		if len(pkt) < 12 {
			return
		}
		var got, want dns.Msg
		var sc QueryScratch
		gerr, werr := UnpackQuery(&got, &sc, pkt), want.Unpack(pkt)
		if gerr == nil && werr == nil && sc.Cookie != nil {
			// The fast path's one COOKIE option is sc.Cookie, not in got.
			o := want.IsEdns0()
			if o == nil || len(o.Option) != 1 {
				t.Fatalf("UnpackQuery read a cookie %x; Unpack: %v", sc.Cookie, &want)
			}
			if c, ok := o.Option[0].(*dns.EDNS0_COOKIE); !ok || c.Cookie != hex.EncodeToString(sc.Cookie) {
				t.Fatalf("UnpackQuery read cookie %x; Unpack: %v", sc.Cookie, o.Option[0])
			}
			o.Option, o.Hdr.Rdlength = nil, 0
		}
		if werr == nil && (len(want.Question) != int(pkt[4])<<8|int(pkt[5]) || len(want.Answer) != int(pkt[6])<<8|int(pkt[7]) ||
			len(want.Ns) != int(pkt[8])<<8|int(pkt[9]) || len(want.Extra) != int(pkt[10])<<8|int(pkt[11])) {
			werr = ErrCounts
		}
		if (gerr == nil) != (werr == nil) || gerr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("UnpackQuery = %v, %v; Unpack = %v, %v", &got, gerr, &want, werr)
		}
	})
}
