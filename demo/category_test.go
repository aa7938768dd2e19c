package demo

import (
	"context"
	"testing"

	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/openapi"
)

// Every demo API declares its category, and it is the one its document's
// tags would give, so the portal's category filter finds each family.
func TestDeclarationCategories(t *testing.T) {
	want := map[string]catalog.Category{
		"qingshan-accounts": catalog.CategoryAccounts, "qingshan-payments": catalog.CategoryPayments,
		"qingshan-loans": catalog.CategoryLoans, "hexi-accounts": catalog.CategoryAccounts,
		"hexi-loans": catalog.CategoryLoans, "hexi-branches": catalog.CategoryBranches,
	}
	for _, a := range loadDeclaration(t).APIs {
		if got := catalog.Category(a.Category); got != want[a.ID] {
			t.Errorf("%s: category %q, want %q", a.ID, got, want[a.ID])
		}
		doc, err := openapi.Import(context.Background(), a.Spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := catalog.CategoryFromTags(doc.Tags); got != want[a.ID] {
			t.Errorf("%s: the document's tags %q give %q", a.ID, doc.Tags, got)
		}
	}
}
