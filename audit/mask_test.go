package audit

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestMask(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		// Resident ID numbers: first 1 and last 1 kept.
		{"id in path", "/kyc/v1/persons/11010519491231002X/status", "/kyc/v1/persons/1****************X/status"},
		{"id lowercase x", "id=11010519491231002x", "id=1****************x"},
		{"id all digits", "holder=440524188001010014", "holder=4****************4"},
		{"18 digits with a wrong check digit and no Luhn", "ref=440524188001010015", "ref=440524188001010015"},
		{"mistyped id: wrong check character, an id's shape", "id=11010119900307757X", "id=1****************X"},
		{"mistyped id on 29 February of a leap year", "id=110101200002297571", "id=1****************1"},
		{"id-shaped but 30 February", "ref=110101200002307571", "ref=110101200002307571"},
		{"id-shaped but month 13", "ref=110101199013077571", "ref=110101199013077571"},
		{"id-shaped but region 9", "ref=910101199003077571", "ref=910101199003077571"},
		// Card numbers: Luhn-valid 16–19 digits, first 6 and last 4 kept.
		{"card 16", "/cards/4111111111111111/limits", "/cards/411111******1111/limits"},
		{"card 19", "pan=6228480402564890018", "pan=622848*********0018"},
		{"card grouped by spaces", "card=6228 4804 0256 4890 018", "card=6228 48** **** ***0 018"},
		{"card grouped, escaped", "card=6228%204804%200256%204890%20018", "card=6228%2048**%20****%20***0%20018"},
		{"card not Luhn-valid", "ref=4111111111111112", "ref=4111111111111112"},
		// Mobile numbers: first 3 and last 4 kept.
		{"mobile in query", "phone=13812345678&page=2", "phone=138****5678&page=2"},
		{"mobile with +86", "phone=%2B8613812345678", "phone=%2B86138****5678"},
		{"mobile with 86 prefix", "phone=8613812345678", "phone=86138****5678"},
		{"mobile in path", "/users/15900001111/accounts", "/users/159****1111/accounts"},
		{"mobile grouped", "tel=138-1234-5678", "tel=138-****-5678"},
		{"several", "a=13812345678&b=4111111111111111&c=11010519491231002X",
			"a=138****5678&b=411111******1111&c=1****************X"},
		{"next to letters", "x13812345678y", "x138****5678y"},
		// Ordinary numbers stay.
		{"amount", "amount=3860.00&currency=CNY", "amount=3860.00&currency=CNY"},
		{"large amount", "amount=12345678901.25", "amount=12345678901.25"},
		{"date", "from=2024-01-15&to=2024-02-15", "from=2024-01-15&to=2024-02-15"},
		{"compact date time", "at=20240115103000", "at=20240115103000"},
		{"timestamp", "ts=1700000000&ms=1700000000000", "ts=1700000000&ms=1700000000000"},
		{"account id", "/accounts/qs-10001/balances", "/accounts/qs-10001/balances"},
		{"ten digits", "n=1381234567", "n=1381234567"},
		{"eleven digits not a mobile", "n=12345678901", "n=12345678901"},
		{"twelve digits", "n=138123456789", "n=138123456789"},
		{"percent escape is not a digit", "q=%2013812345678", "q=%20138****5678"},
		{"empty", "", ""},
		{"utf-8", "名称=青山县农资&电话=13812345678", "名称=青山县农资&电话=138****5678"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Mask(c.in); got != c.want {
				t.Errorf("Mask(%q)\n = %q\nwant %q", c.in, got, c.want)
			}
		})
	}
}

func TestMaskFields(t *testing.T) {
	m := map[string]string{"X-Phone": "13812345678", "X-Amount": "3860.00"}
	MaskFields(m)
	if m["X-Phone"] != "138****5678" || m["X-Amount"] != "3860.00" {
		t.Errorf("MaskFields = %v", m)
	}
}

// Writing a record masks its path, query and captured fields before it
// is chained.
func TestWriteMasks(t *testing.T) {
	r := Record{Path: "/cards/4111111111111111", Query: "phone=13812345678", Before: `{"phone":"13812345678"}`}
	maskRecord(&r)
	for _, s := range []string{r.Path, r.Query, r.Before} {
		if strings.Contains(s, "4111111111111111") || strings.Contains(s, "13812345678") {
			t.Errorf("unmasked: %q", s)
		}
	}
}

// What a caller chose is masked too: an unauthenticated client_id, an
// e-mail address that is a mobile number, digits percent-encoded in the
// query. The hub's own identifiers are kept.
func TestWriteMasksCallerChosenFields(t *testing.T) {
	r := Record{ClientID: "11010519491231002X", Partner: "13812345678", Actor: "portal:13912345678@example.com",
		Query: "idNumber=%31%31%30%31%30%35%31%39%34%39%31%32%33%31%30%30%32%58&card=6228%2D4804%2D0256%2D4890%2D018&name=%E5%BC%A0"}
	maskRecord(&r)
	for field, want := range map[string]string{
		"clientId": "1****************X", "partner": "138****5678", "actor": "portal:139****5678@example.com",
		"query": "idNumber=1****************X&card=6228-48**-****-***0-018&name=%E5%BC%A0",
	} {
		got := map[string]string{"clientId": r.ClientID, "partner": r.Partner, "actor": r.Actor, "query": r.Query}[field]
		if got != want {
			t.Errorf("%s stored as %q, want %q", field, got, want)
		}
	}
	own := Record{ClientID: "obc_7Hq2mX9pLk3vN8", Partner: "agrifin", Actor: "console:ops@qingshan.example"}
	kept := own
	maskRecord(&own)
	if own.ClientID != kept.ClientID || own.Partner != kept.Partner || own.Actor != kept.Actor {
		t.Errorf("the hub's own ids changed: %+v", own)
	}
}

// A search for a value as the client sent it finds the masked record.
func TestMaskFilter(t *testing.T) {
	f := Filter{RequestID: "cust-13812345678", ClientID: "13812345678", Partner: "agrifin", Bank: "qingshan-rcb"}
	MaskFilter(&f)
	want := Filter{RequestID: "cust-138****5678", ClientID: "138****5678", Partner: "agrifin", Bank: "qingshan-rcb"}
	if f != want {
		t.Errorf("MaskFilter = %+v, want %+v", f, want)
	}
}

// Generators of valid personal numbers.

func genID(rnd *rand.Rand) string {
	d := make([]byte, 18)
	for i := range 17 {
		d[i] = byte('0' + rnd.IntN(10))
	}
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := range 17 {
		sum += int(d[i]-'0') * weights[i]
	}
	d[17] = "10X98765432"[sum%11]
	return string(d)
}

func genCard(rnd *rand.Rand) string {
	n := 16 + rnd.IntN(4)
	d := make([]byte, n)
	for i := range n - 1 {
		d[i] = byte('0' + rnd.IntN(10))
	}
	for c := byte('0'); c <= '9'; c++ {
		d[n-1] = c
		if luhn(d) {
			break
		}
	}
	return string(d)
}

func genMobile(rnd *rand.Rand) string {
	d := []byte{'1', byte('3' + rnd.IntN(7))}
	for range 9 {
		d = append(d, byte('0'+rnd.IntN(10)))
	}
	return string(d)
}

// FuzzMask: a valid ID, card or mobile number placed anywhere in any text
// — between non-digit neighbours, as a person would write it — never
// comes out of Mask whole; Mask keeps the length and only
// ever turns digits into '*'.
func FuzzMask(f *testing.F) {
	f.Add("/accounts/", "/balances", uint64(1), uint8(0))
	f.Add("phone=", "&amount=3860.00", uint64(2), uint8(2))
	f.Add("card=", "", uint64(3), uint8(1))
	f.Add("from=2024-01-15&x=", "%20", uint64(4), uint8(0))
	f.Fuzz(func(t *testing.T, prefix, suffix string, seed uint64, kind uint8) {
		rnd := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		var secret string
		switch kind % 3 {
		case 0:
			secret = genID(rnd)
		case 1:
			secret = genCard(rnd)
		default:
			secret = genMobile(rnd)
		}
		// The number must stand on its own: its neighbours are not digits,
		// group separators, an X, or the start of a percent escape that
		// would swallow its first digit.
		for strings.HasSuffix(prefix, "%") || len(prefix) > 1 && prefix[len(prefix)-2] == '%' ||
			len(prefix) > 0 && strings.ContainsRune("0123456789 -+", rune(prefix[len(prefix)-1])) ||
			strings.HasSuffix(prefix, "%20") {
			prefix = prefix[:len(prefix)-1]
		}
		for len(suffix) > 0 && strings.ContainsRune("0123456789 -+xX", rune(suffix[0])) || strings.HasPrefix(suffix, "%20") {
			suffix = suffix[1:]
		}
		in := prefix + secret + suffix
		out := Mask(in)
		if strings.Contains(out, secret) {
			t.Fatalf("Mask(%q) = %q still holds %q", in, out, secret)
		}
		if len(out) != len(in) {
			t.Fatalf("Mask changed the length: %q -> %q", in, out)
		}
		for i := range in {
			if in[i] != out[i] && !(isDigit(in[i]) && out[i] == maskChar) {
				t.Fatalf("Mask changed a non-digit at %d: %q -> %q", i, in, out)
			}
		}
	})
}

// Ordinary numbers — amounts and dates — are never mangled.
func FuzzMaskOrdinary(f *testing.F) {
	f.Add(uint64(1))
	f.Fuzz(func(t *testing.T, seed uint64) {
		rnd := rand.New(rand.NewPCG(seed, 1))
		amount := strings.TrimLeft(strings.Repeat("9", rnd.IntN(9)), "") + "." + string(byte('0'+rnd.IntN(10))) + "0"
		date := []string{"2024-01-15", "2026-12-31", "20240115", "2025-06-30T12:00:00Z"}[rnd.IntN(4)]
		in := "amount=" + amount + "&date=" + date + "&n=" + string(byte('0'+rnd.IntN(10)))
		if got := Mask(in); got != in {
			t.Fatalf("Mask(%q) = %q", in, got)
		}
	})
}
