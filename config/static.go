package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/obhub/obhub/audit"
)

// Static is one node's own settings, fixed for the life of the process.
// Each comes from, in order of precedence: a command-line flag, an OBHUB_*
// environment variable, the YAML file named by --config, the default.
type Static struct {
	Listen          string        `yaml:"listen"`
	AdminListen     string        `yaml:"adminListen"`
	Data            string        `yaml:"data"`
	Issuer          string        `yaml:"issuer"`
	Demo            bool          `yaml:"demo"`
	Etcd            string        `yaml:"etcd"`
	DB              string        `yaml:"db"`
	Redis           string        `yaml:"redis"`
	OTLPEndpoint    string        `yaml:"otlpEndpoint"` // OpenTelemetry traces; "" is off (docs/cluster.md)
	UpstreamTimeout time.Duration `yaml:"upstreamTimeout"`
	MaxBody         ByteSize      `yaml:"maxBody"`
	LogLevel        string        `yaml:"logLevel"`
	LogFormat       string        `yaml:"logFormat"`
	AuditMode       string        `yaml:"auditMode"` // written, strict or async (docs/audit.md)
	AuditHash       string        `yaml:"auditHash"` // sha256 or sm3: the audit chain's hash (docs/audit.md)
	// AuditFlushInterval (written mode) is how often, at most, the records
	// written behind the responses are flushed to disk (docs/audit.md).
	AuditFlushInterval time.Duration `yaml:"auditFlushInterval"`
	// AuditCaptureSandboxBodies stores masked, truncated sandbox request
	// and response bodies in the audit ledger (docs/audit.md); never production.
	AuditCaptureSandboxBodies bool `yaml:"auditCaptureSandboxBodies"`
	// TrustedProxies lists the CIDR prefixes of proxies whose
	// X-Forwarded-For/X-Real-IP headers are believed (proxies.go).
	TrustedProxies string `yaml:"trustedProxies"`
	// TLS on the public listener and mTLS (docs/oauth.md, tls.go).
	TLSCert          string `yaml:"tlsCert"`
	TLSKey           string `yaml:"tlsKey"`
	TLSClientCA      string `yaml:"tlsClientCA"`
	ClientCertHeader string `yaml:"clientCertHeader"`
	// BankClientCert and BankClientKey are the hub's TLS client
	// certificate at banks' OpenID providers set to tls_client_auth;
	// BankCA the CAs their providers' certificates are checked against
	// instead of the system's (tls.go).
	BankClientCert string `yaml:"bankClientCert"`
	BankClientKey  string `yaml:"bankClientKey"`
	BankCA         string `yaml:"bankCA"`
	// TLSClientCRL names the CRL files of the --tls-client-ca CAs, comma
	// separated; TLSClientCRLStrict refuses the certificates of a CA whose
	// CRL is past its nextUpdate (tls.go).
	TLSClientCRL       string `yaml:"tlsClientCRL"`
	TLSClientCRLStrict bool   `yaml:"tlsClientCRLStrict"`
	// AdminToken comes from OBHUB_ADMIN_TOKEN only (never a flag, so it
	// does not show in the process list, and never the file).
	AdminToken string `yaml:"-"`
	// KeyEncryptionKey comes from OBHUB_KEY_ENCRYPTION_KEY or from the
	// file --key-encryption-key-file names (signing.go); with --etcd it
	// seals the secrets the nodes share through etcd, and it encrypts the
	// signing keys on the node's disk.
	KeyEncryptionKey string `yaml:"-"`
	// KeyEncryptionKeyFile names a file holding the key-encryption key.
	KeyEncryptionKeyFile string `yaml:"keyEncryptionKeyFile"`
	// SigningAlg is the algorithm of the signing key made on first start
	// (ES256, PS256 or EdDSA; signing.go).
	SigningAlg string `yaml:"signingAlg"`
	// DPoPNonce says which clients must send DPoP server nonces: fapi
	// ("" too), all or off (dpop.go).
	DPoPNonce string `yaml:"dpopNonce"`
	// SMTPURL and MailFrom turn on mail delivery through a relay
	// (mail.go); SMTPPassword comes from the environment only.
	SMTPURL      string `yaml:"smtpURL"`
	MailFrom     string `yaml:"mailFrom"`
	SMTPPassword string `yaml:"-"`
}

// DefaultStatic returns the defaults of CONTRACT section 2.
func DefaultStatic() Static {
	return Static{
		Listen:             ":8080",
		AdminListen:        "127.0.0.1:8081",
		Data:               "./obhub-data",
		UpstreamTimeout:    30 * time.Second,
		MaxBody:            1 << 20,
		LogLevel:           "info",
		LogFormat:          "text",
		AuditMode:          "written",
		AuditHash:          "sha256",
		AuditFlushInterval: audit.DefaultFlushEvery,
	}
}

// A Check is a test of the settings that this package cannot make
// itself (it belongs to an adapter, such as the signing algorithm's
// names): main passes it to ParseServe and Validate, so that it is made,
// and reported, with the others.
type Check func(*Static) error

// ParseServe parses the flags of `obhub serve` with env and file fallbacks,
// and validates the result. Past the flags themselves, every problem (of
// the file, of the environment, of a value) is reported together.
// getenv is os.Getenv in production.
func ParseServe(args []string, getenv func(string) string, stderr io.Writer, checks ...Check) (Static, error) {
	s := DefaultStatic()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var file string
	fs.StringVar(&file, "config", getenv("OBHUB_CONFIG"), "YAML file with node settings; flags and OBHUB_* variables win over it (env OBHUB_CONFIG)")
	fs.StringVar(&s.Listen, "listen", s.Listen, "public listener: APIs, sandbox, OAuth2, developer portal (env OBHUB_LISTEN)")
	fs.StringVar(&s.AdminListen, "admin-listen", s.AdminListen, "admin API, console and /metrics listener (env OBHUB_ADMIN_LISTEN)")
	fs.StringVar(&s.Data, "data", s.Data, "embedded store folder (env OBHUB_DATA)")
	fs.StringVar(&s.Issuer, "issuer", "", "OAuth2 issuer URL (env OBHUB_ISSUER; default http://<listen>)")
	fs.BoolVar(&s.Demo, "demo", false, "seed the demo alliance if the store is empty")
	fs.StringVar(&s.Etcd, "etcd", "", "etcd endpoints, comma separated (env OBHUB_ETCD)")
	fs.StringVar(&s.DB, "db", "", "postgres:// URL for OAuth state, consents, audit, and console and portal accounts (env OBHUB_DB)")
	fs.StringVar(&s.Redis, "redis", "", "redis:// URL for shared limit counters (env OBHUB_REDIS)")
	fs.StringVar(&s.OTLPEndpoint, "otlp-endpoint", "", "OTLP/HTTP traces endpoint, e.g. http://collector:4318; tracing is off without it (env OBHUB_OTLP_ENDPOINT)")
	fs.DurationVar(&s.UpstreamTimeout, "upstream-timeout", s.UpstreamTimeout, "default upstream response timeout (env OBHUB_UPSTREAM_TIMEOUT)")
	fs.Var(&s.MaxBody, "max-body", "default largest request body, e.g. 1MiB (env OBHUB_MAX_BODY)")
	fs.StringVar(&s.LogLevel, "log-level", s.LogLevel, "debug, info, warn or error (env OBHUB_LOG_LEVEL)")
	fs.StringVar(&s.LogFormat, "log-format", s.LogFormat, "text or json (env OBHUB_LOG_FORMAT)")
	fs.StringVar(&s.AuditMode, "audit-mode", s.AuditMode, "written (a response waits until its audit record is written where it outlives the process), strict (until it is on disk) or async (env OBHUB_AUDIT_MODE)")
	fs.DurationVar(&s.AuditFlushInterval, "audit-flush-interval", s.AuditFlushInterval, "written mode: how often, at most, audit records are flushed to disk behind the responses; a power cut loses about this much (env OBHUB_AUDIT_FLUSH_INTERVAL)")
	fs.StringVar(&s.AuditHash, "audit-hash", s.AuditHash, "sha256 or sm3: the audit chain's hash function, fixed when the ledger is created (env OBHUB_AUDIT_HASH)")
	fs.BoolVar(&s.AuditCaptureSandboxBodies, "audit-capture-sandbox-bodies", false, "store sandbox calls' request and response bodies, masked and cut to 4 KiB, in the audit ledger (env OBHUB_AUDIT_CAPTURE_SANDBOX_BODIES)")
	fs.StringVar(&s.TrustedProxies, "trusted-proxies", "", "comma-separated CIDRs of proxies whose X-Forwarded-For is trusted (env OBHUB_TRUSTED_PROXIES)")
	s.tlsFlags(fs)     // tls.go
	s.signingFlags(fs) // signing.go
	s.dpopFlags(fs)    // dpop.go
	s.mailFlags(fs)    // mail.go
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	if fs.NArg() > 0 {
		return s, fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	// The file first, so that env and flags override it.
	var errs []error
	if file != "" {
		fromFile, ferrs := readStaticFile(file)
		errs = append(errs, ferrs...)
		mergeFile(&s, fromFile, set)
	}
	envs := []struct {
		flag, env string
	}{
		{"listen", "OBHUB_LISTEN"}, {"admin-listen", "OBHUB_ADMIN_LISTEN"}, {"data", "OBHUB_DATA"},
		{"issuer", "OBHUB_ISSUER"}, {"etcd", "OBHUB_ETCD"}, {"db", "OBHUB_DB"}, {"redis", "OBHUB_REDIS"},
		{"upstream-timeout", "OBHUB_UPSTREAM_TIMEOUT"}, {"max-body", "OBHUB_MAX_BODY"},
		{"log-level", "OBHUB_LOG_LEVEL"}, {"log-format", "OBHUB_LOG_FORMAT"},
		{"audit-mode", "OBHUB_AUDIT_MODE"}, {"trusted-proxies", "OBHUB_TRUSTED_PROXIES"},
		{"audit-hash", "OBHUB_AUDIT_HASH"}, {"otlp-endpoint", "OBHUB_OTLP_ENDPOINT"},
		{"audit-flush-interval", "OBHUB_AUDIT_FLUSH_INTERVAL"},
		{"tls-cert", "OBHUB_TLS_CERT"}, {"tls-key", "OBHUB_TLS_KEY"}, {"tls-client-ca", "OBHUB_TLS_CLIENT_CA"},
		{"client-cert-header", "OBHUB_CLIENT_CERT_HEADER"},
		{"bank-client-cert", "OBHUB_BANK_CLIENT_CERT"}, {"bank-client-key", "OBHUB_BANK_CLIENT_KEY"}, {"bank-ca", "OBHUB_BANK_CA"},
		{"tls-client-crl", "OBHUB_TLS_CLIENT_CRL"}, {"tls-client-crl-strict", "OBHUB_TLS_CLIENT_CRL_STRICT"},
		{"audit-capture-sandbox-bodies", "OBHUB_AUDIT_CAPTURE_SANDBOX_BODIES"},
		{"signing-alg", "OBHUB_SIGNING_ALG"}, {"key-encryption-key-file", "OBHUB_KEY_ENCRYPTION_KEY_FILE"},
		{"dpop-nonce", "OBHUB_DPOP_NONCE"}, {"smtp-url", "OBHUB_SMTP_URL"}, {"mail-from", "OBHUB_MAIL_FROM"},
	}
	for _, e := range envs {
		v := getenv(e.env)
		if v == "" || set[e.flag] {
			continue
		}
		if err := fs.Set(e.flag, v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", e.env, err))
		}
	}
	s.AdminToken = getenv("OBHUB_ADMIN_TOKEN")
	s.KeyEncryptionKey = getenv(KeyEncryptionKeyEnv)
	s.SMTPPassword = getenv(SMTPPasswordEnv)
	if err := s.LoadKeyEncryptionKeyFile(); err != nil { // signing.go
		errs = append(errs, err)
	}
	errs = append(errs, s.Validate(checks...))
	return s, errors.Join(errs...)
}

// readStaticFile reads the settings file at path, setting by setting, and
// returns every problem it finds, each naming the file, its line and the
// setting as the user wrote it (not Go's names for them).
func readStaticFile(path string) (Static, []error) {
	var s Static
	b, err := os.ReadFile(path)
	if err != nil {
		return s, []error{fmt.Errorf("config file: %w", err)}
	}
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(b)).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return s, nil // empty
		}
		return s, []error{fmt.Errorf("%s: %w", path, err)}
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return s, []error{fmt.Errorf("%s: line %d: want settings as key: value lines", path, m.Line)}
	}
	fields := fileSettings(&s)
	seen := map[string]bool{}
	var errs []error
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		f, ok := fields[k.Value]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s: line %d: unknown setting %q", path, k.Line, k.Value))
		case seen[k.Value]:
			errs = append(errs, fmt.Errorf("%s: line %d: setting %q given twice", path, k.Line, k.Value))
		default:
			if err := v.Decode(f.Addr().Interface()); err != nil {
				errs = append(errs, fmt.Errorf("%s: line %d: %s: %s", path, v.Line, k.Value, settingError(err, f.Type())))
			}
		}
		seen[k.Value] = true
	}
	return s, errs
}

// fileSettings maps the file's keys to s's fields (their yaml tags; "-"
// marks a setting never read from the file).
func fileSettings(s *Static) map[string]reflect.Value {
	v := reflect.ValueOf(s).Elem()
	m := make(map[string]reflect.Value, v.NumField())
	for i := range v.NumField() {
		if key := v.Type().Field(i).Tag.Get("yaml"); key != "" && key != "-" {
			m[key] = v.Field(i)
		}
	}
	return m
}

// settingError says what a setting of type t wants, for a value the YAML
// decoder could not put in it (its own message names Go types). Errors of
// a type's own parser (ByteSize) are kept.
func settingError(err error, t reflect.Type) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err.Error()
	}
	switch {
	case t == reflect.TypeOf(time.Duration(0)):
		return "want a duration such as 30s or 5ms"
	case t.Kind() == reflect.Bool:
		return "want true or false"
	case t.Kind() == reflect.String:
		return "want a text value"
	}
	return "want a " + t.Kind().String()
}

// mergeFile copies the file's non-zero settings into s where no flag was
// given. Environment variables are applied afterwards and win.
func mergeFile(s *Static, f Static, set map[string]bool) {
	str := func(flagName string, dst *string, v string) {
		if v != "" && !set[flagName] {
			*dst = v
		}
	}
	str("listen", &s.Listen, f.Listen)
	str("admin-listen", &s.AdminListen, f.AdminListen)
	str("data", &s.Data, f.Data)
	str("issuer", &s.Issuer, f.Issuer)
	str("etcd", &s.Etcd, f.Etcd)
	str("db", &s.DB, f.DB)
	str("redis", &s.Redis, f.Redis)
	str("otlp-endpoint", &s.OTLPEndpoint, f.OTLPEndpoint)
	str("log-level", &s.LogLevel, f.LogLevel)
	str("log-format", &s.LogFormat, f.LogFormat)
	str("audit-mode", &s.AuditMode, f.AuditMode)
	str("audit-hash", &s.AuditHash, f.AuditHash)
	if f.AuditCaptureSandboxBodies && !set["audit-capture-sandbox-bodies"] {
		s.AuditCaptureSandboxBodies = true
	}
	str("trusted-proxies", &s.TrustedProxies, f.TrustedProxies)
	str("tls-cert", &s.TLSCert, f.TLSCert)
	str("tls-key", &s.TLSKey, f.TLSKey)
	str("tls-client-ca", &s.TLSClientCA, f.TLSClientCA)
	str("client-cert-header", &s.ClientCertHeader, f.ClientCertHeader)
	str("bank-client-cert", &s.BankClientCert, f.BankClientCert)
	str("bank-client-key", &s.BankClientKey, f.BankClientKey)
	str("bank-ca", &s.BankCA, f.BankCA)
	str("tls-client-crl", &s.TLSClientCRL, f.TLSClientCRL)
	if f.TLSClientCRLStrict && !set["tls-client-crl-strict"] {
		s.TLSClientCRLStrict = true
	}
	str("signing-alg", &s.SigningAlg, f.SigningAlg)
	str("key-encryption-key-file", &s.KeyEncryptionKeyFile, f.KeyEncryptionKeyFile)
	str("dpop-nonce", &s.DPoPNonce, f.DPoPNonce)
	str("smtp-url", &s.SMTPURL, f.SMTPURL)
	str("mail-from", &s.MailFrom, f.MailFrom)
	if f.UpstreamTimeout != 0 && !set["upstream-timeout"] {
		s.UpstreamTimeout = f.UpstreamTimeout
	}
	if f.AuditFlushInterval != 0 && !set["audit-flush-interval"] {
		s.AuditFlushInterval = f.AuditFlushInterval
	}
	if f.MaxBody != 0 && !set["max-body"] {
		s.MaxBody = f.MaxBody
	}
	if f.Demo && !set["demo"] {
		s.Demo = true
	}
}

// Validate checks the settings before anything starts (nothing is
// created on disk before it), with checks besides its own, and returns
// every problem found.
func (s *Static) Validate(checks ...Check) error {
	var errs []error
	for _, c := range checks {
		if err := c(s); err != nil {
			errs = append(errs, err)
		}
	}
	for _, l := range []struct{ name, addr string }{{"listen", s.Listen}, {"admin-listen", s.AdminListen}} {
		if _, _, err := net.SplitHostPort(l.addr); err != nil {
			errs = append(errs, fmt.Errorf("--%s %q: want host:port such as :8080 or 127.0.0.1:8081", l.name, l.addr))
		}
	}
	if s.Listen == s.AdminListen && !strings.HasSuffix(s.Listen, ":0") {
		errs = append(errs, errors.New("--listen and --admin-listen must differ: the admin API has its own listener"))
	}
	if s.Data == "" {
		errs = append(errs, errors.New("--data must name a folder"))
	}
	if s.Issuer != "" {
		if u, err := url.Parse(s.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			errs = append(errs, fmt.Errorf("--issuer %q: want an http(s) URL without query or fragment", s.Issuer))
		}
	}
	errs = append(errs, s.validateTLS()...)     // tls.go
	errs = append(errs, s.validateSigning()...) // signing.go
	errs = append(errs, s.validateDPoP()...)    // dpop.go
	errs = append(errs, s.validateMail()...)    // mail.go
	if s.AuditFlushInterval <= 0 || s.AuditFlushInterval > time.Second {
		errs = append(errs, errors.New("--audit-flush-interval must be positive and at most 1s"))
	}
	if s.UpstreamTimeout <= 0 {
		errs = append(errs, errors.New("--upstream-timeout must be positive"))
	}
	if s.MaxBody <= 0 {
		errs = append(errs, errors.New("--max-body must be positive"))
	}
	switch s.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("--log-level %q: want debug, info, warn or error", s.LogLevel))
	}
	if s.Etcd != "" {
		if _, err := ParseKeyEncryptionKey(s.KeyEncryptionKey); err != nil {
			errs = append(errs, fmt.Errorf("--etcd needs a key-encryption key shared by every node: %w", err))
		}
	}
	switch s.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("--log-format %q: want text or json", s.LogFormat))
	}
	if s.OTLPEndpoint != "" {
		if u, err := url.Parse(s.OTLPEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("--otlp-endpoint %q: want an http:// or https:// URL", s.OTLPEndpoint))
		}
	}
	if _, err := s.TrustedProxyPrefixes(); err != nil {
		errs = append(errs, err)
	}
	if _, err := audit.ParseMode(s.AuditMode); err != nil {
		errs = append(errs, fmt.Errorf("--audit-mode: %w", err))
	}
	switch s.AuditHash {
	case "", "sha256", "sm3":
	default:
		errs = append(errs, fmt.Errorf("--audit-hash %q: want sha256 or sm3", s.AuditHash))
	}
	return errors.Join(errs...)
}

// IssuerURL returns the issuer, defaulting to http://<listen> with an
// unspecified host shown as localhost.
func (s *Static) IssuerURL(listenAddr string) string {
	if s.Issuer != "" {
		return strings.TrimSuffix(s.Issuer, "/")
	}
	host, port, err := net.SplitHostPort(listenAddr)
	if err != nil {
		return "http://" + listenAddr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// ByteSize is a size in bytes that parses "1MiB", "512KiB", "1MB", "1048576".
type ByteSize int64

var byteUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
	{"B", 1},
}

// Set parses a size.
func (b *ByteSize) Set(s string) error {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return fmt.Errorf("invalid size %q: want a number with an optional unit such as 1MiB or 512KiB", s)
	}
	*b = ByteSize(n * mult)
	return nil
}

// String formats the size in the largest exact binary unit.
func (b ByteSize) String() string {
	switch n := int64(b); {
	case n != 0 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "GiB"
	case n != 0 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MiB"
	case n != 0 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "KiB"
	default:
		return strconv.FormatInt(n, 10)
	}
}

// UnmarshalYAML reads a size from the config file.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error { return b.Set(n.Value) }
