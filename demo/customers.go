package demo

import (
	"net/http"
	"slices"
	"strings"
)

// CustomerHeader names the sandbox customer a call is made for: the
// access token's sub ("<bank>:<login>") when the token was issued on a
// customer's behalf (authorization code grant). The sandbox sets it and
// removes any value the caller sent; the demo core then answers with that
// customer's accounts only. A call without it (a client credentials
// token) sees every account of the bank, as a partner does.
const CustomerHeader = "X-Obhub-Customer"

// customerAccounts are the accounts of the sandbox's simulated customers
// (oauth.SandboxLogins) at each demo bank: bank → login → account ids.
// Their personal accounts are held in the customer's display name (张三,
// 李四, 王五; banks.go), so a developer signed in as 张三 sees 张三's
// accounts; 王五 also represents a cooperative.
var customerAccounts = map[string]map[string][]string{
	Qingshan: {
		"zhangsan": {"qs-10001", "qs-10002"},
		"lisi":     {"qs-10003"},
		"wangwu":   {"qs-10004", "qs-10005"},
	},
	Hexi: {
		"zhangsan": {"hx-20001"},
		"lisi":     {"hx-20002", "hx-20003"},
		"wangwu":   {"hx-20004", "hx-20005"},
	},
}

// CustomerAccounts returns the ids of the accounts a sandbox customer
// ("<bank>:<login>") holds at bank, or nil for anyone else.
func CustomerAccounts(bank, customer string) []string {
	b, login, ok := strings.Cut(customer, ":")
	if !ok || b != bank {
		return nil
	}
	return slices.Clone(customerAccounts[bank][login])
}

// mayUse reports whether the call may see account id: always without
// CustomerHeader, else only the customer's own accounts.
func mayUse(r *http.Request, b *bank, id string) bool {
	c := r.Header.Get(CustomerHeader)
	if c == "" {
		return true
	}
	return slices.Contains(CustomerAccounts(b.id, c), id)
}
