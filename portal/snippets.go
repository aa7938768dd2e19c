package portal

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"unicode/utf8"
)

// Getting-started snippets: for one app and one operation, the token
// request (client credentials, the secret read from the environment
// variable CLIENT_SECRET, never a real one) and the call, in curl, Go,
// Java and Python. For a call made as a customer (Consent), the token
// comes from the authorization code flow with PKCE instead, as
// docs/oauth.md describes it: verifier and S256 challenge, pushed
// authorization request, the authorize URL for the customer's browser,
// the code exchange, then the call; the redirect URI is read from the
// environment variable REDIRECT_URI. They are generated on the server
// with text/template from the same call the try-it console sends, and
// every value is quoted for its language by a function of this file (sh,
// goStr, javaStr, pyStr, urlq), never pasted raw.
//
// For an app whose tokens are DPoP-bound, every snippet also makes a key
// and sends a DPoP proof with every request, answering the hub's
// use_dpop_nonce once (templates curl.dpop, go.dpop, java.dpop, py.dpop).

// snippetInput is what a snippet shows.
type snippetInput struct {
	TokenURL string
	ClientID string
	Scope    string // space-separated
	Call     call
	// Consent: the call is made for a customer who consents, with a
	// token from the authorization code flow; PARURL and AuthorizeURL
	// are then its endpoints.
	Consent              bool
	PARURL, AuthorizeURL string
	// DPoP: the app's tokens are DPoP-bound (dpop_bound_access_tokens,
	// or fapi), so every token request and call needs a proof, which
	// every snippet then makes.
	DPoP bool
}

// snippet is one language's code, ready for a <pre>.
type snippet struct {
	ID, Lang, Code string
}

// snippetLangs are the languages, in the order they are shown.
var snippetLangs = []struct{ ID, Lang string }{
	{"curl", "curl"}, {"go", "Go"}, {"java", "Java"}, {"python", "Python"},
}

var snippetTemplates = template.Must(template.New("snippets").Funcs(template.FuncMap{
	"sh":      shQuote,
	"goStr":   strconv.Quote,
	"javaStr": javaQuote,
	"pyStr":   pyQuote,
	"lower":   strings.ToLower,
	"urlq":    url.QueryEscape,
	"dpopDoc": dpopDoc,
}).Parse(`
{{define "curl"}}# 1. An access token (client credentials). Set CLIENT_SECRET first;
#    the secret was shown once, when the app was created.{{template "curl.dpop" .}}
TOKEN=$({{if .DPoP}}dpop_curl POST {{sh .TokenURL}} "" -u {{sh .ClientID}}:"$CLIENT_SECRET" \
  -d grant_type=client_credentials -d scope={{sh .Scope}}{{else}}curl -s -u {{sh .ClientID}}:"$CLIENT_SECRET" \
  -d grant_type=client_credentials -d scope={{sh .Scope}} \
  {{sh .TokenURL}}{{end}} | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
case $TOKEN in *'"error"'*) echo "token request failed: $TOKEN" >&2 ;; esac

# 2. The call.
{{template "curl.call" .}}
{{end}}

{{define "curl.call"}}{{if .DPoP}}dpop_curl {{.Call.Method}} {{sh .Call.URL}} "$TOKEN" -i{{else}}curl -i -X {{.Call.Method}} {{sh .Call.URL}} \
  -H "Authorization: Bearer $TOKEN"{{end}}{{range .Call.Headers}} \
  -H {{sh (print .Name ": " .Value)}}{{end}}{{if .Call.Body}} \
  -H {{sh (print "Content-Type: " .Call.BodyType)}} \
  --data-binary {{sh .Call.Body}}{{end}}{{end}}

{{define "curl.dpop"}}{{if .DPoP}}
#
# The app's tokens are DPoP-bound (RFC 9449): a key of yours (made here
# with openssl), and a proof signed with it on every request, with the
# hub's nonce when the hub asks for one (docs/oauth.md, "DPoP: binding
# tokens to your key"). Needs openssl and xxd.
openssl ecparam -name prime256v1 -genkey -noout -out dpop-key.pem
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
POINT=$(openssl ec -in dpop-key.pem -pubout -outform DER 2>/dev/null | tail -c 64 | xxd -p -c 64)
JWK_X=$(printf %s "$POINT" | cut -c1-64 | xxd -r -p | b64url)
JWK_Y=$(printf %s "$POINT" | cut -c65-128 | xxd -r -p | b64url)
DPOP_NONCE=
# proof METHOD URL [ACCESS_TOKEN]: a proof for one request.
proof() {
  nonce= ath=
  [ -n "$DPOP_NONCE" ] && nonce=",\"nonce\":\"$DPOP_NONCE\""
  [ -n "$3" ] && ath=",\"ath\":\"$(printf %s "$3" | openssl dgst -sha256 -binary | b64url)\""
  h=$(printf '{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"%s","y":"%s"}}' "$JWK_X" "$JWK_Y" | b64url)
  c=$(printf '{"jti":"%s","htm":"%s","htu":"%s","iat":%s%s%s}' "$(openssl rand -hex 16)" "$1" "${2%%\?*}" "$(date +%s)" "$nonce" "$ath" | b64url)
  # openssl signs in DER; JWS wants r and s, 32 bytes each.
  sig=$(printf %s "$h.$c" | openssl dgst -sha256 -sign dpop-key.pem | openssl asn1parse -inform DER |
    sed -n 's/.*INTEGER *://p' | while read -r n; do printf '%64s' "$(printf %s "$n" | sed 's/^0*//')" | tr ' ' 0; done |
    xxd -r -p | b64url)
  printf %s "$h.$c.$sig"
}
# dpop_curl METHOD URL ACCESS_TOKEN [CURL ARGUMENTS...]: curl with a proof
# (and, with a token, the token in the DPoP scheme); once more with the
# hub's nonce when it asks for one (use_dpop_nonce).
dpop_curl() {
  m=$1 u=$2 t=$3
  shift 3
  for try in 1 2; do
    out=$(curl -s -D dpop-headers.txt -X "$m" -H "DPoP: $(proof "$m" "$u" "$t")" ${t:+-H "Authorization: DPoP $t"} "$@" "$u")
    n=$(sed -n 's/^[Dd][Pp][Oo][Pp]-[Nn][Oo][Nn][Cc][Ee]: *\([^[:space:]]*\).*/\1/p' dpop-headers.txt)
    [ -n "$n" ] && DPOP_NONCE=$n
    case "$out$(cat dpop-headers.txt)" in *use_dpop_nonce*) [ "$try" = 1 ] && continue ;; esac
    break
  done
  printf '%s\n' "$out"
}{{end}}{{end}}

{{define "go"}}// Command call gets an access token and calls the API once.
// Set CLIENT_SECRET first: the secret was shown once, when the app was
// created.{{if .DPoP}}{{dpopDoc "//"}}{{end}}
package main

import (
{{- if .DPoP}}
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
{{- end}}
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"strings"
{{- if .DPoP}}
	"time"
{{- end}}
)

func main() {
	// 1. An access token (client credentials).
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {{"{"}}{{goStr .Scope}}{{"}"}}}
	req, err := http.NewRequest("POST", {{goStr .TokenURL}}, strings.NewReader(form.Encode()))
	if err != nil {
		log.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth({{goStr .ClientID}}, os.Getenv("CLIENT_SECRET"))
	resp, err := {{template "go.send" .}}(req{{if .DPoP}}, ""{{end}})
	if err != nil {
		log.Fatal(err)
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		log.Fatal(err)
	}
	var tok struct {
		AccessToken string ` + "`json:\"access_token\"`" + `
	}
	if err := json.Unmarshal(answer, &tok); err != nil || tok.AccessToken == "" {
		// The answer says why: invalid_client, invalid_scope, ...
		log.Fatalf("token request failed: %s %s", resp.Status, answer)
	}

	// 2. The call.
	var body io.Reader{{if .Call.Body}}
	body = strings.NewReader({{goStr .Call.Body}}){{end}}
	req, err = http.NewRequest({{goStr .Call.Method}}, {{goStr .Call.URL}}, body)
	if err != nil {
		log.Fatal(err)
	}
{{- if not .DPoP}}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
{{- end}}{{range .Call.Headers}}
	req.Header.Set({{goStr .Name}}, {{goStr .Value}}){{end}}{{if .Call.Body}}
	req.Header.Set("Content-Type", {{goStr .Call.BodyType}}){{end}}
	resp, err = {{template "go.send" .}}(req{{if .DPoP}}, tok.AccessToken{{end}})
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Status)
	fmt.Println(string(out))
}
{{- if .DPoP}}
{{template "go.dpop" .}}
{{- end}}
{{end}}

{{define "go.send"}}{{if .DPoP}}dpopDo{{else}}http.DefaultClient.Do{{end}}{{end}}

{{define "go.dpop"}}
// dpopKey is the key the app's tokens are bound to. Keep it as long as the
// tokens it got: here, one run.
var dpopKey = newDPoPKey()

// dpopNonce is the last DPoP-Nonce the hub sent; proofs carry it.
var dpopNonce string

func newDPoPKey() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	return k
}

// dpopDo sends req with a DPoP proof made for it and, for an API call, the
// access token in the DPoP scheme. When the hub asks for its nonce
// (use_dpop_nonce), it sends the request once more with a new proof that
// carries it.
func dpopDo(req *http.Request, token string) (*http.Response, error) {
	htu, _, _ := strings.Cut(req.URL.String(), "?")
	for try := 0; ; try++ {
		if token != "" {
			req.Header.Set("Authorization", "DPoP "+token)
		}
		req.Header.Set("DPoP", dpopProof(req.Method, htu, token))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		if n := resp.Header.Get("DPoP-Nonce"); n != "" {
			dpopNonce = n
		}
		if try > 0 || !nonceAsked(resp) {
			return resp, nil
		}
		resp.Body.Close()
		if req.GetBody != nil {
			if req.Body, err = req.GetBody(); err != nil {
				return nil, err
			}
		}
	}
}

// nonceAsked reports whether resp refuses a proof for lacking the hub's
// nonce.
func nonceAsked(resp *http.Response) bool {
	if strings.Contains(resp.Header.Get("WWW-Authenticate"), "use_dpop_nonce") {
		return true
	}
	if resp.StatusCode != http.StatusBadRequest {
		return false
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(b))
	var e struct {
		Error string ` + "`json:\"error\"`" + `
	}
	return json.Unmarshal(b, &e) == nil && e.Error == "use_dpop_nonce"
}

// dpopProof is a proof for one request (a JWT signed with dpopKey): its
// method and its URL without the query, and for an API call the access
// token's hash.
func dpopProof(method, htu, token string) string {
	b64 := base64.RawURLEncoding.EncodeToString
	pub, err := dpopKey.PublicKey.ECDH()
	if err != nil {
		log.Fatal(err)
	}
	point := pub.Bytes() // 0x04, then x and y
	header, _ := json.Marshal(map[string]any{"typ": "dpop+jwt", "alg": "ES256",
		"jwk": map[string]string{"kty": "EC", "crv": "P-256", "x": b64(point[1:33]), "y": b64(point[33:])}})
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		log.Fatal(err)
	}
	claims := map[string]any{"jti": b64(jti), "htm": method, "htu": htu, "iat": time.Now().Unix()}
	if dpopNonce != "" {
		claims["nonce"] = dpopNonce
	}
	if token != "" {
		sum := sha256.Sum256([]byte(token))
		claims["ath"] = b64(sum[:])
	}
	payload, _ := json.Marshal(claims)
	signingInput := b64(header) + "." + b64(payload)
	digest := sha256.Sum256([]byte(signingInput))
	r, s, err := ecdsa.Sign(rand.Reader, dpopKey, digest[:])
	if err != nil {
		log.Fatal(err)
	}
	sig := append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	return signingInput + "." + b64(sig)
}{{end}}

{{define "java.send"}}{{if .DPoP}}send{{else}}http.send{{end}}{{end}}

{{define "java.dpop"}}
    // The key the app's tokens are bound to. Keep it as long as the tokens
    // it got: here, one run.
    static final KeyPair dpopKey = newDPoPKey();
    static final HttpClient http = HttpClient.newHttpClient();
    // The last DPoP-Nonce the hub sent; proofs carry it.
    static String dpopNonce = "";

    static KeyPair newDPoPKey() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"));
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    static String b64url(byte[] b) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    // coordinate is a coordinate of the public key as 32 big-endian bytes.
    static byte[] coordinate(BigInteger v) {
        byte[] b = v.toByteArray();
        byte[] out = new byte[32];
        int n = Math.min(b.length, 32);
        System.arraycopy(b, b.length - n, out, 32 - n, n);
        return out;
    }

    // dpopProof is a proof for one request (a JWT signed with dpopKey): its
    // method and its URL without the query, and for an API call the access
    // token's hash.
    static String dpopProof(String method, URI uri, String token) throws Exception {
        ECPoint w = ((ECPublicKey) dpopKey.getPublic()).getW();
        String header = "{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\",\"jwk\":{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\""
            + b64url(coordinate(w.getAffineX())) + "\",\"y\":\"" + b64url(coordinate(w.getAffineY())) + "\"}}";
        byte[] jti = new byte[16];
        new SecureRandom().nextBytes(jti);
        String htu = uri.toString().split("[?#]", 2)[0];
        String claims = "{\"jti\":\"" + b64url(jti) + "\",\"htm\":\"" + method + "\",\"htu\":\"" + htu
            + "\",\"iat\":" + System.currentTimeMillis() / 1000
            + (dpopNonce.isEmpty() ? "" : ",\"nonce\":\"" + dpopNonce + "\"")
            + (token == null ? "" : ",\"ath\":\"" + b64url(MessageDigest.getInstance("SHA-256")
                .digest(token.getBytes(StandardCharsets.US_ASCII))) + "\"")
            + "}";
        String input = b64url(header.getBytes(StandardCharsets.UTF_8)) + "."
            + b64url(claims.getBytes(StandardCharsets.UTF_8));
        Signature signer = Signature.getInstance("SHA256withECDSAinP1363Format"); // r and s, as JWS wants
        signer.initSign(dpopKey.getPrivate());
        signer.update(input.getBytes(StandardCharsets.US_ASCII));
        return input + "." + b64url(signer.sign());
    }

    // send sends the request with a proof made for it and, for an API call
    // (token not null), the access token in the DPoP scheme. When the hub
    // asks for its nonce (use_dpop_nonce), it sends the request once more
    // with a new proof that carries it.
    static HttpResponse<String> send(HttpRequest.Builder request, String token) throws Exception {
        HttpRequest plain = request.copy().build();
        for (int attempt = 0; ; attempt++) {
            HttpRequest.Builder b = request.copy().header("DPoP", dpopProof(plain.method(), plain.uri(), token));
            if (token != null) {
                b.header("Authorization", "DPoP " + token);
            }
            HttpResponse<String> response = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
            response.headers().firstValue("DPoP-Nonce").ifPresent(n -> dpopNonce = n);
            boolean nonceAsked = response.headers().firstValue("WWW-Authenticate").orElse("").contains("use_dpop_nonce")
                || (response.statusCode() == 400 && response.body().contains("\"use_dpop_nonce\""));
            if (attempt > 0 || !nonceAsked) {
                return response;
            }
        }
    }{{end}}

{{define "py.post"}}{{if .DPoP}}dpop_request(
    "POST",{{else}}requests.post({{end}}{{end}}

{{define "py.dpop"}}
# The key the app's tokens are bound to. Keep it as long as the tokens it
# got: here, one run.
dpop_key = ec.generate_private_key(ec.SECP256R1())
# The last DPoP-Nonce the hub sent; proofs carry it.
dpop_nonce = ""


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode("ascii")


def dpop_proof(method, url, token=None):
    """A proof for one request (a JWT signed with dpop_key): its method and
    its URL without the query, and for an API call the access token's hash."""
    numbers = dpop_key.public_key().public_numbers()
    jwk = {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url(numbers.x.to_bytes(32, "big")),
        "y": b64url(numbers.y.to_bytes(32, "big")),
    }
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}
    claims = {"jti": secrets.token_urlsafe(16), "htm": method, "htu": url.split("?", 1)[0], "iat": int(time.time())}
    if dpop_nonce:
        claims["nonce"] = dpop_nonce
    if token:
        claims["ath"] = b64url(hashlib.sha256(token.encode("ascii")).digest())
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    r, s = decode_dss_signature(dpop_key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256())))
    return signing_input + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def dpop_request(method, url, token=None, headers=None, **kwargs):
    """Sends a request with a proof made for it and, for an API call, the
    access token in the DPoP scheme. When the hub asks for its nonce
    (use_dpop_nonce), sends it once more with a new proof that carries it."""
    global dpop_nonce
    for attempt in (1, 2):
        sent = dict(headers or {})
        sent["DPoP"] = dpop_proof(method, url, token)
        if token:
            sent["Authorization"] = "DPoP " + token
        response = requests.request(method, url, headers=sent, **kwargs)
        dpop_nonce = response.headers.get("DPoP-Nonce", dpop_nonce)
        asked = "use_dpop_nonce" in response.headers.get("WWW-Authenticate", "") or (
            response.status_code == 400 and '"use_dpop_nonce"' in response.text
        )
        if attempt == 2 or not asked:
            return response
{{end}}

{{define "java"}}// Call.java: gets an access token and calls the API once (Java 11+).
// Set CLIENT_SECRET first: the secret was shown once, when the app was
// created.{{if .DPoP}}{{dpopDoc "//"}}{{end}}
{{- if .DPoP}}
import java.math.BigInteger;{{end}}
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
{{- if .DPoP}}
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.ECPoint;{{end}}
import java.util.Base64;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public class Call {
{{- if .DPoP}}{{template "java.dpop" .}}
{{end}}
    public static void main(String[] args) throws Exception {
{{- if not .DPoP}}
        HttpClient http = HttpClient.newHttpClient();
{{end}}
        // 1. An access token (client credentials).
        String basic = Base64.getEncoder().encodeToString(
            ({{javaStr .ClientID}} + ":" + System.getenv("CLIENT_SECRET")).getBytes(StandardCharsets.UTF_8));
        String form = "grant_type=client_credentials&scope="
            + URLEncoder.encode({{javaStr .Scope}}, StandardCharsets.UTF_8);
        HttpRequest{{if .DPoP}}.Builder{{end}} tokenRequest = HttpRequest.newBuilder(URI.create({{javaStr .TokenURL}}))
            .header("Authorization", "Basic " + basic)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .POST(HttpRequest.BodyPublishers.ofString(form)){{if not .DPoP}}
            .build(){{end}};
        String tokenJson = {{template "java.send" .}}(tokenRequest{{if .DPoP}}, null{{else}}, HttpResponse.BodyHandlers.ofString(){{end}}).body();
        Matcher m = Pattern.compile("\"access_token\"\\s*:\\s*\"([^\"]+)\"").matcher(tokenJson);
        if (!m.find()) {
            throw new IllegalStateException("token request failed: " + tokenJson);
        }
        String token = m.group(1);

        // 2. The call.
        {{template "java.call" .}}
    }
}
{{end}}

{{define "java.call"}}HttpRequest{{if .DPoP}}.Builder{{end}} call = HttpRequest.newBuilder(URI.create({{javaStr .Call.URL}})){{if not .DPoP}}
            .header("Authorization", "Bearer " + token){{end}}{{range .Call.Headers}}
            .header({{javaStr .Name}}, {{javaStr .Value}}){{end}}{{if .Call.Body}}
            .header("Content-Type", {{javaStr .Call.BodyType}})
            .method({{javaStr .Call.Method}}, HttpRequest.BodyPublishers.ofString({{javaStr .Call.Body}})){{else}}
            .method({{javaStr .Call.Method}}, HttpRequest.BodyPublishers.noBody()){{end}}{{if not .DPoP}}
            .build(){{end}};
        HttpResponse<String> response = {{template "java.send" .}}(call{{if .DPoP}}, token{{else}}, HttpResponse.BodyHandlers.ofString(){{end}});
        System.out.println(response.statusCode());
        System.out.println(response.body());{{end}}

{{define "python"}}# call.py: gets an access token and calls the API once.
# pip install requests{{if .DPoP}} cryptography{{end}}; set CLIENT_SECRET first: the secret was shown
# once, when the app was created.{{if .DPoP}}{{dpopDoc "#"}}{{end}}
{{- if .DPoP}}
import base64
import hashlib
import json{{end}}
import os
{{- if .DPoP}}
import secrets
import time{{end}}

import requests
{{- if .DPoP}}
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
{{template "py.dpop" .}}{{end}}

# 1. An access token (client credentials).
token = {{template "py.post" .}}
    {{pyStr .TokenURL}},
    auth=({{pyStr .ClientID}}, os.environ["CLIENT_SECRET"]),
    data={"grant_type": "client_credentials", "scope": {{pyStr .Scope}}},
    timeout=30,
)
if not token.ok:  # the answer says why: invalid_client, invalid_scope, ...
    raise SystemExit("token request failed: %d %s" % (token.status_code, token.text))
access_token = token.json()["access_token"]

# 2. The call.
{{template "python.call" .}}
{{end}}

{{define "python.call"}}headers = {{if .DPoP}}{}{{else}}{"Authorization": "Bearer " + access_token}{{end}}{{range .Call.Headers}}
headers[{{pyStr .Name}}] = {{pyStr .Value}}{{end}}{{if .Call.Body}}
headers["Content-Type"] = {{pyStr .Call.BodyType}}{{end}}
response = {{if .DPoP}}dpop_request{{else}}requests.request{{end}}(
    {{pyStr .Call.Method}},
    {{pyStr .Call.URL}},{{if .DPoP}}
    token=access_token,{{end}}
    headers=headers,{{if .Call.Body}}
    data={{pyStr .Call.Body}}.encode("utf-8"),{{end}}
    timeout=30,
)
print(response.status_code)
print(response.text){{end}}

{{define "curl.consent"}}# A token for a customer: the authorization code flow with PKCE; the
# customer signs in and allows in their browser. Set CLIENT_SECRET (the
# secret was shown once, when the app was created) and REDIRECT_URI (one
# of the app's redirect URIs, exactly as registered).{{if .DPoP}}{{template "curl.dpop" .}}{{else}}
# Apps marked fapi or with DPoP-bound tokens must also send DPoP proofs:
# see docs/oauth.md, "DPoP: binding tokens to your key".{{end}}

# 1. A PKCE verifier, its S256 challenge, and a state.
VERIFIER=$(openssl rand -base64 48 | tr -d '\n=' | tr '+/' '-_')
CHALLENGE=$(printf '%s' "$VERIFIER" | openssl dgst -sha256 -binary | openssl base64 -A | tr -d '=' | tr '+/' '-_')
STATE=$(openssl rand -hex 16)

# 2. Push the authorization request (PAR). Without a request_uri in the
#    answer (an app without the authorization_code grant, a redirect URI
#    not registered…) stop here: the answer says why. (No exit: that
#    would close the terminal the commands were pasted into.)
PAR=$({{if .DPoP}}dpop_curl POST {{sh .PARURL}} ""{{else}}curl -s{{end}} -u {{sh .ClientID}}:"$CLIENT_SECRET" \
  -d response_type=code --data-urlencode client_id={{sh .ClientID}} \
  --data-urlencode redirect_uri="$REDIRECT_URI" --data-urlencode scope={{sh .Scope}} \
  -d code_challenge="$CHALLENGE" -d code_challenge_method=S256 -d state="$STATE"{{if not .DPoP}} \
  {{sh .PARURL}}{{end}})
REQUEST_URI=$(printf '%s' "$PAR" | sed -nE 's/.*"request_uri":"([^"]+)".*/\1/p')
if [ -z "$REQUEST_URI" ]; then
  echo "pushed authorization request failed: $PAR" >&2
else

# 3. Send the customer's browser to this URL; they sign in and allow.
echo {{sh (print .AuthorizeURL "?client_id=" (urlq .ClientID) "&request_uri=")}}"$REQUEST_URI"

# 4. The browser comes back to REDIRECT_URI?code=...&state=...&iss=...
#    Check that state is $STATE, then paste the code: it works once,
#    for 60 seconds.
printf 'code: '; read -r CODE
TOKEN=$({{if .DPoP}}dpop_curl POST {{sh .TokenURL}} ""{{else}}curl -s{{end}} -u {{sh .ClientID}}:"$CLIENT_SECRET" \
  -d grant_type=authorization_code --data-urlencode code="$CODE" \
  --data-urlencode redirect_uri="$REDIRECT_URI" -d code_verifier="$VERIFIER"{{if not .DPoP}} \
  {{sh .TokenURL}}{{end}} | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
case $TOKEN in *'"error"'*) echo "token request failed: $TOKEN" >&2 ;; esac

# 5. The call, as the customer.
{{template "curl.call" .}}
fi
{{end}}

{{define "go.consent"}}// Command call gets a customer's consent (authorization code with PKCE)
// and calls the API once on their behalf.
// Set CLIENT_SECRET (the secret was shown once, when the app was
// created) and REDIRECT_URI (one of the app's redirect URIs, exactly as
// registered).{{if .DPoP}}{{dpopDoc "//"}}{{else}} Apps marked fapi or with DPoP-bound tokens must also send
// DPoP proofs: see docs/oauth.md, "DPoP: binding tokens to your key".{{end}}
package main

import (
	"bufio"
{{- if .DPoP}}
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
{{- end}}
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"strings"
{{- if .DPoP}}
	"time"
{{- end}}
)

const (
	clientID = {{goStr .ClientID}}
	scope    = {{goStr .Scope}}
)

// post sends form to endpoint with the app's credentials and decodes the
// JSON answer into v.
func post(endpoint string, form url.Values, v any) {
	req, err := http.NewRequest("POST", endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		log.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, os.Getenv("CLIENT_SECRET"))
	resp, err := {{template "go.send" .}}(req{{if .DPoP}}, ""{{end}})
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		log.Fatalf("%s: %s %s", endpoint, resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		log.Fatal(err)
	}
}

// random returns n random bytes, base64url-encoded.
func random(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		log.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func main() {
	redirectURI := os.Getenv("REDIRECT_URI")

	// 1. A PKCE verifier, its S256 challenge, and a state.
	verifier := random(32)
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	state := random(16)

	// 2. Push the authorization request (PAR).
	var par struct {
		RequestURI string ` + "`json:\"request_uri\"`" + `
	}
	post({{goStr .PARURL}}, url.Values{
		"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirectURI}, "scope": {scope},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "state": {state},
	}, &par)

	// 3. Send the customer's browser to this URL; they sign in and allow.
	fmt.Println("Open:", {{goStr .AuthorizeURL}}+"?"+url.Values{"client_id": {clientID}, "request_uri": {par.RequestURI}}.Encode())

	// 4. The browser comes back to REDIRECT_URI?code=...&state=...&iss=...:
	// paste that URL. The code works once, for 60 seconds.
	fmt.Print("Redirect URL: ")
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && line == "" {
		log.Fatal(err)
	}
	back, err := url.Parse(strings.TrimSpace(line))
	if err != nil {
		log.Fatal(err)
	}
	q := back.Query()
	if e := q.Get("error"); e != "" {
		log.Fatalf("authorization refused: %s %s", e, q.Get("error_description"))
	}
	if q.Get("state") != state {
		log.Fatal("the state does not match: not this program's request")
	}
	var tok struct {
		AccessToken string ` + "`json:\"access_token\"`" + `
	}
	post({{goStr .TokenURL}}, url.Values{
		"grant_type": {"authorization_code"}, "code": {q.Get("code")},
		"redirect_uri": {redirectURI}, "code_verifier": {verifier},
	}, &tok)

	// 5. The call, as the customer.
	var body io.Reader{{if .Call.Body}}
	body = strings.NewReader({{goStr .Call.Body}}){{end}}
	req, err := http.NewRequest({{goStr .Call.Method}}, {{goStr .Call.URL}}, body)
	if err != nil {
		log.Fatal(err)
	}
{{- if not .DPoP}}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
{{- end}}{{range .Call.Headers}}
	req.Header.Set({{goStr .Name}}, {{goStr .Value}}){{end}}{{if .Call.Body}}
	req.Header.Set("Content-Type", {{goStr .Call.BodyType}}){{end}}
	resp, err := {{template "go.send" .}}(req{{if .DPoP}}, tok.AccessToken{{end}})
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Status)
	fmt.Println(string(out))
}
{{- if .DPoP}}
{{template "go.dpop" .}}
{{- end}}
{{end}}

{{define "java.consent"}}// Call.java: gets a customer's consent (authorization code with PKCE)
// and calls the API once on their behalf (Java 11+).
// Set CLIENT_SECRET (the secret was shown once, when the app was
// created) and REDIRECT_URI (one of the app's redirect URIs, exactly as
// registered).{{if .DPoP}}{{dpopDoc "//"}}{{else}} Apps marked fapi or with DPoP-bound tokens must also send
// DPoP proofs: see docs/oauth.md, "DPoP: binding tokens to your key".{{end}}
import java.io.BufferedReader;
import java.io.InputStreamReader;
{{- if .DPoP}}
import java.math.BigInteger;{{end}}
import java.net.URI;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
{{- if .DPoP}}
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;{{end}}
import java.security.MessageDigest;
import java.security.SecureRandom;
{{- if .DPoP}}
import java.security.Signature;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.ECPoint;{{end}}
import java.util.Base64;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public class Call {
    static final String CLIENT_ID = {{javaStr .ClientID}};
{{- if .DPoP}}{{template "java.dpop" .}}{{else}}
    static final HttpClient http = HttpClient.newHttpClient();{{end}}

    static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    // post sends a form to endpoint with the app's credentials and returns
    // the field of its JSON answer.
    static String post(String endpoint, String form, String field) throws Exception {
        String basic = Base64.getEncoder().encodeToString(
            (CLIENT_ID + ":" + System.getenv("CLIENT_SECRET")).getBytes(StandardCharsets.UTF_8));
        HttpRequest{{if .DPoP}}.Builder{{end}} request = HttpRequest.newBuilder(URI.create(endpoint))
            .header("Authorization", "Basic " + basic)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .POST(HttpRequest.BodyPublishers.ofString(form)){{if not .DPoP}}
            .build(){{end}};
        String json = {{template "java.send" .}}(request{{if .DPoP}}, null{{else}}, HttpResponse.BodyHandlers.ofString(){{end}}).body();
        Matcher m = Pattern.compile("\"" + field + "\"\\s*:\\s*\"([^\"]+)\"").matcher(json);
        if (!m.find()) {
            throw new IllegalStateException(endpoint + " failed: " + json);
        }
        return m.group(1);
    }

    // param returns the query parameter name of a redirect URL ("" if absent).
    static String param(URI uri, String name) {
        String query = uri.getRawQuery();
        if (query != null) {
            for (String kv : query.split("&")) {
                int i = kv.indexOf('=');
                if (i > 0 && kv.substring(0, i).equals(name)) {
                    return URLDecoder.decode(kv.substring(i + 1), StandardCharsets.UTF_8);
                }
            }
        }
        return "";
    }

    public static void main(String[] args) throws Exception {
        String redirectUri = System.getenv("REDIRECT_URI");
        SecureRandom random = new SecureRandom();
        Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();

        // 1. A PKCE verifier, its S256 challenge, and a state.
        byte[] b = new byte[32];
        random.nextBytes(b);
        String verifier = b64.encodeToString(b);
        String challenge = b64.encodeToString(
            MessageDigest.getInstance("SHA-256").digest(verifier.getBytes(StandardCharsets.US_ASCII)));
        random.nextBytes(b);
        String state = b64.encodeToString(b);

        // 2. Push the authorization request (PAR).
        String requestUri = post({{javaStr .PARURL}},
            "response_type=code&client_id=" + enc(CLIENT_ID) + "&redirect_uri=" + enc(redirectUri)
            + "&scope=" + enc({{javaStr .Scope}}) + "&code_challenge=" + challenge
            + "&code_challenge_method=S256&state=" + state, "request_uri");

        // 3. Send the customer's browser to this URL; they sign in and allow.
        System.out.println("Open: " + {{javaStr .AuthorizeURL}}
            + "?client_id=" + enc(CLIENT_ID) + "&request_uri=" + enc(requestUri));

        // 4. The browser comes back to REDIRECT_URI?code=...&state=...&iss=...:
        // paste that URL. The code works once, for 60 seconds.
        System.out.print("Redirect URL: ");
        String line = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
        URI back = URI.create(line == null ? "" : line.trim());
        if (!param(back, "error").isEmpty()) {
            throw new IllegalStateException("authorization refused: " + param(back, "error"));
        }
        if (!param(back, "state").equals(state)) {
            throw new IllegalStateException("the state does not match: not this program's request");
        }
        String token = post({{javaStr .TokenURL}},
            "grant_type=authorization_code&code=" + enc(param(back, "code"))
            + "&redirect_uri=" + enc(redirectUri) + "&code_verifier=" + verifier, "access_token");

        // 5. The call, as the customer.
        {{template "java.call" .}}
    }
}
{{end}}

{{define "python.consent"}}# call.py: gets a customer's consent (authorization code with PKCE) and
# calls the API once on their behalf.
# pip install requests{{if .DPoP}} cryptography{{end}}; set CLIENT_SECRET (the secret was shown once,
# when the app was created) and REDIRECT_URI (one of the app's redirect
# URIs, exactly as registered).{{if .DPoP}}{{dpopDoc "#"}}{{else}} Apps marked fapi or with DPoP-bound
# tokens must also send DPoP proofs: see docs/oauth.md, "DPoP: binding
# tokens to your key".{{end}}
import base64
import hashlib
{{- if .DPoP}}
import json{{end}}
import os
import secrets
{{- if .DPoP}}
import time{{end}}
from urllib.parse import parse_qs, urlencode, urlparse

import requests
{{- if .DPoP}}
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
{{template "py.dpop" .}}{{end}}

client_id = {{pyStr .ClientID}}
auth = (client_id, os.environ["CLIENT_SECRET"])
redirect_uri = os.environ["REDIRECT_URI"]

# 1. A PKCE verifier, its S256 challenge, and a state.
verifier = secrets.token_urlsafe(32)
digest = hashlib.sha256(verifier.encode("ascii")).digest()
challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
state = secrets.token_urlsafe(16)

# 2. Push the authorization request (PAR).
par = {{template "py.post" .}}
    {{pyStr .PARURL}},
    auth=auth,
    data={
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": {{pyStr .Scope}},
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": state,
    },
    timeout=30,
)
if not par.ok:  # the answer says why
    raise SystemExit("pushed authorization request failed: %d %s" % (par.status_code, par.text))

# 3. Send the customer's browser to this URL; they sign in and allow.
query = urlencode({"client_id": client_id, "request_uri": par.json()["request_uri"]})
print("Open:", {{pyStr .AuthorizeURL}} + "?" + query)

# 4. The browser comes back to REDIRECT_URI?code=...&state=...&iss=...:
# paste that URL. The code works once, for 60 seconds.
back = parse_qs(urlparse(input("Redirect URL: ").strip()).query)
if "error" in back:
    raise SystemExit("authorization refused: " + back["error"][0])
if back.get("state", [""])[0] != state:
    raise SystemExit("the state does not match: not this program's request")
token = {{template "py.post" .}}
    {{pyStr .TokenURL}},
    auth=auth,
    data={
        "grant_type": "authorization_code",
        "code": back["code"][0],
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    },
    timeout=30,
)
if not token.ok:  # the answer says why: invalid_grant, ...
    raise SystemExit("token request failed: %d %s" % (token.status_code, token.text))
access_token = token.json()["access_token"]

# 5. The call, as the customer.
{{template "python.call" .}}
{{end}}
`))

// dpopDoc is the paragraph a Go, Java or Python snippet for a DPoP-bound
// app adds to its opening comment, in comment lines starting with prefix
// ("//" or "#"), after an empty one.
func dpopDoc(prefix string) string {
	var b strings.Builder
	for _, l := range []string{
		"",
		"The app's tokens are DPoP-bound (RFC 9449): the program makes a key, and",
		"every request it sends carries a proof signed with it, with the hub's",
		"nonce when the hub asks for one (docs/oauth.md, \"DPoP: binding tokens to",
		"your key\").",
	} {
		b.WriteString("\n" + prefix)
		if l != "" {
			b.WriteString(" " + l)
		}
	}
	return b.String()
}

// snippets renders every language's snippet.
func snippets(in snippetInput) ([]snippet, error) {
	out := make([]snippet, 0, len(snippetLangs))
	for _, l := range snippetLangs {
		name := l.ID
		if in.Consent {
			name += ".consent"
		}
		var b strings.Builder
		if err := snippetTemplates.ExecuteTemplate(&b, name, in); err != nil {
			return nil, fmt.Errorf("snippet %s: %w", l.ID, err)
		}
		out = append(out, snippet{ID: l.ID, Lang: l.Lang, Code: strings.TrimLeft(b.String(), "\n")})
	}
	return out, nil
}

// shQuote quotes s for a POSIX shell: one single-quoted word.
func shQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// javaQuote quotes s as a Java string literal, with \uXXXX for anything
// outside printable ASCII so the file compiles whatever its encoding.
func javaQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		default:
			if r == utf8.RuneError {
				r = '\uFFFD'
			}
			for _, u := range utf16Units(r) {
				fmt.Fprintf(&b, `\u%04x`, u)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// utf16Units returns the UTF-16 code units of r.
func utf16Units(r rune) []uint16 {
	if r < 0x10000 {
		return []uint16{uint16(r)}
	}
	r -= 0x10000
	return []uint16{uint16(0xD800 + (r >> 10)), uint16(0xDC00 + (r & 0x3FF))}
}

// pyQuote quotes s as a Python 3 string literal. Go's quoting uses only
// escapes that Python reads the same way (\a \b \f \n \r \t \v \\ \"
// \xHH \uHHHH \UHHHHHHHH); printable characters stay as they are.
func pyQuote(s string) string {
	return strconv.Quote(s)
}

// header is one request header of a call.
type header struct{ Name, Value string }

// call is one HTTP request to the gateway's sandbox route.
type call struct {
	Method   string
	URL      string // absolute for snippets, or a path for the browser
	Path     string // path and query, for the server-side call
	Headers  []header
	BodyType string
	Body     string
}

// forbiddenHeaders are set by the console itself or by the browser; a
// document's header parameter with one of these names is not sent.
var forbiddenHeaders = map[string]bool{
	"Authorization": true, "Host": true, "Cookie": true, "Content-Length": true, "Content-Type": true,
	"Transfer-Encoding": true, "Connection": true, "Dpop": true,
}

// buildCall makes the sandbox call of op from form values (keyed by
// paramKey), or reports the required fields that are empty.
func buildCall(base string, op *refOperation, value func(key string) string, body string) (call, []string) {
	c := call{Method: op.Method}
	var missing []string
	path := op.Path
	q := make([]string, 0, len(op.Parameters))
	for _, p := range op.Parameters {
		v := strings.TrimSpace(value(paramKey(p)))
		if v == "" {
			if p.Required && (p.In == "path" || p.In == "query" || p.In == "header") {
				missing = append(missing, p.Name)
			}
			continue
		}
		switch p.In {
		case "path":
			// Escaped, so a value cannot leave the operation's path
			// ("../", "?", "#" stay inside one segment).
			path = strings.ReplaceAll(path, "{"+p.Name+"}", url.PathEscape(v))
		case "query":
			q = append(q, url.QueryEscape(p.Name)+"="+url.QueryEscape(v))
		case "header":
			name := http.CanonicalHeaderKey(p.Name)
			if !forbiddenHeaders[name] && validHeader(name, v) {
				c.Headers = append(c.Headers, header{Name: name, Value: v})
			}
		}
	}
	sort.SliceStable(c.Headers, func(i, j int) bool { return c.Headers[i].Name < c.Headers[j].Name })
	c.Path = base + path
	if len(q) > 0 {
		c.Path += "?" + strings.Join(q, "&")
	}
	if strings.TrimSpace(body) != "" && op.Method != http.MethodGet && op.Method != http.MethodHead {
		c.Body = body
		c.BodyType = op.BodyType
		if c.BodyType == "" {
			c.BodyType = "application/json"
		}
	}
	return c, missing
}

// paramKey is a parameter's form field name.
func paramKey(p refParam) string { return "p." + p.In + "." + p.Name }

// validHeader reports whether a header name and value may be sent as is.
func validHeader(name, value string) bool {
	if name == "" || len(value) > 1024 {
		return false
	}
	for _, r := range name {
		if !(r == '-' || r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') {
			return false
		}
	}
	return !strings.ContainsAny(value, "\r\n\x00")
}
