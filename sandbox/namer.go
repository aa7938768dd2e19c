package sandbox

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/obhub/obhub/openapi"
)

// Namer proposes realistic Chinese rural-bank data for fields it
// recognises by name and format: person names, resident ID numbers with
// a valid check digit, Luhn-valid card numbers, mobile numbers, CNY
// amounts, bank codes and names, county addresses and agricultural loan
// purposes. The generator keeps a proposal only when it fits the field's
// schema, so a wrong guess costs nothing.
type Namer struct{}

var _ openapi.FieldNamer = Namer{}

// Value implements openapi.FieldNamer.
func (Namer) Value(f openapi.Field, r *rand.Rand) (any, bool) {
	name := normalise(f.Name)
	parent := ""
	if i := strings.LastIndex(f.Path, "."); i >= 0 {
		parent = normalise(lastSegment(f.Path[:i]))
	}
	switch f.Type {
	case "number":
		if isAmount(name) {
			return json.Number(Amount(r)), true
		}
		return nil, false
	case "integer":
		// A generated page holds what the array beside it holds: say it
		// is the first and only one.
		switch name {
		case "page", "pagenumber", "pageno", "currentpage", "pageindex", "totalpages", "pagecount":
			return int64(1), true
		}
		return nil, false
	case "boolean":
		return nil, false
	}
	if f.Format != "" && f.Format != "string" {
		return nil, false // the format's own generator knows better
	}
	switch {
	case has(name, "residentid", "idnumber", "idcard", "identitycard", "nationalid", "idno", "certificateno", "certno", "citizenid"):
		return ResidentID(r), true
	case has(name, "cardnumber", "cardno", "bankcard") || name == "pan":
		return CardNumber(r), true
	case has(name, "accountnumber", "accountno", "acctno", "acctnumber"):
		return CardNumber(r), true
	case has(name, "mobile", "cellphone", "phonenumber", "phone", "msisdn", "telephone"):
		return Mobile(r), true
	case has(name, "currency"):
		return "CNY", true
	case isAmount(name):
		return Amount(r), true
	case has(name, "cnaps", "bankcode", "clearingcode", "banknumber", "bankid"):
		return BankCode(r), true
	case has(name, "bankname", "institutionname"):
		return pick(r, bankNames), true
	case has(name, "loanpurpose", "purpose"):
		return pick(r, loanPurposes), true
	case has(name, "surname", "lastname", "familyname"):
		return pick(r, surnames), true
	case has(name, "givenname", "firstname"):
		return pick(r, givenNames), true
	case personName(name, parent):
		return PersonName(r), true
	case has(name, "address", "addr", "street") && !has(name, "ip", "mail", "mac", "url", "web", "wallet", "hash", "node", "host"):
		return Address(r), true
	case has(name, "province"):
		return pick(r, counties).province, true
	case has(name, "county", "district"):
		return pick(r, counties).county, true
	case has(name, "township", "town"):
		return pick(r, townships), true
	case has(name, "village"):
		return pick(r, villages), true
	case name == "city" || name == "cityname":
		return pick(r, counties).city, true
	case has(name, "postcode", "postalcode", "zipcode", "zip"):
		return fmt.Sprintf("%06d", 730000+r.IntN(60000)), true
	case has(name, "remittance", "memo", "remark", "narrative", "postscript"):
		return pick(r, remittances), true
	case has(name, "productname"):
		return pick(r, productNames), true
	case has(name, "branchname") || name == "branch" || (name == "name" && has(parent, "branch")):
		return BranchName(r), true
	case len(name) > 2 && strings.HasSuffix(name, "id") && name != "requestid":
		return identifier(name, r), true
	}
	return nil, false
}

// identifier returns an id for a field named like accountId or paymentId:
// the name's first letters and digits ("acc-20417"), not a random word.
func identifier(name string, r *rand.Rand) string {
	prefix := strings.TrimSuffix(name, "id")
	if len(prefix) > 3 {
		prefix = prefix[:3]
	}
	return fmt.Sprintf("%s-%05d", prefix, 10000+r.IntN(90000))
}

// personName reports whether a field holds a person's name.
func personName(name, parent string) bool {
	switch {
	case has(name, "holdername", "customername", "applicantname", "accountname", "realname", "fullname",
		"contactname", "personname", "payername", "payeename", "debtorname", "creditorname", "ownername", "farmername"):
		return true
	case name == "name":
		return has(parent, "holder", "customer", "applicant", "owner", "person", "contact", "payer", "payee",
			"debtor", "creditor", "farmer", "borrower", "guarantor", "user", "member", "client")
	}
	return false
}

func isAmount(name string) bool {
	return has(name, "amount", "balance", "price", "fee", "principal", "loanlimit", "creditlimit", "charge") && !has(name, "count", "number", "type", "id")
}

func normalise(s string) string {
	s = strings.ToLower(s)
	return strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || r == ' ' || r == '.' {
			return -1
		}
		return r
	}, s)
}

func lastSegment(path string) string {
	path = strings.TrimSuffix(path, "]")
	if i := strings.LastIndexAny(path, ".["); i >= 0 {
		return path[i+1:]
	}
	return path
}

func has(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// PersonName returns a Chinese name: a common surname and a one- or
// two-character given name.
func PersonName(r *rand.Rand) string {
	return pick(r, surnames) + pick(r, givenNames)
}

// ResidentID returns an 18-character resident identity number (GB 11643)
// of a rural county with a valid check character.
func ResidentID(r *rand.Rand) string {
	area := pick(r, counties).code
	birth := fmt.Sprintf("%04d%02d%02d", 1955+r.IntN(46), 1+r.IntN(12), 1+r.IntN(28))
	body := area + birth + fmt.Sprintf("%03d", r.IntN(1000))
	return body + string(ResidentIDCheck(body))
}

// ResidentIDCheck returns the check character of the first 17 digits of a
// resident identity number.
func ResidentIDCheck(first17 string) byte {
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := 0; i < 17 && i < len(first17); i++ {
		sum += int(first17[i]-'0') * weights[i]
	}
	return "10X98765432"[sum%11]
}

// ValidResidentID reports whether s is 18 characters with a valid check
// character.
func ValidResidentID(s string) bool {
	if len(s) != 18 {
		return false
	}
	for i := 0; i < 17; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s[17] == ResidentIDCheck(s[:17])
}

// cardBINs are issuer numbers of the kind rural banks' debit cards carry.
var cardBINs = []string{"622848", "623058", "621799", "622682", "621336", "623190", "622827", "621098"}

// CardNumber returns a Luhn-valid 19-digit debit card number.
func CardNumber(r *rand.Rand) string {
	var b strings.Builder
	b.WriteString(pick(r, cardBINs))
	for b.Len() < 18 {
		b.WriteByte(byte('0' + r.IntN(10)))
	}
	s := b.String()
	return s + string(LuhnCheck(s))
}

// LuhnCheck returns the check digit that makes digits+check Luhn-valid.
func LuhnCheck(digits string) byte {
	sum := 0
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if (len(digits)-1-i)%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10)
}

// ValidLuhn reports whether s is all digits and passes the Luhn check.
func ValidLuhn(s string) bool {
	if len(s) < 2 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return LuhnCheck(s[:len(s)-1]) == s[len(s)-1]
}

// Mobile returns an 11-digit mainland mobile number.
func Mobile(r *rand.Rand) string {
	return pick(r, mobilePrefixes) + fmt.Sprintf("%08d", r.IntN(100_000_000))
}

var mobilePrefixes = []string{"133", "135", "138", "139", "150", "151", "158", "177", "180", "186", "189", "199"}

// Amount returns a CNY amount with two decimals, sized like a farm
// household's payments: 50.00 to 80000.00.
func Amount(r *rand.Rand) string {
	fen := 5_000 + r.Int64N(8_000_000)
	if r.IntN(3) == 0 {
		fen = fen / 10_000 * 10_000 // round hundreds are common
	}
	return strconv.FormatInt(fen/100, 10) + "." + fmt.Sprintf("%02d", fen%100)
}

// BankCode returns a 12-digit CNAPS bank code of a rural financial
// institution (402: rural credit cooperatives, 314: rural commercial
// banks).
func BankCode(r *rand.Rand) string {
	return pick(r, []string{"402", "314"}) + fmt.Sprintf("%09d", r.IntN(1_000_000_000))
}

// BranchName returns a branch of a county's rural commercial bank, such as
// 民乐农商银行马店镇支行.
func BranchName(r *rand.Rand) string {
	return strings.TrimSuffix(pick(r, counties).county, "县") + "农商银行" + pick(r, townships) + "支行"
}

// Address returns a rural address: province, county, township, village.
func Address(r *rand.Rand) string {
	c := pick(r, counties)
	return fmt.Sprintf("%s%s%s%s%s%d组%d号", c.province, c.city, c.county, pick(r, townships), pick(r, villages), 1+r.IntN(9), 1+r.IntN(60))
}

type county struct{ code, province, city, county string }

var counties = []county{
	{"620722", "甘肃省", "张掖市", "民乐县"},
	{"620723", "甘肃省", "张掖市", "临泽县"},
	{"411721", "河南省", "驻马店市", "西平县"},
	{"341221", "安徽省", "阜阳市", "临泉县"},
	{"510921", "四川省", "遂宁市", "蓬溪县"},
	{"430521", "湖南省", "邵阳市", "邵东县"},
	{"370883", "山东省", "济宁市", "邹城市"},
	{"230183", "黑龙江省", "哈尔滨市", "尚志市"},
	{"640122", "宁夏回族自治区", "银川市", "贺兰县"},
	{"360723", "江西省", "赣州市", "大余县"},
}

var (
	surnames     = []string{"王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "胡", "朱", "郭", "何", "罗", "高", "林"}
	givenNames   = []string{"建国", "秀英", "德明", "桂兰", "永强", "玉梅", "海军", "春花", "志刚", "淑珍", "国华", "红梅", "伟", "芳", "军", "丽", "强", "敏", "磊", "静"}
	productNames = []string{"惠农卡", "活期储蓄", "整存整取定期存款（一年期）", "丰收贷", "畜牧贷", "农机贷", "单位结算账户"}
	townships    = []string{"城关镇", "石桥镇", "柳河乡", "马店镇", "红柳镇", "沙湾乡", "东关镇", "新民乡"}
	villages     = []string{"东关村", "王家庄村", "柳树湾村", "杏花村", "河西村", "前进村", "双河村", "丰收村"}
	bankNames    = []string{"青山农村商业银行", "河西县农村信用合作社", "民乐县农村信用合作联社", "临泉农村商业银行", "蓬溪农村商业银行", "贺兰县农村信用合作联社"}

	loanPurposes = []string{"购买化肥、种子等春耕农资", "扩建生猪养殖圈舍", "购置拖拉机和播种机", "新建蔬菜大棚", "购买基础母牛", "土地流转租金", "果园滴灌改造", "收购社员农产品周转资金"}
	remittances  = []string{"复合肥20袋", "玉米种子货款", "饲料款", "农机维修费", "土地流转费", "大棚棚膜款", "兽药疫苗款", "雇工工资"}
)
