package catalog_test

import (
	"testing"

	"github.com/obhub/obhub/catalog"
)

func TestCategoryFromTags(t *testing.T) {
	for _, tc := range []struct {
		tags []string
		want catalog.Category
	}{
		{nil, catalog.CategoryOther},
		{[]string{"Accounts"}, catalog.CategoryAccounts},
		{[]string{"Loan products"}, catalog.CategoryLoans},
		{[]string{"Domestic payments"}, catalog.CategoryPayments},
		{[]string{"Credit cards"}, catalog.CategoryCards},
		{[]string{"BRANCHES"}, catalog.CategoryBranches},
		{[]string{"Open data", "贷款产品"}, catalog.CategoryLoans}, // the first tag naming a category
		{[]string{"网点"}, catalog.CategoryBranches},
		{[]string{"转账"}, catalog.CategoryPayments},
		{[]string{"Weather", "FX rates"}, catalog.CategoryOther},
	} {
		if got := catalog.CategoryFromTags(tc.tags); got != tc.want {
			t.Errorf("CategoryFromTags(%q) = %q, want %q", tc.tags, got, tc.want)
		}
	}
}

func TestCheckCategory(t *testing.T) {
	for _, c := range catalog.Categories {
		if ds := catalog.CheckCategory(nil, "/category", c); len(ds) != 0 {
			t.Errorf("%q refused: %v", c, ds)
		}
	}
	if ds := catalog.CheckCategory(nil, "/category", ""); len(ds) != 0 {
		t.Errorf("unset refused: %v", ds)
	}
	for _, c := range []catalog.Category{"Accounts", "mortgage", " loans", "账户"} {
		ds := catalog.CheckCategory(nil, "/category", c)
		if len(ds) != 1 || ds[0].Location != "/category" {
			t.Errorf("%q: %v", c, ds)
		}
	}
	if catalog.Category("").OrOther() != catalog.CategoryOther || catalog.CategoryLoans.OrOther() != catalog.CategoryLoans {
		t.Error("OrOther")
	}
}
