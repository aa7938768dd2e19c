package gateway

import (
	"net"
	"net/netip"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// clientIP returns the address of the client: the socket peer's, unless
// the peer is a trusted proxy (Config.TrustedProxies). Then, and only
// then, X-Forwarded-For is read from the right, skipping trusted proxies,
// and the first address that is not one is the client; without a usable
// X-Forwarded-For, X-Real-IP is used. A malformed forwarded header leaves
// the last trusted hop as the client.
func (g *Gateway) clientIP(c *fiber.Ctx) netip.Addr {
	peer := peerAddr(c)
	if !g.trusted(peer) {
		return peer
	}
	h := &c.Context().Request.Header
	addr := peer
	var hops []string
	h.VisitAll(func(k, v []byte) {
		if strings.EqualFold(string(k), "X-Forwarded-For") {
			hops = append(hops, strings.Split(string(v), ",")...)
		}
	})
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return addr
		}
		addr = a.Unmap()
		if !g.trusted(addr) {
			return addr
		}
	}
	if len(hops) == 0 {
		if a, err := netip.ParseAddr(strings.TrimSpace(string(h.Peek("X-Real-IP")))); err == nil {
			return a.Unmap()
		}
	}
	return addr
}

func (g *Gateway) trusted(a netip.Addr) bool {
	for _, p := range g.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// peerAddr is the socket peer's address.
func peerAddr(c *fiber.Ctx) netip.Addr {
	if ta, ok := c.Context().RemoteAddr().(*net.TCPAddr); ok {
		if a, ok := netip.AddrFromSlice(ta.IP); ok {
			return a.Unmap()
		}
	}
	a, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	return a.Unmap()
}
