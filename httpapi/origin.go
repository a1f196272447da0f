package httpapi

import (
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// A web page the user visits can make their browser send requests to the
// server (a form, or fetch with a "simple" body that needs no preflight),
// and a page whose name is rebound to 127.0.0.1 (DNS rebinding) can even
// read the answers. guardOrigin refuses both, while clients that are not
// browsers (curl, Telegraf, InfluxDB client libraries, Grafana's server-side
// proxy) send neither Origin nor Sec-Fetch-Site and are not affected:
//
//   - Host: on a loopback listener the Host header must name the listener
//     (127.0.0.1:port, localhost:port, [::1]:port) or an allowed host;
//     anything else is a rebinding page and answers 421.
//   - State-changing requests (every method but GET, HEAD and OPTIONS) that
//     a browser marks as cross-origin (an Origin other than the server's
//     own, or Sec-Fetch-Site cross-site or same-site) answer 403 unless the
//     origin is allowed. From an allowed origin, a body a form or a simple
//     fetch can send (form-urlencoded, multipart/form-data, text/plain or
//     no type) also needs an X-Soltix-Request or Authorization header,
//     which a page can only add after a CORS preflight.
//   - CORS: allowed origins get Access-Control-Allow-Origin on every answer
//     and their preflights (OPTIONS with Access-Control-Request-Method) are
//     answered 204; other origins' preflights answer 403.

// TokenHeader is the request header that marks a request as sent on
// purpose: a browser page can only add it after a CORS preflight, so a
// cross-origin request in a form or text/plain encoding needs it (or an
// Authorization header).
const TokenHeader = "X-Soltix-Request"

// corsAllowHeaders are the request headers an allowed origin may send.
const corsAllowHeaders = "Accept, Authorization, Content-Encoding, Content-Type, " + TokenHeader

// originPolicy holds the Host and Origin allowlists.
type originPolicy struct {
	checkHost bool
	anyHost   bool
	hosts     map[string]bool // "name:port" accepted, lowercase
	names     map[string]bool // names accepted with any port, lowercase
	anyOrigin bool
	origins   map[string]bool // canonical origins (see canonicalOrigin)
}

// newOriginPolicy builds the policy of a server listening on listen.
func newOriginPolicy(listen string, allowedHosts, allowedOrigins []string) *originPolicy {
	p := &originPolicy{hosts: map[string]bool{}, names: map[string]bool{}, origins: map[string]bool{}}
	host, port, err := net.SplitHostPort(listen)
	loopback := err == nil && isLoopbackHost(host)
	p.checkHost = loopback || len(allowedHosts) > 0
	if err == nil {
		names := []string{host}
		if loopback {
			names = append(names, "localhost", "127.0.0.1", "::1")
		}
		for _, n := range names {
			if n == "" {
				continue
			}
			p.hosts[strings.ToLower(net.JoinHostPort(n, port))] = true
			if port == "80" {
				p.names[strings.ToLower(n)] = true
			}
		}
	}
	for _, h := range allowedHosts {
		h = strings.ToLower(strings.TrimSpace(h))
		switch {
		case h == "*":
			p.anyHost = true
		case h == "":
		default:
			if _, _, err := net.SplitHostPort(h); err == nil {
				p.hosts[h] = true
			} else {
				p.names[strings.Trim(h, "[]")] = true
			}
		}
	}
	for _, o := range allowedOrigins {
		o = strings.TrimSpace(o)
		if o == "*" {
			p.anyOrigin = true
		} else if c, ok := canonicalOrigin(o); ok {
			p.origins[c] = true
		}
	}
	return p
}

// isLoopbackHost reports whether a listen host is a loopback name or
// address.
func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// hostAllowed reports whether a request's Host header may be served.
func (p *originPolicy) hostAllowed(host string) bool {
	if !p.checkHost || p.anyHost {
		return true
	}
	host = strings.ToLower(host)
	if p.hosts[host] {
		return true
	}
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	return p.names[strings.Trim(name, "[]")]
}

// originAllowed reports whether a cross-origin Origin is allowlisted.
func (p *originPolicy) originAllowed(origin string) bool {
	if p.anyOrigin && origin != "null" {
		return true
	}
	c, ok := canonicalOrigin(origin)
	return ok && p.origins[c]
}

// canonicalOrigin returns scheme://host[:port] in lowercase, without the
// scheme's default port, or false when o is not an http(s) origin.
func canonicalOrigin(o string) (string, bool) {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", false
	}
	return strings.ToLower(u.Scheme + "://" + stripDefaultPort(u.Scheme, u.Host)), true
}

// stripDefaultPort drops :80 from an http host and :443 from an https one.
func stripDefaultPort(scheme, host string) string {
	if h, port, err := net.SplitHostPort(host); err == nil &&
		(scheme == "http" && port == "80" || scheme == "https" && port == "443") {
		if strings.Contains(h, ":") {
			return "[" + h + "]"
		}
		return h
	}
	return host
}

// sameOrigin reports whether an Origin names the host the request was sent
// to. The scheme is not compared: a proxy in front may terminate TLS.
func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	return strings.EqualFold(stripDefaultPort(u.Scheme, u.Host), stripDefaultPort(u.Scheme, host))
}

// simpleBody reports whether a Content-Type is one a form or a fetch
// without preflight can send.
func simpleBody(contentType string) bool {
	if strings.TrimSpace(contentType) == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		// Browsers send what the page wrote; treat what we cannot read
		// as the worst case.
		return true
	}
	switch mt {
	case "application/x-www-form-urlencoded", "multipart/form-data", "text/plain":
		return true
	}
	return false
}

// safeMethod reports whether a method must not change state.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// guardOrigin applies the Host and Origin rules above.
func (s *server) guardOrigin(next http.Handler) http.Handler {
	p := s.origins
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !p.hostAllowed(r.Host) {
			writeError(w, http.StatusMisdirectedRequest, fmt.Sprintf("host %q does not name this server (http.allowed_hosts)", r.Host))
			return
		}
		origin := r.Header.Get("Origin")
		site := r.Header.Get("Sec-Fetch-Site")
		cross := origin != "" && !sameOrigin(origin, r.Host) || site == "cross-site" || site == "same-site"
		allowed := cross && origin != "" && p.originAllowed(origin)
		if allowed {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", "Retry-After")
			h.Add("Vary", "Origin")
		}
		if r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != "" {
			if cross && !allowed {
				writeError(w, http.StatusForbidden, fmt.Sprintf("origin %q is not allowed (http.allowed_origins)", origin))
				return
			}
			h := w.Header()
			h.Set("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT")
			h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if cross && !safeMethod(r.Method) {
			if !allowed {
				from := fmt.Sprintf("origin %q", origin)
				if origin == "" {
					from = "a " + site + " page without Origin"
				}
				writeError(w, http.StatusForbidden, fmt.Sprintf("cross-origin %s from %s refused: not in http.allowed_origins", r.Method, from))
				return
			}
			if simpleBody(r.Header.Get("Content-Type")) && r.Header.Get(TokenHeader) == "" && r.Header.Get("Authorization") == "" {
				writeError(w, http.StatusForbidden, fmt.Sprintf("cross-origin %s with a form or text/plain body needs an %s or Authorization header", r.Method, TokenHeader))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
