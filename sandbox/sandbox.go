// Package sandbox answers calls on /sandbox/{bank}{basePath}/… in place of
// the banks' core systems. The gateway routes, authenticates, authorises,
// limits, validates and audits a sandbox call exactly as a production one,
// then hands it here (gateway.Sandbox).
//
// Two kinds of answer:
//
//   - For the demo alliance's APIs (documents identical to those of
//     package demo), a stateful sandbox bank per sandbox app: accounts with
//     balances, payments that move money and appear in the transactions,
//     loan applications that change status. Reset restores the seed.
//   - For every other API, and for demo APIs called with a Prefer header,
//     a response generated from the OpenAPI document (openapi.Document.Sample):
//     the documented example, or data generated from the schema with
//     realistic rural-bank values (Namer), deterministic per app, operation
//     and parameters.
//
// State lives in memory, written through to a Store when one is
// configured (store.go): a restart keeps every app's bank.
package sandbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/demo"
	"github.com/obhub/obhub/openapi"
)

// Specs gives the stored OpenAPI document of an API (config.Store).
type Specs interface {
	APISpec(ctx context.Context, id string) ([]byte, error)
}

// Config configures a Sandbox.
type Config struct {
	Specs  Specs
	Clock  obhub.Clock
	Logger *slog.Logger
	// MaxApps bounds the stateful banks kept in memory; past it the least
	// recently used app's bank is dropped (and reseeded on its next call).
	// Default 10000.
	MaxApps int
	// Store keeps the banks' changes across restarts; nil keeps them in
	// memory only.
	Store Store
}

// Request is one authorised sandbox call. It has the layout of
// gateway.SandboxRequest, so cmd/obhub converts one into the other (the
// HTTP edges do not import each other).
type Request struct {
	API        catalog.API
	Operation  catalog.Operation
	PathParams map[string]string
	Method     string
	Path       string // below the bank: {basePath}/…
	Query      string // raw
	Header     http.Header
	Body       []byte
	ClientID   string
	Partner    string
	RequestID  string
	// Customer is the customer the call is made for — the token's sub
	// when it was issued on a customer's behalf (authorization code
	// grant), "<bank>:<login>" — or "" for the app itself (client
	// credentials). The stateful demo bank answers a customer's call
	// with that customer's accounts only (demo.CustomerHeader).
	Customer string
}

// Response is the sandbox's answer (Response).
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Sandbox answers sandbox calls; cmd/obhub wires it as the gateway's
// Sandbox.
type Sandbox struct {
	cfg Config
	log *slog.Logger

	docsMu sync.Mutex
	docs   map[string]*openapi.Document // by spec digest
	order  []string                     // digests, oldest first

	demoOnce sync.Once
	demoDocs map[string]string // spec digest → demo bank id

	banksMu sync.Mutex
	banks   map[string]*appBank // by client id
	tick    uint64
}

// maxDocs bounds the parsed documents kept.
const maxDocs = 64

// New returns a sandbox. It does no I/O.
func New(cfg Config) *Sandbox {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxApps <= 0 {
		cfg.MaxApps = 10_000
	}
	return &Sandbox{cfg: cfg, log: cfg.Logger, docs: map[string]*openapi.Document{}, banks: map[string]*appBank{}}
}

// Respond answers one sandbox call.
func (s *Sandbox) Respond(ctx context.Context, req Request) (Response, error) {
	prefer, err := ParsePrefer(req.Header.Values("Prefer"))
	if err != nil {
		return Response{}, err
	}
	if bank, ok := s.demoBank(ctx, req.API.SpecDigest); ok && prefer.none() {
		return s.stateful(ctx, bank, req)
	}
	doc, err := s.document(ctx, req.API.ID, req.API.SpecDigest)
	if err != nil {
		return Response{}, err
	}
	sample, err := doc.Sample(openapi.SampleRequest{
		Method: req.Method, Path: req.Operation.Path, Seed: Seed(req),
		Code: prefer.Code, Example: prefer.Example, Dynamic: prefer.Dynamic, Namer: Namer{},
	})
	if err != nil {
		if obhub.ErrorCode(err) == obhub.ENOTFOUND {
			return Response{}, preferError(err)
		}
		return Response{}, err
	}
	h := sample.Header.Clone()
	if sample.ContentType != "" {
		ct := sample.ContentType
		if strings.ContainsAny(ct, "*") {
			ct = "application/json"
		}
		h.Set("Content-Type", ct)
	}
	h.Set("X-Obhub-Sandbox", "generated")
	if req.Method == http.MethodHead {
		sample.Body = nil
	}
	return Response{Status: sample.Status, Header: h, Body: sample.Body}, nil
}

// Reset restores the app's stateful bank to the seed.
func (s *Sandbox) Reset(ctx context.Context, clientID string) error {
	// Holding the app's bank while the store forgets its changes keeps
	// every other call of the app waiting, so none loads them again.
	b := s.entry(clientID)
	b.mu.Lock()
	defer b.mu.Unlock()
	defer s.drop(clientID, b)
	if s.cfg.Store != nil {
		if err := s.cfg.Store.ResetChanges(ctx, clientID); err != nil {
			return obhub.Errorf(obhub.EUNAVAILABLE, "sandbox: the app's sandbox bank cannot be reset: %v", err)
		}
	}
	s.log.Info("sandbox: reset", "client_id", clientID)
	return nil
}

// Seed derives the generator's seed from the app, operation and
// parameters: path values and the query, sorted.
func Seed(req Request) uint64 {
	h := fnv.New64a()
	w := func(s string) { h.Write([]byte(s)); h.Write([]byte{0}) }
	w(req.ClientID)
	w(req.API.ID)
	w(req.Operation.Method + " " + req.Operation.Path)
	for _, k := range slices.Sorted(mapKeys(req.PathParams)) {
		w(k + "=" + req.PathParams[k])
	}
	if q, err := url.ParseQuery(req.Query); err == nil {
		for _, k := range slices.Sorted(mapKeys(q)) {
			w(k + "=" + strings.Join(q[k], ","))
		}
	} else {
		w(req.Query)
	}
	return h.Sum64()
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// document returns the parsed document of an API, cached by digest.
func (s *Sandbox) document(ctx context.Context, apiID, digest string) (*openapi.Document, error) {
	s.docsMu.Lock()
	d := s.docs[digest]
	s.docsMu.Unlock()
	if d != nil {
		return d, nil
	}
	if s.cfg.Specs == nil {
		return nil, obhub.Errorf(obhub.EUNAVAILABLE, "sandbox: no document store")
	}
	raw, err := s.cfg.Specs.APISpec(ctx, apiID)
	if err != nil {
		return nil, err
	}
	d, err = openapi.Load(ctx, raw)
	if err != nil {
		return nil, err
	}
	s.docsMu.Lock()
	defer s.docsMu.Unlock()
	if _, ok := s.docs[digest]; !ok {
		s.docs[digest] = d
		s.order = append(s.order, digest)
		for len(s.order) > maxDocs {
			delete(s.docs, s.order[0])
			s.order = s.order[1:]
		}
	}
	return d, nil
}

// demoBank reports whether the document with this digest is one of the
// demo alliance's, and of which bank.
func (s *Sandbox) demoBank(ctx context.Context, digest string) (string, bool) {
	s.demoOnce.Do(func() {
		s.demoDocs = map[string]string{}
		_ = fs.WalkDir(demo.Specs(), ".", func(name string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			raw, err := demo.Spec(name)
			if err != nil {
				return nil
			}
			doc, err := openapi.Import(context.WithoutCancel(ctx), raw)
			if err != nil {
				s.log.Error("sandbox: demo document does not import", "file", name, "err", err)
				return nil
			}
			sum := sha256.Sum256(doc.JSON)
			bank := demo.Qingshan
			if strings.HasPrefix(name, "hexi-") {
				bank = demo.Hexi
			}
			s.demoDocs[hex.EncodeToString(sum[:])] = bank
			return nil
		})
	})
	b, ok := s.demoDocs[digest]
	return b, ok
}

// stateful answers a demo API call from the app's sandbox bank.
func (s *Sandbox) stateful(ctx context.Context, bank string, req Request) (Response, error) {
	target := "/" + bank + req.Path
	if req.Query != "" {
		target += "?" + req.Query
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, "http://sandbox.invalid"+target, bytes.NewReader(req.Body))
	if err != nil {
		return Response{}, obhub.Errorf(obhub.EINVALID, "the request cannot be read")
	}
	hr.Header = req.Header.Clone()
	hr.Header.Set("X-Obhub-Client-Id", req.ClientID)
	hr.Header.Set("X-Obhub-Partner-Id", req.Partner)
	hr.Header.Set("X-Request-Id", req.RequestID)
	hr.Header.Del(demo.CustomerHeader) // never the caller's
	if req.Customer != "" {
		hr.Header.Set(demo.CustomerHeader, req.Customer)
	}
	rec, err := s.serve(ctx, req.ClientID, hr, req.Body)
	if err != nil {
		return Response{}, err
	}
	body := rec.body.Bytes()
	if rec.status >= 400 {
		body = bilingual(body)
	}
	if loc := rec.h.Get("Location"); loc != "" && strings.HasPrefix(loc, "/"+bank+"/") {
		rec.h.Set("Location", "/sandbox"+loc)
	}
	rec.h.Del("X-Demo-Seen-Client")
	rec.h.Set("X-Obhub-Sandbox", "stateful")
	if req.Method == http.MethodHead {
		body = nil
	}
	return Response{Status: rec.status, Header: rec.h, Body: body}, nil
}

// recorder is an in-memory http.ResponseWriter.
type recorder struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.h }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.body.Len()+len(b) > 8<<20 {
		return 0, http.ErrContentLength
	}
	return r.body.Write(b)
}

// bilingual adds a Chinese message (messageZh) and a hint to the demo
// bank's error bodies ({"code","message"}), so that developers read what
// to fix in either language.
func bilingual(body []byte) []byte {
	var e map[string]any
	if json.Unmarshal(body, &e) != nil {
		return body
	}
	code, _ := e["code"].(string)
	if zh, ok := errorsZh[code]; ok {
		e["messageZh"] = zh
	}
	b, err := json.Marshal(e)
	if err != nil {
		return body
	}
	return append(b, '\n')
}

// errorsZh are the Chinese messages of the sandbox bank's error codes.
var errorsZh = map[string]string{
	"INVALID_REQUEST":          "请求体不符合接口文档：请按 message 中的说明修改字段后重试。",
	"INVALID_AMOUNT":           "金额必须是人民币正数、保留两位小数的字符串，例如 \"1280.50\"，币种为 CNY。",
	"INVALID_IDEMPOTENCY_KEY":  "请提供 Idempotency-Key 请求头：1 至 64 位字母、数字或 ._:- 字符。",
	"INVALID_PARAMETER":        "查询参数取值无效：请按 message 中的范围或格式修改。",
	"DEBTOR_ACCOUNT_NOT_FOUND": "付款账户不存在：请先调用账户列表接口获取 accountId。",
	"ACCOUNT_NOT_TRANSFERABLE": "定期存款账户到期前不能对外付款，请换用活期或惠农卡账户。",
	"INSUFFICIENT_FUNDS":       "可用余额不足：请先查询余额，或调用 POST /sandbox/reset 恢复沙箱初始数据。",
	"IDEMPOTENCY_KEY_REUSED":   "该 Idempotency-Key 已用于另一笔不同的付款：新付款请使用新的键值。",
	"ACCOUNT_NOT_FOUND":        "账户不存在：请先调用账户列表接口获取 accountId。",
	"PAYMENT_NOT_FOUND":        "付款不存在：请使用创建付款时返回的 paymentId。",
	"APPLICATION_NOT_FOUND":    "贷款申请不存在：请使用提交申请时返回的 applicationId。",
	"PRODUCT_NOT_FOUND":        "贷款产品不存在：请先调用贷款产品列表接口获取 productId。",
	"AMOUNT_OUT_OF_RANGE":      "申请金额超出该贷款产品的额度范围。",
	"TERM_OUT_OF_RANGE":        "申请期限超出该贷款产品的期限范围。",
	"BRANCH_NOT_FOUND":         "网点不存在：请先调用网点列表接口获取 branchId。",
	"NOT_FOUND":                "沙箱银行没有该资源。",
	"METHOD_NOT_ALLOWED":       "该路径不支持此请求方法。",
}

// Prefer is what a Prefer header (RFC 7240) asks of the sandbox.
type Prefer struct {
	Code    int    // code=404: another documented response
	Example string // example=NAME: a named example
	Dynamic bool   // dynamic=true: generated data, not the examples
}

func (p Prefer) none() bool { return p == Prefer{} }

// ParsePrefer reads the preferences the sandbox knows from Prefer header
// values; others are ignored, as RFC 7240 asks. A malformed code is an
// EINVALID error that says how to write it.
func ParsePrefer(values []string) (Prefer, error) {
	var p Prefer
	for _, v := range values {
		for _, part := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' }) {
			k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
			k = strings.ToLower(strings.TrimSpace(k))
			val = strings.Trim(strings.TrimSpace(val), `"`)
			switch k {
			case "code":
				n, err := strconv.Atoi(val)
				if err != nil || n < 100 || n > 599 {
					return Prefer{}, obhub.Errorf(obhub.EINVALID,
						"Prefer: code=%q is not an HTTP status; write it like Prefer: code=404 (Prefer 请求头的 code 须为 100 至 599 的 HTTP 状态码，例如 Prefer: code=404)", clip(val))
				}
				p.Code = n
			case "example":
				p.Example = val
			case "dynamic":
				p.Dynamic = strings.EqualFold(val, "true") || val == ""
			}
		}
	}
	return p, nil
}

// preferError turns the generator's "not documented" into a 400 that says
// what the document offers, in English and Chinese.
func preferError(err error) error {
	return obhub.Errorf(obhub.EINVALID, "%s (沙箱无法满足 Prefer 请求头：接口文档中没有对应的响应或示例，请改用文档中列出的状态码或示例名)", obhub.ErrorMessage(err))
}

func clip(s string) string {
	if len(s) > 32 {
		return s[:32]
	}
	return s
}
