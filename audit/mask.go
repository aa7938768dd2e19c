package audit

// Personal data masking. Mask finds, in any text (a path, a query string,
// a captured header or body field), the three kinds of personal numbers
// the alliance's regulators name, and replaces their middle digits with
// '*', keeping the text's length and everything else:
//
//   - resident ID numbers: 17 digits and a check character (digit or X)
//     that satisfies ISO 7064 MOD 11-2, or that does not but the number
//     has an ID's shape (residentIDShaped: a mistyped ID); first 1 and
//     last 1 kept.
//   - bank card numbers: 16 to 19 digits passing the Luhn check; first 6
//     and last 4 kept.
//   - mobile numbers: 11 digits 1[3-9]xxxxxxxxx, optionally after the
//     country code 86; first 3 and last 4 of the 11 kept.
//
// A number is a maximal run of digits: letters, punctuation and percent
// escapes (%2F) end it, so "acct=6222…" and "/cards/6222…/x" are found.
// Digits grouped by single spaces, '-', '+' or "%20" (card numbers written
// 6222 0212 3456 7890) are tried joined first, then each group alone.
// Ordinary numbers — amounts (3860.00), dates (2024-01-15, 20240115),
// counts, short ids — match none of the rules and are left as they are.

const maskChar = '*'

// Mask returns s with every resident ID, card and mobile number masked.
func Mask(s string) string {
	if countDigits(s) < minNumber { // most paths, queries and reasons
		return s
	}
	var out []byte // allocated on the first change
	var g group
	i := 0
	for i < len(s) {
		if !isDigit(s[i]) {
			i += skipNonDigit(s, i)
			continue
		}
		g.scan(s, i)
		if out == nil && g.any(s) {
			out = []byte(s)
		}
		if out != nil {
			g.mask(s, out)
		}
		i = g.end
	}
	if out == nil {
		return s
	}
	return string(out)
}

// MaskFields masks every value of a captured set of fields in place.
func MaskFields(m map[string]string) {
	for k, v := range m {
		m[k] = Mask(v)
	}
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// countDigits returns how many digits s holds: a text with fewer digits
// than the shortest number to mask (minNumber) needs no closer look.
func countDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			n++
		}
	}
	return n
}

func isHex(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// skipNonDigit returns the length of the non-digit unit at s[i]: a
// percent escape counts as one unit, so its hex digits are not taken for
// part of a number.
func skipNonDigit(s string, i int) int {
	if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
		return 3
	}
	return 1
}

// group is a run of digit runs separated by single separators. It lives
// on the stack: Mask runs on several fields of every audit record, and
// most of them hold digits (paths, request ids) but nothing to mask.
type group struct {
	runs [maxRuns][2]int // [start, end) of each digit run
	n    int             // runs in use
	end  int             // where scanning goes on
}

// maxRuns is the most digit runs a group joins.
const maxRuns = 8

// separatorLen returns the length of a group separator at s[i], or 0.
func separatorLen(s string, i int) int {
	switch {
	case i >= len(s):
		return 0
	case s[i] == ' ' || s[i] == '-' || s[i] == '+':
		return 1
	case s[i] == '%' && i+2 < len(s) && s[i+1] == '2' && s[i+2] == '0':
		return 3
	}
	return 0
}

// scan reads the group that starts at s[i] into g.
func (g *group) scan(s string, i int) {
	g.n = 0
	for {
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		// A resident ID's check character X belongs to the run.
		if j-i == 17 && j < len(s) && (s[j] == 'X' || s[j] == 'x') {
			j++
		}
		g.runs[g.n] = [2]int{i, j}
		g.n++
		g.end = j
		n := separatorLen(s, j)
		if n == 0 || j+n >= len(s) || !isDigit(s[j+n]) || g.n >= maxRuns {
			return
		}
		i = j + n
	}
}

// The lengths of the numbers classify recognises: a mobile number is the
// shortest, a card number the longest.
const (
	minNumber = 11
	maxNumber = 19
)

// number copies the digits (and a final X) of runs, joined, into buf. ok
// is false when they are too short or too long to be any number to mask:
// most digit runs (ids, dates, amounts) end there, without a copy.
func number(buf *[maxNumber]byte, s string, runs [][2]int) (d []byte, ok bool) {
	n := 0
	for _, r := range runs {
		n += r[1] - r[0]
	}
	if n < minNumber || n > maxNumber {
		return nil, false
	}
	d = buf[:0]
	for _, r := range runs {
		d = append(d, s[r[0]:r[1]]...)
	}
	return d, true
}

// classifyRuns classifies the digits of runs, joined.
func classifyRuns(s string, runs [][2]int) (keep, bool) {
	var buf [maxNumber]byte
	d, ok := number(&buf, s, runs)
	if !ok {
		return keep{}, false
	}
	return classify(d)
}

// any reports whether the group holds a number to mask.
func (g *group) any(s string) bool {
	runs := g.runs[:g.n]
	if len(runs) > 1 {
		if _, ok := classifyRuns(s, runs); ok {
			return true
		}
	}
	for i := range runs {
		if _, ok := classifyRuns(s, runs[i:i+1]); ok {
			return true
		}
	}
	return false
}

// mask masks the group's numbers into out (a copy of s).
func (g *group) mask(s string, out []byte) {
	runs := g.runs[:g.n]
	if len(runs) > 1 {
		if k, ok := classifyRuns(s, runs); ok {
			maskRuns(out, runs, k)
			return
		}
	}
	for i := range runs {
		if k, ok := classifyRuns(s, runs[i:i+1]); ok {
			maskRuns(out, runs[i:i+1], k)
		}
	}
}

// keep is how many leading and trailing characters stay visible.
type keep struct{ first, last int }

// classify says whether d (digits, maybe a final X) is a number to mask,
// and what to keep of it.
func classify(d []byte) (keep, bool) {
	n := len(d)
	switch {
	case n == 18 && (residentID(d) || residentIDShaped(d)):
		return keep{1, 1}, true
	case n >= 16 && n <= 19 && allDigits(d) && luhn(d):
		return keep{6, 4}, true
	case n == 11 && mobile(d):
		return keep{3, 4}, true
	case n == 13 && d[0] == '8' && d[1] == '6' && mobile(d[2:]):
		return keep{5, 4}, true
	}
	return keep{}, false
}

func allDigits(d []byte) bool {
	for _, c := range d {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

// maskRuns replaces the digits of runs, except the first keep.first and
// last keep.last counted across the runs, with maskChar.
func maskRuns(out []byte, runs [][2]int, k keep) {
	total := 0
	for _, r := range runs {
		total += r[1] - r[0]
	}
	pos := 0
	for _, r := range runs {
		for i := r[0]; i < r[1]; i++ {
			if pos >= k.first && pos < total-k.last {
				out[i] = maskChar
			}
			pos++
		}
	}
}

// residentID checks 17 digits and an ISO 7064 MOD 11-2 check character.
func residentID(d []byte) bool {
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := 0; i < 17; i++ {
		if !isDigit(d[i]) {
			return false
		}
		sum += int(d[i]-'0') * weights[i]
	}
	want := "10X98765432"[sum%11]
	got := d[17]
	if got == 'x' {
		got = 'X'
	}
	return got == want
}

// residentIDShaped reports whether 18 characters have a resident ID
// number's shape even though the check character is wrong: 17 digits, a
// final digit or X, a region code starting 1–8, and a birth date from 1900
// to 2099 at characters 7–14. A mistyped ID number is still someone's;
// ordinary 18-digit numbers (serials, timestamps) rarely hold a date
// there.
func residentIDShaped(d []byte) bool {
	for i := 0; i < 17; i++ {
		if !isDigit(d[i]) {
			return false
		}
	}
	if c := d[17]; !isDigit(c) && c != 'X' && c != 'x' {
		return false
	}
	if d[0] < '1' || d[0] > '8' {
		return false
	}
	num := func(b []byte) int {
		v := 0
		for _, c := range b {
			v = v*10 + int(c-'0')
		}
		return v
	}
	year, month, day := num(d[6:10]), num(d[10:12]), num(d[12:14])
	if year < 1900 || year > 2099 || month < 1 || month > 12 || day < 1 {
		return false
	}
	return day <= daysIn(year, month)
}

// daysIn returns the number of days of month in year.
func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// luhn checks the Luhn checksum of a string of digits.
func luhn(d []byte) bool {
	sum := 0
	double := false
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i] - '0')
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return sum%10 == 0
}

// mobile checks 11 digits of a mainland mobile number: 1, then 3–9.
func mobile(d []byte) bool {
	return len(d) == 11 && allDigits(d) && d[0] == '1' && d[1] >= '3' && d[1] <= '9'
}
