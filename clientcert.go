package obhub

// ClientCertKey is the request context key under which the public
// listener hands the HTTP edges the client certificate of a request
// (*x509.Certificate): the one presented in the TLS handshake, or the one
// a trusted TLS-terminating proxy passed in the configured header. It is
// set by the gateway only; a client cannot set it.
type ClientCertKey struct{}
