// Package crl checks client certificates against the certificate
// revocation lists (RFC 5280 section 5) of the CAs that issued them, for
// the two places that accept CA-issued client certificates: the
// authorization server's mTLS client authentication (package oauth) and
// the gateway's certificate-bound tokens. The CRLs come from files
// (--tls-client-crl); each is verified against its CA when read. A List
// re-reads the files when they change and swaps the verified set
// atomically; a file that does not parse or verify leaves the set in
// force as it was.
//
// Only certificates issued by one of the configured CAs are looked up:
// a self-signed certificate (self_signed_tls_client_auth) is pinned by the
// app's JWKS, which is its revocation.
package crl

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/obhub/obhub"
)

// Why Check refuses a certificate issued by a configured CA.
var (
	// ErrRevoked: the certificate's serial is on its CA's CRL.
	ErrRevoked = errors.New("revoked by its CA")
	// ErrStale: in strict mode, the CA's CRL is past its nextUpdate.
	ErrStale = errors.New("its CA's CRL is past its nextUpdate (strict mode)")
	// ErrNotCovered: no CRL of the certificate's CA covers it (the CA
	// partitions its CRLs by distribution point and the certificate's is
	// not among those loaded).
	ErrNotCovered = errors.New("no CRL of its CA covers it")
)

const (
	// ReloadInterval is how often Run looks at the files' modification
	// times by default.
	ReloadInterval = 30 * time.Second
	// maxFile bounds one CRL file: a large CA's CRL is a few MiB.
	maxFile = 64 << 20
	// staleWarnEvery is how often Run repeats the warning about a CRL past
	// its nextUpdate.
	staleWarnEvery = time.Hour
)

// Extension ids (RFC 5280 sections 5.2 and 5.3).
var (
	oidIssuingDistributionPoint = asn1.ObjectIdentifier{2, 5, 29, 28}
	oidDeltaCRLIndicator        = asn1.ObjectIdentifier{2, 5, 29, 27}
	oidCertificateIssuer        = asn1.ObjectIdentifier{2, 5, 29, 29}
)

// Config says what a List reads and how it judges.
type Config struct {
	// Files hold the CRLs: each one or more PEM "X509 CRL" blocks, or one
	// DER CRL.
	Files []string
	// CAs are the CAs client certificates chain to (--tls-client-ca).
	// Every CRL must be signed by one of them, and each of them needs a
	// CRL.
	CAs []*x509.Certificate
	// Strict refuses the certificates of a CA whose CRL is past its
	// nextUpdate; otherwise a stale CRL is still enforced, and Run warns.
	Strict bool
	Clock  obhub.Clock
	Logger *slog.Logger
}

// Stats describe the CRLs in force, for /metrics.
type Stats struct {
	CRLs  int // CRLs in force
	Stale int // of them, past their nextUpdate
	// NextUpdate is the earliest nextUpdate of the CRLs in force; zero
	// when none has one.
	NextUpdate time.Time
	// ReloadFailures counts reads of changed files that were refused.
	ReloadFailures int64
}

// List is the CRLs in force. Build it with New and fill it with Load;
// Check is safe for concurrent use with Reload.
type List struct {
	cfg Config
	log *slog.Logger
	cas []*x509.Certificate // deduplicated
	cur atomic.Pointer[set]
	// failures counts refused reloads (Stats).
	failures atomic.Int64

	mu     sync.Mutex  // serialises Load, Reload and warnStale; guards seen and warned
	seen   []fileStamp // the files as last read, successfully or not
	warned map[*entry]time.Time
}

// New returns a List of the files and CAs. It does no I/O. Until Load
// succeeds, every certificate of the CAs is refused (ErrNotCovered).
func New(cfg Config) *List {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	l := &List{cfg: cfg, log: cfg.Logger, warned: map[*entry]time.Time{}}
	for _, ca := range cfg.CAs {
		if !slices.ContainsFunc(l.cas, func(c *x509.Certificate) bool { return c.Equal(ca) }) {
			l.cas = append(l.cas, ca)
		}
	}
	l.cur.Store(newSet(l.cas))
	return l
}

// Load reads and verifies the files and puts their CRLs in force. On
// error the CRLs in force stay.
func (l *List) Load() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen = l.stat()
	return l.load()
}

// Reload loads the files again if one of them changed (size or
// modification time) since the last Load or Reload, and reports whether
// it did. A file that fails to read, parse or verify leaves the CRLs in
// force, and is not tried again until it changes.
func (l *List) Reload() (changed bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	stamps := l.stat()
	if slices.Equal(stamps, l.seen) {
		return false, nil
	}
	l.seen = stamps
	if err := l.load(); err != nil {
		l.failures.Add(1)
		return false, err
	}
	return true, nil
}

// Run reloads the files every interval (ReloadInterval when 0) until ctx
// ends, logging what changed and what failed, and warns while a CRL is
// past its nextUpdate.
func (l *List) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = ReloadInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changed, err := l.Reload()
		switch {
		case err != nil:
			l.log.Error("client CRLs: reload refused; the CRLs in force stay", "err", err)
		case changed:
			l.logLoaded("client CRL reloaded")
		}
		l.warnStale()
	}
}

// LogLoaded logs the CRLs in force, one line each, and warns about any
// past its nextUpdate; for the start of the node.
func (l *List) LogLoaded() {
	l.logLoaded("client CRL loaded")
	l.warnStale()
}

func (l *List) logLoaded(msg string) {
	for _, e := range l.cur.Load().all {
		l.log.Info(msg, "issuer", e.issuer, "source", e.source, "number", e.number,
			"this_update", e.thisUpdate, "next_update", e.nextUpdate, "revoked", len(e.revoked))
	}
}

// warnStale warns, at most every staleWarnEvery per CRL, about CRLs past
// their nextUpdate.
func (l *List) warnStale() {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.cfg.Clock.Now()
	warned := map[*entry]time.Time{}
	for _, e := range l.cur.Load().all {
		if !e.stale(now) {
			continue
		}
		last, ok := l.warned[e]
		if ok && now.Sub(last) < staleWarnEvery {
			warned[e] = last
			continue
		}
		warned[e] = now
		effect := "still enforced; put the CA's new CRL in the file"
		if l.cfg.Strict {
			effect = "the CA's certificates are refused until its new CRL is in the file (strict mode)"
		}
		l.log.Warn("client CRL past its nextUpdate: "+effect, "issuer", e.issuer, "source", e.source, "next_update", e.nextUpdate)
	}
	l.warned = warned
}

// Stats describe the CRLs in force.
func (l *List) Stats() Stats {
	now := l.cfg.Clock.Now()
	st := Stats{ReloadFailures: l.failures.Load()}
	for _, e := range l.cur.Load().all {
		st.CRLs++
		if e.stale(now) {
			st.Stale++
		}
		if !e.nextUpdate.IsZero() && (st.NextUpdate.IsZero() || e.nextUpdate.Before(st.NextUpdate)) {
			st.NextUpdate = e.nextUpdate
		}
	}
	return st
}

// Check returns nil for a certificate that none of the CAs issued, or
// that its CA's CRLs do not list; otherwise an error wrapping ErrRevoked,
// ErrStale or ErrNotCovered that names the serial and the CA. It does
// not verify the certificate's chain (the caller does, where the chain
// is what authenticates): it only refuses a certificate whose signature
// its CA's key verifies. A nil List refuses nothing.
func (l *List) Check(cert *x509.Certificate) error {
	if l == nil || cert == nil {
		return nil
	}
	s := l.cur.Load()
	now := l.cfg.Clock.Now()
	for _, a := range s.byIssuer[string(cert.RawIssuer)] {
		if len(cert.AuthorityKeyId) > 0 && len(a.ca.SubjectKeyId) > 0 && !bytes.Equal(cert.AuthorityKeyId, a.ca.SubjectKeyId) {
			continue
		}
		err := a.check(cert, now, l.cfg.Strict)
		if err == nil {
			continue
		}
		// Only now, on the way to a refusal, the signature: a
		// certificate that merely names the CA as its issuer is none of
		// its business.
		if cert.CheckSignatureFrom(a.ca) != nil {
			continue
		}
		return fmt.Errorf("client certificate serial %s issued by %q: %w", cert.SerialNumber.Text(16), a.name, err)
	}
	return nil
}

// set is one immutable, verified generation of CRLs.
type set struct {
	byIssuer map[string][]*authority // by the CA's raw subject
	all      []*entry
}

// authority is one CA with its CRLs.
type authority struct {
	ca   *x509.Certificate
	name string // the CA's subject DN
	crls []*entry
}

// entry is one CRL in force.
type entry struct {
	source     string // file, and #n for the nth CRL of a PEM file
	issuer     string
	number     *big.Int // the cRLNumber, nil without one
	thisUpdate time.Time
	nextUpdate time.Time // zero when the CRL has none
	// Scope (issuing distribution point): dps are the distribution point
	// URIs it covers (nil: every certificate of the CA); onlyUser, when
	// it covers end-entity certificates only.
	dps      []string
	onlyUser bool
	revoked  map[string]struct{} // serialKey
}

func newSet(cas []*x509.Certificate) *set {
	s := &set{byIssuer: map[string][]*authority{}}
	for _, ca := range cas {
		k := string(ca.RawSubject)
		s.byIssuer[k] = append(s.byIssuer[k], &authority{ca: ca, name: ca.Subject.String()})
	}
	return s
}

// check judges a certificate against the CA's CRLs.
func (a *authority) check(cert *x509.Certificate, now time.Time, strict bool) error {
	key := serialKey(cert.SerialNumber)
	covered, stale := false, false
	for _, e := range a.crls {
		if !e.covers(cert) {
			continue
		}
		covered = true
		if _, ok := e.revoked[key]; ok {
			return ErrRevoked
		}
		stale = stale || e.stale(now)
	}
	switch {
	case !covered:
		return ErrNotCovered
	case strict && stale:
		return ErrStale
	}
	return nil
}

func (e *entry) covers(cert *x509.Certificate) bool {
	if e.onlyUser && cert.IsCA {
		return false
	}
	if e.dps == nil {
		return true
	}
	for _, dp := range cert.CRLDistributionPoints {
		if slices.Contains(e.dps, dp) {
			return true
		}
	}
	return false
}

func (e *entry) stale(now time.Time) bool {
	return !e.nextUpdate.IsZero() && now.After(e.nextUpdate)
}

// scope identifies the certificates a CRL covers: of two CRLs of one CA
// and one scope, the newer is kept.
func (e *entry) scope() string {
	return fmt.Sprint(e.onlyUser, e.dps)
}

// serialKey is a map key for a serial number.
func serialKey(n *big.Int) string {
	if n == nil {
		return ""
	}
	if n.Sign() < 0 {
		return "-" + string(n.Bytes())
	}
	return string(n.Bytes())
}

// fileStamp is what Reload compares to notice a changed file.
type fileStamp struct {
	size    int64
	modTime time.Time
	err     string
}

func (l *List) stat() []fileStamp {
	out := make([]fileStamp, len(l.cfg.Files))
	for i, f := range l.cfg.Files {
		fi, err := os.Stat(f)
		if err != nil {
			out[i].err = err.Error()
			continue
		}
		out[i] = fileStamp{size: fi.Size(), modTime: fi.ModTime()}
	}
	return out
}

// load reads every file and swaps in the new set; l.mu is held.
func (l *List) load() error {
	var crls []sourced
	for _, f := range l.cfg.Files {
		b, err := readFile(f)
		if err != nil {
			return err
		}
		list, err := Parse(b)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		for i, c := range list {
			src := f
			if len(list) > 1 {
				src = fmt.Sprintf("%s#%d", f, i+1)
			}
			crls = append(crls, sourced{src, c})
		}
	}
	s, err := build(l.cas, crls)
	if err != nil {
		return err
	}
	l.cur.Store(s)
	return nil
}

func readFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(b) > maxFile {
		return nil, fmt.Errorf("%s: larger than %d MiB", name, maxFile>>20)
	}
	return b, nil
}

// Parse reads the CRLs of one file: PEM "X509 CRL" blocks, or one DER
// CRL. Any other PEM block, a cut-off block, or no CRL at all is an error.
func Parse(b []byte) ([]*x509.RevocationList, error) {
	if !bytes.Contains(b, []byte("-----BEGIN")) {
		if len(bytes.TrimSpace(b)) == 0 {
			return nil, errors.New("no CRL in the file")
		}
		c, err := x509.ParseRevocationList(b)
		if err != nil {
			return nil, fmt.Errorf("DER CRL: %w", err)
		}
		return []*x509.RevocationList{c}, nil
	}
	var out []*x509.RevocationList
	rest := b
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "X509 CRL" {
			return nil, fmt.Errorf("PEM block %d is %q, want X509 CRL", len(out)+1, block.Type)
		}
		c, err := x509.ParseRevocationList(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", len(out)+1, err)
		}
		out = append(out, c)
	}
	if bytes.Contains(rest, []byte("-----BEGIN")) {
		return nil, fmt.Errorf("PEM block %d is cut off or malformed", len(out)+1)
	}
	if len(out) == 0 {
		return nil, errors.New("no CRL in the file")
	}
	return out, nil
}

type sourced struct {
	source string
	crl    *x509.RevocationList
}

// build verifies every CRL against the CAs and indexes them. Every CRL
// must be signed by a CA, and every CA needs a CRL.
func build(cas []*x509.Certificate, crls []sourced) (*set, error) {
	s := newSet(cas)
	for _, sc := range crls {
		a, err := s.issuerOf(sc.crl)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", sc.source, err)
		}
		e, err := newEntry(sc.source, a.name, sc.crl)
		if err != nil {
			return nil, fmt.Errorf("%s: CRL of %q: %w", sc.source, a.name, err)
		}
		// Of two CRLs of one scope, the newer (by cRLNumber, then
		// thisUpdate) stands: an older copy left in the files cannot
		// bring back a certificate taken off hold.
		i := slices.IndexFunc(a.crls, func(o *entry) bool { return o.scope() == e.scope() })
		switch {
		case i < 0:
			a.crls = append(a.crls, e)
		case e.newer(a.crls[i]):
			a.crls[i] = e
		}
	}
	for _, as := range s.byIssuer {
		for _, a := range as {
			if len(a.crls) == 0 {
				return nil, fmt.Errorf("CA %q of --tls-client-ca has no CRL: with --tls-client-crl, each CA needs its CRL (remove from --tls-client-ca a CA that issues no client certificates)", a.name)
			}
			s.all = append(s.all, a.crls...)
		}
	}
	slices.SortFunc(s.all, func(x, y *entry) int { return strings.Compare(x.source, y.source) })
	return s, nil
}

// issuerOf finds the CA that signed a CRL.
func (s *set) issuerOf(c *x509.RevocationList) (*authority, error) {
	var sigErr error
	for _, a := range s.byIssuer[string(c.RawIssuer)] {
		if len(c.AuthorityKeyId) > 0 && len(a.ca.SubjectKeyId) > 0 && !bytes.Equal(c.AuthorityKeyId, a.ca.SubjectKeyId) {
			continue
		}
		if err := c.CheckSignatureFrom(a.ca); err != nil {
			sigErr = err
			continue
		}
		return a, nil
	}
	if sigErr != nil {
		return nil, fmt.Errorf("CRL of %q: its signature does not verify with that CA of --tls-client-ca: %w", c.Issuer.String(), sigErr)
	}
	return nil, fmt.Errorf("CRL of %q: not issued by any CA of --tls-client-ca", c.Issuer.String())
}

// newer reports whether e replaces old, a CRL of the same CA and scope.
func (e *entry) newer(old *entry) bool {
	if e.number != nil && old.number != nil {
		if d := e.number.Cmp(old.number); d != 0 {
			return d > 0
		}
	}
	return e.thisUpdate.After(old.thisUpdate)
}

// newEntry checks what a CRL says about its own scope (RFC 5280 section
// 5.2: a CRL with a critical extension we do not understand is not
// used) and indexes its serials.
func newEntry(source, issuer string, c *x509.RevocationList) (*entry, error) {
	e := &entry{source: source, issuer: issuer, thisUpdate: c.ThisUpdate, nextUpdate: c.NextUpdate,
		revoked: make(map[string]struct{}, len(c.RevokedCertificateEntries))}
	if c.Number != nil {
		e.number = new(big.Int).Set(c.Number)
	}
	for _, ext := range c.Extensions {
		switch {
		case ext.Id.Equal(oidIssuingDistributionPoint):
			if err := e.parseIDP(ext.Value); err != nil {
				return nil, err
			}
		case ext.Id.Equal(oidDeltaCRLIndicator):
			return nil, errors.New("a delta CRL: give the CA's full CRL")
		case ext.Critical:
			return nil, fmt.Errorf("unsupported critical extension %s", ext.Id)
		}
	}
	for _, rc := range c.RevokedCertificateEntries {
		for _, ext := range rc.Extensions {
			switch {
			case ext.Id.Equal(oidCertificateIssuer):
				return nil, errors.New("an indirect CRL (entries with a certificate issuer): not supported")
			case ext.Critical:
				return nil, fmt.Errorf("entry with unsupported critical extension %s", ext.Id)
			}
		}
		e.revoked[serialKey(rc.SerialNumber)] = struct{}{}
	}
	return e, nil
}

// issuingDistributionPoint is the ASN.1 of RFC 5280 section 5.2.5.
type issuingDistributionPoint struct {
	DistributionPoint distributionPointName `asn1:"optional,tag:0"`
	OnlyUser          bool                  `asn1:"optional,tag:1"`
	OnlyCA            bool                  `asn1:"optional,tag:2"`
	OnlySomeReasons   asn1.BitString        `asn1:"optional,tag:3"`
	Indirect          bool                  `asn1:"optional,tag:4"`
	OnlyAttribute     bool                  `asn1:"optional,tag:5"`
}

type distributionPointName struct {
	FullName     []asn1.RawValue `asn1:"optional,tag:0"`
	RelativeName asn1.RawValue   `asn1:"optional,tag:1"`
}

// parseIDP reads the scope of a partitioned CRL. Supported: a scope by
// distribution point URI, and end-entity certificates only; refused:
// CRLs of CA or attribute certificates only, by reason, and indirect.
func (e *entry) parseIDP(der []byte) error {
	var idp issuingDistributionPoint
	rest, err := asn1.Unmarshal(der, &idp)
	if err != nil || len(rest) > 0 {
		return errors.New("malformed issuing distribution point")
	}
	switch {
	case idp.Indirect:
		return errors.New("an indirect CRL: not supported")
	case idp.OnlyCA:
		return errors.New("covers CA certificates only: give the CA's CRL of end-entity certificates")
	case idp.OnlyAttribute:
		return errors.New("covers attribute certificates only")
	case idp.OnlySomeReasons.BitLength > 0:
		return errors.New("covers some revocation reasons only: give the CA's full CRL")
	case len(idp.DistributionPoint.RelativeName.FullBytes) > 0:
		return errors.New("a distribution point named relative to the issuer: not supported")
	}
	e.onlyUser = idp.OnlyUser
	for _, n := range idp.DistributionPoint.FullName {
		if n.Class == asn1.ClassContextSpecific && n.Tag == 6 { // uniformResourceIdentifier
			e.dps = append(e.dps, string(n.Bytes))
		}
	}
	if len(idp.DistributionPoint.FullName) > 0 && len(e.dps) == 0 {
		return errors.New("a distribution point named other than by URI: not supported")
	}
	return nil
}
