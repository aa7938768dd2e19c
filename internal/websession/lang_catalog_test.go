package websession_test

import (
	"net/http/httptest"
	"testing"

	"github.com/obhub/obhub/internal/websession"
)

var testMessages = websession.MergeMessages(
	map[string]map[string]string{
		websession.LangEN: {"hello": "Hello, %s", "only.en": "English only"},
		websession.LangZH: {"hello": "你好，%s"},
	},
	map[string]map[string]string{
		websession.LangEN: {"hello": "a later set does not override", "bye": "Bye"},
		websession.LangZH: {"bye": "再见"},
	},
)

type testCatalog struct{}

func (testCatalog) Text(l, key string) (string, bool) {
	s, ok := testMessages[l][key]
	return s, ok
}

type testLang = websession.Lang[testCatalog]

func TestLang(t *testing.T) {
	en, zh := testLang(websession.LangEN), testLang(websession.LangZH)
	for _, tt := range []struct{ got, want string }{
		{zh.T("hello", "李华"), "你好，李华"},
		{en.T("hello", "Li Hua"), "Hello, Li Hua"},
		{zh.T("bye"), "再见"},
		{zh.T("only.en"), "English only"}, // falls back to English
		{en.T("no.such.key"), "no.such.key"},
		{zh.HTML(), "zh-Hans"}, {en.HTML(), "en"},
		{zh.Name(), "简体中文"}, {en.Name(), "English"},
		{string(zh.Other()), websession.LangEN}, {string(en.Other()), websession.LangZH},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestSitePickLang(t *testing.T) {
	s := &websession.Site{Path: "/console/", LangCookie: "lang"}
	rec := httptest.NewRecorder()
	if l := s.PickLang(rec, httptest.NewRequest("GET", "/console/?lang=zh", nil)); l != websession.LangZH {
		t.Fatalf("?lang=zh chose %q", l)
	}
	c := cookieNamed(rec, "lang")
	if c == nil || c.Value != websession.LangZH || c.MaxAge != 365*24*3600 || c.Path != "/console/" {
		t.Errorf("an explicit choice is remembered for a year: cookie %+v", c)
	}
	rec = httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/console/", nil)
	r.Header.Set("Accept-Language", "zh-CN,zh;q=0.9")
	if l := s.PickLang(rec, r); l != websession.LangZH || len(rec.Result().Cookies()) != 0 {
		t.Errorf("Accept-Language: chose %q and set %v; want zh and no cookie", l, rec.Result().Cookies())
	}
}
