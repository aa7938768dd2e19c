package config

import (
	"fmt"
	"net/netip"
	"strings"
)

// TrustedProxyPrefixes parses --trusted-proxies: comma-separated CIDR
// prefixes or single addresses. Empty means no proxy is trusted, and
// X-Forwarded-For and X-Real-IP are ignored.
func (s *Static) TrustedProxyPrefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for f := range strings.SplitSeq(s.TrustedProxies, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		var p netip.Prefix
		var err error
		if strings.Contains(f, "/") {
			p, err = netip.ParsePrefix(f)
		} else {
			var a netip.Addr
			a, err = netip.ParseAddr(f)
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if err != nil {
			return nil, fmt.Errorf("--trusted-proxies %q: want CIDR prefixes such as 10.0.0.0/8, comma separated", f)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
