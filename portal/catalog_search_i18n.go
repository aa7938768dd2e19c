package portal

// catalogMessages are the texts of the catalog's search form and the API
// categories (catalog_search.go), kept apart from messages (i18n.go);
// lang.T looks here too (lookup in team_i18n.go).
var catalogMessages = map[lang]map[string]string{
	langEN: {
		"apis.search":        "Search",
		"apis.search.label":  "Search the API catalog",
		"apis.search.help":   "Words in the API's name, bank, category or operations (summaries and paths), in English or Chinese.",
		"apis.search.submit": "Search",
		"apis.search.clear":  "Show all APIs",
		"apis.category":      "Category",
		"apis.any.bank":      "All banks",
		"apis.any.category":  "All categories",
		"apis.any.status":    "Published and deprecated",
		"apis.count":         "APIs: %d",
		"apis.count.of":      "%d of %d APIs match",
		"apis.nomatch":       "No API matches your search. Try other words or fewer filters.",
		"cat.accounts":       "Accounts",
		"cat.payments":       "Payments",
		"cat.loans":          "Loans",
		"cat.cards":          "Cards",
		"cat.branches":       "Branches and ATMs",
		"cat.other":          "Other",
	},
	langZH: {
		"apis.search":        "搜索",
		"apis.search.label":  "搜索 API 目录",
		"apis.search.help":   "API 名称、银行、类别或操作（摘要和路径）中的词语，中英文均可。",
		"apis.search.submit": "搜索",
		"apis.search.clear":  "显示全部 API",
		"apis.category":      "类别",
		"apis.any.bank":      "全部银行",
		"apis.any.category":  "全部类别",
		"apis.any.status":    "已发布和已弃用",
		"apis.count":         "共 %d 个 API",
		"apis.count.of":      "%d 个 API 符合条件（共 %d 个）",
		"apis.nomatch":       "没有符合搜索条件的 API。请换用其他词语或减少筛选条件。",
		"cat.accounts":       "账户",
		"cat.payments":       "支付",
		"cat.loans":          "贷款",
		"cat.cards":          "银行卡",
		"cat.branches":       "网点与 ATM",
		"cat.other":          "其他",
	},
}
