package demo

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"time"
)

// A flow is one kind of recurring movement on an account: a grain sale, a
// fertiliser purchase, the electricity bill. It happens once every `every`
// days (at a phase drawn per account), for an amount drawn between min and
// max fen, rounded to unit fen.
type flow struct {
	credit       bool
	category     string
	desc, descEn string
	counterparty string
	min, max     int64
	unit         int64 // 0: 10 fen
	every        int
}

// historyDays is how far back the demo core keeps transactions.
const historyDays = 90

// cst is China Standard Time; the demo core books in local time.
var cst = time.FixedZone("CST", 8*60*60)

// txn is one booked transaction.
type txn struct {
	id     string
	at     time.Time
	credit bool
	amount int64 // fen
	after  int64 // booked balance after it, fen
	flow   *flow
}

// history returns the account's transactions over the historyDays days
// before the day of now, oldest first, and its booked balance. It depends
// only on the account and the date of now: every call on the same day
// gives the same answer.
func (a *account) history(now time.Time) ([]txn, int64) {
	y, m, d := now.In(cst).Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, cst)
	h := fnv.New64a()
	h.Write([]byte(a.id))
	rng := rand.New(rand.NewPCG(h.Sum64(), 0x0b4ab))
	phase := make([]int, len(a.flows))
	for i, f := range a.flows {
		phase[i] = rng.IntN(f.every)
	}
	bal := a.opening
	var out []txn
	for back := historyDays; back >= 1; back-- {
		day := today.AddDate(0, 0, -back)
		minute, n := 8*60, 0
		for i := range a.flows {
			f := &a.flows[i]
			if (back+phase[i])%f.every != 0 {
				continue
			}
			unit := max(f.unit, 10)
			amount := (f.min + rng.Int64N(f.max-f.min+1)) / unit * unit
			minute += 15 + rng.IntN(90)
			if !f.credit && amount > bal-a.frozen {
				continue // the core refuses an overdraft
			}
			if f.credit {
				bal += amount
			} else {
				bal -= amount
			}
			n++
			out = append(out, txn{
				id:     fmt.Sprintf("%s-%s-%02d", a.id, day.Format("20060102"), n),
				at:     day.Add(time.Duration(minute) * time.Minute),
				credit: f.credit, amount: amount, after: bal, flow: f,
			})
		}
	}
	return out, bal
}

func (a *account) json(b *bank) accountJSON {
	br := b.branch(a.branch)
	return accountJSON{
		AccountID: a.id, AccountNumberMasked: a.number, HolderName: a.holder, HolderType: a.holderType,
		ProductType: a.product, ProductName: a.productName, Currency: "CNY", Status: "active",
		Branch: br.ref(), OpenedDate: a.opened, MaturityDate: a.maturity,
	}
}

// balances returns the booked and available balances as of the last
// movement (or the opening day).
func (a *account) balances(txns []txn, booked int64) []balanceJSON {
	asOf := a.opened + "T09:00:00+08:00"
	if len(txns) > 0 {
		asOf = txns[len(txns)-1].at.Format(time.RFC3339)
	}
	return []balanceJSON{
		{Type: "booked", Amount: cny(booked), CreditDebitIndicator: "credit", DateTime: asOf},
		{Type: "available", Amount: cny(booked - a.frozen), CreditDebitIndicator: "credit", DateTime: asOf},
	}
}

func (t *txn) json(accountID string) transactionJSON {
	ind := "debit"
	if t.credit {
		ind = "credit"
	}
	return transactionJSON{
		TransactionID: t.id, AccountID: accountID, BookingDateTime: t.at.Format(time.RFC3339),
		CreditDebitIndicator: ind, Amount: cny(t.amount), BalanceAfter: cny(t.after),
		Category: t.flow.category, Description: t.flow.desc, DescriptionEn: t.flow.descEn,
		CounterpartyName: t.flow.counterparty,
	}
}

// The flows of the demo customers. Amounts are in fen.
var (
	grainFarmer = []flow{
		{credit: true, category: "grain_sale", desc: "粮食收购款", descEn: "Grain sale proceeds", counterparty: "青山县中心粮库", min: 1_200_000, max: 4_800_000, every: 30},
		{credit: true, category: "subsidy", desc: "耕地地力保护补贴", descEn: "Arable land protection subsidy", counterparty: "青山县财政局", min: 96_000, max: 96_000, every: 60},
		{credit: true, category: "subsidy", desc: "农机购置补贴", descEn: "Farm machinery purchase subsidy", counterparty: "青山县农业农村局", min: 1_560_000, max: 1_560_000, every: 75},
		{category: "farm_inputs", desc: "化肥采购", descEn: "Fertiliser purchase", counterparty: "青山县农资有限公司", min: 180_000, max: 860_000, every: 18},
		{category: "farm_inputs", desc: "种子采购", descEn: "Seed purchase", counterparty: "丰禾种业石桥门市部", min: 60_000, max: 320_000, every: 35},
		{category: "utilities", desc: "电费", descEn: "Electricity bill", counterparty: "国网青山县供电公司", min: 9_000, max: 42_000, every: 30},
		{category: "utilities", desc: "灌溉水费", descEn: "Irrigation water charge", counterparty: "石桥镇水利站", min: 12_000, max: 65_000, every: 45},
		{category: "cash_withdrawal", desc: "取现", descEn: "Cash withdrawal", min: 50_000, max: 200_000, unit: 10_000, every: 14},
		{credit: true, category: "interest", desc: "活期结息", descEn: "Quarterly interest", counterparty: "青山农村商业银行", min: 500, max: 3_000, unit: 1, every: 90},
	}
	greenhouseGrower = []flow{
		{credit: true, category: "produce_sale", desc: "蔬菜销售款", descEn: "Vegetable sale proceeds", counterparty: "青山县农产品批发市场", min: 150_000, max: 980_000, every: 6},
		{category: "farm_inputs", desc: "棚膜采购", descEn: "Greenhouse film purchase", counterparty: "青山县农资有限公司", min: 120_000, max: 450_000, every: 60},
		{category: "farm_inputs", desc: "化肥采购", descEn: "Fertiliser purchase", counterparty: "青山县农资有限公司", min: 80_000, max: 300_000, every: 25},
		{category: "labour", desc: "雇工工资", descEn: "Farmhand wages", min: 240_000, max: 360_000, unit: 10_000, every: 30},
		{category: "utilities", desc: "电费", descEn: "Electricity bill", counterparty: "国网青山县供电公司", min: 20_000, max: 68_000, every: 30},
		{credit: true, category: "subsidy", desc: "设施农业补贴", descEn: "Protected-agriculture subsidy", counterparty: "青山县农业农村局", min: 500_000, max: 500_000, every: 85},
		{credit: true, category: "interest", desc: "活期结息", descEn: "Quarterly interest", counterparty: "青山农村商业银行", min: 300, max: 2_000, unit: 1, every: 90},
	}
	pigFarmer = []flow{
		{credit: true, category: "livestock_sale", desc: "生猪销售款", descEn: "Hog sale proceeds", counterparty: "青山县肉联厂", min: 2_800_000, max: 8_600_000, every: 21},
		{category: "farm_inputs", desc: "饲料采购", descEn: "Feed purchase", counterparty: "青山县饲料经销部", min: 600_000, max: 2_200_000, every: 9},
		{category: "veterinary", desc: "兽药疫苗", descEn: "Veterinary drugs and vaccines", counterparty: "马店镇畜牧兽医站", min: 40_000, max: 260_000, every: 28},
		{category: "utilities", desc: "电费", descEn: "Electricity bill", counterparty: "国网青山县供电公司", min: 30_000, max: 90_000, every: 30},
		{category: "loan_repayment", desc: "贷款还款", descEn: "Loan repayment", counterparty: "青山农村商业银行", min: 450_000, max: 450_000, every: 30},
		{credit: true, category: "subsidy", desc: "能繁母猪补贴", descEn: "Breeding sow subsidy", counterparty: "青山县农业农村局", min: 300_000, max: 300_000, every: 80},
		{category: "insurance", desc: "养殖保险保费", descEn: "Livestock insurance premium", counterparty: "青山县农业保险服务站", min: 120_000, max: 120_000, every: 88},
	}
	produceCooperative = []flow{
		{credit: true, category: "produce_sale", desc: "果蔬销售款", descEn: "Fruit and vegetable sale proceeds", counterparty: "青山县鲜达超市有限公司", min: 1_200_000, max: 5_600_000, every: 5},
		{category: "transfer_out", desc: "收购社员农产品款", descEn: "Payment to members for produce", counterparty: "社员王建国等12户", min: 800_000, max: 3_200_000, every: 6},
		{category: "logistics", desc: "冷链运费", descEn: "Cold-chain freight", counterparty: "青山县顺达物流有限公司", min: 80_000, max: 300_000, every: 10},
		{category: "farm_inputs", desc: "包装材料采购", descEn: "Packaging materials", counterparty: "青山县宏达包装厂", min: 100_000, max: 400_000, every: 20},
		{category: "utilities", desc: "冷库电费", descEn: "Cold store electricity", counterparty: "国网青山县供电公司", min: 150_000, max: 420_000, every: 30},
		{category: "labour", desc: "分拣工工资", descEn: "Sorting staff wages", min: 600_000, max: 900_000, unit: 10_000, every: 30},
		{credit: true, category: "subsidy", desc: "农民专业合作社发展补助", descEn: "Farmers' cooperative development grant", counterparty: "青山县农业农村局", min: 3_000_000, max: 3_000_000, every: 85},
	}
	cattleHerder = []flow{
		{credit: true, category: "livestock_sale", desc: "肉牛销售款", descEn: "Beef cattle sale proceeds", counterparty: "河西县畜牧交易市场", min: 1_800_000, max: 6_500_000, every: 24},
		{credit: true, category: "livestock_sale", desc: "肉羊销售款", descEn: "Sheep sale proceeds", counterparty: "河西县畜牧交易市场", min: 450_000, max: 1_600_000, every: 17},
		{category: "farm_inputs", desc: "饲草料采购", descEn: "Fodder purchase (silage, alfalfa)", counterparty: "河西县绿洲饲草料有限公司", min: 300_000, max: 1_500_000, every: 12},
		{category: "veterinary", desc: "兽药疫苗", descEn: "Veterinary drugs and vaccines", counterparty: "红柳镇畜牧兽医站", min: 30_000, max: 180_000, every: 30},
		{credit: true, category: "subsidy", desc: "草原生态保护补助奖励", descEn: "Grassland ecological compensation", counterparty: "河西县财政局", min: 420_000, max: 420_000, every: 88},
		{category: "utilities", desc: "电费", descEn: "Electricity bill", counterparty: "国网河西县供电公司", min: 8_000, max: 36_000, every: 30},
		{category: "cash_withdrawal", desc: "取现", descEn: "Cash withdrawal", min: 50_000, max: 300_000, unit: 10_000, every: 15},
		{credit: true, category: "interest", desc: "活期结息", descEn: "Quarterly interest", counterparty: "河西县农村信用合作社", min: 500, max: 2_500, unit: 1, every: 90},
	}
	seedCornGrower = []flow{
		{credit: true, category: "grain_sale", desc: "制种玉米收购款", descEn: "Seed-corn contract proceeds", counterparty: "河西县丰源种业有限公司", min: 2_500_000, max: 7_800_000, every: 40},
		{category: "farm_inputs", desc: "化肥采购", descEn: "Fertiliser purchase", counterparty: "河西县供销社农资公司", min: 150_000, max: 700_000, every: 20},
		{category: "farm_inputs", desc: "滴灌带采购", descEn: "Drip tape purchase", counterparty: "河西县节水灌溉器材站", min: 150_000, max: 480_000, every: 45},
		{category: "utilities", desc: "灌溉水费", descEn: "Irrigation water charge", counterparty: "河西县沙湾灌区管理所", min: 30_000, max: 120_000, every: 30},
		{category: "labour", desc: "去雄用工工资", descEn: "Detasseling labour wages", min: 300_000, max: 900_000, unit: 10_000, every: 35},
		{credit: true, category: "subsidy", desc: "耕地地力保护补贴", descEn: "Arable land protection subsidy", counterparty: "河西县财政局", min: 132_000, max: 132_000, every: 70},
		{credit: true, category: "interest", desc: "活期结息", descEn: "Quarterly interest", counterparty: "河西县农村信用合作社", min: 300, max: 1_500, unit: 1, every: 90},
	}
	machineryContractor = []flow{
		{credit: true, category: "service_income", desc: "农机作业服务费", descEn: "Contract ploughing and harvesting fee", counterparty: "河西镇东关村村民", min: 60_000, max: 480_000, every: 4},
		{category: "machinery", desc: "柴油采购", descEn: "Diesel", counterparty: "河西县红柳加油站", min: 80_000, max: 350_000, every: 7},
		{category: "machinery", desc: "农机维修配件", descEn: "Machinery repair and parts", counterparty: "河西县农机修造厂", min: 50_000, max: 600_000, every: 20},
		{category: "loan_repayment", desc: "农机贷款还款", descEn: "Machinery loan repayment", counterparty: "河西县农村信用合作社", min: 620_000, max: 620_000, every: 30},
		{credit: true, category: "subsidy", desc: "农机购置补贴", descEn: "Farm machinery purchase subsidy", counterparty: "河西县农业农村局", min: 2_400_000, max: 2_400_000, every: 89},
		{category: "insurance", desc: "农机保险保费", descEn: "Machinery insurance premium", counterparty: "河西县农业保险服务站", min: 85_000, max: 85_000, every: 89},
		{credit: true, category: "interest", desc: "活期结息", descEn: "Quarterly interest", counterparty: "河西县农村信用合作社", min: 300, max: 2_000, unit: 1, every: 90},
	}
	gojiCooperative = []flow{
		{credit: true, category: "produce_sale", desc: "枸杞干果销售款", descEn: "Dried goji sale proceeds", counterparty: "兰州陇原特产商贸有限公司", min: 2_000_000, max: 8_000_000, every: 7},
		{category: "transfer_out", desc: "收购社员鲜果款", descEn: "Payment to members for fresh goji", counterparty: "社员赵永强等9户", min: 1_000_000, max: 3_500_000, every: 7},
		{category: "labour", desc: "采摘工工资", descEn: "Picking labour wages", min: 800_000, max: 1_600_000, unit: 10_000, every: 15},
		{category: "utilities", desc: "烘干房电费", descEn: "Drying room electricity", counterparty: "国网河西县供电公司", min: 200_000, max: 500_000, every: 30},
		{category: "logistics", desc: "物流运费", descEn: "Freight", counterparty: "河西县通达物流有限公司", min: 60_000, max: 260_000, every: 12},
		{category: "farm_inputs", desc: "包装材料采购", descEn: "Packaging materials", counterparty: "河西县宏远包装厂", min: 90_000, max: 350_000, every: 25},
		{credit: true, category: "subsidy", desc: "特色产业发展资金", descEn: "Specialty crop development fund", counterparty: "河西县农业农村局", min: 2_000_000, max: 2_000_000, every: 85},
	}
)
