package demo

// The demo data of the two banks. Everything is made up; account numbers
// exist only in masked form.

type bank struct {
	id       string
	prefix   string          // for payment and application ids
	apis     map[string]bool // base paths of the APIs the bank publishes
	branches []branch
	atms     []atm
	accounts []account
	products []loanProduct
}

func (b *bank) branch(id string) *branch {
	for i := range b.branches {
		if b.branches[i].BranchID == id {
			return &b.branches[i]
		}
	}
	return nil
}

func (b *bank) account(id string) *account {
	for i := range b.accounts {
		if b.accounts[i].id == id {
			return &b.accounts[i]
		}
	}
	return nil
}

func (b *bank) product(id string) *loanProduct {
	for i := range b.products {
		if b.products[i].ProductID == id {
			return &b.products[i]
		}
	}
	return nil
}

// banks returns fresh demo data for both banks, by id.
func banks() map[string]*bank {
	return map[string]*bank{Qingshan: qingshan(), Hexi: hexi()}
}

func qingshan() *bank {
	return &bank{
		id: Qingshan, prefix: "QS",
		apis: map[string]bool{AccountsBasePath: true, PaymentsBasePath: true, LoansBasePath: true},
		branches: []branch{
			{BranchID: "qs-br-0001", Name: "青山农商银行营业部", County: "青山县", Township: "城关镇"},
			{BranchID: "qs-br-0002", Name: "青山农商银行石桥镇支行", County: "青山县", Township: "石桥镇"},
			{BranchID: "qs-br-0003", Name: "青山农商银行柳河乡分理处", County: "青山县", Township: "柳河乡"},
			{BranchID: "qs-br-0004", Name: "青山农商银行马店镇支行", County: "青山县", Township: "马店镇"},
		},
		accounts: []account{
			{id: "qs-10001", number: "623058*********4417", holder: "张三", holderType: "individual",
				product: "huinong_card", productName: "惠农卡", branch: "qs-br-0002", opened: "2014-03-12",
				opening: 1_250_000, flows: grainFarmer},
			{id: "qs-10002", number: "910100*******0358", holder: "张三", holderType: "individual",
				product: "time_deposit", productName: "整存整取定期存款（三年期）", branch: "qs-br-0002", opened: "2024-11-05", maturity: "2027-11-05",
				opening: 5_000_000},
			{id: "qs-10003", number: "623058*********2093", holder: "李四", holderType: "individual",
				product: "demand_savings", productName: "活期储蓄", branch: "qs-br-0003", opened: "2017-06-20",
				opening: 860_000, flows: greenhouseGrower},
			{id: "qs-10004", number: "623058*********7731", holder: "王五", holderType: "individual",
				product: "huinong_card", productName: "惠农卡", branch: "qs-br-0004", opened: "2012-09-01",
				opening: 4_300_000, flows: pigFarmer},
			{id: "qs-10005", number: "910102*******1186", holder: "青山县石桥镇绿源果蔬专业合作社", holderType: "organisation",
				product: "corporate_current", productName: "单位结算账户", branch: "qs-br-0001", opened: "2019-04-16",
				opening: 15_000_000, frozen: 2_000_000, flows: produceCooperative},
		},
		products: []loanProduct{
			{ProductID: "qs-lp-crop", Name: "丰收贷", NameEn: "Harvest Loan", Purpose: "crop",
				Description:        "种植户春耕备耕、农资采购的信用贷款，随借随还。Unsecured credit for planting season inputs: seed, fertiliser, pesticide.",
				AnnualInterestRate: "4.80", RateType: "fixed", MinAmount: cny(1_000_000), MaxAmount: cny(30_000_000),
				MinTermMonths: 6, MaxTermMonths: 12, RepaymentMethods: []string{"interest_monthly_principal_at_maturity", "seasonal"},
				Collateral: "none", Features: []string{"纯信用，无需抵押", "整村授信客户利率优惠0.30个百分点", "手机银行随借随还"}},
			{ProductID: "qs-lp-livestock", Name: "畜牧贷", NameEn: "Livestock Loan", Purpose: "livestock",
				Description:        "生猪、肉牛、肉羊养殖户购买种畜、饲料的贷款。For breeding stock and feed of pig, cattle and sheep farmers.",
				AnnualInterestRate: "5.20", RateType: "lpr_linked", MinAmount: cny(2_000_000), MaxAmount: cny(50_000_000),
				MinTermMonths: 12, MaxTermMonths: 36, RepaymentMethods: []string{"equal_instalments", "interest_monthly_principal_at_maturity"},
				Collateral: "livestock_mortgage", Features: []string{"活体抵押，须投保政策性养殖保险", "可享受县财政贴息"}},
			{ProductID: "qs-lp-machinery", Name: "农机贷", NameEn: "Farm Machinery Loan", Purpose: "farm_machinery",
				Description:        "购买拖拉机、收割机、植保无人机等农机具。For tractors, combine harvesters and crop-spraying drones.",
				AnnualInterestRate: "4.95", RateType: "fixed", MinAmount: cny(3_000_000), MaxAmount: cny(80_000_000),
				MinTermMonths: 12, MaxTermMonths: 36, RepaymentMethods: []string{"equal_instalments"},
				Collateral: "machinery_mortgage", Features: []string{"首付不低于30%", "农机购置补贴到账后可提前还款，无违约金"}},
			{ProductID: "qs-lp-greenhouse", Name: "大棚贷", NameEn: "Greenhouse Loan", Purpose: "greenhouse",
				Description:        "新建或改造蔬菜、食用菌大棚。For building or upgrading vegetable and mushroom greenhouses.",
				AnnualInterestRate: "5.00", RateType: "lpr_linked", MinAmount: cny(5_000_000), MaxAmount: cny(100_000_000),
				MinTermMonths: 12, MaxTermMonths: 60, RepaymentMethods: []string{"equal_instalments", "seasonal"},
				Collateral: "land_management_right", Features: []string{"土地经营权抵押", "前6个月只还息不还本"}},
		},
	}
}

func hexi() *bank {
	return &bank{
		id: Hexi, prefix: "HX",
		apis: map[string]bool{AccountsBasePath: true, LoansBasePath: true, BranchesBasePath: true},
		branches: []branch{
			{BranchID: "hx-br-0001", Name: "河西县农村信用合作社营业部", County: "河西县", Township: "河西镇",
				Address: "河西县河西镇解放路88号", Location: &geo{38.9321, 100.4527}, Phone: "0936-8512001",
				OpeningHours: "Mon–Sun 08:30–17:30 (周一至周日)",
				Services:     []string{"cash", "deposits", "loans", "huinong_card", "account_opening", "remittance", "social_security_card"}},
			{BranchID: "hx-br-0002", Name: "河西县沙湾乡信用社", County: "河西县", Township: "沙湾乡",
				Address: "河西县沙湾乡沙湾村二社", Location: &geo{39.0105, 100.3318}, Phone: "0936-8512031",
				OpeningHours: "Mon–Fri 08:30–17:00, Sat 09:00–12:00 (周一至周五，周六上午)",
				Services:     []string{"cash", "deposits", "loans", "huinong_card", "account_opening"}},
			{BranchID: "hx-br-0003", Name: "河西县红柳镇信用社", County: "河西县", Township: "红柳镇",
				Address: "河西县红柳镇红柳街16号", Location: &geo{38.8712, 100.6124}, Phone: "0936-8512052",
				OpeningHours: "Mon–Sun 08:30–17:30 (周一至周日)",
				Services:     []string{"cash", "deposits", "loans", "huinong_card", "account_opening", "remittance"}},
			{BranchID: "hx-br-0004", Name: "河西县黄渠乡信用分社", County: "河西县", Township: "黄渠乡",
				Address: "河西县黄渠乡黄渠村委会东侧", Location: &geo{38.7958, 100.2871}, Phone: "0936-8512077",
				OpeningHours: "Mon–Fri 09:00–16:30 (周一至周五)",
				Services:     []string{"cash", "deposits", "huinong_card"}},
		},
		atms: []atm{
			{ATMID: "hx-atm-0001", Kind: "atm", Name: "营业部24小时自助银行", BranchID: "hx-br-0001", Township: "河西镇",
				Address: "河西县河西镇解放路88号", Location: geo{38.9322, 100.4525}, Available24h: true,
				Services: []string{"cash_withdrawal", "cash_deposit", "transfer", "balance_enquiry"}},
			{ATMID: "hx-atm-0002", Kind: "atm", Name: "河西县人民医院门诊楼自助取款机", Township: "河西镇",
				Address: "河西县河西镇健康路3号", Location: geo{38.9388, 100.4479}, Available24h: true,
				Services: []string{"cash_withdrawal", "balance_enquiry"}},
			{ATMID: "hx-atm-0003", Kind: "cash_recycler", Name: "红柳镇信用社存取款一体机", BranchID: "hx-br-0003", Township: "红柳镇",
				Address: "河西县红柳镇红柳街16号", Location: geo{38.8713, 100.6122}, Available24h: true,
				Services: []string{"cash_withdrawal", "cash_deposit", "transfer", "balance_enquiry"}},
			{ATMID: "hx-atm-0004", Kind: "agent_point", Name: "沙湾村助农取款服务点（便民超市）", Township: "沙湾乡",
				Address: "河西县沙湾乡沙湾村一社", Location: geo{39.0131, 100.3290}, OpeningHours: "08:00–21:00",
				Services: []string{"cash_withdrawal", "balance_enquiry", "bill_payment"}, WithdrawalLimit: ptr(cny(200_000))},
			{ATMID: "hx-atm-0005", Kind: "agent_point", Name: "黄渠村助农取款服务点（卫生室旁小卖部）", Township: "黄渠乡",
				Address: "河西县黄渠乡黄渠村三社", Location: geo{38.7949, 100.2890}, OpeningHours: "08:30–20:00",
				Services: []string{"cash_withdrawal", "balance_enquiry"}, WithdrawalLimit: ptr(cny(200_000))},
		},
		accounts: []account{
			{id: "hx-20001", number: "621779*********5120", holder: "张三", holderType: "individual",
				product: "huinong_card", productName: "惠农一卡通", branch: "hx-br-0003", opened: "2013-05-08",
				opening: 2_600_000, flows: cattleHerder},
			{id: "hx-20002", number: "621779*********3342", holder: "李四", holderType: "individual",
				product: "demand_savings", productName: "活期储蓄", branch: "hx-br-0002", opened: "2016-02-27",
				opening: 930_000, flows: seedCornGrower},
			{id: "hx-20003", number: "621779*********8806", holder: "李四", holderType: "individual",
				product: "huinong_card", productName: "惠农一卡通", branch: "hx-br-0001", opened: "2011-10-19",
				opening: 1_800_000, flows: machineryContractor},
			{id: "hx-20004", number: "820100*******6614", holder: "王五", holderType: "individual",
				product: "time_deposit", productName: "整存整取定期存款（一年期）", branch: "hx-br-0004", opened: "2025-12-01", maturity: "2026-12-01",
				opening: 3_000_000},
			{id: "hx-20005", number: "820102*******0271", holder: "河西县红柳镇枸杞种植专业合作社", holderType: "organisation",
				product: "corporate_current", productName: "单位结算账户", branch: "hx-br-0001", opened: "2018-07-30",
				opening: 9_600_000, flows: gojiCooperative},
		},
		products: []loanProduct{
			{ProductID: "hx-lp-seed-corn", Name: "制种贷", NameEn: "Seed-Corn Loan", Purpose: "crop",
				Description:        "与制种企业签订订单的玉米制种户的生产贷款。For seed-corn growers under contract with a seed company.",
				AnnualInterestRate: "4.65", RateType: "fixed", MinAmount: cny(1_000_000), MaxAmount: cny(20_000_000),
				MinTermMonths: 6, MaxTermMonths: 12, RepaymentMethods: []string{"interest_monthly_principal_at_maturity"},
				Collateral: "joint_liability_group", Features: []string{"三至五户联保", "凭制种订单可提高额度"}},
			{ProductID: "hx-lp-goji", Name: "枸杞贷", NameEn: "Goji Orchard Loan", Purpose: "crop",
				Description:        "枸杞种植、采摘用工和烘干的周转贷款。For goji planting, picking labour and drying.",
				AnnualInterestRate: "4.90", RateType: "fixed", MinAmount: cny(500_000), MaxAmount: cny(15_000_000),
				MinTermMonths: 12, MaxTermMonths: 36, RepaymentMethods: []string{"seasonal", "equal_instalments"},
				Collateral: "none", Features: []string{"信用户免担保", "按采摘季节还款"}},
			{ProductID: "hx-lp-cattle-sheep", Name: "牛羊贷", NameEn: "Cattle & Sheep Loan", Purpose: "livestock",
				Description:        "肉牛、肉羊养殖户购买基础母畜和饲草料。For breeding cows and ewes and their fodder.",
				AnnualInterestRate: "5.50", RateType: "lpr_linked", MinAmount: cny(2_000_000), MaxAmount: cny(30_000_000),
				MinTermMonths: 12, MaxTermMonths: 36, RepaymentMethods: []string{"equal_instalments", "interest_monthly_principal_at_maturity"},
				Collateral: "livestock_mortgage", Features: []string{"须投保政策性养殖保险", "草原生态补奖资金可作还款来源"}},
			{ProductID: "hx-lp-machinery", Name: "农机具贷款", NameEn: "Farm Machinery Loan", Purpose: "farm_machinery",
				Description:        "购买播种机、青贮收获机、滴灌设备。For seed drills, silage harvesters and drip-irrigation kit.",
				AnnualInterestRate: "5.10", RateType: "fixed", MinAmount: cny(2_000_000), MaxAmount: cny(40_000_000),
				MinTermMonths: 12, MaxTermMonths: 24, RepaymentMethods: []string{"equal_instalments"},
				Collateral: "machinery_mortgage", Features: []string{"农机购置补贴可抵首付"}},
			{ProductID: "hx-lp-solar-greenhouse", Name: "日光温室贷", NameEn: "Solar Greenhouse Loan", Purpose: "greenhouse",
				Description:        "新建戈壁日光温室，种植蔬菜、瓜果。For building solar greenhouses on gobi land for vegetables and melons.",
				AnnualInterestRate: "4.75", RateType: "lpr_linked", MinAmount: cny(5_000_000), MaxAmount: cny(60_000_000),
				MinTermMonths: 24, MaxTermMonths: 60, RepaymentMethods: []string{"equal_instalments", "seasonal"},
				Collateral: "land_management_right", Features: []string{"土地经营权抵押", "前12个月只还息不还本"}},
		},
	}
}

func ptr[T any](v T) *T { return &v }
