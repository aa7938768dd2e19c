package catalog

import (
	"strings"

	"github.com/obhub/obhub"
)

// Category is what an API is about, from a fixed vocabulary that matches
// open banking's usual families, so partners can filter the catalog the
// same way across banks.
type Category string

// Categories. An admin sets one on an API; left unset, the API's category
// comes from its OpenAPI document's tags (CategoryFromTags).
const (
	CategoryAccounts Category = "accounts" // accounts, balances, transactions
	CategoryPayments Category = "payments" // transfers and payments
	CategoryLoans    Category = "loans"    // loan products and applications
	CategoryCards    Category = "cards"    // debit and credit cards
	CategoryBranches Category = "branches" // branches, ATMs, service points
	CategoryOther    Category = "other"    // anything else
)

// Categories lists the vocabulary in the order the portal shows it.
var Categories = []Category{CategoryAccounts, CategoryPayments, CategoryLoans, CategoryCards, CategoryBranches, CategoryOther}

// Valid reports whether c is one of Categories.
func (c Category) Valid() bool {
	for _, k := range Categories {
		if c == k {
			return true
		}
	}
	return false
}

// OrOther returns c, or CategoryOther for an API stored before categories
// existed ("").
func (c Category) OrOther() Category {
	if c == "" {
		return CategoryOther
	}
	return c
}

// CheckCategory appends a detail to ds when c is set and not one of
// Categories ("" means: derive it from the document).
func CheckCategory(ds []obhub.Detail, location string, c Category) []obhub.Detail {
	if c == "" || c.Valid() {
		return ds
	}
	return append(ds, obhub.Detail{Location: location, Message: `must be one of "accounts", "payments", "loans", "cards", "branches" or "other"`})
}

// categoryWords maps words found in OpenAPI tag names, English or
// Chinese, to a category.
var categoryWords = []struct {
	word string
	c    Category
}{
	{"card", CategoryCards}, {"银行卡", CategoryCards}, {"信用卡", CategoryCards}, {"借记卡", CategoryCards},
	{"branch", CategoryBranches}, {"atm", CategoryBranches}, {"网点", CategoryBranches},
	{"payment", CategoryPayments}, {"transfer", CategoryPayments},
	{"支付", CategoryPayments}, {"转账", CategoryPayments}, {"付款", CategoryPayments},
	{"loan", CategoryLoans}, {"credit", CategoryLoans}, {"贷款", CategoryLoans}, {"信贷", CategoryLoans},
	{"account", CategoryAccounts}, {"balance", CategoryAccounts}, {"transaction", CategoryAccounts},
	{"账户", CategoryAccounts}, {"账号", CategoryAccounts}, {"余额", CategoryAccounts},
}

// CategoryFromTags derives a category from an OpenAPI document's tag
// names, in document order: the first tag that names a category (in
// English, singular or plural, or in Chinese: "Loan products" and "贷款"
// are loans; "Credit cards" is cards) decides; with none, the category
// is other.
func CategoryFromTags(tags []string) Category {
	for _, t := range tags {
		t = strings.ToLower(t)
		for _, w := range categoryWords {
			if strings.Contains(t, w.word) {
				return w.c
			}
		}
	}
	return CategoryOther
}
