// Package demo is the demo alliance that `obhub serve --demo` seeds: two
// member banks, the OpenAPI documents they publish, and a stand-in for
// their core-banking systems, so that a fresh machine can show the whole
// hub working without a real bank behind it.
//
// The banks are Qingshan Rural Commercial Bank (qingshan-rcb, 青山农村商业银行),
// which publishes Accounts, Payments and Agricultural Loans (惠农贷款) APIs,
// and Hexi County Rural Credit Cooperative (hexi-rcc, 河西县农村信用合作社),
// which publishes Accounts and Agricultural Loans APIs (with its own loan
// products) and a Branch & ATM locator written in Swagger 2.0, to show that
// older documents import too.
//
// The package holds three things:
//
//   - the documents, embedded under specs/ (Spec, Specs);
//   - the declaration alliance.yaml in the format of `obhub apply -f`:
//     banks, APIs, products, the fintech partner AgriFin (农金科技) with a
//     sandbox and a production app, and a bank partner (Declaration,
//     WriteDir);
//   - NewUpstream, one http.Handler that plays both banks' core systems at
//     /{bank}{basePath}/…, with deterministic data: farmers' accounts,
//     their transactions over the last 90 days, loan products, and
//     payments and loan applications kept in memory.
//
// Nothing here is real: names, account numbers and amounts are made up.
package demo

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

//go:embed specs/*.yaml
var specFiles embed.FS

//go:embed alliance.yaml
var allianceYAML []byte

// Bank ids of the demo alliance.
const (
	Qingshan = "qingshan-rcb" // Qingshan Rural Commercial Bank, 青山农村商业银行
	Hexi     = "hexi-rcc"     // Hexi County Rural Credit Cooperative, 河西县农村信用合作社
)

// Base paths of the demo APIs: the first server URL of each document (the
// Swagger 2.0 basePath for the locator). Through the gateway an API is at
// /{bank}{basePath}/…; on the demo upstream at the same path.
const (
	AccountsBasePath = "/open-banking/accounts/v1" // both banks
	PaymentsBasePath = "/open-banking/payments/v1" // Qingshan only
	LoansBasePath    = "/open-banking/loans/v1"    // both banks, different products
	BranchesBasePath = "/open-banking/branches/v1" // Hexi only (Swagger 2.0)
)

// Objects of alliance.yaml that the seeder and the walkthrough name. Apps
// are known by partner and name; Apply reports them as "agrifin/<name>".
const (
	Partner         = "agrifin"           // AgriFin Technology Co., Ltd. (农金科技), fintech
	BankPartner     = "qingshan-rcb-apps" // Qingshan's own apps, kind bank
	SandboxApp      = "farm-ledger-sandbox"
	ProductionApp   = "farm-ledger-production"
	StarterProduct  = "starter"  // accounts, loans, locator; auto approval; 50/s, 100000/day
	PaymentsProduct = "payments" // Qingshan payments; manual approval; 5/s
)

// upstreamPlaceholder is what alliance.yaml holds where the demo core's
// base URL goes.
const upstreamPlaceholder = "{{upstream}}"

// Specs returns the demo's OpenAPI documents, one file per API, named as
// the declaration's specFile entries name them without the "specs/"
// folder (for example "qingshan-accounts.yaml").
func Specs() fs.FS {
	sub, err := fs.Sub(specFiles, "specs")
	if err != nil {
		panic(err) // the folder is embedded at build time
	}
	return sub
}

// Spec returns one document of Specs by file name.
func Spec(name string) ([]byte, error) {
	return fs.ReadFile(Specs(), name)
}

// Declaration returns alliance.yaml with upstream, the base URL where
// NewUpstream is served (such as "http://127.0.0.1:38291"), in every
// API's upstream. Its specFile entries are relative paths under specs/;
// WriteDir writes the declaration and the documents side by side.
func Declaration(upstream string) ([]byte, error) {
	upstream = strings.TrimRight(upstream, "/")
	if upstream == "" || strings.ContainsAny(upstream, " \t\r\n\"'#") {
		return nil, fmt.Errorf("demo declaration: upstream %q is not a base URL", upstream)
	}
	return bytes.ReplaceAll(allianceYAML, []byte(upstreamPlaceholder), []byte(upstream)), nil
}

// WriteDir writes alliance.yaml (see Declaration) and specs/*.yaml into
// dir, which it creates if needed, so that `obhub apply -f
// dir/alliance.yaml` applies the demo alliance.
func WriteDir(dir, upstream string) error {
	decl, err := Declaration(upstream)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "specs"), 0o755); err != nil {
		return fmt.Errorf("write demo alliance: %w", err)
	}
	errs := []error{os.WriteFile(filepath.Join(dir, "alliance.yaml"), decl, 0o644)}
	err = fs.WalkDir(Specs(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := Spec(name)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, "specs", name), data, 0o644)
	})
	if err := errors.Join(append(errs, err)...); err != nil {
		return fmt.Errorf("write demo alliance: %w", err)
	}
	return nil
}
